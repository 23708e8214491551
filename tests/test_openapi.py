"""The OpenAPI document tells the truth about /api. Schemathesis generates requests from the
app's own document (app.openapi_url) and sends them to the app in-process, on SQLite and
PostgreSQL (demo catalog, page cache off, arXiv faked by a local server), as three callers:
anonymous, a visitor whose session has a CSRF token but no account, and a signed-in user.
Every answer is checked against the document: no 5xx (but submit's documented 502), only the
statuses the operation lists by number (`default` would accept anything), bodies and headers
as described. A second test sends the edges random generation rarely reaches (64-bit
overflows, the ends of the calendar) through the same checks."""

from __future__ import annotations

import itertools
import secrets
from datetime import UTC, datetime

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from lxml import html
from schemathesis.generation.modes import GenerationMode

from dailypapers.config import load_config
from dailypapers.domain.accounts import hash_password
from dailypapers.ingest.demo import load_demo
from dailypapers.ingest.run import ingest_daily_json
from dailypapers.storage import open_store
from dailypapers.storage.users import create_user
from dailypapers.web.app import create_app

from .conftest import DATA, DEMO, fresh_pg_database
from .httpfixture import PayloadServer, Reply

PASSWORD = "a long enough password"
DOCS = DATA.parents[1] / "docs"
EMPTY_FEED = (DEMO / "api" / "2026_id_list_0000.0000_zero-results.xml").read_bytes()

# Every status each operation can send, read from the code (web/api.py, web/auth.py and the
# services they call). The document must list exactly these: a status it lacks is one a
# client cannot expect, one it lists in excess promises what never comes.
STATUSES = {
    "GET /api/daily_papers": {200, 400},
    "GET /api/papers/search": {200, 400, 429},
    "POST /api/papers/submit": {200, 201, 400, 401, 403, 404, 429, 502},
    # 301 and 308: a local id merged into its arXiv twin (web/moved.py)
    "GET /api/papers/{paper_id}/similar": {200, 301, 400, 404, 429},
    "POST /api/papers/{paper_id}/upvote": {200, 308, 401, 403, 404, 429},
    "DELETE /api/papers/{paper_id}/upvote": {200, 308, 401, 403, 404, 429},
    "GET /api/papers/{paper_id}/comments": {200, 301, 404},
    "POST /api/papers/{paper_id}/comment": {201, 308, 400, 401, 403, 404, 429},
    "POST /api/papers/{paper_id}/comment/{comment_id}/reply": {201, 308, 400, 401, 403, 404, 429},
    "GET /api/papers/{paper_id}": {200, 301, 404},
    "GET /api/arxiv/{paper_id}/repos": {200, 301, 404},
    "GET /api/authors/{name}": {200, 400, 404},
    "GET /api/me/follows": {200, 401},
    "POST /api/me/follows": {200, 201, 400, 401, 403, 429},
    "DELETE /api/me/follows/{follow_id}": {200, 400, 401, 403, 404, 429},
    "GET /api/me/following": {200, 400, 401, 429},
    # the reader's own (web/library.py): 401 for a visitor
    "GET /api/me/library": {200, 400, 401},
    "GET /api/me/for-you": {200, 400, 401},
    "POST /api/me/library": {200, 201, 400, 401, 403, 404, 429},
    "DELETE /api/me/library/{paper_id}": {200, 401, 403, 404, 429},
    "GET /api/me/library/imports/{import_id}": {200, 400, 401, 404},
    "GET /api/me/export": {200, 401},
}
# The answers to GETs do not depend on who asks (but the reader's own, under /api/me), so only
# the writes are sent by each caller.
WRITES = [label for label in STATUSES if not label.startswith("GET ")]
MINE = [label for label in STATUSES if label.startswith("GET /api/me/")]
CALLS = (
    [("anonymous", label) for label in STATUSES]
    + [(caller, label) for caller in ("visitor", "signed_in") for label in WRITES]
    + [("signed_in", label) for label in MINE]
)
# Values random text almost never hits: papers of the catalog (listed, not listed, an old-style
# id with a slash, a versioned id) and papers arXiv is asked for (the fake answers 404 or 502).
PAPERS = ["2407.13168", "2104.12255", "1302.2146", "cond-mat/0703772", "arXiv:2407.13168v2"]
SUBMISSIONS = [*PAPERS, "https://arxiv.org/abs/2407.20002", "2407.20001", "2407.20002"]
EXAMPLES_PER_CALL = 20


