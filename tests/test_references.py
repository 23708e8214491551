"""Reference-manager exports read into references (ingest/references.py), on files made by
hand in the styles Zotero, JabRef and Mendeley write (tests/data/library/README.md): what each
entry names, the format told from the content, malformed files refused with the line, and the
limits checked before the parse."""

import json

import pytest

from dailypapers.domain.errors import TooLarge
from dailypapers.domain.library import arxiv_id_in, normal_doi, surname_matches
from dailypapers.ingest.references import (
    ReferenceFileError,
    decode_latex,
    detect_format,
    read_references,
)

from .conftest import DATA

LIBRARY = DATA / "library"
MIB = 1024 * 1024


def read(name, fmt=None, max_bytes=10 * MIB, max_entries=20_000):
    data = (LIBRARY / name).read_bytes()
    return read_references(data, fmt, max_bytes=max_bytes, max_entries=max_entries)


def summary(parsed):
    return [
        (r.position, r.key, r.title, r.first_surname, r.arxiv_id, r.dois, r.year)
        for r in parsed.references
    ]


def test_zotero_bibtex_with_month_macros_braces_and_arxiv_notes():
    parsed = read("zotero.bib")
    assert parsed.format == "bibtex"
    assert summary(parsed) == [
        ("line 2", "nguyen_0_2021", "0", "Nguyen", "2104.12255", [], 2021),
        (
            "line 17",
            "bollobas_monotone_2017",
            "Monotone Cellular Automata in a Random Environment",
            "Bollobás",
            None,
            ["10.1017/s0963548315000012"],
            2015,
        ),
        (
            "line 33",
            "he_new_2014",
            "A new treatment for some periodic Schrödinger operators",
            "He",
            None,
            [],
            2014,
        ),
        (
            "line 42",
            "lecun_deep_2015",
            "Deep learning",
            "LeCun",
            None,
            ["10.1038/nature14539"],
            2015,
        ),
        (
            "line 58",
            "blaha_quantum_2002",
            "Quantum Computers and Quantum Computer Languages: Quantum Assembly Language and "
            "Quantum C Language",
            "Blaha",
            "quant-ph/0201082",
            [],
            2002,
        ),
        (
            "line 71",
            "doe_unpublished_2024",
            "An Unpublished Preprint That arXiv Never Had",
            "Doe",
            "2407.20001",
            [],
            2024,
        ),
    ]
    assert parsed.references[1].authors == ["Bollobás, Béla", "Smith, Paul", "Uzzell, Andrew"]


def test_jabref_biblatex_with_strings_eprinttype_and_accents():
    parsed = read("jabref.bib")
    assert [(r.key, r.arxiv_id, r.dois) for r in parsed.references] == [
        ("Lev2015", "1210.8059", ["10.4171/jems/594"]),
        ("Yurkin2006", None, ["10.1364/josaa.23.002578"]),
        ("Magnusson2018", None, []),
        ("Bishop2006", None, []),
        ("Balazs2007", None, ["10.1103/physrevd.76.013009"]),
        ("Doe2024", "2407.20001", []),
    ]
    lev, _, magnusson, _, balazs, _ = parsed.references
    assert lev.authors == ["Lev, Nir", "Ortega-Cerdà, Joaquim"]  # "Given Family" as written
    assert magnusson.authors[0] == "Magnusson, Måns" and magnusson.first_surname == "Magnusson"
    assert balazs.first_surname == "Balázs"
    assert lev.title == "Equidistribution estimates for Fekete points on complex manifolds"


