"""Claimed authorship, the one way the paper page's "This is me", the admin page, the claimant's
own page and `dailypapers claims` do it.

The rule, kept simple: a signed-in account claims one author entry of a paper (its place in
the author list). An admin approves or rejects it. Once a claim is approved, the other papers
of that person (the spellings their author page merges, docs/people.md) are offered to the
claimant, who confirms each one they wrote; a confirmation is approved at once, since the
person was vouched for. An entry has at most one approved claimant; an approved entry links
the author's name to the claimant's profile on the paper's page and author pages.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..domain.authors import author_key
from ..domain.errors import BadParameter, Conflict, NotFound
from ..domain.papers import Paper
from ..domain.people import User
from ..storage import Store
from ..storage.claims import (
    Claim,
    add_claim,
    approved_entry,
    claimed_entries,
    claims_of_user,
    decide_claim,
    get_claim,
    list_claims,
)
from ..storage.papers import get_paper
from .authors import person_entries


@dataclass(frozen=True)
class Offer:
    """A paper of a person the account was approved as, not claimed yet: confirm or skip."""

    paper: Paper
    position: int
    name: str
    claim_id: int  # the approved claim that allows it


def _entry(store: Store, arxiv_id: str, position: object) -> tuple[Paper, int, str]:
    """The paper and the author entry at `position` (a form's text); BadParameter or NotFound
    naming what is wrong."""
    text = str(position).strip()
    if not text.isdigit() or len(text) > 6:
        raise BadParameter("choose an author of the paper")
    with store.connect() as conn:
        paper = get_paper(conn, arxiv_id)
    if paper is None or paper.hidden:
        raise NotFound(f"No paper {arxiv_id} in this catalog.")
    index = int(text)
    if index >= len(paper.authors) or author_key(paper.authors[index]) is None:
        raise BadParameter(f"{arxiv_id} has no author number {index + 1}")
    return paper, index, paper.authors[index]


def claim(store: Store, user: User, arxiv_id: str, position: object) -> Claim:
    """The account says it is the author at `position` of the paper. Pending until an admin
    decides, unless it confirms a person the account was already approved as (then approved
    at once). Conflict when someone holds the entry or the account claimed it before."""
    paper, index, name = _entry(store, arxiv_id, position)
    vouched = _vouching_claim(store, user, arxiv_id, index)
    with store.begin() as conn:
        holder = approved_entry(conn, arxiv_id, index)
        if holder is not None:
            raise Conflict(f"{name} on {arxiv_id} is already claimed by {holder.username}")
        if vouched is None:
            claim_id = add_claim(conn, user.id, arxiv_id, index, name)
        else:
            claim_id = add_claim(
                conn, user.id, arxiv_id, index, name, status="approved", confirmed_from=vouched
            )
        found = get_claim(conn, claim_id)
    assert found is not None
    return found


def _vouching_claim(store: Store, user: User, arxiv_id: str, position: int) -> int | None:
    """The account's approved claim whose person has this entry, if any."""
    for offer in offers(store, user):
        if offer.paper.arxiv_id == arxiv_id and offer.position == position:
            return offer.claim_id
    return None


def decide(store: Store, claim_id: int, approve: bool, admin: User | None) -> Claim:
    """Approve or reject a pending claim (`admin` None: from the command line). NotFound for no
    such claim; Conflict when it was decided already, or when approving an entry that another
    account holds."""
    with store.begin() as conn:
        found = get_claim(conn, claim_id)
        if found is None:
            raise NotFound(f"No claim {claim_id}.")
        if found.status != "pending":
            raise Conflict(f"claim {claim_id} was {found.status} already")
        if approve:
            holder = approved_entry(conn, found.arxiv_id, found.position)
            if holder is not None:
                raise Conflict(f"{found.name} on {found.arxiv_id} is held by {holder.username}")
        decide_claim(
            conn, claim_id, "approved" if approve else "rejected", admin.id if admin else None
        )
        decided = get_claim(conn, claim_id)
    assert decided is not None
    return decided


def pending(store: Store, limit: int = 200) -> list[Claim]:
    """The claims waiting for an admin, oldest first."""
    with store.connect() as conn:
        return list_claims(conn, "pending", limit)


def all_claims(store: Store, status: str | None = None, limit: int = 200) -> list[Claim]:
    with store.connect() as conn:
        return list_claims(conn, status, limit)


def my_claims(store: Store, user: User) -> list[Claim]:
    """The account's claims, newest first (every status)."""
    with store.connect() as conn:
        return claims_of_user(conn, user.id)


def offers(store: Store, user: User) -> list[Offer]:
    """For each person the account was approved as by an admin, their papers' entries that
    the account has not claimed yet (and nobody holds), newest paper first."""
    with store.connect() as conn:
        mine = claims_of_user(conn, user.id)
    taken = {(c.arxiv_id, c.position) for c in mine}
    found: list[Offer] = []
    seen: set[tuple[str, int]] = set()
    for approved in (c for c in mine if c.status == "approved" and c.confirmed_from is None):
        for paper, position, name in person_entries(store, approved.name):
            entry = (paper.arxiv_id, position)
            if entry in taken or entry in seen:
                continue
            seen.add(entry)
            found.append(Offer(paper, position, name, approved.id))
    if not found:
        return []
    with store.connect() as conn:
        held = claimed_entries(conn, [o.paper.arxiv_id for o in found])
    return [o for o in found if o.position not in held.get(o.paper.arxiv_id, {})]
