"""The account's time zone: which instants an API datetime can mean, and which IANA zones fit the UTC
offsets the API's datetimes carry. Pure logic, no HTTP.

Wootric writes datetimes in the account's time zone, most with their offset (`2018-01-02 23:03:41 -0800`),
old ones without (`2014-12-01 18:36:59`). An offset is not a zone (Sydney is +10 or +11 by season), so
the zone is inferred from offsets observed at instants of different seasons.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

HOUR = 3_600
DAY = 86_400
# UTC offsets in use run from -12 h (Baker Island) to +14 h (Kiribati's Line Islands).
LOWEST_OFFSET = -12 * HOUR
HIGHEST_OFFSET = 14 * HOUR
# Zones that agree on the observed instants count as one only if they also agree every half day over at
# least a year around them, so that both seasons are compared.
SAMPLE_EVERY = DAY // 2
LEAST_COMPARED_SPAN = 366 * DAY

Observation = tuple[int, int]  # (epoch second, the UTC offset in seconds a datetime carried at it)

# Among zones the data cannot tell apart, the first of these is named: the zones of the most populous
# places first, so that an account in Sydney is not reported as Australia/ACT or Antarctica/Macquarie.
PREFERRED_ZONES = (
    "America/New_York",
    "America/Los_Angeles",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Toronto",
    "America/Vancouver",
    "America/Mexico_City",
    "America/Sao_Paulo",
    "America/Argentina/Buenos_Aires",
    "America/Bogota",
    "America/Lima",
    "America/Santiago",
    "America/Caracas",
    "America/Halifax",
    "America/St_Johns",
    "America/Anchorage",
    "Pacific/Honolulu",
    "America/Regina",
    "America/Guatemala",
    "America/Puerto_Rico",
    "America/Montevideo",
    "Europe/London",
    "Europe/Paris",
    "Europe/Berlin",
    "Europe/Madrid",
    "Europe/Rome",
    "Europe/Istanbul",
    "Europe/Moscow",
    "Europe/Kyiv",
    "Europe/Warsaw",
    "Europe/Amsterdam",
    "Europe/Brussels",
    "Europe/Stockholm",
    "Europe/Vienna",
    "Europe/Zurich",
    "Europe/Dublin",
    "Europe/Lisbon",
    "Europe/Athens",
    "Europe/Bucharest",
    "Europe/Helsinki",
    "Africa/Cairo",
    "Africa/Lagos",
    "Africa/Johannesburg",
    "Africa/Nairobi",
    "Africa/Casablanca",
    "Asia/Jerusalem",
    "Asia/Riyadh",
    "Asia/Tehran",
    "Asia/Dubai",
    "Asia/Karachi",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Asia/Dhaka",
    "Asia/Yangon",
    "Asia/Bangkok",
    "Asia/Jakarta",
    "Asia/Shanghai",
    "Asia/Hong_Kong",
    "Asia/Singapore",
    "Asia/Manila",
    "Asia/Taipei",
    "Asia/Seoul",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Australia/Melbourne",
    "Australia/Brisbane",
    "Australia/Perth",
    "Australia/Adelaide",
    "Australia/Darwin",
    "Australia/Hobart",
    "Pacific/Auckland",
    "Pacific/Fiji",
    "Asia/Vladivostok",
    "UTC",
)
# Geographic names only: the aliases (US/Pacific, Etc/GMT-10, PST8PDT, posix/..., right/...) are left out.
AREAS = ("Africa/", "America/", "Antarctica/", "Arctic/", "Asia/", "Atlantic/", "Australia/", "Europe/")
AREAS += ("Indian/", "Pacific/")


def read_datetime(text: str) -> datetime:
    """Reads the three forms Wootric sends: `2018-01-02 23:03:41 -0800`, `2014-12-01 18:36:59` (no offset:
    a naive datetime) and ISO 8601 `2015-02-12T06:29:27.000-08:00`. ValueError for anything else."""
    text = text.strip()
    if len(text) == 25 and text[19] == " " and text[20] in "+-":
        text = f"{text[:19]}{text[20:23]}:{text[23:]}"
    return datetime.fromisoformat(text)


def instant_range(value: Any, zone: ZoneInfo | None) -> tuple[int, int] | None:
    """The earliest and latest epoch second an API datetime can mean: one second when it carries an offset;
    without one, its reading(s) in `zone` (both at a DST fold, both candidates in a DST gap), or with the
    zone unknown (None) every reading from UTC+14 to UTC-12. None when it cannot be read."""
    if not isinstance(value, str):
        return None
    try:
        moment = read_datetime(value)
    except ValueError:
        return None
    if moment.tzinfo is not None:
        second = int(moment.timestamp())
        return second, second
    if zone is None:
        local = calendar.timegm(moment.timetuple())
        return local - HIGHEST_OFFSET, local - LOWEST_OFFSET
    first = int(moment.replace(tzinfo=zone, fold=0).timestamp())
    second = int(moment.replace(tzinfo=zone, fold=1).timestamp())
    return min(first, second), max(first, second)


def observation(value: Any) -> Observation | None:
    """The instant and UTC offset an API datetime states; None without an offset or when unreadable."""
    if not isinstance(value, str):
        return None
    try:
        moment = read_datetime(value)
    except ValueError:
        return None
    offset = moment.utcoffset()
    if offset is None:
        return None
    return int(moment.timestamp()), int(offset.total_seconds())


@cache
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _offset(name: str, second: int) -> int:
    offset = datetime.fromtimestamp(second, zone(name)).utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


@cache
def candidate_zones() -> tuple[str, ...]:
    """Every geographic IANA zone this machine knows: the preferred ones first, then alphabetically."""
    known = {name for name in available_timezones() if name.startswith(AREAS) or name == "UTC"}
    preferred = tuple(name for name in PREFERRED_ZONES if name in known)
    return preferred + tuple(sorted(known - set(preferred)))


def zones_consistent(observations: Iterable[Observation], candidates: Iterable[str]) -> list[str]:
    """The candidates (in their order) whose UTC offset at each observed instant is the observed one."""
    distinct = sorted(set(observations))
    consistent = []
    for name in candidates:
        try:
            if all(_offset(name, second) == offset for second, offset in distinct):
                consistent.append(name)
        except (ZoneInfoNotFoundError, ValueError, OverflowError, OSError):
            continue
    return consistent


@dataclass(frozen=True)
class ZoneChoice:
    name: str  # the zone to use
    agreeing: tuple[str, ...]  # every candidate zone consistent with the observations, `name` first
    differing: tuple[str, ...]  # those of them whose offsets differ from `name`'s around the observed span

    @property
    def unique(self) -> bool:
        """The observations tell the zone's clock apart from every other candidate's."""
        return not self.differing


def choose_zone(observations: Sequence[Observation], configured: str | None = None) -> ZoneChoice | None:
    """The zone the observations point to: `configured` when it agrees, else the first agreeing candidate
    (see PREFERRED_ZONES). None when no zone agrees with every observation, or there are none."""
    if not observations:
        return None
    candidates = candidate_zones()
    if configured is not None:
        candidates = (configured, *(name for name in candidates if name != configured))
    agreeing = zones_consistent(observations, candidates)
    if not agreeing:
        return None
    chosen = agreeing[0]
    seconds = [second for second, _ in observations]
    last = max(seconds)
    samples = range(min(min(seconds), last - LEAST_COMPARED_SPAN), last + 1, SAMPLE_EVERY)
    offsets = [_offset(chosen, second) for second in samples]
    differing = tuple(
        other
        for other in agreeing[1:]
        if any(_offset(other, second) != offset for second, offset in zip(samples, offsets, strict=True))
    )
    return ZoneChoice(chosen, tuple(agreeing), differing)


def describe_offset(seconds: int) -> str:
    sign = "-" if seconds < 0 else "+"
    hours, minutes = divmod(abs(seconds) // 60, 60)
    return f"{sign}{hours:02d}:{minutes:02d}"
