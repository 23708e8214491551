"""Whether this process can serve readers: the checks behind `/readyz`.

Three checks, each with a one-line reason when it fails: the database answers, its schema is
at the newest migration this code knows (an upgrade whose `dailypapers db migrate` has not run
yet, or a newer release's database), and the keyword index beside it exists (a fresh web
machine answers only once it has built one; an empty catalog needs none). Liveness (`/livez`)
checks nothing: the process answers, so it is alive.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..config import Config
from ..search.keyword import index_built
from ..storage import Store, head_revision, known_revision, schema_revision
from ..storage.health import has_papers, ping


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class Readiness:
    checks: list[Check] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return all(check.ok for check in self.checks)

    def as_json(self) -> dict[str, object]:
        """{"status": "ready" | "not ready", "failing": [names], "checks": {name: {ok,
        detail}}}: what `/readyz` answers, so a probe's log says why."""
        return {
            "status": "ready" if self.ready else "not ready",
            "failing": [check.name for check in self.checks if not check.ok],
            "checks": {c.name: {"ok": c.ok, "detail": c.detail} for c in self.checks},
        }


def check_readiness(store: Store, config: Config) -> Readiness:
    """Run every check; a check that cannot run (the database is gone) fails with the reason,
    and the checks that need the database are failed with "database unreachable"."""
    try:
        with store.connect() as conn:
            ping(conn)
    except Exception as error:  # any driver error: the reason goes to the probe
        reason = _first_line(error)
        return Readiness(
            [
                Check("database", False, reason),
                Check("migrations", False, "database unreachable"),
                Check("keyword_index", False, "database unreachable"),
            ]
        )
    return Readiness(
        [
            Check("database", True, store.dialect),
            _migrations(store),
            _keyword_index(store, config),
        ]
    )


def _migrations(store: Store) -> Check:
    head = head_revision()
    try:
        current = schema_revision(store)
    except Exception as error:
        return Check("migrations", False, _first_line(error))
    if current == head:
        return Check("migrations", True, f"at {head}")
    if current is None:
        return Check("migrations", False, f"no schema; run `dailypapers db migrate` (head {head})")
    return Check(
        "migrations",
        False,
        f"database at {current}, this code expects {head}; run `dailypapers db migrate`"
        if known_revision(current)
        else f"database at {current} is newer than this code ({head}); upgrade dailypapers",
    )


def _keyword_index(store: Store, config: Config) -> Check:
    if index_built(config.data_dir):
        return Check("keyword_index", True, "built")
    with store.connect() as conn:
        if not has_papers(conn):
            return Check("keyword_index", True, "catalog empty; nothing to index")
    return Check(
        "keyword_index",
        False,
        "not built yet in this data folder; `serve` builds it within index_interval_seconds, "
        "or run `dailypapers index`",
    )


def _first_line(error: BaseException) -> str:
    text = str(getattr(error, "orig", None) or error).strip()
    return (text.splitlines() or [type(error).__name__])[0][:300]
