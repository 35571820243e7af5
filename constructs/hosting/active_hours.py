"""Active hours (`-c active_hours="MON-FRI 08:00-19:00 Europe/Berlin"`) and the idle range: parsed without CDK.

Kept free of aws_cdk so stacks/config.py can validate context without loading jsii.
"""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass

IDLE_MINUTES_RANGE = (5, 1440)  # CloudWatch: evaluation periods × period may not exceed one day
DAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
_DAY_ITEM = re.compile(r"^([A-Z]{3})(?:-([A-Z]{3}))?$")
_HOURS = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")
ACTIVE_HOURS_EXAMPLE = "MON-FRI 08:00-19:00 Europe/Berlin"


@dataclass(frozen=True)
class ActiveHours:
    """When the model may run: days (cron day-of-week field), a start and an end time, an IANA time zone."""

    days: str
    start: tuple[int, int]
    end: tuple[int, int]
    timezone: str

    @classmethod
    def parse(cls, text: str) -> ActiveHours:
        """`"MON-FRI 08:00-19:00 Europe/Berlin"`; days are ranges and/or lists (`MON-WED,FRI`)."""
        parts = text.split()
        if len(parts) != 3:
            raise ValueError(f"expected 'DAYS HH:MM-HH:MM TIMEZONE', e.g. {ACTIVE_HOURS_EXAMPLE!r}")
        days, hours, timezone = parts
        return cls(_parse_days(days), *_parse_hours(hours), _parse_timezone(timezone))

    def cron(self, at: tuple[int, int]) -> str:
        # Application Auto Scaling cron: minutes hours day-of-month month day-of-week year.
        return f"cron({at[1]} {at[0]} ? * {self.days} *)"

    @property
    def hours_per_week(self) -> float:
        day_count = len(_expand_days(self.days))
        return day_count * ((self.end[0] * 60 + self.end[1]) - (self.start[0] * 60 + self.start[1])) / 60

    def __str__(self) -> str:
        return (
            f"{self.days} {self.start[0]:02d}:{self.start[1]:02d}-{self.end[0]:02d}:{self.end[1]:02d} {self.timezone}"
        )


def _expand_days(days: str) -> list[str]:
    out: list[str] = []
    for item in days.split(","):
        match = _DAY_ITEM.fullmatch(item)
        if match is None or match.group(1) not in DAYS or (match.group(2) and match.group(2) not in DAYS):
            raise ValueError(f"day {item!r} is not a day or a day range; days are {', '.join(DAYS)} (e.g. MON-FRI)")
        first = DAYS.index(match.group(1))
        last = DAYS.index(match.group(2)) if match.group(2) else first
        if last < first:
            raise ValueError(f"day range {item!r} runs backwards; write it from MON towards SUN")
        out += [d for d in DAYS[first : last + 1] if d not in out]
    return out


def _parse_days(days: str) -> str:
    _expand_days(days)
    return days


def _parse_hours(hours: str) -> tuple[tuple[int, int], tuple[int, int]]:
    match = _HOURS.fullmatch(hours)
    if match is None:
        raise ValueError(f"hours {hours!r} are not HH:MM-HH:MM (24-hour clock, e.g. 08:00-19:00)")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
        raise ValueError(f"hours {hours!r}: hours run 00-23 and minutes 00-59")
    if (h2, m2) <= (h1, m1):
        raise ValueError(f"hours {hours!r}: the end must be later than the start on the same day")
    return (h1, m1), (h2, m2)


def _parse_timezone(name: str) -> str:
    # zoneinfo reads the tzdata package pinned in requirements.txt when the system has no time zone database.
    if name not in zoneinfo.available_timezones():
        raise ValueError(f"time zone {name!r} is not an IANA time zone name like Europe/Berlin, America/New_York, UTC")
    return name
