"""Jobs that run themselves: the harvest, the search indexes, digests, cleanup and backups.

registry.py lists every job (a plain function over the store and the settings that returns
counts) with its schedule setting; runner.py runs one try and records it in `job_runs`;
local.py is the scheduler inside `serve` (SQLite: one process per data folder holds
`jobs.lock` and claims each period by a row; every process keeps its own keyword index);
queue.py hands the same jobs to Procrastinate on PostgreSQL (`dailypapers worker`, and a
worker inside each `serve`); overview.py says when each ran and runs next. Schedules
(clock-aligned periods, cron lines) are domain/schedules.py.
"""
