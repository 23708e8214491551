"""Follows and the papers they match (services/follows.py), on SQLite and PostgreSQL, with each
keyword leg a followed search can meet: tantivy, PostgreSQL's full text, the substring
stand-in. Also the author grouping (domain/authors.py) and saved-search spelling."""

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dailypapers.config import load_config
from dailypapers.domain.accounts import hash_password
from dailypapers.domain.authors import author_key
from dailypapers.domain.errors import BadParameter, NotFound, TooMany
from dailypapers.domain.follows import canonical_search, followed_query
from dailypapers.domain.query import parse_query
from dailypapers.domain.records import DailyEntry, PaperRecord, VersionRecord
from dailypapers.search.backends import FullText
from dailypapers.search.keyword import KeywordIndex
from dailypapers.services import follows as service
from dailypapers.services.searching import Searcher
from dailypapers.storage.papers import write_papers
from dailypapers.storage.users import create_user

NOW = datetime(2026, 3, 20, 12, tzinfo=UTC)
PASSWORD_HASH = hash_password("a long enough password")


# --- author names -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("followed", "written", "taken"),
    [
        ("Yann LeCun", "Yann LeCun", True),
        ("Yann LeCun", "YANN LECUN", True),
        ("Yann LeCun", "Yann Le Cun", True),
        ("Yann LeCun", "Yann Lécun", True),
        ("Yann LeCun", "LeCun, Yann", True),
        ("Yann LeCun", "Y. LeCun", False),  # an initial may be anybody of that surname
        ("Y. LeCun", "Yann LeCun", True),  # a followed initial takes what it starts
        ("Y. LeCun", "Y LeCun", True),
        ("Yann LeCun", "Anna LeCun", False),
        ("Yann LeCun", "Yann LeCunn", False),
        ("Yann LeCun", "Yannick LeCun", False),
        ("Geoffrey Hinton", "Geoffrey E. Hinton", True),
        ("Geoffrey E. Hinton", "Geoffrey Everest Hinton", True),
        ("Geoffrey E. Hinton", "Geoffrey A. Hinton", False),
        ("Søren Kierkegaard", "Soren Kierkegaard", True),
        ("Paweł Łukasz", "Pawel Lukasz", True),
        ("José García-Pérez", "Jose Garcia Perez", True),
        ("Ludwig van Beethoven", "Ludwig Van Beethoven", True),
        ("Neal J. Evans II", "Neal J. Evans", True),
        ("Jean-Pierre Sauvage", "Jean Pierre Sauvage", False),  # two given names, not one
        ("ATLAS Collaboration", "The ATLAS Collaboration", True),
        ("Prabhat", "Prabhat", True),
        ("Prabhat", "Ravi Prabhat", False),
    ],
)
def test_author_names_group_conservatively(followed, written, taken):
    assert author_key(followed).takes(author_key(written)) is taken


def test_names_without_letters_have_no_key():
    assert author_key(" . , ") is None and author_key("") is None


# --- followed searches ------------------------------------------------------------------------


def test_a_followed_search_has_one_spelling():
    one = canonical_search(followed_query('Diffusion  "Latent Space" cat:cs.CV -survey diffusion'))
    other = canonical_search(followed_query('-survey cat:cs.CV "latent space" diffusion'))
    assert one == other == 'diffusion "latent space" -survey cat:cs.CV'
    assert canonical_search(followed_query('author:"Yann LeCun" year:2020-2024')) == (
        "author:yann author:lecun year:2020-2024"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2401.00001", "one paper"),
        ("id:2401.00001 attention", "one paper"),
        ("   ", "nothing to search"),
        ("-survey", "nothing to search"),
        (" ".join(f"word{i}" for i in range(21)), "keep it to 20"),
    ],
)
def test_searches_that_cannot_be_followed_say_why(text, message):
    with pytest.raises(BadParameter, match=message):
        followed_query(text)


