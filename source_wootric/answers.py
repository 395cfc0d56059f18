"""What an answer of a Wootric list says, checked against its request: the rows it holds (`Row`), whether
they lie inside the asked bounds (a row provably outside raises `FiltersIgnored`), whether they came in the
asked order, and what the endpoint has shown of itself in this sync (`EndpointConduct`: its page size, an
ignored sort, and the other departures from the reference, told once as `Behaviour`s). Pure logic, no HTTP;
the planner (paging.py) decides what to ask next from it."""

from __future__ import annotations

import enum
import math
from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

PER_PAGE = 50
ORDER_BY_CHANCE = 1e-6  # below this, a page sorted as asked is taken as proof that the sort was applied

Seconds = tuple[int, int]  # the earliest and the latest instant a record's datetime can be


@dataclass(frozen=True)
class Dimension:
    filter: str  # the query filter, e.g. "updated" for updated[gte]=...
    sort_key: str  # the sort_key that orders by it, e.g. "updated_at"


def _no_tie() -> None:
    return None


@dataclass(frozen=True)
class Row:
    """What the planner needs of a record: its id; the range of instants of its datetime along a dimension
    (by index; None where it cannot be read); its value of the tie-break sort key; and the API object itself,
    handed back when the row is emitted. Values are read lazily, only where they matter."""

    id: int | str  # the record's id, or a stand-in key for a record without one
    seconds: Callable[[int], Seconds | None]
    tie: Callable[[], Hashable] = _no_tie
    item: Any = None


@dataclass(frozen=True)
class Request:
    params: dict[str, str | int]


class Behaviour(enum.Enum):
    TOO_MANY_ROWS = "answered more rows than per_page asked for"
    PAGE_CAP = "answers fewer rows a page than per_page asks for"
    SORT_IGNORED = "ignores sort_key or sort_order: rows came back out of the asked order"
    SHARED_TIES = "orders records sharing an e-mail among themselves, which offset pages may split"


class FiltersIgnored(Exception):
    """The API answered a record outside the filter bounds asked: no range can be read completely."""

    def __init__(self, row_id: int | str, name: str, op: str, bound: int, seconds: Seconds):
        self.row_id, self.name, self.op, self.bound, self.seconds = row_id, name, op, bound, seconds
        super().__init__(
            f"record {row_id} has {name} between {seconds[0]} and {seconds[1]}, outside the asked {name}[{op}]={bound}"
        )


@dataclass(frozen=True)
class Unreachable:
    """A set of records sharing every dimension that is larger than the API lets anyone page through."""

    fixed: tuple[tuple[str, int | str | None], ...]
    records_seen: int
    reason: str = "more records share these seconds than 30 pages in each sort order reach"


@dataclass
class EndpointConduct:
    """What one endpoint has shown of itself in this sync, shared by every planner that reads it."""

    largest_page: int = 0
    page_cap: int | None = None  # a page size below per_page, proven by a page that followed a short one
    sort_ignored: bool = False
    observed: dict[Behaviour, str] = field(default_factory=dict)  # the first example of each behaviour
    extra_requests: Counter[Behaviour] = field(default_factory=Counter)
    requests_at_cap: int = 0

    @property
    def page_size(self) -> int:
        return self.page_cap or PER_PAGE

    def observe(self, behaviour: Behaviour, example: str) -> None:
        self.observed.setdefault(behaviour, example)

    def extra_cost(self, behaviour: Behaviour) -> int:
        """Requests this behaviour cost beyond what the same reading would have cost without it."""
        extra = self.extra_requests[behaviour]
        if behaviour is Behaviour.PAGE_CAP and self.page_cap:
            extra += self.requests_at_cap - math.ceil(self.requests_at_cap * self.page_cap / PER_PAGE)
        return extra

    def capped(self, rows: int, page_two: Sequence[Row]) -> bool:
        """Whether page 2 of a request whose page 1 held `rows` rows proves a cap of that many: any row at all
        means more than `rows` matched, seen or not (with ties in a new order on every request, page 2 may
        repeat rows of page 1 and still prove it); the page size is `rows` from then on."""
        if page_two:
            self.page_cap = rows
            self.observe(Behaviour.PAGE_CAP, f"{rows} rows a page for per_page={PER_PAGE}")
            self.extra_requests[Behaviour.PAGE_CAP] += 1
        return bool(page_two)

    def judge(self, rows: int) -> bool | None:
        """Whether an answer of this many rows is a full page (more may follow): True, False, or None when
        only the next page can tell (a short page no larger than any this endpoint has answered)."""
        full: bool | None
        if rows >= self.page_size:
            full = True
        elif rows == 0 or rows < self.largest_page:
            full = False
        else:
            full = None
        if rows > PER_PAGE:
            self.observe(Behaviour.TOO_MANY_ROWS, f"{rows} rows for per_page={PER_PAGE}")
        self.largest_page = max(self.largest_page, rows)
        return full


@dataclass(frozen=True)
class Answer:
    """An answer as checked against its request."""

    rows: Sequence[Row]
    out_of_order: bool  # provably not in the asked time order
    ordered: list[Seconds | None]  # each row's instants along the sort, when the sort is by a time