def test_mendeley_bibtex_with_arxivid_and_a_preamble_of_prose():
    parsed = read("mendeley.bib")
    assert [(r.key, r.arxiv_id) for r in parsed.references] == [
        ("Holmsen2016", "1602.02264"),
        ("Motloch2016", "1606.07059"),  # only its url names arXiv
        ("Collaboration2016", None),
        ("Li2016", None),
        ("Holmsen2016a", "1602.02264"),  # arxivId 1602.02264v2: the version goes
    ]
    holmsen, motloch, atlas, li, _ = parsed.references
    assert holmsen.authors[1] == "Kynčl, Jan"
    assert motloch.authors[1] == "Alvarez-Muñiz, Jaime"
    assert atlas.authors == ["ATLAS Collaboration"] and atlas.dois == ["10.1103/physrevd.94.032006"]
    assert li.title == (
        "PEXSI-$\\Sigma$: A Green's function embedding method for Kohn-Sham density "
        "functional theory"
    )


def test_zotero_ris_with_several_authors_and_continued_lines():
    parsed = read("zotero.ris")
    assert parsed.format == "ris"
    assert summary(parsed) == [
        (
            "line 1",
            None,
            "Monotone cellular automata in a random environment",
            "Bollobás",
            "1204.3980",  # DO 10.48550/arXiv.1204.3980
            [],
            2012,
        ),
        (
            "line 20",
            None,
            "Elastic moderation of intrinsically applied tension in lipid membranes",
            "Lomholt",
            None,
            ["10.1103/physreve.83.011913"],
            2011,
        ),
        ("line 41", None, "0", "Nguyen", "2104.12255", [], 2021),
        (
            "line 53",
            None,
            "The Art of Computer Programming, Volume 1: Fundamental Algorithms",
            "Knuth",
            None,
            [],
            1997,
        ),
    ]
    assert parsed.references[0].authors == ["Bollobás, Béla", "Smith, Paul", "Uzzell, Andrew"]
    assert parsed.references[1].authors == [
        "Lomholt, Michael A.",
        "Loubet, Bastien",
        "Ipsen, John H.",
    ]


def test_mendeley_ris_with_windows_line_ends_and_t1_titles():
    parsed = read("mendeley.ris")
    assert [(r.position, r.title[:30], r.arxiv_id, r.dois) for r in parsed.references] == [
        ("line 1", "Distribution of tunnelling tim", None, ["10.1063/1.4944493"]),
        ("line 14", "Quantum discord in the ground ", "1012.0650", []),  # JO arXiv preprint
        ("line 21", "Quantum dynamics of a plasmoni", None, []),
    ]
    assert parsed.references[0].authors == ["Rudge, Samuel", "Kosov, Daniel"]


def test_zotero_csl_json():
    parsed = read("zotero.json")
    assert parsed.format == "csl-json"
    assert [
        (r.position[:7], r.title[:16], r.first_surname, r.arxiv_id, r.dois, r.year)
        for r in parsed.references
    ] == [
        ("entry 1", "Equidistribution", "Lev", "1210.8059", [], 2012),
        (
            "entry 2",
            "Spatial networks",
            "Barthelemy",
            None,
            ["10.1016/j.physrep.2010.11.002"],
            2011,
        ),
        ("entry 3", "Deep learning", "LeCun", None, ["10.1038/nature14539"], 2015),
        ("entry 4", "Frequency of Hot", "Gould", "astro-ph/0601001", [], 2006),
        ("entry 5", "Quantum discord ", "Pal", None, [], 2011),
    ]
    assert parsed.references[0].key == "http://zotero.org/users/8412001/items/7Q2ZJ8XK"
    assert parsed.references[0].authors == ["Lev, Nir", "Ortega-Cerdà, Joaquim"]


