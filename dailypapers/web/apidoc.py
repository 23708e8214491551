"""What the OpenAPI document (/openapi.json) says about the JSON API beyond what FastAPI reads
from the route signatures: the shapes of the bodies, the error body, the statuses each
operation can send, the JSON bodies that a CSRF dependency reads raw, and the parameter schemas
of values that web/params.py parses itself. Documentation only: nothing here validates or
changes a request or a response (web/shapes.py builds the bodies; tests/test_openapi.py checks
that these models describe them).

Why FastAPI is not left to infer all this: it would document a 422 that is never sent (the
app answers bad input with 400, as Hugging Face's clients expect), mark `q` of the search as
optional although it is required, and know nothing of bodies read as raw bytes.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema
from pydantic.json_schema import SkipJsonSchema

# `2024-07-18T05:15:24.000Z`: huggingface_hub's parser accepts nothing else (shared/HF_API.md 7).
TIMESTAMP = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$"


def _drop_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def absent(description: str = "") -> Any:
    """A key that is left out when it has no value (never sent as null). Annotate the field
    `T | SkipJsonSchema[None]` so the schema says `T`, and not "T or null"."""
    return Field(default=None, description=description or None, json_schema_extra=_drop_default)


def timestamp(description: str) -> Any:
    return Field(pattern=TIMESTAMP, description=description)


class _Shape(BaseModel):
    # Every key we send is described here, so the tests notice one that is not.
    model_config = ConfigDict(extra="forbid")


class ErrorBody(_Shape):
    """Every refusal under /api: the message is also in the `X-Error-Message` header
    (percent-encoded when it is not ASCII)."""

    error: str = Field(description="What is wrong, written for a person")


class UserOverview(_Shape):
    """A user as Hugging Face shows one; `name` and `user` both hold the username."""

    object_id: str = Field(alias="_id", description="A stable 24-hex id")
    avatarUrl: str
    fullname: str
    name: str
    user: str = Field(description="The username (huggingface_hub reads it from here)")
    type: Literal["user"]
    isPro: bool


class Author(_Shape):
    object_id: str = Field(alias="_id")
    name: str
    hidden: bool


class Organization(_Shape):
    object_id: str = Field(alias="_id")
    name: str = Field(description="A slug of the full name")
    fullname: str
    avatar: str


class Paper(_Shape):
    """A paper: `paper` inside a daily item or a search hit."""

    id: str = Field(description="The arXiv id, without version")
    authors: list[Author]
    mediaUrls: list[str]
    publishedAt: str | None = Field(
        pattern=TIMESTAMP, description="The arXiv publication time; null when arXiv gave none"
    )
    title: str
    summary: str = Field(description="The abstract")
    upvotes: int
    discussionId: str
    numComments: int
    submittedOnDailyAt: str | SkipJsonSchema[None] = Field(
        default=None,
        pattern=TIMESTAMP,
        description="The day it went on the daily list (only for listed papers)",
        json_schema_extra=_drop_default,
    )
    submittedOnDailyBy: UserOverview | SkipJsonSchema[None] = absent("Who listed it")
    githubRepo: str | SkipJsonSchema[None] = absent("Its code, a full URL")
    projectPage: str | SkipJsonSchema[None] = absent()
    organization: Organization | SkipJsonSchema[None] = absent()
    withdrawnAt: str | None = Field(
        default=None,
        pattern=TIMESTAMP,
        description="Only for withdrawn papers: when (null when not known)",
        json_schema_extra=_drop_default,
    )
    ai_summary: str | SkipJsonSchema[None] = absent(
        "Two sentences a language model wrote from the abstract (only where the site has "
        "summary_llm_url set and the paper is listed)"
    )
    ai_keywords: list[str] | SkipJsonSchema[None] = absent("Up to five key phrases, with it")


class LinkedRepo(BaseModel):
    """A Hub repository linked to a paper (this site hosts none, so lists are empty)."""

    model_config = ConfigDict(extra="allow")
    id: str


class PaperDetail(Paper):
    """GET /api/papers/{paper_id}: the paper at the top level, plus its linked repositories."""

    ai_summary_model: str | SkipJsonSchema[None] = absent("The model that wrote ai_summary")

    linkedModels: list[LinkedRepo]
    numTotalModels: int
    linkedDatasets: list[LinkedRepo]
    numTotalDatasets: int
    linkedSpaces: list[LinkedRepo]
    numTotalSpaces: int


class DailyItem(_Shape):
    """One element of the daily list. The top-level `publishedAt` is the day it was listed;
    the arXiv date is `paper.publishedAt`."""

    paper: Paper
    publishedAt: str = timestamp("The day it went on the daily list")
    title: str
    summary: str
    mediaUrls: list[str]
    thumbnail: str | None = Field(
        description="Absolute URL of an image of the PDF's first page; null until one is rendered"
    )
    numComments: int
    submittedBy: UserOverview
    isAuthorParticipating: bool
    githubRepo: str | SkipJsonSchema[None] = absent("Copied from `paper`")
    projectPage: str | SkipJsonSchema[None] = absent("Copied from `paper`")
    organization: Organization | SkipJsonSchema[None] = absent("Copied from `paper`")
    ai_summary: str | SkipJsonSchema[None] = absent("Copied from `paper`")
    ai_keywords: list[str] | SkipJsonSchema[None] = absent("Copied from `paper`")


class SearchHit(_Shape):
    """One search hit, wrapped like a daily item; the daily keys only for listed papers."""

    paper: Paper
    title: str
    summary: str
    numComments: int
    publishedAt: str | SkipJsonSchema[None] = Field(
        default=None,
        pattern=TIMESTAMP,
        description="The day it went on the daily list",
        json_schema_extra=_drop_default,
    )
    submittedBy: UserOverview | SkipJsonSchema[None] = absent()
    isAuthorParticipating: bool | SkipJsonSchema[None] = absent()
    thumbnail: str | SkipJsonSchema[None] = absent(
        "Absolute URL of an image of the PDF's first page, for listed papers that have one"
    )
    ai_summary: str | SkipJsonSchema[None] = absent("Copied from `paper`")
    ai_keywords: list[str] | SkipJsonSchema[None] = absent("Copied from `paper`")


class SimilarPaper(SearchHit):
    similarity: float = Field(description="Cosine similarity of the two papers' embeddings")


class ForYouWhy(_Shape):
    """Why a paper is in a For you list."""

    kind: Literal["paper", "follow", "trending"] = Field(
        description="paper: close to a paper of the profile; follow: it matches a follow; "
        "trending: the reader's profile is empty, or nothing else was left"
    )
    paper: str | None | SkipJsonSchema[None] = Field(
        default=None,
        description="kind paper: the closest paper's id (null: the pasted abstract)",
        json_schema_extra=_drop_default,
    )
    title: str | None | SkipJsonSchema[None] = Field(
        default=None, description="kind paper: its title", json_schema_extra=_drop_default
    )
    follows: list[str] | SkipJsonSchema[None] = absent("kind follow: the follows it matched")


class ForYouPaper(_Shape):
    id: str
    title: str
    authors: list[str]
    categories: list[str]
    publishedAt: str | None
    score: float = Field(description="The ranking's score (0 for trending papers)")
    interest: int | None = Field(description="Index into `interests`; null for follows, trending")
    why: ForYouWhy


class ForYouInterest(_Shape):
    papers: list[str] = Field(description="The profile's papers in this interest")


class ForYou(_Shape):
    """A reader's For you list (docs/personal.md)."""

    since: str = Field(description="First day of the window (papers published)")
    until: str = Field(description="Last day of the window")
    candidates: int = Field(description="Papers of the window that were ranked")
    coldStart: bool = Field(description="The profile is empty: the list is trending papers")
    demoted: int = Field(description="Papers pushed down for being close to a not-interested one")
    interests: list[ForYouInterest]
    papers: list[ForYouPaper]