def _arxiv(path: str, params: dict[str, str]) -> Reply:
    """arXiv knows no paper, and fails for ids ending in an odd digit (a 404 is not retried):
    submissions answer 404 or 502 without waiting."""
    if int(params.get("id_list", "0")[-1:] or 0) % 2:
        return Reply(b"gone", status=404)
    return Reply(EMPTY_FEED)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def app(request, tmp_path_factory):
    """The site on this module's own catalog (its tests write votes and comments)."""
    folder = tmp_path_factory.mktemp("openapi")
    if request.param == "sqlite":
        url = f"sqlite:///{folder / 'catalog.db'}"
    else:
        url = fresh_pg_database(request.getfixturevalue("pg_server"))
    store = open_store(url)
    load_demo(store)
    ingest_daily_json(store, (DATA / "hf_daily_papers_CONSTRUCTED.json").read_bytes(), "hf")
    with store.begin() as conn:
        create_user(conn, "ada", "ada@example.org", hash_password(PASSWORD))
    with PayloadServer(_arxiv) as arxiv:
        environ = {
            "DAILYPAPERS_DATA_DIR": str(folder),
            "DAILYPAPERS_SECRET_KEY": secrets.token_urlsafe(48),
            "DAILYPAPERS_PAGE_CACHE_SECONDS": "0",
            "DAILYPAPERS_ARXIV_API_ENDPOINT": arxiv.url + "/api/query",
            # Limits high enough that generated requests reach the code behind them.
            "DAILYPAPERS_RATE_COMMENT": "100000/minute",
            "DAILYPAPERS_RATE_VOTE": "100000/minute",
            "DAILYPAPERS_RATE_SUBMIT": "100000/minute",
            "DAILYPAPERS_RATE_LIBRARY": "100000/minute",
            "DAILYPAPERS_RATE_FOLLOW": "100000/minute",
            "DAILYPAPERS_RATE_SEARCH": "100000/minute",
        }
        site = create_app(load_config(environ=environ, env_file=None), store)
        site.state.site.clock = lambda: datetime(2024, 7, 25, 12, tzinfo=UTC)
        yield site
    store.close()


def _csrf(page: str) -> str:
    return html.fromstring(page).xpath("//input[@name='csrf_token']/@value")[0]


@pytest.fixture(scope="module")
def callers(app):
    """(cookies, headers) per caller. The visitor's session holds a CSRF token but no account:
    the only way to a 401, since without a token the CSRF check answers 403 first."""
    with TestClient(app) as browser:
        token = _csrf(browser.get("/login").text)
        visitor = ({"dailypapers_session": browser.cookies["dailypapers_session"]}, token)
        browser.post("/login", data={"csrf_token": token, "login": "ada", "password": PASSWORD})
        token = _csrf(browser.get("/papers/2407.13168").text)
        ada = ({"dailypapers_session": browser.cookies["dailypapers_session"]}, token)
    return {
        "anonymous": ({}, {}),
        "visitor": (visitor[0], {"X-CSRF-Token": visitor[1]}),
        "signed_in": (ada[0], {"X-CSRF-Token": ada[1]}),
    }


@pytest.fixture(scope="module")
def api_schema(app):
    return schemathesis.openapi.from_asgi(app.openapi_url, app)


def _listed(case) -> set[str]:
    return set(case.operation.definition.raw["responses"]) - {"default"}


@schemathesis.check
def no_server_error(ctx, response, case) -> None:
    """No 5xx but one the operation lists (submit's 502: arXiv did not answer)."""
    if response.status_code >= 500 and str(response.status_code) not in _listed(case):
        raise AssertionError(f"Server error {response.status_code}: {response.text[:200]}")