def test_a_list_of_ids_and_links_old_style_ids_too():
    parsed = read("reading-list.txt")
    assert parsed.format == "arxiv-ids"
    assert [(r.position, r.arxiv_id) for r in parsed.references] == [
        ("line 2", "1602.02264"),
        ("line 3", "1210.8059"),
        ("line 5", "quant-ph/0201082"),
        ("line 6", "2104.12255"),
        ("line 7", "1010.0302"),
        ("line 8", "hep-th/9901001"),
    ]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            "malformed.bib",
            "the BibTeX could not be read: line 8 ('@article{broken2016,'): Unexpected block "
            "start: `@misc`. Was still looking for field-value closing `}`",
        ),
        (
            "malformed.ris",
            "line 7: the record that starts here has no 'ER  - ' line (is the file cut short?)",
        ),
        (
            "malformed.json",
            "line 7, column 2: the JSON is malformed (Expecting property name enclosed in "
            "double quotes)",
        ),
    ],
)
def test_a_malformed_file_is_refused_naming_the_line(name, message):
    with pytest.raises(ReferenceFileError) as refused:
        read(name)
    assert str(refused.value).strip() == message


@pytest.mark.parametrize(
    ("text", "fmt", "message"),
    [
        (b"2301.12345\nnot-an-id\n1706.03762\n", None, "line 2: not an arXiv identifier"),
        (b"TY  - JOUR\nTI  - A\nER  - \nstray text\n", None, "line 4: a RIS record must start"),
        (b"TY  - JOUR\nTI  - A\nTY  - JOUR\nER  - \n", None, "line 3: a new record starts"),
        (b'{"items": []}', None, "a CSL-JSON file is a JSON list of items"),
        (b'[{"title": "A", "author": "Doe"}]', None, "entry 1: 'author' must be a list"),
        (b'["a title"]', None, "entry 1: a CSL-JSON item must be an object"),
        (b"@article{a, title={T}}\n", "ris", "line 1: a RIS record must start with 'TY  - '"),
        (b"just some prose\nabout papers\n", None, "could not tell the file's format"),
        (b"2301.12345\n\xff\xfe", None, "line 2: the file is not UTF-8 text (byte 0xff)"),
        (b'{"format": "dailypapers-export", "library": {}}', None, "'library' must be a list"),
        (b"[]", "dailypapers", 'this is not a dailypapers-export file (no "format" key)'),
        (b"1706.03762", "endnote", "format must be one of bibtex, ris, csl-json"),
    ],
)
def test_bad_files_are_refused_with_the_place_and_the_reason(text, fmt, message):
    with pytest.raises(ValueError) as refused:  # ReferenceFileError or BadParameter
        read_references(text, fmt, max_bytes=MIB, max_entries=100)
    assert message in str(refused.value)


def test_huge_files_are_refused_before_they_are_parsed():
    entry = "@article{key%d,\n  title = {A paper about {BERT} number %d},\n  year = {2020},\n}\n"
    over = "".join(entry % (i, i) for i in range(20_001)).encode()
    assert len(over) < 2 * MIB  # under the byte limit: refused for its entries
    with pytest.raises(TooLarge, match=r"holds 20,001 entries; an import may hold at most 20,000"):
        read_references(over, None, max_bytes=10 * MIB, max_entries=20_000)
    ids = "".join(f"{2301 + i // 90_000}.{10_000 + i % 90_000}\n" for i in range(20_001))
    with pytest.raises(TooLarge, match="20,001 entries"):
        read_references(ids.encode(), None, max_bytes=10 * MIB, max_entries=20_000)
    items = json.dumps([{"title": f"T{i}"} for i in range(20_001)]).encode()
    with pytest.raises(TooLarge, match="20,001 entries"):
        read_references(items, None, max_bytes=10 * MIB, max_entries=20_000)
    ris = "".join(f"TY  - JOUR\nTI  - T{i}\nER  - \n" for i in range(20_001)).encode()
    with pytest.raises(TooLarge, match="20,001 entries"):
        read_references(ris, None, max_bytes=10 * MIB, max_entries=20_000)
    big = b"% padding\n" * (MIB + 1)  # 10 MiB and more
    with pytest.raises(TooLarge, match=r"larger than the 10 MiB an import may be"):
        read_references(big, None, max_bytes=10 * MIB, max_entries=20_000)
    # at the limits exactly, the file is read
    fine = "".join(entry % (i, i) for i in range(20_000)).encode()
    assert (
        len(read_references(fine, None, max_bytes=10 * MIB, max_entries=20_000).references)
        == 20_000
    )