class Repos(_Shape):
    models: list[LinkedRepo]
    datasets: list[LinkedRepo]
    spaces: list[LinkedRepo]


class Vote(_Shape):
    id: str
    upvotes: int = Field(description="The paper's count after this vote")
    voted: bool


class Submission(_Shape):
    id: str = Field(description="The arXiv id the submitted text names")
    alreadyListed: bool


class CommentAuthor(_Shape):
    user: str
    name: str


class Comment(_Shape):
    """A comment and its replies (one level deep: a reply's `replies` is empty)."""

    id: int = Field(description="The number to reply to")
    object_id: str = Field(alias="_id")
    author: CommentAuthor
    createdAt: str = timestamp("When it was posted")
    editedAt: str | None = Field(pattern=TIMESTAMP, description="null when never edited")
    deleted: bool
    content: str = Field(description="The Markdown as written; empty once deleted")
    html: str = Field(description="The Markdown rendered to safe HTML; empty once deleted")
    replies: list[Comment]


class NewMessage(_Shape):
    newMessage: Comment


class SubmitRequest(BaseModel):
    paper_id: str = Field(description="An arXiv id in any form, or an arXiv URL")


class CommentRequest(BaseModel):
    comment: str = Field(description="Markdown, not blank")


# What each error status means, said once; an operation may say it more precisely.
ERRORS: dict[int, str] = {
    400: "Bad input: the message names the parameter or the body field and what is wrong",
    401: "Not signed in: the session has a CSRF token but no account",
    403: "The X-CSRF-Token header does not match the session's token (or there is no session)",
    404: "No such paper",
    429: "Too many attempts: the message says when to try again",
    502: "arXiv did not answer while fetching the paper",
}