@schemathesis.check
def status_is_listed(ctx, response, case) -> None:
    """The status is one the operation lists by number, not only through `default`."""
    if str(response.status_code) not in _listed(case):
        raise AssertionError(
            f"{response.status_code} is not among the documented statuses {sorted(_listed(case))}"
        )


CHECKS = [
    no_server_error,
    status_is_listed,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_headers_conformance,
    schemathesis.checks.response_schema_conformance,
]


def aimed_cases(operation, label):
    """Positive cases about the catalog's own papers and comments."""
    path = {}
    if "{paper_id}" in label:
        path["paper_id"] = st.sampled_from(PAPERS)
    if "{comment_id}" in label:
        path["comment_id"] = st.integers(1, 40)
    bodies = st.just(None)
    if label == "POST /api/papers/submit":
        bodies = st.sampled_from(SUBMISSIONS).map(lambda paper: {"paper_id": paper})
    if label == "POST /api/me/library":
        bodies = st.sampled_from(PAPERS).map(lambda paper: {"paper_id": paper})

    def cases(fixed):
        path_parameters, body = fixed
        given_body = {} if body is None else {"body": body}
        return operation.as_strategy(path_parameters=path_parameters or None, **given_body)

    return st.tuples(st.fixed_dictionaries(path), bodies).flatmap(cases)


# Hypothesis drives schemathesis's strategies directly: schemathesis's pytest loader for
# fixtures (`schemathesis.pytest.from_fixture`, 4.32) fails on pytest 9 ("'Function' object
# has no attribute '_nodeid'"), and a schema loaded at import time would build the app during
# collection.
@pytest.mark.parametrize(("caller", "label"), CALLS)
def test_the_api_answers_as_documented(api_schema, callers, caller, label):
    cookies, headers = callers[caller]
    operation = api_schema.find_operation_by_label(label)
    cases = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
        aimed_cases(operation, label),
    )

    @given(case=cases)
    @settings(
        max_examples=EXAMPLES_PER_CALL, deadline=None, suppress_health_check=list(HealthCheck)
    )
    def call(case):
        # OpenAPI matches concrete paths first: /api/papers/search is the search, not a paper.
        assume(case.path_parameters.get("paper_id") != "search")
        response = case.call_and_validate(checks=CHECKS, headers=headers, cookies=cookies)
        assert response.status_code != 500  # 502 is documented: arXiv did not answer

    call()


