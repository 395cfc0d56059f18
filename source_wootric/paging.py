"""Plans the requests that read a time range completely, despite Wootric's paging limit, from what each answer
says (answers.py). Pure logic, no HTTP, no clock but the one injected.

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

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field

from source_wootric.answers import (
    Answer,
    Behaviour,
    Claim,
    Dimension,
    EndpointConduct,
    Request,
    Row,
    Seconds,
    TieGroups,
    Unreachable,
    check_answer,
    order_by_chance,
)

MAX_PAGE = 30
VERIFY_ROUNDS = 3
WINDOW_GROWTH = 4  # how much wider the next window may be after a short answer, when the sort is ignored


@dataclass
class _Keyset:
    level: int
    fixed: tuple[tuple[str, int], ...]
    low: int
    high: int
    seen: set[int | str]  # ids already emitted that the next request may return again
    inherited: frozenset[int | str] = frozenset()
    width: int | None = None  # seconds per window once the sort is known to be ignored; None: keyset
    claim: Claim | None = None  # what a full page that moved `low` says of the seconds it passed over


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
    ascending_last: Row | None = None
    ties: TieGroups = field(default_factory=TieGroups)
    ties_to_reread: list[Hashable] = field(default_factory=list)

    def restart(self) -> None:
        self.page, self.order, self.pages_read = 1, "asc", 0
        self.read_ascending.clear()
        self.first_ascending, self.ascending_last = (), None
        self.ties.missed()


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
    tie_filter: str | None = None
    conduct: EndpointConduct = field(default_factory=EndpointConduct)
    unreachable: list[Unreachable] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stack: list[_Keyset | _Offset] = []
        self._levels = {d.filter: level for level, d in enumerate(self.dimensions)}
        self._time_sorts = {d.sort_key: level for level, d in enumerate(self.dimensions)}
        self._asked: dict[str, str | int] = {}
        self._planned: dict[str, str | int] = {}
        self._unsure: Answer | None = None  # an answer waiting for its second page
        if self.low <= self.high:
            self._stack.append(_Keyset(0, (), self.low, self.high, set()))

    # -- what to ask next ---------------------------------------------------------------------------
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
        params: dict[str, str | int] = {"per_page": self.conduct.page_size}
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
        answer = check_answer(self._asked, rows, self._levels, self._time_sorts)
        self.conduct.requests_at_cap += self.conduct.page_cap is not None
        frame = self._stack[-1]
        if isinstance(frame, _Offset) and frame.verifying:
            self._feed_verify(frame, rows)
            return []
        if isinstance(frame, _Keyset) and frame.claim is not None:
            self._feed_claim(frame, rows)
            return []
        if self._unsure is not None:  # this was its page 2
            unsure, self._unsure = self._unsure, None
            return self._take(frame, unsure, self.conduct.capped(len(unsure.rows), rows))
        full = self.conduct.judge(len(rows))
        if full is None and int(self._asked["page"]) < MAX_PAGE:
            self._unsure = answer
            return []
        return self._take(frame, answer, full is not False)

    def _take(self, frame: _Keyset | _Offset, answer: Answer, full: bool) -> list[Row]:
        rows = answer.rows
        if isinstance(frame, _Keyset):
            return self._feed_keyset(frame, answer, full)
        if frame.ties_to_reread:
            return self._feed_tie_group(frame, rows, full)
        return self._feed_offset(frame, rows, full)

    def _feed_keyset(self, frame: _Keyset, answer: Answer, full: bool) -> list[Row]:
        rows, levels = answer.rows, answer.ordered  # levels: each row's instants along this frame's dimension
        fresh = [row for row in rows if row.id not in frame.seen]
        if answer.out_of_order and not self.conduct.sort_ignored:
            self.conduct.sort_ignored = True
            asked = f"sort_key={self._planned['sort_key']}&sort_order={self._planned['sort_order']}"
            self.conduct.observe(Behaviour.SORT_IGNORED, f"asked {asked}, rows came in another order")
        if not full:  # the answer holds its whole window, in whatever order
            self._next_window(frame, len(rows))
            return fresh
        if frame.width is None and answer.out_of_order:  # it asked for the whole range
            frame.width = frame.high - frame.low + 1
        if frame.width is not None:  # a full window says nothing of what it left out: narrow it
            self._narrow(frame, levels)
            return []
        # Sorted, so every record before the newest row's instant is on this page; that instant is at least
        # every row's earliest. The rows that may lie at or after it are kept as seen, so none is re-emitted.
        newest = max([frame.low] + [seconds[0] for seconds in levels if seconds is not None])
        at_newest = {row.id for row, s in zip(rows, levels, strict=True) if s is None or s[1] >= newest}
        if newest > frame.low:
            one_second = len(at_newest) == len(rows)  # asked in place of re-reading the page: free
            if one_second or order_by_chance(levels):
                frame.claim = Claim(frame.low, frame.inherited | {row.id for row in rows}, one_second)
            frame.low = newest
            frame.seen = set(frame.inherited) | at_newest
        else:  # a whole page in one second: cut that second along the next dimension
            frame.seen |= at_newest
            self._stack.append(self._child(frame))
        return fresh

    def _next_window(self, frame: _Keyset, rows: int) -> None:
        """After a short answer: the range is read, or the next window, wider when this one held few rows."""
        end = self._window_end(frame)
        if end >= frame.high:
            self._finish(frame)
            return
        assert frame.width is not None
        target = self.conduct.page_size * 3 // 4
        frame.width = min(frame.width * WINDOW_GROWTH, max(1, frame.width * target // max(1, rows)))
        frame.low, frame.seen = end + 1, set(frame.inherited)

    def _narrow(self, frame: _Keyset, levels: list[Seconds | None]) -> None:
        """After a full window of an API that ignores the sort: to half its width, or to end before the oldest
        row it showed, if that is sooner (a hot second, or the newest rows of an API that answers descending,
        is then reached in a few requests); a full second is cut along the next dimension."""
        assert frame.width is not None
        self.conduct.extra_requests[Behaviour.SORT_IGNORED] += 1
        if frame.width == 1:
            self._stack.append(self._child(frame))
            return
        earliest = [seconds[0] for seconds in levels if seconds is not None]
        frame.width = max(1, min([frame.width // 2] + [second - frame.low for second in earliest]))

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
        frame.ties.tally(rows)
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
                frame.ties.meeting.add(last.tie())  # positions cannot be counted across two orders
        if not full or met_the_other_end:
            self._end_offset_pass(frame)
        elif frame.page < MAX_PAGE:
            frame.page += 1
        elif frame.order == "asc":
            frame.order, frame.page, frame.ascending_last = "desc", 1, frame.ties.previous_last
            frame.ties.close_pass()
        else:
            self.unreachable.append(Unreachable(frame.fixed, len(frame.seen)))
            self._end_offset_pass(frame)
        return fresh

    def _end_offset_pass(self, frame: _Offset) -> None:
        """Tie groups whose members changed places between pages are read again by their e-mail, or named."""
        for tie in frame.ties.missed():
            members = len(frame.ties.members[tie])
            if isinstance(tie, str) and self.tie_filter is not None:
                frame.ties_to_reread.append(tie)
            else:
                reason = (
                    f"{members} records with the same {self.tiebreak_sort_key} ({tie!r}) changed "
                    "places between offset pages, and no filter reads them apart"
                )
                self.unreachable.append(Unreachable(frame.fixed, members, reason))
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
