"""Our rows in the shapes Hugging Face clients expect (shared/HF_API.md sections 3-7).

Traps honoured here: timestamps always `YYYY-MM-DDTHH:MM:SS.mmmZ`; authors, users and
organisations are objects; a daily item carries `title` at the top level and its top-level
`publishedAt` is the day it was listed (the arXiv date is `paper.publishedAt`); users carry the
username in both `name` and `user`. Object ids are stable 24-hex digests of what they name.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, date, datetime, time
from typing import Any

from ..domain.papers import DailyItem, Paper
from ..domain.people import Comment
from ..domain.summaries import Summary


def object_id(*parts: object) -> str:
    """A stable 24-hex id (the length of HF's ids) for anything we name by its parts."""
    return hashlib.sha1("\x1f".join(map(str, parts)).encode()).hexdigest()[:24]  # noqa: S324


def timestamp(value: datetime | date | None) -> str | None:
    """`2024-07-18T05:15:24.000Z`: the only form huggingface_hub's parser accepts."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        value = datetime.combine(value, time(0))
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def username_for(name: str | None, username: str | None) -> str:
    if username:
        return username
    slug = re.sub(r"[^a-z0-9]+", "-", (name or "anonymous").lower()).strip("-")
    return slug or "anonymous"


def user_overview(name: str | None, username: str | None) -> dict[str, Any]:
    login = username_for(name, username)
    return {
        "_id": object_id("user", login),
        "avatarUrl": f"/avatars/{login}.svg",
        "fullname": name or login,
        "name": login,
        "user": login,
        "type": "user",
        "isPro": False,
    }


def organization(name: str | None) -> dict[str, Any] | None:
    if not name:
        return None
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "org"
    return {"_id": object_id("org", slug), "name": slug, "fullname": name, "avatar": ""}


# Keys of the paper object a daily item repeats at the top level (huggingface_hub reads them
# only there; other clients read `paper.*`: HF_API.md section 7).
COPIED = ("githubRepo", "projectPage", "organization", "ai_summary", "ai_keywords")


def hf_paper(
    paper: Paper | DailyItem,
    daily: DailyItem | None,
    comments: int,
    ai: Summary | None = None,
) -> dict[str, Any]:
    """The paper object (`paper` inside a daily item; the whole body of /api/papers/{id});
    `ai_summary` and `ai_keywords` when the paper has an AI summary (docs/summaries.md)."""
    arxiv_id = paper.arxiv_id
    body: dict[str, Any] = {
        "id": arxiv_id,
        "authors": [
            {"_id": object_id("author", arxiv_id, index), "name": name, "hidden": False}
            for index, name in enumerate(paper.authors)
        ],
        "mediaUrls": [],
        "publishedAt": timestamp(paper.published_at),
        "title": paper.title,
        "summary": paper.abstract,
        "upvotes": daily.upvotes if daily else 0,
        "discussionId": object_id("discussion", arxiv_id),
        "numComments": comments,
    }
    if daily is not None:
        body["submittedOnDailyAt"] = timestamp(daily.day)
        body["submittedOnDailyBy"] = user_overview(daily.submitter_name, daily.submitter_username)
    if paper.github_repos:
        body["githubRepo"] = paper.github_repos[0]
    if paper.project_pages:
        body["projectPage"] = paper.project_pages[0]
    org = organization((daily.organization if daily else None) or paper.organization)
    if org:
        body["organization"] = org
    if paper.withdrawn:
        body["withdrawnAt"] = timestamp(paper.updated_at)
    if ai is not None:
        body["ai_summary"] = ai.text
        body["ai_keywords"] = ai.keywords
    return body


def hf_daily_item(
    item: DailyItem,
    comments: int,
    *,
    thumbnail: str | None = None,
    participating: bool = False,
    ai: Summary | None = None,
) -> dict[str, Any]:
    """One element of /api/daily_papers; `thumbnail` is the absolute URL of the first page's
    image (null without one: HF always sends the key); `participating` when an author who
    claimed the paper has commented on it (storage/claims.py); the AI summary in `paper` and
    at the top level, where huggingface_hub reads it."""
    paper = hf_paper(item, item, comments, ai)
    body: dict[str, Any] = {
        "paper": paper,
        "publishedAt": timestamp(item.day),
        "title": item.title,
        "summary": item.abstract,
        "mediaUrls": [],
        "thumbnail": thumbnail,
        "numComments": comments,
        "submittedBy": user_overview(item.submitter_name, item.submitter_username),
        "isAuthorParticipating": participating,
    }
    for key in COPIED:
        if key in paper:
            body[key] = paper[key]
    return body


def hf_search_hit(
    paper: Paper,
    daily: DailyItem | None,
    comments: int,
    *,
    thumbnail: str | None = None,
    participating: bool = False,
    ai: Summary | None = None,
) -> dict[str, Any]:
    """One element of /api/papers/search: a daily-item-shaped wrapper with a top-level title;
    `thumbnail` (an absolute URL) only when given; the AI summary as in a daily item."""
    inner = hf_paper(paper, daily, comments, ai)
    body: dict[str, Any] = {
        "paper": inner,
        "title": paper.title,
        "summary": paper.abstract,
        "numComments": comments,
    }
    if daily is not None:
        body["publishedAt"] = timestamp(daily.day)
        body["submittedBy"] = user_overview(daily.submitter_name, daily.submitter_username)
        body["isAuthorParticipating"] = participating
    if thumbnail:
        body["thumbnail"] = thumbnail
    for key in ("ai_summary", "ai_keywords"):
        if key in inner:
            body[key] = inner[key]
    return body


def comment_json(comment: Comment) -> dict[str, Any]:
    """A comment with its replies, as the comment endpoints answer it."""
    return {
        "id": comment.id,
        "_id": object_id("comment", comment.id),
        "author": {"user": comment.username, "name": comment.username},
        "createdAt": timestamp(comment.created_at),
        "editedAt": timestamp(comment.edited_at),
        "deleted": comment.deleted,
        "content": "" if comment.deleted else comment.body,
        "html": "" if comment.deleted else comment.body_html,
        "replies": [comment_json(r) for r in comment.replies],
    }


def paper_markdown(paper: Paper, page_url: str) -> str:
    """The paper as Markdown (what /papers/{id}.md returns)."""
    lines = [f"# {paper.title}", ""]
    if paper.authors:
        lines += [f"**Authors:** {', '.join(paper.authors)}", ""]
    facts = []
    if paper.is_local:
        facts.append(f"- Paper page: {page_url}")
    else:
        facts.append(f"- arXiv: https://arxiv.org/abs/{paper.arxiv_id}")
        facts.append(f"- PDF: https://arxiv.org/pdf/{paper.arxiv_id}")
    if paper.published_at:
        facts.append(f"- Published: {paper.published_at:%Y-%m-%d}")
    if paper.primary_category:
        facts.append(f"- Categories: {', '.join(paper.categories)}")
    for repo in paper.github_repos:
        facts.append(f"- Code: {repo}")
    for page in paper.project_pages:
        facts.append(f"- Project page: {page}")
    if paper.journal_ref:
        facts.append(f"- Journal reference: {paper.journal_ref}")
    lines += [*facts, "", "## Abstract", "", paper.abstract, ""]
    return "\n".join(lines)
