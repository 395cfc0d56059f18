"""Re-reads paced by a bound, not by the sync schedule. Pure logic, no HTTP.

Some records change where an incremental read no longer looks: responses and declines edited after they were
read (tags, notes, `completed`, exclusions), or written with a past `created_at` (RudderStack's destination
sets it to the event's time); NPS and e-mail figures of closed periods. A pass re-reads such a range once per
bound (`edits_bound_hours` for the look-back window, `backdated_bound_days` for the older records), a slice per
sync: each sync earns `R x PACE_MARGIN x elapsed / bound` requests, R being what the last complete pass cost,
and spends the whole ones. The syncs of a bound thus spend about one pass, evenly, whatever their rhythm (an
hourly sync a 24th of a daily one's), and a record changed anywhere in the range is re-read within the bound.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

DAY = 86_400
HOUR = 3_600
PACE_MARGIN = 1.05  # a pass that grew by up to 5% since R was measured still ends within its bound


@dataclass(frozen=True)
class Pass:
    """Where a pass over a range stands. Saved in the stream state (`"sweep": {...}`, `"edits": {...}`)."""

    through: int  # every record from the range's start through this position was re-read by this pass
    requests_per_pass: int | None  # R: the last complete pass's cost (None: unknown, this pass is unbudgeted)
    pass_started: int  # when this pass began (epoch seconds)
    pass_requests: int  # what this pass has cost so far
    # A record this pass finds that was written or edited at or after this second is news (its NPS period
    # changed): the previous pass began then, so it was not there yet when that pass went by.
    news_since: int
    credit: float = 0.0  # requests earned and not spent yet
    credited_at: int | None = None  # when `credit` was last earned (None: a state written before it)

    def to_json(self) -> dict[str, Any]:
        return dict(vars(self))  # numbers only: no deep copy (the CDK asks for the state per record)

    @classmethod
    def from_json(cls, value: Any) -> Pass | None:
        """The saved pass, or None if `value` is not one this module writes."""
        if not isinstance(value, Mapping):
            return None
        optional = {"requests_per_pass", "credit", "credited_at"}
        names = ("through", "pass_started", "pass_requests", "news_since", *sorted(optional))
        for name in names:
            number = value.get(name)
            if number is None and name in optional:
                continue
            if not _count(number, fraction=name == "credit"):
                return None
        return cls(
            **{name: value.get(name) for name in names if name != "credit"}, credit=value.get("credit") or 0.0
        )


def _count(value: Any, fraction: bool = False) -> bool:
    kinds = (int, float) if fraction else (int,)
    return isinstance(value, kinds) and not isinstance(value, bool) and value >= 0


def first_pass(start: int, now: int, requests_per_pass: int | None, news_since: int) -> Pass:
    """A pass that begins at `start`: after an initial read (R = what the range cost it, news since it began),
    or on a state without this pass (R unknown, everything it finds is news: `news_since=0`)."""
    return Pass(start - 1, requests_per_pass, now, 0, news_since, 0.0, now)


@dataclass(frozen=True)
class Plan:
    low: int
    high: int  # inclusive
    allowance: float | None  # requests this sync may spend (whole ones); None: no limit

    @property
    def budget(self) -> int | None:
        return None if self.allowance is None else math.floor(self.allowance)


def plan(current: Pass, low: int, high: int, now: int, bound: int) -> Plan:
    """What this sync re-reads of `[low, high]`: from where the pass stands, within what the time since the pass
    was last credited earned (a whole pass at most). A pass saved without that time earns a whole bound."""
    if current.requests_per_pass is None:
        return Plan(max(low, current.through + 1), high, None)
    elapsed = bound if current.credited_at is None else max(0, now - current.credited_at)
    whole_pass = max(current.requests_per_pass, 1) * PACE_MARGIN
    allowance = min(current.credit + whole_pass * elapsed / bound, whole_pass)
    return Plan(max(low, current.through + 1), high, allowance)


def advance(current: Pass, slice_: Plan, through: int, requests: int, now: int) -> Pass:
    """The pass after this sync re-read through `through` (not to the end) at a cost of `requests`."""
    return replace(
        current,
        through=max(current.through, through),
        pass_requests=current.pass_requests + requests,
        credit=0.0 if slice_.allowance is None else max(0.0, slice_.allowance - requests),
        credited_at=now,
    )


def next_pass(current: Pass, slice_: Plan, start: int, requests: int, now: int) -> Pass:
    """The pass that follows one this sync finished with `requests` more (R: what it cost), from the next sync
    on, with what this sync earned and did not spend."""
    ended = advance(current, slice_, current.through, requests, now)
    return Pass(start - 1, ended.pass_requests, now, 0, current.pass_started, ended.credit, now)


UNBUDGETED = Plan(0, -1, None)  # a read that no allowance limits: the main read, while it measures a pass
