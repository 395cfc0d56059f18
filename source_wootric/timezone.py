"""The account's time zone: which instants an API datetime can mean, which IANA zones fit the UTC offsets
the API's datetimes carry, and the few requests that learn it at the start of a sync (`learn_account_zone`).

Wootric writes datetimes in the account's time zone, most with their offset (`2018-01-02 23:03:41 -0800`),
old ones without (`2014-12-01 18:36:59`). An offset is not a zone (Sydney is +10 or +11 by season), so
the zone is inferred from offsets observed at instants of different seasons.
"""

from __future__ import annotations

import calendar
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cache
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

if TYPE_CHECKING:
    from source_wootric.http import Account

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
_PREFERRED_ZONE_NAMES = (
    "America/New_York America/Los_Angeles America/Chicago America/Denver America/Phoenix "
    "America/Toronto America/Vancouver America/Mexico_City America/Sao_Paulo "
    "America/Argentina/Buenos_Aires America/Bogota America/Lima America/Santiago America/Caracas "
    "America/Halifax America/St_Johns America/Anchorage Pacific/Honolulu America/Regina "
    "America/Guatemala America/Puerto_Rico America/Montevideo Europe/London Europe/Paris "
    "Europe/Berlin Europe/Madrid Europe/Rome Europe/Istanbul Europe/Moscow Europe/Kyiv Europe/Warsaw "
    "Europe/Amsterdam Europe/Brussels Europe/Stockholm Europe/Vienna Europe/Zurich Europe/Dublin "
    "Europe/Lisbon Europe/Athens Europe/Bucharest Europe/Helsinki Africa/Cairo Africa/Lagos "
    "Africa/Johannesburg Africa/Nairobi Africa/Casablanca Asia/Jerusalem Asia/Riyadh Asia/Tehran "
    "Asia/Dubai Asia/Karachi Asia/Kolkata Asia/Kathmandu Asia/Dhaka Asia/Yangon Asia/Bangkok "
    "Asia/Jakarta Asia/Shanghai Asia/Hong_Kong Asia/Singapore Asia/Manila Asia/Taipei Asia/Seoul "
    "Asia/Tokyo Australia/Sydney Australia/Melbourne Australia/Brisbane Australia/Perth "
    "Australia/Adelaide Australia/Darwin Australia/Hobart Pacific/Auckland Pacific/Fiji "
    "Asia/Vladivostok UTC"
)
PREFERRED_ZONES = tuple(_PREFERRED_ZONE_NAMES.split())
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


def _moment(value: Any) -> datetime | None:
    try:
        return read_datetime(value) if isinstance(value, str) else None
    except ValueError:
        return None


def instant_range(value: Any, zone: ZoneInfo | None) -> tuple[int, int] | None:
    """The earliest and latest epoch second an API datetime can mean: one second when it carries an offset;
    without one, its reading(s) in `zone` (both at a DST fold, both candidates in a DST gap), or with the
    zone unknown (None) every reading from UTC+14 to UTC-12. None when it cannot be read."""
    moment = _moment(value)
    if moment is None:
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
    moment = _moment(value)
    offset = moment.utcoffset() if moment is not None else None
    if moment is None or offset is None:
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


# -- learning the zone at the start of a sync ----------------------------------------------------------
DATETIME_FIELDS = ("created_at", "updated_at", "last_surveyed", "last_seen_at")
NEWEST_FIRST = {"sort_order": "desc", "per_page": 50, "page": 1}
# The newest records of each list endpoint, then end users created about half a year before the newest
# instant seen: the other season, when the newest records all fall in one.
NEWEST_REQUESTS = (
    ("end_users", {"sort_key": "updated_at", **NEWEST_FIRST}),
    ("responses", {"sort_key": "created_at", **NEWEST_FIRST}),
    ("declines", {"sort_key": "created_at", **NEWEST_FIRST}),
)
OTHER_SEASON_BACK = 182 * DAY
MAX_REQUESTS = len(NEWEST_REQUESTS) + 1
EXAMPLES = 3  # offsets quoted in a log line


@dataclass(frozen=True)
class AccountZone:
    zone: ZoneInfo  # offset-less datetimes are read in it; NPS periods follow it
    known: bool  # the data's offsets confirm it; if not, paging allows every UTC offset

    @property
    def paging_zone(self) -> ZoneInfo | None:
        return self.zone if self.known else None


