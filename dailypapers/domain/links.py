"""The code and project links a paper names: GitHub repositories and project pages found in its
abstract and comments (or given directly by a source, like Hugging Face's githubRepo)."""

from __future__ import annotations

import re

_URL = re.compile(r"https?://[^\s<>\"'{}|\\^`\[\]]+", re.IGNORECASE)
_GITHUB_REPO = re.compile(
    r"^https?://(?:www\.)?github\.com/([A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)/([A-Za-z0-9_.-]+)",
    re.IGNORECASE,
)
# Hosts whose links are references, not a paper's own project page.
_NOT_PROJECT_HOSTS = re.compile(
    r"^https?://(?:[^/]*\.)?(?:arxiv\.org|doi\.org|github\.com|creativecommons\.org|"
    r"huggingface\.co/papers|dx\.doi\.org|orcid\.org)(?:/|$)",
    re.IGNORECASE,
)
_GITHUB_NON_REPO_OWNERS = {"orgs", "topics", "features", "sponsors", "marketplace", "settings"}


def find_links(*texts: str | None) -> tuple[list[str], list[str]]:
    """GitHub repositories and project pages named in the given texts, in order, deduplicated.

    >>> find_links("Code: https://github.com/openai/gpt-2.git; demo at https://x.github.io/y/.")
    (['https://github.com/openai/gpt-2'], ['https://x.github.io/y/'])
    """
    repos: list[str] = []
    pages: list[str] = []
    for text in texts:
        if not text or "http" not in text.lower():
            continue
        for raw in _URL.findall(text):
            url = raw.rstrip(".,;:)!?*'\"")
            repo = _GITHUB_REPO.match(url)
            if repo:
                owner, name = repo.group(1), repo.group(2)
                name = re.sub(r"\.git$", "", name.rstrip("."), flags=re.IGNORECASE)
                if owner.lower() in _GITHUB_NON_REPO_OWNERS or not name:
                    continue
                link = f"https://github.com/{owner}/{name}"
                if link.lower() not in (r.lower() for r in repos):
                    repos.append(link)
            elif not _NOT_PROJECT_HOSTS.match(url) and url not in pages:
                pages.append(url)
    return repos, pages
