"""Plans the requests that read a time range completely, despite Wootric's paging limit, and checks every
answer against its request. Pure logic, no HTTP, no clock but the one injected.

Wootric answers at most 30 pages of 50 records per filter, and offset paging over a set that changes while
it is read skips records. So the planner walks the range by keyset instead: every request asks for page 1
of the records at or after the newest instant seen so far (`filter[gte]=second`), sorted ascending, and
drops the records it has already emitted. When a whole page falls in one second, that second is cut along
the next dimension (end users updated in one second, by their created second); only a set that shares
every dimension is read by offset, ascending then descending by the tie-break sort, 30 pages each at most,
and a set that reached the limit is reported, never dropped silently.

A record's datetime is a range of instants (`Row.seconds`): one instant when it carries an offset, the
instants it could be when it does not. Paging advances only to a range's earliest instant.

Every answer is checked against its request, and nothing the API does is believed without proof:
- A row provably outside the asked filter bounds raises `FiltersIgnored`: nothing can be read completely.
- More rows than `per_page` is noted (`TOO_MANY_ROWS`) and read as a full page.
- Rows provably out of the asked time order (`SORT_IGNORED`): the range is then read in windows that narrow
  while an answer is full (to half, or to before the oldest row it showed) and widen after a short one,
  because a short answer holds its whole window whatever its order. A full page all in one second later
  than its window's start claims that nothing lies before it; the planner asks, in place of the re-read of
  that page it needed anyway, and an answer with records not on the page is the same behaviour. A page
  whose few distinct seconds could have come out in order by more than a one-in-a-million chance
  (`ORDER_BY_CHANCE`) is asked about the same way, at one request: its order proves nothing. So is a desc
  pass that repeats the asc pass's first page.
- A page cap (`PAGE_CAP`): an empty answer ends a range; a page of n < per_page rows ends it only if this
  endpoint returned a page of more than n rows earlier in this sync. Otherwise page 2 of the same request
  with per_page=n is sent once: empty (so it brings no unseen id), the answer was whole; with any row, more
  than n matched, and n is the endpoint's page size from then on (sent as per_page, used in the cut and
  offset logic).
- E-mails shared by several end users sort as ties whose order may change between requests. A tie group
  holds the same positions on every request of a pass, so when the rows it showed across a page edge
  outnumber its distinct records, exactly that many were missed: it is read again with the `email=` filter
  (`SHARED_TIES`). Ties kept in order cost nothing. A group spanning where the asc and desc passes meet,
  whose positions cannot be counted, is re-read whenever it holds several records. A group that one page
  cannot hold, or without an e-mail to filter on, is reported as unreachable.
What an endpoint has shown is kept in one `EndpointConduct` per endpoint and sync, shared by its planners.

`complete_through` is the newest second of the first dimension whose records have all been read: it is
what the state stores, so that a sync that stops anywhere resumes without a gap.
"""

from __future__ import annotations

import enum
import math
from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

PER_PAGE = 50
MAX_PAGE = 30
VERIFY_ROUNDS = 3
ORDER_BY_CHANCE = 1e-6  # below this, a page sorted as asked is taken as proof that the sort was applied
WINDOW_GROWTH = 4  # how much wider the next window may be after a short answer, when the sort is ignored

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
class _Answer:
    """An answer as checked against its request."""

    rows: Sequence[Row]
    out_of_order: bool  # provably not in the asked time order
    ordered: list[Seconds | None]  # each row's instants along the sort, when the sort is by a time


@dataclass(frozen=True)
class _Claim:
    """A sorted full page from `start` whose newest second is later says that every record before that second
    is on it. Checked by a request when chance could have put the rows in order (see `_order_by_chance`)."""

    start: int
    page_ids: frozenset[int | str]
    cut: bool  # the page lay in one second: once the claim holds, cut that second


