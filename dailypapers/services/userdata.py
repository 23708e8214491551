"""Export all my data: one JSON document with everything an account holds, section by section,
and what of it an import of that document restores.

Sections form a small registry, so a part of the site that keeps something per reader adds
its own with `register(Section(...))` at import time of its service module (follows, digest
settings, ...): `export` reads it within the export's connection, and, when it can be
restored, `restore` writes it back inside the import's transaction and returns a line for
the import's report, and `remove` deletes it (what a restore replaces). The library is a
section like the others for the export; its restore is the library import itself
(services/library.py), which matches and fetches the papers as for any other file.

    {"format": "dailypapers-export", "version": 1, "site": ..., "exported_at": ...,
     "profile": {...}, "library": [...], "votes": [...], "comments": [...],
     "follows": [...], "digest": {...}, "for_you": {...}}
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..domain.errors import BadParameter, Conflict
from ..domain.follows import (
    NewFollow,
    canonical_search,
    check_kind,
    clean_label,
    followed_query,
    normalize_author,
    normalize_organization,
)
from ..domain.ids import InvalidArxivId, parse_paper_id
from ..domain.library import EXPORT_FORMAT
from ..domain.people import User
from ..storage import Store
from ..storage.daily import set_vote, upvotes_of
from ..storage.follows import add_follow, catalog_spelling, delete_follow, list_follows
from ..storage.foryou import (
    add_dismissal,
    clear_dismissals,
    delete_profile,
    get_profile,
    list_dismissals,
    set_abstract,
    set_started,
)
from ..storage.library import (
    Connection,
    aliases_of,
    catalog_state,
    item_rows,
    remove_all_items,
)
from ..storage.papers import get_papers
from ..storage.subscriptions import subscription_of_user
from ..storage.userdata import comments_of, votes_of
from .foryou import check_abstract

EXPORT_VERSION = 1
# The document's own keys; a section may not take one.
_ENVELOPE = ("format", "version", "site", "exported_at")


def iso(value: datetime | None) -> str | None:
    """A stored time (naive UTC) as ISO 8601 with its offset: `2024-07-25T12:00:00+00:00`."""
    return None if value is None else value.replace(tzinfo=UTC).isoformat()


def stored_time(text: Any, where: str) -> datetime:
    """An ISO time from an export as stored (naive UTC); BadParameter naming `where`."""
    try:
        value = datetime.fromisoformat(str(text))
    except ValueError:
        raise BadParameter(f"{where}: {str(text)[:40]!r} is not an ISO time") from None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


@dataclass(frozen=True)
class Section:
    """One part of the export. `export(conn, user)` gives JSON-ready data; `restore(conn,
    user, data)` (optional) writes it back and says what it did in one line; `remove(conn,
    user)` (optional) deletes what a restore would write back, returning a count."""

    name: str
    export: Callable[[Connection, User], Any]
    restore: Callable[[Connection, User, Any], str] | None = None
    remove: Callable[[Connection, User], int] | None = None


SECTIONS: dict[str, Section] = {}


def register(section: Section) -> None:
    """Add a section; its name is its key in the document, after the ones already there."""
    if section.name in SECTIONS or section.name in _ENVELOPE:
        raise ValueError(f"export section {section.name!r} is registered already")
    SECTIONS[section.name] = section


def export_all(store: Store, user: User, site_name: str, now: datetime) -> dict[str, Any]:
    """Everything the account holds, one key per registered section, read in one
    connection. The password hash is never in it."""
    document: dict[str, Any] = {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "site": site_name,
        "exported_at": iso(now.astimezone(UTC).replace(tzinfo=None)),
    }
    with store.connect() as conn:
        for section in SECTIONS.values():
            document[section.name] = section.export(conn, user)
    return document


def restore_sections(conn: Connection, user: User, document: dict[str, Any]) -> list[str]:
    """Write back the restorable sections a document holds (the library aside: the import
    does it), inside the caller's transaction; one line each for the import's report."""
    if document.get("version") != EXPORT_VERSION:
        raise BadParameter(
            f"this export is version {document.get('version')!r}; this site reads version "
            f"{EXPORT_VERSION}"
        )
    notes = []
    for name, section in SECTIONS.items():
        if name in document and section.restore is not None:
            notes.append(section.restore(conn, user, document[name]))
    return notes


def remove_restorable(store: Store, user: User) -> dict[str, int]:
    """Delete what every restorable section holds for the account, the library included, in
    one transaction (before restoring an export over it); counts by section."""
    counts = {}
    with store.begin() as conn:
        for name, section in SECTIONS.items():
            if section.remove is not None:
                counts[name] = section.remove(conn, user)
    return counts


# --- the sections this site has ------------------------------------------------------------


def _profile(_conn: Connection, user: User) -> dict[str, Any]:
    return {
        "username": user.username,
        "email": user.email,
        "is_admin": user.is_admin,
        "created_at": iso(user.created_at),
        "password_changed_at": iso(user.password_changed_at),
    }


def _library(conn: Connection, user: User) -> list[dict[str, Any]]:
    rows = item_rows(conn, user.id)
    papers = {p.arxiv_id: p for p in get_papers(conn, [arxiv_id for arxiv_id, _, _ in rows])}
    items = []
    for arxiv_id, added_at, how in rows:
        paper = papers.get(arxiv_id)
        items.append(
            {
                "arxiv_id": arxiv_id,
                "title": paper.title if paper else None,
                "authors": paper.authors if paper else [],
                "added_at": iso(added_at),
                "how": how,
            }
        )
    return items


def _remove_library(conn: Connection, user: User) -> int:
    return remove_all_items(conn, user.id)


def _votes(conn: Connection, user: User) -> list[dict[str, Any]]:
    return [
        {"arxiv_id": arxiv_id, "title": title, "created_at": iso(created_at)}
        for arxiv_id, title, created_at in votes_of(conn, user.id)
    ]


def _restore_votes(conn: Connection, user: User, data: Any) -> str:
    """Votes on papers this site lists; the others are counted as skipped (a vote is for a
    paper on the daily list)."""
    if not isinstance(data, list):
        raise BadParameter("the export's 'votes' must be a list")
    wanted: list[tuple[str, datetime]] = []
    skipped = 0
    for index, item in enumerate(data):
        where = f"vote {index + 1}"
        if not isinstance(item, dict):
            raise BadParameter(f"{where}: must be an object")
        try:
            arxiv_id = parse_paper_id(str(item.get("arxiv_id", "")))
        except InvalidArxivId:
            skipped += 1
            continue
        wanted.append((arxiv_id, stored_time(item.get("created_at"), where)))
    aliases = aliases_of(conn, [arxiv_id for arxiv_id, _ in wanted])
    state = catalog_state(conn, [aliases.get(a, a) for a, _ in wanted])
    restored = 0
    for arxiv_id, created_at in wanted:
        arxiv_id = aliases.get(arxiv_id, arxiv_id)
        if state.get(arxiv_id, True) or upvotes_of(conn, arxiv_id) is None:
            skipped += 1  # not in this catalog, hidden, or not on the daily list
            continue
        restored += set_vote(conn, user.id, arxiv_id, True, created_at)
    return f"votes: {restored} restored, {len(data) - restored - skipped} already cast, " + (
        f"{skipped} not on this site's daily list"
    )


def _remove_votes(conn: Connection, user: User) -> int:
    removed = 0
    for arxiv_id, _, _ in votes_of(conn, user.id):
        removed += set_vote(conn, user.id, arxiv_id, False)
    return removed


def _comments(conn: Connection, user: User) -> list[dict[str, Any]]:
    found = comments_of(conn, user.id)
    for item in found:
        item["created_at"], item["edited_at"] = iso(item["created_at"]), iso(item["edited_at"])
    return found


def _follows(conn: Connection, user: User) -> list[dict[str, Any]]:
    return [
        {"kind": f.kind, "label": f.label, "value": f.value, "created_at": iso(f.created_at)}
        for f in list_follows(conn, user.id)
    ]


def _restored_follow(conn: Connection, item: Any, where: str) -> NewFollow | None:
    """A follow of an export as this site keeps it, from its kind and label (the value is
    normalised again: the export may come from another version or site); None for a
    category this catalog has no paper in."""
    if not isinstance(item, dict):
        raise BadParameter(f"{where}: a follow must be an object")
    try:
        kind, label = check_kind(item.get("kind")), clean_label(item.get("label"))
        if kind == "category":
            spelled = catalog_spelling(conn, [label, label.lower()])
            return None if spelled is None else NewFollow(kind, spelled, spelled)
        if kind == "author":
            return NewFollow(kind, normalize_author(label), label)
        if kind == "organization":
            return NewFollow(kind, normalize_organization(label), label)
        return NewFollow(kind, canonical_search(followed_query(label)), label)
    except BadParameter as error:
        raise BadParameter(f"{where}: {error}") from None


def _restore_follows(conn: Connection, user: User, data: Any) -> str:
    if not isinstance(data, list):
        raise BadParameter("follows: must be a list")
    wanted = [_restored_follow(conn, item, f"follows[{n}]") for n, item in enumerate(data)]
    restored = there = 0
    for n, (new, item) in enumerate(zip(wanted, data, strict=True)):
        if new is None:
            continue
        at = item.get("created_at")
        try:
            add_follow(conn, user.id, new, None if at is None else stored_time(at, f"follows[{n}]"))
            restored += 1
        except Conflict:
            there += 1
    missing = sum(new is None for new in wanted)
    return (
        f"follows: {restored} restored, {there} already followed, "
        f"{missing} categories this catalog does not have"
    )


def _remove_follows(conn: Connection, user: User) -> int:
    return sum(delete_follow(conn, user.id, f.id) is not None for f in list_follows(conn, user.id))


def _digest(conn: Connection, user: User) -> dict[str, Any] | None:
    """The digest settings. Export only: a subscription is switched on again where the
    reader is, with that site's confirmation mail."""
    found = subscription_of_user(conn, user.id)
    if found is None:
        return None
    return {
        "email": found.email,
        "status": found.status,
        "frequency": found.frequency,
        "sections": found.sections,
        "max_papers": found.max_papers,
        "negative_keywords": found.negative_keywords,
        "created_at": iso(found.created_at),
        "confirmed_at": iso(found.confirmed_at),
    }


