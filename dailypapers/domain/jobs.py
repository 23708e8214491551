"""A scheduled job's runs as the site records them: one JobRun per try of a job in a period,
`running` until it ends `ok` or `failed` (with the error kept). A run whose process died stays
`running` until the next try of its period marks it `failed` as interrupted."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

RUNNING = "running"
OK = "ok"
FAILED = "failed"


@dataclass
class JobRun:
    """One try of `job` in the period that starts at `period_start` (naive UTC, like every
    stored time), by process `pid` on `host`; `counts` is what the job returned."""

    id: int
    job: str
    period_start: datetime
    attempt: int
    status: str
    started_at: datetime
    finished_at: datetime | None
    duration_seconds: float | None
    error: str | None
    host: str
    pid: int
    counts: dict[str, int] = field(default_factory=dict)
