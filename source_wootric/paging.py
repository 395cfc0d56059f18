"""Plans the requests that read a time range completely, despite Wootric's paging limit. Pure logic, no HTTP.

Wootric answers at most 30 pages of 50 records per filter, and offset paging over a set that changes while
it is read skips records. So the planner walks the range by keyset instead: every request asks for page 1
of the records at or after the newest second seen so far (`filter[gte]=second`), sorted ascending, and
drops the records of that second it has already emitted. When a whole page falls in one second, that
second is cut along the next dimension (end users updated in one second, by their created second); only
a set that shares every dimension is read by offset, ascending then descending by the tie-break sort,
3,000 records at most, and a set that reached the limit is reported, never dropped silently.

`complete_through` is the newest second of the first dimension whose records have all been read: it is
what the state stores, so that a sync that stops anywhere resumes without a gap.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

PER_PAGE = 50
MAX_PAGE = 30
VERIFY_ROUNDS = 3


@dataclass(frozen=True)
class Dimension:
    filter: str  # the query filter, e.g. "updated" for updated[gte]=...
    sort_key: str  # the sort_key that orders by it, e.g. "updated_at"


@dataclass(frozen=True)
class Row:
    """What the planner needs of a record: its id, and its second along a dimension (by index), which is
    read only for the few records where it matters. None where the record's datetime cannot be read."""

    id: int | str  # the record's id, or a stand-in key for a record without one
    second: Callable[[int], int | None]


@dataclass(frozen=True)
class Request:
    params: dict[str, str | int]


@dataclass(frozen=True)
class Unreachable:
    """A set of records sharing every dimension that is larger than the API lets anyone page through."""

    fixed: tuple[tuple[str, int], ...]
    records_seen: int
    reason: str = "more records share these seconds than 30 pages in each sort order reach"


@dataclass
class _Keyset:
    level: int
    fixed: tuple[tuple[str, int], ...]
    low: int
    high: int
    seen: set[int | str]  # ids already emitted that the next request may return again
    inherited: frozenset[int | str] = frozenset()


@dataclass
class _Offset:
    fixed: tuple[tuple[str, int], ...]
    seen: set[int | str]  # ids emitted already: inherited from the outer cuts, then those read here
    read_ascending: set[int | str] = field(default_factory=set)  # how the descending pass knows it met them
    page: int = 1
    order: str = "asc"
    pages_read: int = 0
    started_at: int = 0
    rounds: int = 0
    verifying: bool = False