@dataclass
class _Keyset:
    level: int
    fixed: tuple[tuple[str, int], ...]
    low: int
    high: int
    seen: set[int | str]  # ids already emitted that the next request may return again
    inherited: frozenset[int | str] = frozenset()
    width: int | None = None  # seconds per window once the sort is known to be ignored; None: keyset
    claim: _Claim | None = None  # what a full page that moved `low` says of the seconds it passed over


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
    first_ascending: tuple[int | str, ...] = ()  # an API ignoring sort_order answers it again when asked desc
    previous_last: Row | None = None  # the last row of the previous page of this pass
    ascending_last: Row | None = None
    tie_members: dict[Hashable, set[int | str]] = field(default_factory=dict)  # records seen, by tie value
    # In one pass a tie group holds the same positions on every request; if its members change places, the
    # positions it showed outnumber the records: exactly those records were missed.
    pass_shown: Counter[Hashable] = field(default_factory=Counter)
    pass_ids: dict[Hashable, set[int | str]] = field(default_factory=dict)
    edges: set[Hashable] = field(default_factory=set)  # tie values on both sides of a page edge, this pass
    split: set[Hashable] = field(default_factory=set)  # tie groups of which records were missed
    meeting: set[Hashable] = field(default_factory=set)  # tie groups where the asc and desc passes met
    ties_to_reread: list[Hashable] = field(default_factory=list)

    def restart(self) -> None:
        self.page, self.order, self.pages_read = 1, "asc", 0
        self.read_ascending.clear()
        self.first_ascending, self.previous_last, self.ascending_last = (), None, None
        self.close_pass()
        self.split.clear()
        self.meeting.clear()

    def tally(self, rows: Sequence[Row]) -> None:
        for row in rows:
            tie = row.tie()
            self.pass_shown[tie] += 1
            self.pass_ids.setdefault(tie, set()).add(row.id)
        if rows and self.previous_last is not None and rows[0].tie() == self.previous_last.tie():
            self.edges.add(rows[0].tie())

    def close_pass(self) -> None:
        self.split.update(tie for tie in self.edges if self.pass_shown[tie] > len(self.pass_ids[tie]))
        self.pass_shown.clear()
        self.pass_ids.clear()
        self.edges.clear()
        self.previous_last = None


