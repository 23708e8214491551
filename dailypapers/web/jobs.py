"""The admins' view of the scheduled jobs: the same list as `dailypapers jobs` (schedule, on
or off, last try, outcome, duration, error, next run) and the latest tries, as a page and as
JSON. jobs/overview.py gathers it."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from ..domain.jobs import JobRun
from ..jobs.overview import JobState, job_states
from ..storage.jobs import recent_runs
from . import urls
from .auth import csrf_token, require_admin
from .site import SiteDep

router = APIRouter(include_in_schema=False)
RECENT = 30


@router.get(urls.ADMIN_JOBS)
async def admin_jobs(request: Request, site: SiteDep) -> Response:
    require_admin(request)

    def read() -> tuple[list[JobState], list[JobRun]]:
        with site.store.connect() as conn:
            recent = recent_runs(conn, RECENT)
        return job_states(site.store, site.config, site.clock()), recent

    states, recent = await run_in_threadpool(read)
    csrf_token(request)
    return site.templates.TemplateResponse(
        request, "jobs_admin.html", {"states": states, "recent": recent, "error": None}
    )


@router.get(urls.ADMIN_JOBS_JSON)
async def admin_jobs_json(request: Request, site: SiteDep) -> Response:
    require_admin(request)
    states = await run_in_threadpool(job_states, site.store, site.config, site.clock())
    return JSONResponse([state.as_json() for state in states])
