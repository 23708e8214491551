import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dailypapers.domain.ids import (
    InvalidArxivId,
    is_arxiv_id,
    is_local_id,
    local_paper_id,
    parse_arxiv_id,
    parse_paper_id,
)

from .conftest import DATA

CASES = json.loads((DATA / "arxiv_id_normalization_cases_CONSTRUCTED.json").read_text())["cases"]


@pytest.mark.parametrize("case", CASES, ids=[repr(c["input"]) for c in CASES])
def test_fixture_case(case):
    if case["valid"]:
        assert parse_arxiv_id(case["input"]) == (case["expected_id"], case["expected_version"])
    else:
        with pytest.raises(InvalidArxivId):
            parse_arxiv_id(case["input"])


def test_fixture_has_all_48_cases():
    assert len(CASES) == 48


def test_invalid_id_message_names_the_reason():
    with pytest.raises(InvalidArxivId, match="month out of range"):
        parse_arxiv_id("2313.12345")
    with pytest.raises(InvalidArxivId, match="5-digit"):
        parse_arxiv_id("2301.1234")
    with pytest.raises(InvalidArxivId, match="unknown archive"):
        parse_arxiv_id("foo-bar/9901001")


new_style = st.builds(
    lambda yy, mm, n: (yy, mm, n),
    st.integers(7, 99),
    st.integers(1, 12),
    st.integers(0, 99999),
).filter(lambda t: (t[0], t[1]) >= (7, 4))


def _canonical(yy: int, mm: int, n: int) -> str:
    digits = 4 if (yy, mm) <= (14, 12) else 5
    return f"{yy:02d}{mm:02d}.{n % 10**digits:0{digits}d}"


DECORATIONS = [
    "{id}",
    "arXiv:{id}",
    "https://arxiv.org/abs/{id}",
    "http://export.arxiv.org/abs/{id}/",
    "https://arxiv.org/pdf/{id}.pdf",
    "https://www.arxiv.org/html/{id}",
    "oai:arXiv.org:{id}",
    "https://doi.org/10.48550/arXiv.{id}",
    "https://huggingface.co/papers/{id}",
    "  {id}?context=cs#x \n",
]


@given(new_style, st.one_of(st.none(), st.integers(1, 40)), st.sampled_from(DECORATIONS))
def test_any_decorated_new_style_id_normalises(parts, version, decoration):
    canonical = _canonical(*parts)
    text = canonical + (f"v{version}" if version else "")
    assert parse_arxiv_id(decoration.format(id=text)) == (canonical, version)


@given(
    st.sampled_from(["hep-th", "math", "cond-mat", "astro-ph", "quant-ph", "cs"]),
    st.sampled_from(["", ".GT", ".CO", ".str-el"]),
    st.integers(91, 106).map(lambda y: y % 100),
    st.integers(1, 12),
    st.integers(0, 999),
    st.one_of(st.none(), st.integers(1, 9)),
)
def test_old_style_ids_drop_the_subject_class(archive, subject, yy, mm, n, version):
    if yy == 7 and mm > 3:
        mm = 3
    text = f"{archive}{subject}/{yy:02d}{mm:02d}{n:03d}" + (f"v{version}" if version else "")
    assert parse_arxiv_id(text) == (f"{archive}/{yy:02d}{mm:02d}{n:03d}", version)


@given(st.text(max_size=200))
def test_arbitrary_text_is_an_id_or_a_clear_error(text):
    try:
        result = parse_arxiv_id(text)
    except InvalidArxivId as error:
        assert str(error)
    else:
        assert parse_arxiv_id(result.id) == (result.id, None)


def test_local_ids_are_stable_and_never_arxiv_ids():
    first = local_paper_id("Attention Is All You Need")
    assert first == local_paper_id("  attention is   all you need ")
    assert first != local_paper_id("Attention Is Not All You Need")
    assert is_local_id(first) and not is_arxiv_id(first)
    assert parse_paper_id(first) == first
    assert parse_paper_id("arXiv:2301.12345v2") == "2301.12345"
