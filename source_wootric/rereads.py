"""The sweep's schedule: when and how much of the old records a sync re-reads. Pure logic, no HTTP.

Wootric lets clients write responses and declines with a past `created_at` (RudderStack's destination
sets it to the event's time), so a record can appear behind the cursor and its look-back window, where
no incremental read looks. The sweep re-reads `[start_date, look-back start)` once per period (the
`backdated_bound_days` setting), a slice per sync: a sync `elapsed` seconds after the last may spend
`ceil(R x elapsed / period) + 2` requests on it, R being what the last complete pass cost. The syncs of
a period thus spend about one pass, evenly, whatever their rhythm, and a record written anywhere in the
range is reached within about one period.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

DAY = 86_400
SLACK_REQUESTS = 2  # per sync: a pass that grew since R was measured still ends within its period


@dataclass(frozen=True)
class SweepState:
    """Where the current pass stands. Saved in the stream state as `"sweep": {...}`."""

    through: int  # every record created from start_date through this second was re-read by this pass
    requests_per_pass: int | None  # R: the last complete pass's cost (None: unknown, this pass is unbudgeted)
    pass_started: int  # when this pass began (epoch seconds)
    pass_requests: int  # what this pass has cost so far
    # A record this pass finds that was written or edited at or after this second is news (its NPS period
    # changed): the previous pass began then, so it was not there yet when that pass went by.
    news_since: int

    def to_json(self) -> dict[str, Any]:
        return dict(
            vars(self)
        )  # its fields are numbers: no deep copy (the CDK asks for the state per record)

    @classmethod
    def from_json(cls, value: Any) -> SweepState | None:
        """The saved sweep, or None if `value` is not one this module writes."""
        if not isinstance(value, Mapping):
            return None
        fields = {
            "through": False,
            "requests_per_pass": True,
            "pass_started": False,
            "pass_requests": False,
            "news_since": False,
        }
        for name, nullable in fields.items():
            number = value.get(name)
            if number is None and nullable:
                continue
            if not isinstance(number, int) or isinstance(number, bool) or number < 0:
                return None
        return cls(**{name: value.get(name) for name in fields})


def first_pass(start: int, now: int, requests_per_pass: int | None, news_since: int) -> SweepState:
    """A pass that begins now at `start`: after an initial read (R = its cost, news since it began) or
    on a state without a sweep (R unknown, everything it finds is news: `news_since=0`)."""
    return SweepState(start - 1, requests_per_pass, now, 0, news_since)


def budget(requests_per_pass: int | None, elapsed: int, period: int) -> int | None:
    """The requests a sync may spend on the sweep, `elapsed` seconds after the last sync; None: no limit."""
    if requests_per_pass is None:
        return None
    return math.ceil(requests_per_pass * max(0, elapsed) / period) + SLACK_REQUESTS


@dataclass(frozen=True)
class SweepPlan:
    low: int
    high: int  # inclusive
    budget: int | None


def plan(
    sweep: SweepState, start: int, below: int, now: int, synced_at: int | None, period: int
) -> SweepPlan:
    """What this sync re-reads: from where the pass stands up to `below` (the look-back's start,
    exclusive), within its budget. Without a last sync's time, a whole period counts as elapsed."""
    elapsed = period if synced_at is None else now - synced_at
    return SweepPlan(
        max(start, sweep.through + 1), below - 1, budget(sweep.requests_per_pass, elapsed, period)
    )


def advance(sweep: SweepState, through: int, requests: int) -> SweepState:
    """The pass after this sync re-read through `through` (not to the end) at a cost of `requests`."""
    return replace(sweep, through=max(sweep.through, through), pass_requests=sweep.pass_requests + requests)


def next_pass(sweep: SweepState, start: int, now: int, requests: int) -> SweepState:
    """The pass that follows one this sync finished with `requests` more: R is what the pass cost."""
    return SweepState(start - 1, sweep.pass_requests + requests, now, 0, sweep.pass_started)
