"""Active hours of a scale-to-zero deployment (``ACTIVE_HOURS``): is the model scheduled now, and when does it start.

The stack sets ``ACTIVE_HOURS`` to the `active_hours` context value (``"MON-FRI 08:00-19:00 Europe/Berlin"``), the
same text its Application Auto Scaling scheduled actions are built from: at the start the copy count's range
becomes 1..N, at the end 0..0. Outside the hours SageMaker refuses every call for lack of capacity and nothing can
start the model, so the API says when it will run instead of "starting, retry in 60 s".

Parsed at start-up (a regular expression, no time zone database yet); the zone is loaded on the first refused
call, so a cold start pays nothing for it. The Lambda runtime has no system time zone database: the ``tzdata``
package in requirements.txt provides it to ``zoneinfo``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from chatapi.errors import ApiError

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

DAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
_SPEC = re.compile(r"^(\S+) (\d{2}):(\d{2})-(\d{2}):(\d{2}) (\S+)$")
_DAY_ITEM = re.compile(r"^([A-Z]{3})(?:-([A-Z]{3}))?$")
# A Retry-After longer than a day tells a client nothing a date does not: the message carries the exact time.
MAX_RETRY_AFTER_SECONDS = 86_400
CODE = "outside_active_hours"


class ActiveHoursError(ValueError):
    """``ACTIVE_HOURS`` is not ``"DAYS HH:MM-HH:MM TIMEZONE"``."""


@dataclass(frozen=True)
class ActiveHours:
    """Days (0 = Monday), a start and an end time on each of them, an IANA time zone name."""

    text: str
    days: frozenset[int]
    start: tuple[int, int]
    end: tuple[int, int]
    timezone: str

    @classmethod
    def parse(cls, text: str) -> ActiveHours:
        match = _SPEC.fullmatch(" ".join(text.split()))
        if match is None:
            raise ActiveHoursError(f"{text!r} is not 'DAYS HH:MM-HH:MM TIMEZONE' (e.g. 'MON-FRI 08:00-19:00 UTC')")
        days_text, h1, m1, h2, m2, timezone = match.groups()
        start, end = (int(h1), int(m1)), (int(h2), int(m2))
        if max(start[0], end[0]) > 23 or max(start[1], end[1]) > 59 or end <= start:
            raise ActiveHoursError(f"{text!r}: hours run 00:00-23:59 and the end must be later than the start")
        return cls(" ".join(text.split()), _days(days_text), start, end, timezone)

    def _zone(self) -> ZoneInfo:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            return ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ActiveHoursError(f"time zone {self.timezone!r} is unknown") from None

    def is_active(self, now: datetime) -> bool:
        local = now.astimezone(self._zone())
        minute = (local.hour, local.minute)
        return local.weekday() in self.days and self.start <= minute < self.end

    def next_start(self, now: datetime) -> datetime:
        """The first start of the hours after ``now``, in the schedule's time zone."""
        zone = self._zone()
        local = now.astimezone(zone)
        for ahead in range(8):
            day = (local + timedelta(days=ahead)).date()
            start = datetime(day.year, day.month, day.day, *self.start, tzinfo=zone)
            if day.weekday() in self.days and start > local:
                return start
        raise AssertionError("a schedule with at least one day starts within a week")

    def closed_error(self, now: datetime | None = None) -> ApiError | None:
        """The answer to a call SageMaker refused for lack of capacity, when the schedule says the hours are over;
        None inside the hours (the model is starting, or was scaled to zero since the last deployment)."""
        now = now or datetime.now(UTC)
        if self.is_active(now):
            return None
        start = self.next_start(now)
        wait = max(1, min(MAX_RETRY_AFTER_SECONDS, int((start - now).total_seconds())))
        return ApiError(
            503,
            f"The model runs only inside its active hours ({self.text}) and is stopped now; next start at "
            f"{start.isoformat()} (ready some minutes after that, while it loads).",
            type="service_unavailable",
            code=CODE,
            headers={"Retry-After": str(wait)},
        )


def _days(text: str) -> frozenset[int]:
    found: set[int] = set()
    for item in text.upper().split(","):
        match = _DAY_ITEM.fullmatch(item)
        if match is None or match.group(1) not in DAYS or (match.group(2) and match.group(2) not in DAYS):
            raise ActiveHoursError(f"day {item!r} is not a day or a day range of {', '.join(DAYS)}")
        first = DAYS.index(match.group(1))
        last = DAYS.index(match.group(2)) if match.group(2) else first
        if last < first:
            raise ActiveHoursError(f"day range {item!r} runs backwards")
        found.update(range(first, last + 1))
    return frozenset(found)
