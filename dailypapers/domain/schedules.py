"""When a scheduled job runs (dailypapers/jobs/): a schedule setting's text, parsed into
periods. Pure arithmetic on UTC times; config.py checks each schedule setting with it.

A schedule is one of:
- empty or `0`: the job is off;
- whole seconds that tile a day the way cron can say it: a divisor of 60 (`5`, `30`), a whole
  number of minutes dividing an hour (`300`, `900`, `3600`), or of hours dividing a day
  (`21600`, `86400`);
- `HH:MM`: once a day at that UTC time.

Periods are aligned to the clock, not to when a process started: `300` means :00, :05, :10...
of every hour, so every process on every machine agrees on which period it is, and the same
period is one cron tick for Procrastinate on PostgreSQL (`cron`) and one claimed row on SQLite.

>>> every_five = parse_schedule("300")
>>> every_five.period_start(datetime(2026, 12, 3, 14, 7, 31, tzinfo=UTC))
datetime.datetime(2026, 12, 3, 14, 5, tzinfo=datetime.timezone.utc)
>>> every_five.cron
'*/5 * * * *'
>>> parse_schedule("02:30").next_start(datetime(2026, 12, 3, 14, 0, tzinfo=UTC))
datetime.datetime(2026, 12, 4, 2, 30, tzinfo=datetime.timezone.utc)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

DAY = 86_400
_DAILY = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")


@dataclass(frozen=True)
class Schedule:
    """Every `seconds` from UTC midnight on, shifted by `offset` seconds (a daily time)."""

    seconds: int
    offset: int = 0

    def period_start(self, now: datetime) -> datetime:
        """The start of the period `now` (aware) falls in."""
        stamp = int(now.timestamp()) - self.offset
        return datetime.fromtimestamp(stamp - stamp % self.seconds + self.offset, UTC)

    def next_start(self, now: datetime) -> datetime:
        """The start of the period after the one `now` falls in."""
        return self.period_start(now) + timedelta(seconds=self.seconds)

    @property
    def cron(self) -> str:
        """The same ticks as a cron line (a sixth field is seconds, as croniter reads it)."""
        if self.offset or self.seconds == DAY:
            hour, minute = divmod(self.offset // 60, 60)
            return f"{minute} {hour} * * *"
        if self.seconds < 60:
            return f"* * * * * */{self.seconds}"
        if self.seconds < 3600:
            return f"*/{self.seconds // 60} * * * *"
        return f"0 */{self.seconds // 3600} * * *"

    def describe(self) -> str:
        """For people: `every 5 min`, `daily at 02:30 UTC`."""
        if self.offset or self.seconds == DAY:
            hour, minute = divmod(self.offset // 60, 60)
            return f"daily at {hour:02d}:{minute:02d} UTC"
        if self.seconds % 3600 == 0:
            return f"every {self.seconds // 3600} h"
        if self.seconds % 60 == 0:
            return f"every {self.seconds // 60} min"
        return f"every {self.seconds} s"


def parse_schedule(text: str) -> Schedule | None:
    """The schedule `text` names, or None for off ("" or "0"); ValueError saying what is
    allowed otherwise.

    >>> parse_schedule("30"), parse_schedule(""), parse_schedule("07:05")
    (Schedule(seconds=30, offset=0), None, Schedule(seconds=86400, offset=25500))
    """
    value = text.strip()
    if value in ("", "0"):
        return None
    daily = _DAILY.fullmatch(value)
    if daily:
        return Schedule(DAY, int(daily[1]) * 3600 + int(daily[2]) * 60)
    if not value.isdigit():
        raise ValueError("must be seconds (like 300), a daily time HH:MM (UTC), or 0 for off")
    seconds = int(value)
    if not _tiles_a_day(seconds):
        raise ValueError(
            f"{seconds} s does not divide the clock evenly: give a divisor of 60 s, whole "
            "minutes dividing an hour (300, 900), or whole hours dividing a day (21600)"
        )
    return Schedule(seconds)


def _tiles_a_day(seconds: int) -> bool:
    if seconds <= 60:
        return 60 % seconds == 0
    if seconds <= 3600:
        return seconds % 60 == 0 and 60 % (seconds // 60) == 0
    return seconds % 3600 == 0 and 24 % (seconds // 3600) == 0


def check_schedule(text: str) -> str:
    """A setting's parser: the text, stripped, when it is a schedule."""
    parse_schedule(text)
    return text.strip()
