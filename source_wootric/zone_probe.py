"""Learns the account's time zone at the start of a sync: a few requests for the newest records (and, if
their offsets do not settle it, records about six months older, for the other season) collect the UTC
offsets the data carries; timezone.py says which IANA zones fit them.

The configured zone is used when it fits; otherwise the zone that does, with one WARN naming both. Without
any offset to learn from, offset-less datetimes are read in the configured zone (UTC with `auto`) and the
zone counts as unknown for paging, which then allows every UTC offset (-12 h..+14 h).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

from source_wootric.client import WootricClient
from source_wootric.timezone import (
    DAY,
    Observation,
    ZoneChoice,
    choose_zone,
    describe_offset,
    observation,
    zone,
)

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
    client: WootricClient, configured: ZoneInfo | None, logger: logging.Logger, now: int
) -> AccountZone:
    """At most MAX_REQUESTS requests, fewer when the offsets seen already settle the zone; logs the
    outcome once: INFO when the configured zone fits or `auto` learnt one, else one WARN."""
    evidence = Evidence()
    requests_before = client.total_requests
    choice: ZoneChoice | None = None
    for endpoint, params in _requests(evidence, now):
        evidence.add(client.get(endpoint, params))
        choice = choose_zone(evidence.observations, configured.key if configured else None)
        if choice is not None and choice.unique:
            break
    sent = client.total_requests - requests_before
    cost = f"{sent} request{'' if sent == 1 else 's'}"
    return _decide(choice, configured, evidence, cost, logger)


def _decide(
    choice: ZoneChoice | None,
    configured: ZoneInfo | None,
    evidence: Evidence,
    cost: str,
    logger: logging.Logger,
) -> AccountZone:
    fallback = configured or zone("UTC")
    setting = f"`account_timezone` {configured.key}" if configured else "`account_timezone` auto (UTC)"
    seen = len(evidence.observations)
    if choice is None:
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
        return AccountZone(fallback, known=False)
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
