"""Organisations, the one way `/orgs/{name}`, its JSON twin and an admin's change of a paper's
organisation do it. Names are matched as following matches them (domain/follows.py
normalize_organization: case and accents make no other organisation), so `/orgs/nvidia` and
`/orgs/NVIDIA` list the same papers."""

from __future__ import annotations

from dataclasses import dataclass

from ..domain.errors import BadParameter, NotFound
from ..domain.follows import normalize_organization
from ..domain.papers import Paper
from ..storage import Store
from ..storage.organizations import organization_names, papers_of_organizations, set_organization
from ..storage.papers import get_papers

MAX_NAME = 200  # characters of an organisation's name


@dataclass(frozen=True)
class OrganizationPage:
    name: str  # the spelling carried most (the first found), as papers write it
    spellings: list[str]
    papers: list[Paper]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


def clean_organization(text: str) -> str:
    """An organisation's name with spaces collapsed; BadParameter when blank or too long."""
    name = " ".join(text.replace("\x00", " ").split())
    if not name:
        raise BadParameter("an organisation needs a name")
    if len(name) > MAX_NAME:
        raise BadParameter(f"an organisation's name is at most {MAX_NAME} characters")
    return name


def organization_page(
    store: Store, text: str, page: int = 1, page_size: int = 50
) -> OrganizationPage:
    """Page `page` of the papers of the organisation `text`, newest first; NotFound when no
    paper carries it."""
    name = clean_organization(text)
    wanted = normalize_organization(name)
    with store.connect() as conn:
        spellings = [n for n in organization_names(conn) if normalize_organization(n) == wanted]
        ids, total = papers_of_organizations(conn, spellings, (page - 1) * page_size, page_size)
        papers = get_papers(conn, ids)
    if not total:
        raise NotFound(f"No paper of this catalog carries the organisation {name[:80]!r}.")
    shown = name if name in spellings else spellings[0]
    return OrganizationPage(shown, spellings, papers, total, page, page_size)


def change_organization(store: Store, arxiv_id: str, text: str) -> str | None:
    """An admin sets the organisation of a paper (blank text clears it); the name set. NotFound
    for no such paper. A later import that names another organisation replaces it, as it would
    replace any field (domain/merge.py)."""
    name = None if not text.strip() else clean_organization(text)
    with store.begin() as conn:
        if not set_organization(conn, arxiv_id, name):
            raise NotFound(f"No paper {arxiv_id} in this catalog.")
    return name