_ERROR_HEADERS = {
    "X-Error-Message": {
        "description": "The error message again (percent-encoded when it is not ASCII)",
        "required": True,
        "schema": {"type": "string"},
    }
}


# A paper id route given the local id of a paper that merged into its arXiv record
# (web/moved.py): GET answers 301, other methods 308.
MOVED: dict[int, str] = {
    301: "The paper merged into its arXiv record: `Location` is this URL with the arXiv id",
    308: "The paper merged into its arXiv record: send the same request to `Location`, this "
    "URL with the arXiv id",
}

_LOCATION_HEADER = {
    "Location": {
        "description": "This URL with the arXiv id",
        "required": True,
        "schema": {"type": "string"},
    }
}


def responses(
    ok: Any,
    *errors: int,
    ok_status: int = 200,
    ok_description: str = "Success",
    also: dict[int, tuple[Any, str]] | None = None,
    why: dict[int, str] | None = None,
    moved: int | None = None,
) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route: `ok` (a model or `list[Model]`) under `ok_status`, the
    `errors` with the error body and header, `also` for another success status, `moved`
    (301 or 308) for a route keyed on a paper id, and a `default` for the 500 the app answers
    when something fails on our side.

    Declaring `default` is also what keeps FastAPI from documenting its 422: it adds one to
    every route with parameters unless the route already names 422, 4XX or default.
    """
    declared: dict[int | str, dict[str, Any]] = {
        ok_status: {"model": ok, "description": ok_description}
    }
    for status, (model, description) in (also or {}).items():
        declared[status] = {"model": model, "description": description}
    if moved is not None:
        declared[moved] = {"description": MOVED[moved], "headers": _LOCATION_HEADER}
    for status in errors:
        declared[status] = {
            "model": ErrorBody,
            "description": (why or {}).get(status, ERRORS[status]),
            "headers": _ERROR_HEADERS,
        }
    declared["default"] = {
        "model": ErrorBody,
        "description": "Something failed on our side (500); the body says only that",
        "headers": _ERROR_HEADERS,
    }
    return declared


def json_body(model: type[BaseModel], description: str) -> dict[str, Any]:
    """`openapi_extra=` for a route whose JSON body a dependency reads as bytes (the CSRF
    check does, see web/auth.py): FastAPI cannot see it, so it is described here, and a
    malformed body keeps the route's own 400 message."""
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {"application/json": {"schema": model.model_json_schema()}},
        }
    }


def required_query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    """`openapi_extra=` for a required query parameter that the route checks itself, so that
    a missing one is our 400 with our message. Declare it in the signature with
    `include_in_schema=False`, or it would be listed twice."""
    return {
        "parameters": [
            {
                "name": name,
                "in": "query",
                "required": True,
                "description": description,
                "schema": schema,
            }
        ]
    }


def integer(minimum: int, maximum: int | None = None) -> Any:
    """The documented schema of an integer parameter that arrives as a string and is parsed
    by web/params.py, which answers 400 with its own message when it is not one. (Say the
    default in the parameter's description: a schema default is dropped for a parameter
    whose Python default is None.)"""
    schema: dict[str, Any] = {"type": "integer", "minimum": minimum}
    if maximum is not None:
        schema["maximum"] = maximum
    return WithJsonSchema(schema)


def string(**constraints: Any) -> Any:
    """The documented schema of a string parameter (`pattern=`, `format=`, `enum=`): a query
    parameter is never null, whatever the Python default says."""
    return WithJsonSchema({"type": "string", **constraints})


def strings() -> Any:
    """A repeatable string parameter (`category=cs.CL&category=cs.LG`)."""
    return WithJsonSchema({"type": "array", "items": {"type": "string"}})