@given(st.text(max_size=80))
def test_the_canonical_spelling_parses_to_itself(text):
    try:
        query = followed_query(text)
    except BadParameter:
        return
    canonical = canonical_search(query)
    assert canonical_search(parse_query(canonical)) == canonical


def test_the_follows_a_paper_matches_without_the_index():
    from dailypapers.domain.follows import Follow, follows_of_paper

    made = datetime(2026, 1, 1)
    follows = [
        Follow(1, 1, "category", "cs.CL", "cs.CL", made),
        Follow(2, 1, "author", "lecun, y", "Y. LeCun", made),
        Follow(3, 1, "organization", "nvidia", "NVIDIA", made),
        Follow(4, 1, "search", "diffusion", "diffusion", made),
        Follow(5, 1, "author", "lecun, yann", "Yann LeCun", made),
    ]

    class Shown:  # what follows_of_paper reads of a Paper
        categories = ["cs.CV", "cs.CL"]
        authors = ["Grace Hopper", "Y. Le Cun"]
        organization = None
        daily = {"organization": "Nvidia"}

    assert [f.id for f in follows_of_paper(Shown(), follows)] == [1, 2, 3]  # type: ignore[arg-type]


# --- a catalog with a reader ------------------------------------------------------------------


def paper(arxiv_id, published, categories, authors, title, *, organization=None, daily=None):
    moment = published.replace(tzinfo=UTC)
    return PaperRecord(
        arxiv_id,
        title,
        f"{title}. An abstract about it.",
        source="oai",
        authors=authors,
        categories=categories,
        versions=[VersionRecord(1, moment, 10)],
        latest_version=1,
        published_at=moment,
        organization=organization,
        daily=daily,
    )


RECORDS = [
    paper(
        "2603.00001",
        datetime(2026, 3, 19, 10),
        ["cs.CL"],
        ["Yann LeCun", "Ada Lovelace"],
        "Diffusion models for text",
    ),
    paper(
        "2603.00007",
        datetime(2026, 3, 19, 9),
        ["cs.CV"],
        ["Grace Hopper"],
        "Diffusion transformers at scale",
        daily=DailyEntry(date(2026, 3, 19), organization="nvidia"),
    ),
    paper(
        "2603.00002",
        datetime(2026, 3, 18, 8),
        ["cs.CV", "cs.CL"],
        ["Y. LeCun", "Anna LeCun"],
        "Latent diffusion for images",
    ),
    paper(
        "2603.00003",
        datetime(2026, 3, 17, 8),
        ["cs.LG"],
        ["Barbara Liskov", "Yann Lécun"],
        "Energy based models",
        organization="NVIDIA",
    ),
    paper(
        "2603.00005",
        datetime(2026, 3, 16, 8),
        ["math.AG"],
        ["José García"],
        "Diffusion on algebraic varieties",
    ),
    # Older than the window, and a hidden paper inside it: neither is ever shown.
    paper(
        "2602.00004",
        datetime(2026, 2, 1, 8),
        ["cs.CL"],
        ["Yann LeCun"],
        "Diffusion, an old paper",
        organization="NVIDIA",
    ),
    paper(
        "2603.00006",
        datetime(2026, 3, 19, 11),
        ["cs.CL", "cs.CV"],
        ["Yann LeCun"],
        "Diffusion that was withdrawn from view",
    ),
]


@pytest.fixture(params=["no index", "tantivy"])
def catalog(request, store, tmp_path):
    """The records above, two readers, and a Searcher whose keyword leg is tantivy, or what
    a catalog has before any index (PostgreSQL's full text, SQLite's substring stand-in)."""
    with store.begin() as conn:
        write_papers(conn, RECORDS)
        write_papers(conn, [PaperRecord("2603.00006", "", "", source="oai", deleted=True)])
        ada = create_user(conn, "ada", "ada@example.org", PASSWORD_HASH)
        bob = create_user(conn, "bob", "bob@example.org", PASSWORD_HASH)
    config = load_config(environ={"DAILYPAPERS_DATA_DIR": str(tmp_path)}, env_file=None)
    if request.param == "tantivy":
        KeywordIndex.for_data_dir(tmp_path).rebuild(store)
    searcher = Searcher(store, config, None)
    leg = searcher.keyword()
    expected = {
        "tantivy": KeywordIndex,
        "no index": FullText if store.dialect != "sqlite" else None,
    }
    kind = expected[request.param]
    assert (leg is None) if kind is None else isinstance(leg, kind)
    return store, config, searcher, ada, bob