def test_an_empty_file_holds_nothing():
    assert read_references(b"\n \n", None, max_bytes=MIB, max_entries=10).references == []


@pytest.mark.parametrize(
    ("text", "fmt"),
    [
        ('\ufeff[{"title": "A"}]', "csl-json"),
        ('{"format": "dailypapers-export", "version": 1, "library": []}', "dailypapers"),
        ("Automatically generated by Mendeley Desktop\n\n@article{a,\ntitle={T}}", "bibtex"),
        ("\n\nTY  - JOUR\nER  - \n", "ris"),
        ("# my list\n\nhttps://arxiv.org/abs/hep-th/9901001v2\n", "arxiv-ids"),
    ],
)
def test_the_format_is_told_from_the_content(text, fmt):
    assert detect_format(text.lstrip("\ufeff")) == fmt


@pytest.mark.parametrize(
    ("latex", "text"),
    [
        (r"M{\"u}ller", "Müller"),
        (r"M\"{u}ller", "Müller"),
        (r"\'{E}cole normale sup\'erieure", "École normale supérieure"),
        (r"Fran{\c{c}}ois", "François"),
        (r"Fran\c cois", "François"),
        (r"Kyn{\v{c}}l", "Kynčl"),
        (r"Erd\H{o}s", "Erdős"),
        (r"{\AA}ngstr{\"o}m and M{\aa}ns", "Ångström and Måns"),
        (r"Stra{\ss}e \o{}re \L{}ukasz", "Straße øre Łukasz"),
        (r"Pok\'{\i}", "Pokí"),
        (
            r"{BERT}: pre-training -- a \emph{study} of 100\% \& more",
            "BERT: pre-training – a study of 100% & more",
        ),
        (r"$\mathcal{O}(n^2)$ {Time}", r"$\mathcal{O}(n^2)$ Time"),
        (r"\LaTeX{} and \TeX", "LaTeX and TeX"),
        (r"see \url{https://arxiv.org/abs/1706.03762}", "see https://arxiv.org/abs/1706.03762"),
        (r"Sets \{x\} and \textbraceleft{}y\textbraceright{}", "Sets {x} and {y}"),
    ],
)
def test_latex_is_decoded_as_reference_managers_write_it(latex, text):
    assert decode_latex(latex) == text


@pytest.mark.parametrize(
    ("text", "arxiv_id"),
    [
        ("arXiv preprint arXiv:1706.03762", "1706.03762"),
        ("arXiv:2104.12255v3 [cs.CR]", "2104.12255"),
        ("ArXiv 2301.12345", "2301.12345"),
        ("https://arxiv.org/pdf/2301.12345v2", "2301.12345"),
        ("https://doi.org/10.48550/arXiv.2202.01037", "2202.01037"),
        ("arXiv:hep-th/9901001", "hep-th/9901001"),
        ("http://arxiv.org/abs/math.GT/0309136", "math/0309136"),
        ("pages 1706.03762", None),  # no arXiv prefix: a page range, a report number
        ("arXiv:1313.00001", None),  # month 13
        (None, None),
    ],
)
def test_arxiv_ids_inside_text(text, arxiv_id):
    assert arxiv_id_in(text) == arxiv_id


def test_dois_and_surnames_compare_as_people_write_them():
    assert normal_doi("doi:10.1103/PhysRevD.76.013009") == "10.1103/physrevd.76.013009"
    assert normal_doi("not a doi") is None
    assert surname_matches("Ortega-Cerd{\\`a}", "Joaquim Ortega-Cerdà")
    assert surname_matches("Del Maestro", "Adrian Del Maestro")
    assert surname_matches("King", "Martin Luther King Jr.")
    assert not surname_matches("Maestro", "Maestro Adrian Smith")
    assert not surname_matches("", "Anyone")
