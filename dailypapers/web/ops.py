"""The operator's endpoints: `/livez` (the process answers), `/readyz` (it can serve readers:
services/health.py), `/healthz` (kept for old probes: the same as `/livez`), and, with
`metrics_enabled`, Prometheus's `/metrics`, served to loopback and `metrics_networks` only.
None of them is in the OpenAPI schema: they are for machines that know them."""

from __future__ import annotations

import asyncio
import ipaddress

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from ..config import Config
from ..services.health import Check, Readiness, check_readiness
from ..services.metrics import CONTENT_TYPE, Metrics
from .site import SiteDep

# A probe gives up after a few seconds anyway; a database that does not answer in this long
# (an unreachable PostgreSQL host can take minutes to time out) is reported as not ready.
READY_TIMEOUT = 5.0
# Headers a proxy adds when it forwards a request. With no trusted_proxies, a request that
# carries one came through a proxy on this machine, so its loopback address is the proxy's,
# not the reader's: /metrics refuses it.
FORWARDED = (b"x-forwarded-for", b"forwarded", b"x-real-ip")

router = APIRouter(include_in_schema=False)


@router.get("/livez")
@router.get("/healthz")
async def livez() -> PlainTextResponse:
    # On the event loop, touching nothing: it answers while every worker thread is busy.
    return PlainTextResponse("ok")


@router.get("/readyz")
async def readyz(site: SiteDep) -> JSONResponse:
    try:
        readiness = await asyncio.wait_for(
            run_in_threadpool(check_readiness, site.store, site.config), READY_TIMEOUT
        )
    except TimeoutError:
        readiness = Readiness([Check("database", False, f"no answer within {READY_TIMEOUT:g} s")])
    return JSONResponse(
        readiness.as_json(),
        status_code=200 if readiness.ready else 503,
        headers={"Cache-Control": "no-store"},
    )


def install_metrics(app: FastAPI, metrics: Metrics, config: Config) -> None:
    """Add `/metrics` to `app`, answering only the readers `metrics_allowed` admits."""

    @app.get("/metrics", include_in_schema=False)
    def metrics_page(request: Request) -> Response:  # the thread pool: it reads the database
        if not metrics_allowed(request, config):
            return PlainTextResponse(
                "Metrics are served to loopback addresses and metrics_networks only.",
                status_code=403,
            )
        return Response(metrics.render(), media_type=CONTENT_TYPE)


def metrics_allowed(request: Request, config: Config) -> bool:
    """Loopback peers and `metrics_networks` (`*`: everyone). The address is the one uvicorn
    believed: the proxy's own with no trusted_proxies, the forwarded reader's with them."""
    if config.metrics_networks == "*":
        return True
    if not config.trusted_proxies and any(
        name in FORWARDED for name, _ in request.scope["headers"]
    ):
        return False
    try:
        address = ipaddress.ip_address(request.client.host if request.client else "")
    except ValueError:
        return False
    if address.is_loopback:
        return True
    networks = [n for n in config.metrics_networks.split(",") if n]
    return any(address in ipaddress.ip_network(network, strict=False) for network in networks)