@dataclass
class Planner:
    """Walks [low, high] of `dimensions[0]`, cutting overfull seconds along the next dimensions.

    `first_dimension_moves`: records leave the range while it is read (an end user's `updated_at` jumps to
    now). Keyset paging is immune to that, but offset paging is not, so after reading a cluster by offset
    the planner asks once whether any of its members moved since, and reads it again if so.
    """

    dimensions: Sequence[Dimension]
    tiebreak_sort_key: str
    low: int
    high: int
    first_dimension_moves: bool = False
    clock: Callable[[], int] | None = None
    base_params: dict[str, str | int] = field(default_factory=dict)
    unreachable: list[Unreachable] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stack: list[_Keyset | _Offset] = []
        if self.low <= self.high:
            self._stack.append(_Keyset(0, (), self.low, self.high, set()))

    # -- what to ask next ---------------------------------------------------------------------------
    @property
    def done(self) -> bool:
        return not self._stack

    @property
    def complete_through(self) -> int:
        """Every record whose first-dimension second is at or before this has been read."""
        if not self._stack:
            return self.high
        return self._stack[0].low - 1  # type: ignore[union-attr]

    def next_request(self) -> Request | None:
        if not self._stack:
            return None
        frame = self._stack[-1]
        params: dict[str, str | int] = {**self.base_params, "per_page": PER_PAGE}
        for name, second in frame.fixed:
            params[f"{name}[eq]"] = second
        if isinstance(frame, _Keyset):
            dimension = self.dimensions[frame.level]
            params[f"{dimension.filter}[gte]"] = frame.low
            params[f"{dimension.filter}[lte]"] = frame.high
            params.update(sort_key=dimension.sort_key, sort_order="asc", page=1)
            return Request(params)
        if frame.verifying:
            moved = self.dimensions[0].filter
            del params[f"{moved}[eq]"]
            params[f"{moved}[gte]"] = frame.started_at
            params.update(sort_key=self.dimensions[0].sort_key, sort_order="asc", page=1)
            return Request(params)  # yields no record: it only asks whether a member of the cluster moved
        if frame.pages_read == 0 and self.clock is not None:
            frame.started_at = self.clock()
        params.update(sort_key=self.tiebreak_sort_key, sort_order=frame.order, page=frame.page)
        return Request(params)

    # -- what came back ------------------------------------------------------------------------------
    def feed(self, rows: Sequence[Row]) -> list[int]:
        """Takes the answer to the last request; returns the positions of the rows to emit."""
        frame = self._stack[-1]
        if isinstance(frame, _Keyset):
            return self._feed_keyset(frame, rows)
        if frame.verifying:
            self._feed_verify(frame, rows)
            return []
        return self._feed_offset(frame, rows)

    def _feed_keyset(self, frame: _Keyset, rows: Sequence[Row]) -> list[int]:
        fresh = [i for i, row in enumerate(rows) if row.id not in frame.seen]
        if len(rows) < PER_PAGE:
            self._finish(frame)
            return fresh
        # The page is sorted by this dimension, so its newest second is the last row's, shared by the rows
        # before it back to the first of another second. Were the API ever to sort wrongly, this reads
        # a second too early and re-emits records, which the primary key dedups; it never skips one.
        newest = self._second(rows[-1], frame)
        at_newest: set[int | str] = set()
        for row in reversed(rows):
            if self._second(row, frame) != newest:
                break
            at_newest.add(row.id)
        if newest > frame.low:
            frame.low = newest
            frame.seen = set(frame.inherited) | at_newest
        else:  # a whole page in one second: cut that second along the next dimension
            frame.seen |= at_newest
            self._stack.append(self._child(frame))
        return fresh

    @staticmethod
    def _second(row: Row, frame: _Keyset) -> int:
        second = row.second(frame.level)
        # A second we could not read counts as the window's start: it can never move the window past records.
        return frame.low if second is None else max(second, frame.low)

    def _child(self, parent: _Keyset) -> _Keyset | _Offset:
        fixed = (*parent.fixed, (self.dimensions[parent.level].filter, parent.low))
        level = parent.level + 1
        if level < len(self.dimensions):
            return _Keyset(level, fixed, 0, self.high, set(parent.seen), frozenset(parent.seen))
        return _Offset(fixed, set(parent.seen))

    def _feed_offset(self, frame: _Offset, rows: Sequence[Row]) -> list[int]:
        frame.pages_read += 1
        fresh = [i for i, row in enumerate(rows) if row.id not in frame.seen]
        frame.seen.update(rows[i].id for i in fresh)
        if frame.order == "asc":
            frame.read_ascending.update(row.id for row in rows)
            met_the_other_end = False
        else:  # not any seen id: the outer cuts' ids lie anywhere in this order
            met_the_other_end = any(row.id in frame.read_ascending for row in rows)
        if len(rows) < PER_PAGE or met_the_other_end:
            self._end_offset(frame)
        elif frame.page < MAX_PAGE:
            frame.page += 1
        elif frame.order == "asc":
            frame.order, frame.page = "desc", 1
        else:
            self.unreachable.append(Unreachable(frame.fixed, len(frame.seen)))
            self._end_offset(frame)
        return fresh

    def _end_offset(self, frame: _Offset) -> None:
        if not (self.first_dimension_moves and frame.pages_read > 1):
            self._finish(frame)
        elif frame.rounds < VERIFY_ROUNDS:
            frame.verifying = True
        else:
            reason = "its members kept changing while it was read page by page"
            self.unreachable.append(Unreachable(frame.fixed, len(frame.seen), reason))
            self._finish(frame)

    def _feed_verify(self, frame: _Offset, rows: Sequence[Row]) -> None:
        if rows:  # a member may have left mid-read and shifted the pages: read the cluster again
            frame.rounds += 1
            frame.verifying, frame.page, frame.order, frame.pages_read = False, 1, "asc", 0
            frame.read_ascending.clear()
        else:
            self._finish(frame)

    def _finish(self, frame: _Keyset | _Offset) -> None:
        self._stack.pop()
        if not self._stack:
            return
        parent = self._stack[-1]
        assert isinstance(parent, _Keyset)
        parent.low += 1
        parent.seen = set(parent.inherited)
        if parent.low > parent.high:
            self._finish(parent)