@dataclass
class Planner:
    """Walks [low, high] of `dimensions[0]`, cutting overfull seconds along the next dimensions.

    `first_dimension_moves`: records leave the range while it is read (an end user's `updated_at` jumps to
    now). Keyset paging is immune to that, but offset paging is not, so after reading a cluster by offset
    the planner asks once whether any of its members moved since, and reads it again if so.
    `tie_filter`: the query filter on the tie-break sort key (`email`), to re-read tie groups split by pages.
    """

    dimensions: Sequence[Dimension]
    tiebreak_sort_key: str
    low: int
    high: int
    first_dimension_moves: bool = False
    clock: Callable[[], int] | None = None
    base_params: dict[str, str | int] = field(default_factory=dict)
    tie_filter: str | None = None
    conduct: EndpointConduct = field(default_factory=EndpointConduct)
    unreachable: list[Unreachable] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stack: list[_Keyset | _Offset] = []
        self._levels = {d.filter: level for level, d in enumerate(self.dimensions)}
        self._time_sorts = {d.sort_key: level for level, d in enumerate(self.dimensions)}
        self._asked: dict[str, str | int] = {}
        self._planned: dict[str, str | int] = {}
        self._unsure: _Answer | None = None  # an answer waiting for its second page
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
        bottom = self._stack[0]
        assert isinstance(bottom, _Keyset)
        return (bottom.low if bottom.claim is None else bottom.claim.start) - 1

    def next_request(self) -> Request | None:
        if not self._stack:
            return None
        if self._unsure is not None:  # page 2 of the last request, with the page size it answered
            rows = len(self._unsure.rows)
            self._asked = {**self._planned, "per_page": rows, "page": int(self._planned["page"]) + 1}
        else:
            self._asked = self._planned = self._plan(self._stack[-1])
        return Request(dict(self._asked))

    def _plan(self, frame: _Keyset | _Offset) -> dict[str, str | int]:
        params: dict[str, str | int] = {**self.base_params, "per_page": self.conduct.page_size}
        for name, second in frame.fixed:
            params[f"{name}[eq]"] = second
        if isinstance(frame, _Keyset):
            if frame.width is None and self.conduct.sort_ignored:
                frame.width = frame.high - frame.low + 1
            dimension = self.dimensions[frame.level]
            if frame.claim is not None:  # asks whether that is true
                params[f"{dimension.filter}[gte]"] = frame.claim.start
                params[f"{dimension.filter}[lte]"] = frame.low - 1
            else:
                params[f"{dimension.filter}[gte]"] = frame.low
                params[f"{dimension.filter}[lte]"] = self._window_end(frame)
            params.update(sort_key=dimension.sort_key, sort_order="asc", page=1)
            return params
        if frame.ties_to_reread:
            assert self.tie_filter is not None
            params[self.tie_filter] = frame.ties_to_reread[0]  # type: ignore[assignment]
            params.update(sort_key=self.tiebreak_sort_key, sort_order="asc", page=1)
            return params
        if frame.verifying:
            moved = self.dimensions[0].filter
            del params[f"{moved}[eq]"]
            params[f"{moved}[gte]"] = frame.started_at
            params.update(sort_key=self.dimensions[0].sort_key, sort_order="asc", page=1)
            return params  # yields no record: it only asks whether a member of the cluster moved
        if frame.pages_read == 0 and self.clock is not None:
            frame.started_at = self.clock()
        params.update(sort_key=self.tiebreak_sort_key, sort_order=frame.order, page=frame.page)
        return params

    @staticmethod
    def _window_end(frame: _Keyset) -> int:
        return frame.high if frame.width is None else min(frame.high, frame.low + frame.width - 1)

    # -- what came back ------------------------------------------------------------------------------
    def feed(self, rows: Sequence[Row]) -> list[Row]:
        """Takes the answer to the last request; returns the rows to emit (possibly of an earlier answer).

        Raises `FiltersIgnored` when a row lies provably outside the filter bounds asked."""
        answer = self._check(self._asked, rows)
        if self.conduct.page_cap is not None:
            self.conduct.requests_at_cap += 1
        frame = self._stack[-1]
        if isinstance(frame, _Offset) and frame.verifying:
            self._feed_verify(frame, rows)
            return []
        if isinstance(frame, _Keyset) and frame.claim is not None:
            self._feed_claim(frame, rows)
            return []
        if self._unsure is not None:
            unsure, self._unsure = self._unsure, None
            # Any row at all on page 2 means more than n rows matched, seen or not: with ties in a new order on
            # every request, page 2 may repeat rows of page 1 and still prove a cap.
            more = bool(rows)
            if more:
                self.conduct.page_cap = len(unsure.rows)
                self.conduct.observe(
                    Behaviour.PAGE_CAP, f"{len(unsure.rows)} rows a page for per_page={PER_PAGE}"
                )
                self.conduct.extra_requests[Behaviour.PAGE_CAP] += 1
            return self._take(frame, unsure, more)
        full = self.conduct.judge(len(rows))
        if full is None and int(self._asked["page"]) < MAX_PAGE:
            self._unsure = answer
            return []
        return self._take(frame, answer, full is not False)

    def _check(self, params: dict[str, str | int], rows: Sequence[Row]) -> _Answer:
        """Raises on a row outside the filter bounds; tells whether the rows are provably out of time order.
        Reads each row's instants once per dimension the request names."""
        bounds: dict[int, list[tuple[str, str, int]]] = {}
        for key, bound in params.items():
            if key.endswith("]"):
                name, op = key[:-1].split("[")
                bounds.setdefault(self._levels[name], []).append((name, op, int(bound)))
        order_level = self._time_sorts.get(str(params["sort_key"]))
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
        return _Answer(rows, _out_of_order(ordered, params["sort_order"] == "desc"), ordered)

    def _take(self, frame: _Keyset | _Offset, answer: _Answer, full: bool) -> list[Row]:
        rows = answer.rows
        if isinstance(frame, _Keyset):
            return self._feed_keyset(frame, answer, full)
        if frame.ties_to_reread:
            return self._feed_tie_group(frame, rows, full)
        return self._feed_offset(frame, rows, full)

    def _feed_keyset(self, frame: _Keyset, answer: _Answer, full: bool) -> list[Row]:
        rows, out_of_order, levels = answer.rows, answer.out_of_order, answer.ordered  # sorted by this level
        fresh = [row for row in rows if row.id not in frame.seen]
        if out_of_order and not self.conduct.sort_ignored:
            self.conduct.sort_ignored = True
            asked = f"sort_key={self._planned['sort_key']}&sort_order={self._planned['sort_order']}"
            self.conduct.observe(Behaviour.SORT_IGNORED, f"asked {asked}, rows came in another order")
        if not full:  # the answer holds its whole window, in whatever order
            end = self._window_end(frame)
            if end >= frame.high:
                self._finish(frame)
            else:
                assert frame.width is not None
                target = self.conduct.page_size * 3 // 4
                frame.width = min(
                    frame.width * WINDOW_GROWTH, max(1, frame.width * target // max(1, len(rows)))
                )
                frame.low, frame.seen = end + 1, set(frame.inherited)
            return fresh
        if frame.width is None and out_of_order:  # it asked for the whole range
            frame.width = frame.high - frame.low + 1
        if frame.width is not None:  # a full window says nothing of what it left out: narrow it
            self.conduct.extra_requests[Behaviour.SORT_IGNORED] += 1
            if frame.width == 1:  # a full second: cut it along the next dimension
                self._stack.append(self._child(frame))
                return []
            # To half its width, or to end before the oldest row it showed, if that is sooner: a hot second,
            # or the newest rows of an API that answers descending, is then reached in a few requests.
            earliest = [seconds[0] for seconds in levels if seconds is not None]
            frame.width = max(1, min([frame.width // 2] + [second - frame.low for second in earliest]))
            return []
        # Sorted, so every record before the newest row's instant is on this page; that instant is at least
        # every row's earliest. The rows that may lie at or after it are kept as seen, so none is re-emitted.
        newest = max([frame.low] + [seconds[0] for seconds in levels if seconds is not None])
        at_newest = {row.id for row, s in zip(rows, levels, strict=True) if s is None or s[1] >= newest}
        if newest > frame.low:
            one_second = len(at_newest) == len(rows)  # asked in place of re-reading the page: free
            if one_second or _order_by_chance(levels):
                frame.claim = _Claim(frame.low, frame.inherited | {row.id for row in rows}, one_second)
            frame.low = newest
            frame.seen = set(frame.inherited) | at_newest
        else:  # a whole page in one second: cut that second along the next dimension
            frame.seen |= at_newest
            self._stack.append(self._child(frame))
        return fresh

    def _feed_claim(self, frame: _Keyset, rows: Sequence[Row]) -> None:
        """The answer on whether the records before the page's newest second were all on the page."""
        claim, frame.claim = frame.claim, None
        assert claim is not None
        if all(row.id in claim.page_ids for row in rows):  # sorted as asked
            if claim.cut:
                self._stack.append(self._child(frame))  # it inherits the page's records as seen
            return
        # The page came from elsewhere in the range than its start: the sort was ignored.
        self.conduct.sort_ignored = True
        self.conduct.observe(
            Behaviour.SORT_IGNORED,
            f"a full page up to second {frame.low} left out older records of its range",
        )
        if not claim.cut:
            self.conduct.extra_requests[Behaviour.SORT_IGNORED] += 1
        frame.low, frame.width = claim.start, max(1, (frame.high - claim.start + 1) // 2)

    def _child(self, parent: _Keyset) -> _Keyset | _Offset:
        fixed = (*parent.fixed, (self.dimensions[parent.level].filter, parent.low))
        level = parent.level + 1
        if level < len(self.dimensions):
            return _Keyset(level, fixed, 0, self.high, set(parent.seen), frozenset(parent.seen))
        return _Offset(fixed, set(parent.seen))

    def _feed_offset(self, frame: _Offset, rows: Sequence[Row], full: bool) -> list[Row]:
        frame.pages_read += 1
        fresh = [row for row in rows if row.id not in frame.seen]
        frame.seen.update(row.id for row in fresh)
        for row in rows:
            frame.tie_members.setdefault(row.tie(), set()).add(row.id)
        frame.tally(rows)
        met_the_other_end = False
        if frame.order == "asc":
            frame.read_ascending.update(row.id for row in rows)
            if frame.page == 1:
                frame.first_ascending = tuple(row.id for row in rows)
        elif frame.page == 1 and tuple(row.id for row in rows) == frame.first_ascending:
            self.conduct.observe(Behaviour.SORT_IGNORED, f"sort_order=desc answered as asc, {frame.fixed}")
            reason = "the API ignores sort_order, so only the first 30 pages of one order can be read"
            self.unreachable.append(Unreachable(frame.fixed, len(frame.seen), reason))
            self._end_offset_pass(frame)
            return fresh
        else:  # not any seen id: the outer cuts' ids lie anywhere in this order
            met_the_other_end = any(row.id in frame.read_ascending for row in rows)
            last = frame.ascending_last
            if (
                met_the_other_end
                and self.tie_filter is not None
                and last is not None
                and rows[-1].tie() == last.tie()
            ):
                frame.meeting.add(last.tie())  # positions cannot be counted across two orders
        frame.previous_last = rows[-1] if rows else None
        if not full or met_the_other_end:
            self._end_offset_pass(frame)
        elif frame.page < MAX_PAGE:
            frame.page += 1
        elif frame.order == "asc":
            frame.order, frame.page, frame.ascending_last = "desc", 1, frame.previous_last
            frame.close_pass()
        else:
            self.unreachable.append(Unreachable(frame.fixed, len(frame.seen)))
            self._end_offset_pass(frame)
        return fresh

    def _end_offset_pass(self, frame: _Offset) -> None:
        """Tie groups whose members changed places between pages are read again by their e-mail, or named."""
        frame.close_pass()
        # Where the passes met, a tie value on both edges is the same record or a group that may be split.
        frame.split.update(tie for tie in frame.meeting if len(frame.tie_members[tie]) > 1)
        for tie in frame.split:
            members = len(frame.tie_members[tie])
            if isinstance(tie, str) and self.tie_filter is not None:
                frame.ties_to_reread.append(tie)
            else:
                reason = (
                    f"{members} records with the same {self.tiebreak_sort_key} ({tie!r}) changed "
                    "places between offset pages, and no filter reads them apart"
                )
                self.unreachable.append(Unreachable(frame.fixed, members, reason))
        frame.split.clear()
        frame.meeting.clear()
        if not frame.ties_to_reread:
            self._end_offset(frame)

    def _feed_tie_group(self, frame: _Offset, rows: Sequence[Row], full: bool) -> list[Row]:
        tie = frame.ties_to_reread.pop(0)
        self.conduct.observe(Behaviour.SHARED_TIES, f"{len(rows)} records share {self.tie_filter} {tie!r}")
        self.conduct.extra_requests[Behaviour.SHARED_TIES] += 1
        fresh = [row for row in rows if row.id not in frame.seen]
        frame.seen.update(row.id for row in fresh)
        if full:
            reason = "more records share this e-mail than one page holds, and their order may change"
            assert self.tie_filter is not None
            self.unreachable.append(Unreachable((*frame.fixed, (self.tie_filter, tie)), len(rows), reason))  # type: ignore[arg-type]
        if not frame.ties_to_reread:
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
            frame.verifying = False
            frame.restart()
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


def _order_by_chance(ordered: list[Seconds | None]) -> bool:
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
    if op == "gt":
        return latest <= bound
    if op == "lte":
        return earliest > bound
    if op == "lt":
        return earliest >= bound
    return latest < bound or earliest > bound  # eq
