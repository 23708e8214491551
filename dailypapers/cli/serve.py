"""`serve`: run the web site and the JSON API under uvicorn, with settings handed to its
worker processes through the environment, X-Forwarded-For believed only from the
`trusted_proxies`, logs on stdout (services/logs.py), with metrics on and several workers,
the folder where they share their counts (services/metrics.py), the first admin from
`admin_user` (services/first_admin.py), made once before the workers start, and the
scheduled jobs in each worker (web/app.py `start_jobs`)."""

from __future__ import annotations

import sys
from typing import Any

import click

from ..config import Config
from .common import EXIT_USAGE, err, open_store_or_exit


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    default=8000,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to listen on.",
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Worker processes (one per core is a good start).",
)
@click.option(
    "--scheduler/--no-scheduler",
    default=None,
    help="Run the scheduled jobs (harvest, embeddings, digests, cleanup, backup) in this "
    "serve; default: the scheduler setting (on). Each process keeps its keyword index either way.",
)
@click.pass_obj
def serve(cfg: Config, host: str, port: int, workers: int, scheduler: bool | None) -> None:
    """Run the web site and the JSON API, and the scheduled jobs (`dailypapers jobs`)."""
    import os

    import uvicorn

    from ..config import BY_NAME
    from ..services.first_admin import FirstAdminError, ensure_first_admin
    from ..services.logs import configure_logging
    from ..services.metrics import MULTIPROCESS_ENV, prepare_multiprocess_dir

    if scheduler is not None:  # exported to the workers below, as every flag is
        cfg = cfg.with_overrides(scheduler=scheduler)
    configure_logging(cfg)  # uvicorn's own lines too: log_config=None below leaves them to us
    store = open_store_or_exit(cfg)  # migrate once, and fail here rather than in every worker
    try:
        ensure_first_admin(store, cfg)  # once, here, not in every worker; it logs what it did
    except FirstAdminError as error:
        err.print(f"[red]error:[/red] {error}", highlight=False)
        sys.exit(EXIT_USAGE)
    finally:
        store.close()
    os.environ.pop(MULTIPROCESS_ENV, None)
    if cfg.metrics_enabled and workers > 1:
        # Before any worker starts (prometheus-client reads it on import): the workers
        # write their counts there and a scrape of any one of them sums them all.
        os.environ[MULTIPROCESS_ENV] = str(prepare_multiprocess_dir(cfg.data_dir))
    for name, _value, source, _help in cfg.rows():
        if source == "flag":  # workers read settings from the environment
            os.environ[BY_NAME[name].env] = str(getattr(cfg, name))
    os.environ.setdefault("DAILYPAPERS_DATABASE_URL", cfg.database_url)
    # On stderr: stdout carries the log alone, one event a line, for a machine to read.
    click.echo(f"serving {cfg.site_name} on http://{host}:{port} ({workers} worker(s))", err=True)
    uvicorn.run(
        "dailypapers.web.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=cfg.log_level.lower(),
        log_config=None,
        access_log=False,  # web/observe.py writes the request log, with ids and routes
        **proxy_options(cfg),
    )


def proxy_options(cfg: Config) -> dict[str, Any]:
    """uvicorn's options for `trusted_proxies`. Left alone, uvicorn believes X-Forwarded-For
    from any loopback peer, so anything on the machine (or a proxy that passes the header
    through) picks the address the rate limits count; by default we believe no one.

    >>> proxy_options(Config())
    {'proxy_headers': False}
    >>> proxy_options(Config(trusted_proxies="10.0.0.2,10.1.0.0/16"))
    {'proxy_headers': True, 'forwarded_allow_ips': '10.0.0.2,10.1.0.0/16'}
    """
    if not cfg.trusted_proxies:
        return {"proxy_headers": False}
    return {"proxy_headers": True, "forwarded_allow_ips": cfg.trusted_proxies}