def matches(catalog, user, limit=50, since=None, until=None):
    store, config, searcher, *_ = catalog
    start, end = service.window(config, NOW)
    found = service.following(store, searcher, user.id, since or start, until or end, limit)
    return [(item.paper.arxiv_id, [f.why for f in item.follows]) for item in found]


def test_following_finds_new_papers_with_the_follows_they_matched(catalog):
    store, config, _searcher, ada, bob = catalog
    for kind, text in [
        ("category", "cs.cl"),
        ("author", "Yann  LeCun"),
        ("search", "diffusion cat:cs.cv"),
        ("organization", "NVIDIA"),
    ]:
        service.follow(store, config, ada, kind, text)
    assert matches(catalog, ada) == [
        ("2603.00001", ["cs.CL", "author: Yann LeCun"]),
        ("2603.00007", ["search: diffusion cat:cs.cv", "org: NVIDIA"]),
        ("2603.00002", ["cs.CL", "search: diffusion cat:cs.cv"]),
        ("2603.00003", ["author: Yann LeCun", "org: NVIDIA"]),
    ]
    assert matches(catalog, ada, limit=2) == matches(catalog, ada)[:2]
    # A window of one day, and one that ends before the newest papers
    assert [i for i, _ in matches(catalog, ada, since=NOW - timedelta(days=2))] == [
        "2603.00001",
        "2603.00007",
    ]
    until = datetime(2026, 3, 19, 9, tzinfo=UTC)  # the end is left out
    assert [i for i, _ in matches(catalog, ada, until=until)] == ["2603.00002", "2603.00003"]
    assert matches(catalog, bob) == []  # another reader's follows are theirs alone


def test_each_kind_matches_alone(catalog):
    store, config, _searcher, ada, _bob = catalog
    cases = [
        ("category", "math.AG", ["2603.00005"]),
        ("author", "Y. LeCun", ["2603.00001", "2603.00002", "2603.00003"]),
        ("author", "José García", ["2603.00005"]),
        ("author", "Jose Garcia", ["2603.00005"]),
        ("search", "diffusion", ["2603.00001", "2603.00007", "2603.00002", "2603.00005"]),
        ("search", "the diffusion of models", ["2603.00001"]),  # every word, function words aside
        ("search", '"latent diffusion"', ["2603.00002"]),
        ("search", "diffusion -images", ["2603.00001", "2603.00007", "2603.00005"]),
        ("search", "author:lecun diffusion", ["2603.00001", "2603.00002"]),
        ("search", "cat:cs.CV", ["2603.00007", "2603.00002"]),
        ("organization", "nvidia", ["2603.00007", "2603.00003"]),
    ]
    for kind, text, expected in cases:
        item, created = service.follow(store, config, ada, kind, text)
        assert created
        found = matches(catalog, ada)
        if "-images" in text and store.dialect == "sqlite" and catalog[2].keyword() is None:
            # The substring stand-in (SQLite before any index) reads no exclusions.
            expected = [*expected[:2], "2603.00002", expected[2]]
        assert [i for i, _ in found] == expected, (kind, text)
        assert all(whys == [item.why] for _, whys in found)
        service.unfollow(store, ada, item.id)