@dataclass
class Evidence:
    observations: list[Observation] = field(default_factory=list)
    without_offset: int = 0  # datetimes read that carry no offset

    def add(self, items: list[Any]) -> None:
        for item in items:
            if not isinstance(item, Mapping):
                continue
            for name in DATETIME_FIELDS:
                value = item.get(name)
                seen = observation(value)
                if seen is not None:
                    self.observations.append(seen)
                elif isinstance(value, str) and value.strip():
                    self.without_offset += 1

    def examples(self) -> str:
        """A few observations with different offsets, for a log line."""
        by_offset: dict[int, int] = {}
        for second, offset in sorted(self.observations, reverse=True):
            by_offset.setdefault(offset, second)
        shown = list(by_offset.items())[:EXAMPLES]
        return ", ".join(
            f"{describe_offset(offset)} on {datetime.fromtimestamp(second, timezone.utc):%Y-%m-%d}"
            for offset, second in shown
        )


def _requests(evidence: Evidence, now: int) -> Iterator[tuple[str, dict[str, Any]]]:
    yield from NEWEST_REQUESTS
    if evidence.observations:  # the newest records carried offsets: older ones may show the other season
        newest = min(now, max(second for second, _ in evidence.observations))
        yield (
            "end_users",
            {"created[lte]": newest - OTHER_SEASON_BACK, "sort_key": "created_at", **NEWEST_FIRST},
        )


def learn_account_zone(
    account: Account, configured: ZoneInfo | None, logger: logging.Logger, now: int
) -> AccountZone:
    """A few requests for the newest records (and, if their offsets do not settle it, records about six months
    older, for the other season) collect the UTC offsets the data carries. The configured zone is used when it
    fits; otherwise the zone that does, with one WARN naming both. Without any offset to learn from,
    offset-less datetimes are read in the configured zone (UTC with `auto`) and the zone counts as unknown for
    paging, which then allows every UTC offset (-12 h..+14 h). At most MAX_REQUESTS requests."""
    evidence = Evidence()
    requests_before = account.data_requests
    choice: ZoneChoice | None = None
    for endpoint, params in _requests(evidence, now):
        evidence.add(account.get(endpoint, params))
        choice = choose_zone(evidence.observations, configured.key if configured else None)
        if choice is not None and choice.unique:
            break
    sent = account.data_requests - requests_before
    cost = f"{sent} request{'' if sent == 1 else 's'}"
    return _decide(choice, configured, evidence, cost, logger)


def _decide(
    choice: ZoneChoice | None,
    configured: ZoneInfo | None,
    evidence: Evidence,
    cost: str,
    logger: logging.Logger,
) -> AccountZone:
    setting = f"`account_timezone` {configured.key}" if configured else "`account_timezone` auto (UTC)"
    seen = len(evidence.observations)
    if choice is None:
        _log_unknown(evidence, cost, setting, logger)
        return AccountZone(configured or zone("UTC"), known=False)
    others = ", ".join(choice.differing[:EXAMPLES])
    ambiguity = (
        ""
        if choice.unique
        else f" {len(choice.differing)} other zones fit these offsets but differ at other times, e.g. {others}."
    )
    any_offset = "" if choice.unique else " Paging allows datetimes without an offset any UTC offset."
    evidence_text = f"the UTC offsets of {seen} datetimes ({evidence.examples()}; {cost})"
    if configured is not None and choice.name == configured.key:
        logger.info(f"account time zone: {setting} fits {evidence_text}.{ambiguity}")
        return AccountZone(configured, known=True)
    learnt = zone(choice.name)
    if configured is not None:
        logger.warning(
            f"account time zone: {setting} does not fit {evidence_text}; {choice.name} does, and this sync "
            f"uses it for datetimes without an offset and for NPS periods. Set `account_timezone` to "
            f"{choice.name} (or auto).{ambiguity}{any_offset}"
        )
    else:
        logger.info(f"account time zone: learnt {choice.name} from {evidence_text}.{ambiguity}{any_offset}")
    return AccountZone(learnt, known=choice.unique)


def _log_unknown(evidence: Evidence, cost: str, setting: str, logger: logging.Logger) -> None:
    """Why the data's offsets settle no zone: none read, none with an offset, or offsets no zone fits."""
    seen = len(evidence.observations)
    if not seen and not evidence.without_offset:
        logger.info(f"account time zone: no records to learn it from ({cost}); using {setting}.")
    elif not seen:
        logger.warning(
            f"account time zone: none of the {evidence.without_offset} datetimes read ({cost}) carries a UTC "
            f"offset, so the zone cannot be checked: datetimes without an offset are read in {setting}, "
            "and paging allows them any offset (-12 h..+14 h) so that none is lost. If that is not your "
            "Wootric account's time zone, set `account_timezone` to it."
        )
    else:
        logger.warning(
            f"account time zone: the UTC offsets of {seen} datetimes ({evidence.examples()}; {cost}) fit no "
            f"single IANA time zone: datetimes without an offset are read in {setting}, and paging allows "
            "them any offset (-12 h..+14 h) so that none is lost."
        )