def check_answer(
    params: dict[str, str | int], rows: Sequence[Row], levels: dict[str, int], time_sorts: dict[str, int]
) -> Answer:
    """Raises on a row outside the filter bounds; tells whether the rows are provably out of time order.
    Reads each row's instants once per dimension the request names (`levels`: by filter name; `time_sorts`:
    by sort key)."""
    bounds: dict[int, list[tuple[str, str, int]]] = {}
    for key, bound in params.items():
        if key.endswith("]"):
            name, op = key[:-1].split("[")
            bounds.setdefault(levels[name], []).append((name, op, int(bound)))
    order_level = time_sorts.get(str(params["sort_key"]))
    if order_level is not None:
        bounds.setdefault(order_level, [])
    ordered: list[Seconds | None] = []
    for row in rows:
        for level, level_bounds in bounds.items():
            seconds = row.seconds(level)
            if level == order_level:
                ordered.append(seconds)
            if seconds is None:
                continue
            for name, op, bound in level_bounds:
                if _outside(seconds, op, bound):
                    raise FiltersIgnored(row.id, name, op, bound, seconds)
    return Answer(rows, _out_of_order(ordered, params["sort_order"] == "desc"), ordered)


def order_by_chance(ordered: list[Seconds | None]) -> bool:
    """Whether rows in no particular order would come out sorted by more than a one-in-a-million chance, as a
    page holding few distinct seconds does: its order is then no evidence that the sort was applied. Rows
    whose ranges of instants overlap count as one second: no order among them can be told."""
    counts: list[int] = []
    end = None
    for earliest, latest in sorted(seconds for seconds in ordered if seconds is not None):
        if end is not None and earliest <= end:
            counts[-1] += 1
            end = max(end, latest)
        else:
            counts.append(1)
            end = latest
    log_chance = sum(math.lgamma(count + 1) for count in counts) - math.lgamma(sum(counts) + 1)
    return log_chance > math.log(ORDER_BY_CHANCE)


def _out_of_order(ordered: list[Seconds | None], descending: bool) -> bool:
    """Whether some row's instants all lie before (after, descending) those of a row ahead of it."""
    reach = None  # the bound the rows so far put on the next row's instant
    for seconds in ordered:
        if seconds is None:
            continue
        if descending:
            if reach is not None and seconds[0] > reach:
                return True
            reach = seconds[1] if reach is None else min(reach, seconds[1])
        else:
            if reach is not None and seconds[1] < reach:
                return True
            reach = seconds[0] if reach is None else max(reach, seconds[0])
    return False


def _outside(seconds: Seconds, op: str, bound: int) -> bool:
    """Whether every instant of the range contradicts `filter[op]=bound`."""
    earliest, latest = seconds
    if op == "gte":
        return latest < bound
    if op == "lte":
        return earliest > bound
    return latest < bound or earliest > bound  # eq: the planner asks no other


@dataclass(frozen=True)
class Claim:
    """A sorted full page from `start` whose newest second is later says that every record before that second
    is on it. Checked by a request when chance could have put the rows in order (see `order_by_chance`)."""

    start: int
    page_ids: frozenset[int | str]
    cut: bool  # the page lay in one second: once the claim holds, cut that second


@dataclass
class TieGroups:
    """Records that tie on the sort key (a shared e-mail) as an offset read's pages showed them. In one pass a
    tie group holds the same positions on every request; if its members change places, the positions it showed
    outnumber its records: exactly that many were missed."""

    members: dict[Hashable, set[int | str]] = field(default_factory=dict)  # records seen, by tie value
    shown: Counter[Hashable] = field(default_factory=Counter)  # positions shown in this pass
    ids: dict[Hashable, set[int | str]] = field(default_factory=dict)  # records shown in this pass
    edges: set[Hashable] = field(default_factory=set)  # tie values on both sides of a page edge, this pass
    split: set[Hashable] = field(default_factory=set)  # tie groups of which records were missed
    meeting: set[Hashable] = field(default_factory=set)  # tie groups where the asc and desc passes met
    previous_last: Row | None = None  # the last row of the previous page of this pass

    def tally(self, rows: Sequence[Row]) -> None:
        for row in rows:
            tie = row.tie()
            self.members.setdefault(tie, set()).add(row.id)
            self.shown[tie] += 1
            self.ids.setdefault(tie, set()).add(row.id)
        if rows and self.previous_last is not None and rows[0].tie() == self.previous_last.tie():
            self.edges.add(rows[0].tie())
        self.previous_last = rows[-1] if rows else None

    def close_pass(self) -> None:
        self.split.update(tie for tie in self.edges if self.shown[tie] > len(self.ids[tie]))
        self.shown.clear()
        self.ids.clear()
        self.edges.clear()
        self.previous_last = None

    def missed(self) -> set[Hashable]:
        """After the last pass: the groups of which records were missed; where the passes met, a tie value on
        both edges is the same record, or a group of several that may be split."""
        self.close_pass()
        self.split.update(tie for tie in self.meeting if len(self.members[tie]) > 1)
        missed, self.split, self.meeting = self.split, set(), set()
        return missed