def _for_you(conn: Connection, user: User) -> dict[str, Any]:
    """What steers the For you list besides the library, votes and follows: the papers
    marked "not interested" (with when), the pasted abstract, the start-over moment."""
    kept = get_profile(conn, user.id)
    return {
        "not_interested": [
            {"arxiv_id": arxiv_id, "title": title, "created_at": iso(at)}
            for arxiv_id, title, at in list_dismissals(conn, user.id)
        ],
        "abstract": kept.abstract,
        "started_at": iso(kept.started_at),
    }


def _restore_for_you(conn: Connection, user: User, data: Any) -> str:
    """The marks on papers this catalog has (an old local id means its arXiv twin), the
    abstract when the reader has none here (it is embedded again the next time the list is
    ranked with the model), and the later of the two start-over moments."""
    if not isinstance(data, dict):
        raise BadParameter("for_you: must be an object")
    marks = data.get("not_interested") or []
    if not isinstance(marks, list):
        raise BadParameter("for_you.not_interested: must be a list")
    wanted: list[tuple[str, datetime]] = []
    for n, item in enumerate(marks):
        where = f"for_you.not_interested[{n}]"
        if not isinstance(item, dict):
            raise BadParameter(f"{where}: must be an object")
        try:
            arxiv_id = parse_paper_id(str(item.get("arxiv_id", "")))
        except InvalidArxivId:
            raise BadParameter(f"{where}: {item.get('arxiv_id')!r} is not a paper id") from None
        wanted.append((arxiv_id, stored_time(item.get("created_at"), where)))
    abstract = data.get("abstract")
    if abstract is not None:
        if not isinstance(abstract, str):
            raise BadParameter("for_you.abstract: must be text")
        try:
            abstract = check_abstract(abstract)
        except BadParameter as error:
            raise BadParameter(f"for_you.abstract: {error}") from None
    started = data.get("started_at")
    started_at = None if started is None else stored_time(started, "for_you.started_at")

    aliases = aliases_of(conn, [arxiv_id for arxiv_id, _ in wanted])
    state = catalog_state(conn, [aliases.get(a, a) for a, _ in wanted])
    restored = missing = 0
    for arxiv_id, at in wanted:
        arxiv_id = aliases.get(arxiv_id, arxiv_id)
        if state.get(arxiv_id, True):
            missing += 1  # not in this catalog, or hidden
            continue
        restored += add_dismissal(conn, user.id, arxiv_id, at)
    line = (
        f"for you: {restored} not-interested marks restored, "
        f"{len(wanted) - restored - missing} already marked, {missing} not in this catalog"
    )
    here = get_profile(conn, user.id)
    if abstract is not None:
        if here.abstract is None:
            set_abstract(conn, user.id, abstract, None, None)
            line += "; the pasted abstract restored"
        elif here.abstract != abstract:
            line += "; the pasted abstract kept as it is here"
    if started_at is not None and (here.started_at is None or here.started_at < started_at):
        set_started(conn, user.id, started_at)
        line += f"; started over on {started_at:%Y-%m-%d %H:%M} UTC"
    return line


def _remove_for_you(conn: Connection, user: User) -> int:
    return clear_dismissals(conn, user.id) + delete_profile(conn, user.id)


register(Section("profile", _profile))
register(Section("library", _library, remove=_remove_library))
register(Section("votes", _votes, _restore_votes, _remove_votes))
register(Section("comments", _comments))
register(Section("follows", _follows, _restore_follows, _remove_follows))
register(Section("digest", _digest))
register(Section("for_you", _for_you, _restore_for_you, _remove_for_you))