# Edges that random generation rarely reaches. `p` past what an OFFSET holds, weeks and
# months at the ends of the calendar.
EDGES = [
    {"p": str(2**63 // 50 + 1)},
    {"p": str(10**30)},
    {"p": str(2**63), "sort": "trending"},
    {"limit": str(2**64)},
    {"week": "9999-W52"},
    {"week": "0001-W01"},
    {"month": "9999-12"},
    {"month": "0001-01"},
    {"date": "9999-12-31"},
    {"date": "0001-01-01"},
    {"p": "\u00b2"},
    {"limit": "\u0661"},
    {"submitter": "a\x00b"},  # PostgreSQL text cannot hold NUL
]


@pytest.mark.parametrize(
    "query", EDGES, ids=lambda query: "&".join(f"{k}={v}" for k, v in query.items())
)
def test_daily_papers_edges_answer_as_documented(api_schema, query):
    case = api_schema.find_operation_by_label("GET /api/daily_papers").Case(query=query)
    response = case.call_and_validate(checks=CHECKS)
    assert response.status_code in (200, 400)


# A version number longer than int() reads (4300 digits), and an id in other digits.
PAPER_EDGES = [
    "2301.12345v" + "9" * 4301,
    "\u0662\u0663\u0660\u0661.\u0661\u0662\u0663\u0664\u0665",
]


@pytest.mark.parametrize(
    "label", [x for x in STATUSES if x.startswith("GET ") and "{paper_id}" in x]
)
@pytest.mark.parametrize("paper_id", PAPER_EDGES, ids=["long-version", "arabic-indic-digits"])
def test_paper_id_edges_answer_as_documented(api_schema, label, paper_id):
    operation = api_schema.find_operation_by_label(label)
    case = operation.Case(path_parameters={"paper_id": paper_id})
    assert case.call_and_validate(checks=CHECKS).status_code == 404


@pytest.mark.parametrize(
    ("text", "status"), [("a\x00b", 201), ("x" * 100_000, 400)], ids=["nul", "long"]
)
def test_comment_edges_answer_as_documented(api_schema, callers, text, status):
    cookies, headers = callers["signed_in"]
    case = api_schema.find_operation_by_label("POST /api/papers/{paper_id}/comment").Case(
        path_parameters={"paper_id": "2407.13168"},
        body={"comment": text},
        media_type="application/json",
    )
    response = case.call_and_validate(checks=CHECKS, headers=headers, cookies=cookies)
    assert response.status_code == status  # a NUL is dropped, 100,000 characters refused


@pytest.mark.parametrize(
    ("comment_id", "status"), [(2**31 - 1, 404), (2**31, 400), (2**64, 400), (0, 400)]
)
def test_reply_to_a_comment_id_past_the_column_is_a_400(api_schema, callers, comment_id, status):
    cookies, headers = callers["signed_in"]
    operation = api_schema.find_operation_by_label(
        "POST /api/papers/{paper_id}/comment/{comment_id}/reply"
    )
    case = operation.Case(
        path_parameters={"paper_id": "2407.13168", "comment_id": comment_id},
        body={"comment": "Past the end"},
        media_type="application/json",
    )
    response = case.call_and_validate(checks=CHECKS, headers=headers, cookies=cookies)
    assert response.status_code == status


def test_the_document_lists_what_each_operation_sends(app):
    document = app.openapi()
    listed = {
        f"{method.upper()} {path}": {int(s) for s in operation["responses"] if s != "default"}
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
    }
    assert listed == STATUSES
    for operation in itertools.chain.from_iterable(p.values() for p in document["paths"].values()):
        assert "422" not in operation["responses"]
        assert operation["responses"]["default"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/ErrorBody"
        }
    assert "HTTPValidationError" not in document["components"]["schemas"]
    assert document["components"]["schemas"]["ErrorBody"]["required"] == ["error"]


def test_the_document_describes_bodies_and_required_parameters(app):
    paths = app.openapi()["paths"]
    search = paths["/api/papers/search"]["get"]["parameters"]
    assert {p["name"]: p["required"] for p in search} == {"q": True, "limit": False}
    for path, field in [
        ("/api/papers/submit", "paper_id"),
        ("/api/papers/{paper_id}/comment", "comment"),
        ("/api/papers/{paper_id}/comment/{comment_id}/reply", "comment"),
    ]:
        body = paths[path]["post"]["requestBody"]
        assert body["required"] is True
        schema = body["content"]["application/json"]["schema"]
        assert schema["required"] == [field] and schema["properties"][field]["type"] == "string"


def test_a_missing_q_is_still_our_400(app):
    with TestClient(app) as client:
        response = client.get("/api/papers/search")
    assert response.status_code == 400 and response.json() == {"error": "q is required"}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "The body must be JSON with 'comment'"),
        (b"[1]" * 2, "The body must be JSON with 'comment'"),
        (b"[" * 100_000, "The body must be JSON with 'comment'"),
        (b'{"comment": 1}', "comment is required"),
        (b'{"comment": "a\\ud800"}', "comment is not valid Unicode text"),
    ],
)
def test_bad_comment_bodies_are_400_as_documented(api_schema, callers, body, message):
    cookies, headers = callers["signed_in"]
    case = api_schema.find_operation_by_label("POST /api/papers/{paper_id}/comment").Case(
        path_parameters={"paper_id": "2407.13168"},
        body=body,
        media_type="application/octet-stream",
    )
    response = case.call_and_validate(
        checks=CHECKS, headers={**headers, "Content-Type": "application/json"}, cookies=cookies
    )
    assert response.status_code == 400 and response.json() == {"error": message}


def test_docs_api_md_lists_every_operation(app):
    statuses = (DOCS / "api.md").read_text().split("## Statuses")[1].split("\n## ")[0]
    for path, operations in app.openapi()["paths"].items():
        for method in operations:
            assert f"`{method.upper()} {path.replace('{paper_id}', '{id}')}`" in statuses