def test_following_again_returns_the_same_follow(store, tmp_path):
    with store.begin() as conn:
        write_papers(conn, RECORDS)
        ada = create_user(conn, "ada", "ada@example.org", PASSWORD_HASH)
    config = load_config(environ={"DAILYPAPERS_DATA_DIR": str(tmp_path)}, env_file=None)
    first, created = service.follow(store, config, ada, "author", "Yann LeCun")
    again, created_again = service.follow(store, config, ada, "author", "YANN  LE CUN")
    assert created and not created_again and again == first
    assert (first.kind, first.value, first.label) == ("author", "lecun, yann", "Yann LeCun")
    category, _ = service.follow(store, config, ada, "category", "CS.cl")
    assert (category.value, category.label) == ("cs.CL", "cs.CL")
    search, _ = service.follow(store, config, ada, "search", "Diffusion  cat:cs.cv")
    assert (search.value, search.label) == ("diffusion cat:cs.CV", "Diffusion cat:cs.cv")
    org, _ = service.follow(store, config, ada, "organization", "  NVIDIA   Research ")
    assert (org.value, org.label) == ("nvidia research", "NVIDIA Research")
    assert [f.id for f in service.list_follows(store, ada.id)] == [
        first.id,
        category.id,
        search.id,
        org.id,
    ]
    assert service.find_followed(store, ada, "author", "yann lecun") == first
    with pytest.raises(NotFound):
        service.unfollow(store, ada, org.id + 1000)


@pytest.mark.parametrize(
    ("kind", "text", "message"),
    [
        ("people", "Ada", "kind must be one of"),
        ("category", "cs.XX", "no paper of this catalog is in the category"),
        ("category", "cs CL; drop", "is not an arXiv category"),
        ("author", "  ", "value is empty"),
        ("author", "...", "is not an author's name"),
        ("search", "x" * 301, "over 300 characters"),
        ("search", "2401.00001", "one paper"),
        ("organization", 7, "value must be text"),
    ],
)
def test_bad_follows_are_refused_with_the_reason_and_nothing_written(
    store, tmp_path, kind, text, message
):
    with store.begin() as conn:
        write_papers(conn, RECORDS)
        ada = create_user(conn, "ada", "ada@example.org", PASSWORD_HASH)
    config = load_config(environ={"DAILYPAPERS_DATA_DIR": str(tmp_path)}, env_file=None)
    with pytest.raises(BadParameter, match=message):
        service.follow(store, config, ada, kind, text)
    assert service.list_follows(store, ada.id) == []


def test_the_follow_limits_say_so(store, tmp_path):
    with store.begin() as conn:
        write_papers(conn, RECORDS)
        ada = create_user(conn, "ada", "ada@example.org", PASSWORD_HASH)
    environ = {
        "DAILYPAPERS_DATA_DIR": str(tmp_path),
        "DAILYPAPERS_FOLLOWS_MAX": "3",
        "DAILYPAPERS_FOLLOW_SEARCHES_MAX": "1",
    }
    config = load_config(environ=environ, env_file=None)
    service.follow(store, config, ada, "search", "diffusion")
    with pytest.raises(TooMany, match="You follow 1 searches.*follow_searches_max"):
        service.follow(store, config, ada, "search", "transformers")
    service.follow(store, config, ada, "category", "cs.CL")
    service.follow(store, config, ada, "author", "Ada Lovelace")
    with pytest.raises(TooMany, match="You follow 3 things.*follows_max"):
        service.follow(store, config, ada, "organization", "NVIDIA")
    # Following one already followed is no new follow: no limit applies.
    assert service.follow(store, config, ada, "category", "cs.CL")[1] is False
    assert len(service.list_follows(store, ada.id)) == 3


def test_a_reader_who_follows_nothing_is_offered_popular_categories(store):
    with store.begin() as conn:
        write_papers(conn, RECORDS)
        write_papers(conn, [PaperRecord("2603.00006", "", "", source="oai", deleted=True)])
    popular = service.popular(store, 3)
    # The hidden paper does not count; the old one does (the newest papers, not a window).
    assert popular == [("cs.CL", 3), ("cs.CV", 2), ("cs.LG", 1)]
