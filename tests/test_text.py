from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from dailypapers.domain.links import find_links
from dailypapers.ingest.text import (
    _join_paragraphs,
    normalize_abstract,
    normalize_title,
    parse_rfc822,
    split_authors,
    strip_control,
)


def test_title_hard_wraps_collapse():
    assert normalize_title("Calculation of prompt diphoton\n  production ") == (
        "Calculation of prompt diphoton production"
    )


def test_abstract_paragraphs_follow_indentation():
    text = "  A fully differential calculation is\npresented here.\n  Second paragraph\nends.\n"
    assert normalize_abstract(text) == (
        "A fully differential calculation is presented here.\n\nSecond paragraph ends."
    )


def test_uniformly_reindented_abstract_has_no_false_paragraphs():
    text = "\n            We present a model\n            of the TSP.\n        "
    assert normalize_abstract(text) == "We present a model of the TSP."


# Lines of words, spaces, tabs, other whitespace and line breaks: what decides paragraphs.
_ABSTRACT_TEXT = st.text(alphabet=st.sampled_from("ab \t\n\r\xa0\u2003\x85"), max_size=40)


@given(_ABSTRACT_TEXT)
def test_abstract_fast_path_agrees_with_the_paragraph_loop(text):
    cleaned = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    expected = _join_paragraphs(cleaned) if "\n" in cleaned else " ".join(cleaned.split())
    assert normalize_abstract(text) == expected


def test_latex_is_kept_in_abstracts():
    assert normalize_abstract("We prove $O(\\hbar)$ bounds.") == "We prove $O(\\hbar)$ bounds."


def test_control_characters_are_removed():
    assert strip_control("a\x0bb\x1ac\x00d\ne") == "abcd\ne"
    assert normalize_title("Bad\x0c title") == "Bad title"


def test_raw_author_lines_split_and_drop_affiliations():
    assert split_authors(
        "Mark Vogelsberger (1,2), Simon D. M. White (1) ((1) MPA, (2) Harvard/CfA)"
    ) == ["Mark Vogelsberger", "Simon D. M. White"]
    assert split_authors("D.V. Shetty, S.J. Yennello, and G.A. Souliotis") == [
        "D.V. Shetty",
        "S.J. Yennello",
        "G.A. Souliotis",
    ]
    assert split_authors("A. Author and\n  B. Author") == ["A. Author", "B. Author"]


def test_tex_accents_in_author_names_become_unicode():
    assert split_authors("C. Bal\\'azs, Franz G\\\"ahler") == ["C. Balázs", "Franz Gähler"]


def test_rfc822_dates_both_dialects():
    expected = datetime(2007, 4, 5, 12, 45, 3, tzinfo=UTC)
    assert parse_rfc822("Thu, 5 Apr 2007 12:45:03 GMT") == expected
    assert parse_rfc822("Thu, 05 Apr 2007 12:45:03 GMT") == expected
    assert parse_rfc822("not a date") is None


def test_links_found_in_abstract_and_comments():
    repos, pages = find_links(
        "Code is at https://github.com/openai/gpt-2.git.",
        "Project page: https://nerf.github.io/ (see also https://arxiv.org/abs/2003.08934 and "
        "https://doi.org/10.1/x). Also github.com/orgs/x and https://GitHub.com/OpenAI/gpt-2",
    )
    assert repos == ["https://github.com/openai/gpt-2"]
    assert pages == ["https://nerf.github.io/"]
