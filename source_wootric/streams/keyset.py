"""Incremental streams read by keyset over a time range: each slice is a range of seconds, read on
HttpStream's page loop as `paging.Planner` plans it. `request_params` asks the planner for the request,
`parse_response` feeds it the answer and shapes the records, `next_page_token` plans the next request; the
cursor moves only once a page's last record is out. The state is the newest second through which every record
has been emitted, under the cursor field's own name as a UTC RFC 3339 string: `{"version": 1, "<cursor>":
"2021-03-04T05:06:07Z"}`, so that a sync stopped anywhere resumes without a gap. Versions before 1.1.0 wrote it
as `"<cursor>_epoch": <second>`, which is still read."""

from __future__ import annotations

import calendar
import contextlib
import json
import math
import time
from abc import abstractmethod
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

import requests
from airbyte_cdk.models import FailureType, SyncMode
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_wootric.answers import (
    PER_PAGE,
    Behaviour,
    Dimension,
    EndpointConduct,
    FiltersIgnored,
    Request,
    Row,
)
from source_wootric.config import config_error
from source_wootric.http import json_body
from source_wootric.paging import Planner
from source_wootric.records import whole_number
from source_wootric.streams.base import CLOCK_MARGIN, SyncContext, WootricStream, iso
from source_wootric.timezone import instant_range

STATE_VERSION = 1
PROGRESS_EVERY_SECONDS = 30.0


@dataclass
class Page:
    items: list[dict[str, Any]]  # the API objects of this page that the sync has not emitted yet
    complete_through: int


class Endpoint:
    """One list endpoint as the planner reads it, and what it did that a well-behaved API does not (see
    paging.Behaviour), told once per sync."""

    def __init__(
        self,
        context: SyncContext,
        label: str,
        path: str,
        dimensions: list[Dimension],
        tiebreak: str,
        **planning: Any,
    ):
        self.context, self.label, self.path = context, label, path
        self.dimensions, self.tiebreak, self.planning = dimensions, tiebreak, planning
        self.conduct = EndpointConduct()  # one per endpoint and sync: every range read here shares it
        self.records_without_id = 0
        self._reported: set[Behaviour] = set()

    def range(self, low: int, high: int, request_budget: int | None = None) -> RangeRead:
        return RangeRead(self, low, high, request_budget)

    def seconds(self, value: Any) -> tuple[int, int] | None:
        """The earliest and latest instant an API datetime can be (a range when it has no offset)."""
        return instant_range(value, self.context.account_zone.paging_zone)

    def row(self, item: Any) -> Row:
        item_id: int | str | None = whole_number(item.get("id")) if isinstance(item, Mapping) else None
        if item_id is None:
            self.records_without_id += 1
            # A stable stand-in key, so that paging still dedups it; not an integer, so it is never emitted.
            item_id = f"no id: {json.dumps(item, sort_keys=True, default=str)}"
            item = item if isinstance(item, Mapping) else {}
        return Row(
            item_id,
            lambda level: self.seconds(item.get(self.dimensions[level].sort_key)),
            lambda: item.get(self.tiebreak),
            item,
        )

    def report(self, planner: Planner) -> None:
        """What a range read to its end could not reach, and the endpoint's conduct: a WARN for what the API
        should not do, INFO for shared e-mails."""
        logger = self.context.logger
        for gap in planner.unreachable:
            where = ", ".join(f"{name} = {describe(value)}" for name, value in gap.fixed)
            logger.warning(
                f"{self.label}: Wootric's API cannot reach every record where {where}: {gap.reason}; "
                f"{gap.records_seen} were read and emitted, any others were not."
            )
        for behaviour, example in self.conduct.observed.items():
            if behaviour not in self._reported:
                self._reported.add(behaviour)
                log = logger.info if behaviour is Behaviour.SHARED_TIES else logger.warning
                log(
                    f"{self.label}: the endpoint /{self.path} {behaviour.value} ({example}); every record was still "
                    f"read where not reported otherwise, at {self.conduct.extra_cost(behaviour)} extra requests so "
                    "far in this sync."
                )
        if self.records_without_id:
            logger.warning(
                f"{self.label}: {self.records_without_id} records had no readable id and were skipped."
            )

    def filters_ignored(self, ignored: FiltersIgnored, request: Request | None) -> AirbyteTracedException:
        what = (
            f"Wootric's API ignored a filter of /{self.path}: it answered record {ignored.row_id} with "
            f"{ignored.name} {describe(ignored.seconds[0])}..{describe(ignored.seconds[1])} to a request for "
            f"{ignored.name}[{ignored.op}]={describe(ignored.bound)}."
        )
        return AirbyteTracedException(
            message=(
                f"{self.label}: {what} Without working filters no range can be read completely, so the stream "
                "stops rather than miss records silently. Nothing in the configuration can fix this: retry later, "
                "and if it persists, report it to Wootric support with this message."
            ),
            internal_message=f"{what} Request: {request.params if request else None}",
            failure_type=FailureType.system_error,
        )


def describe(value: int | str | None) -> str:
    """A filter value for a log line: a second as ISO time and epoch, anything else as it is."""
    return f"{iso(value)} ({value})" if isinstance(value, int) else repr(value)


class RangeRead:
    """One range `[low, high]` of an endpoint: `params` is the request to send, `feed` takes its answer,
    `advance` plans the next. With a `request_budget`, the read stops once that many requests are spent."""

    def __init__(self, endpoint: Endpoint, low: int, high: int, request_budget: int | None = None):
        self.endpoint, self.low, self.high, self.request_budget = endpoint, low, high, request_budget
        self.account = endpoint.context.account
        self.planner = Planner(
            endpoint.dimensions,
            endpoint.tiebreak,
            low,
            high,
            clock=lambda: int(time.time()) - CLOCK_MARGIN,
            conduct=endpoint.conduct,
            **endpoint.planning,
        )
        self.requests_before = self.account.data_requests
        self.cut_short = False
        self.records = 0  # emitted by the stream
        self.objects = 0  # API objects read, for the floor in the summary
        self.logged_at = time.monotonic()
        self.request: Request | None = None  # the request to send, None once the read ends
        self.advance()

    @property
    def params(self) -> dict[str, Any] | None:
        return self.request.params if self.request is not None else None

    @property
    def spent(self) -> int:
        return self.account.data_requests - self.requests_before

    def feed(self, items: list[Any]) -> Page:
        try:
            emitted = self.planner.feed([self.endpoint.row(item) for item in items])
        except FiltersIgnored as ignored:
            raise self.endpoint.filters_ignored(ignored, self.request) from None
        fresh = [row.item for row in emitted if isinstance(row.id, int)]
        self.objects += len(fresh)
        self._progress()
        return Page(fresh, self.planner.complete_through)

    def advance(self) -> dict[str, Any] | None:
        """The next request's params; None when the range is read (then its reports) or the budget is spent.
        The planner is asked first: a range read to its end is complete even when that took the whole budget."""
        self.request = self.planner.next_request()
        if self.request is None:
            self.endpoint.report(self.planner)
        elif self.request_budget is not None and self.spent >= self.request_budget:
            self.cut_short, self.request = True, None
        return self.params

    def _progress(self) -> None:
        """Every half minute: how much of the range is covered, and what it cost."""
        if time.monotonic() - self.logged_at >= PROGRESS_EVERY_SECONDS:
            self.logged_at = time.monotonic()
            covered = (self.planner.complete_through - self.low + 1) / max(1, self.high - self.low + 1)
            self.endpoint.context.logger.info(
                f"{self.endpoint.label}: {max(0.0, covered):.0%} of {iso(self.low)}..{iso(self.high)} covered, "
                f"{self.objects} records, {self.spent} requests"
            )


class KeysetStream(WootricStream):
    """An incremental stream read by keyset over one time dimension (see the module's docstring)."""

    state_checkpoint_interval = PER_PAGE
    endpoint_reader: Endpoint

    def __init__(self, context: SyncContext):
        self._complete_through: int | None = None
        self._range: RangeRead | None = None  # the slice being read
        super().__init__(context)

    @property
    def state(self) -> MutableMapping[str, Any]:
        if self._complete_through is None:
            return {}
        return {
            "version": STATE_VERSION,
            self.cursor_field: iso(self._complete_through),
            **self.state_extension(),
        }

    @state.setter
    def state(self, value: Mapping[str, Any] | None) -> None:
        self._complete_through = parse_state(self.name, value, self.cursor_field)
        self.load_state_extension(value or {})

    def state_extension(self) -> dict[str, Any]:
        """Fields a stream adds to the version-1 state; a state without them stays valid."""
        return {}

    def load_state_extension(self, value: Mapping[str, Any]) -> None:
        """Reads the fields of `state_extension` back from a saved state (that may lack them)."""

    def check_state(self, value: Mapping[str, Any] | None) -> None:
        parse_state(self.name, value, self.cursor_field)

    def start_for(self, sync_mode: SyncMode, state: Mapping[str, Any] | None) -> int:
        """The first second a read in `sync_mode` from `state` asks for: after the state, or `start_date`."""
        resume_after = (
            parse_state(self.name, state, self.cursor_field) if sync_mode == SyncMode.incremental else None
        )
        return self.window_start(resume_after)

    def window_start(self, resume_after: int | None) -> int:
        start = self.context.config.start
        return start if resume_after is None else max(start, resume_after + 1)

    @abstractmethod
    def records(self, items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]: ...

    # -- HttpStream's loop -----------------------------------------------------------------------------
    def stream_slices(
        self, *, sync_mode: SyncMode, cursor_field: Any = None, stream_state: Any = None
    ) -> Iterable[Mapping[str, Any] | None]:
        """The range after the state (or from `start_date`) to now."""
        resume_after = self._complete_through if sync_mode == SyncMode.incremental else None
        high = self.context.high
        if resume_after is not None and resume_after > high:
            self.logger.warning(
                f"{self.name}: the saved state ({iso(resume_after)}) is later than now ({iso(high)}); "
                "nothing to read, state kept unchanged. Reset the stream if the state is wrong."
            )
            return
        yield {"low": self.window_start(resume_after), "high": high}

    def read_records(
        self,
        sync_mode: SyncMode,
        cursor_field: Any = None,
        stream_slice: Mapping[str, Any] | None = None,
        stream_state: Any = None,
    ) -> Iterable[Mapping[str, Any]]:
        """One slice: its range planned, HttpStream's page loop over it, then what the read tells."""
        assert stream_slice is not None
        self._range = self.range_for(stream_slice)
        if self._range.params is not None:
            yield from super().read_records(sync_mode, cursor_field, stream_slice, stream_state)
        self.slice_read(stream_slice, self._range)

    def request_params(self, stream_state: Any, stream_slice: Any = None, next_page_token: Any = None) -> Any:
        assert self._range is not None
        return self._range.params

    def parse_response(self, response: requests.Response, **kwargs: Any) -> Iterable[Mapping[str, Any]]:
        assert self._range is not None
        yield from self.emit(self.fed(self._range.feed(json_body(response))))

    def next_page_token(self, response: requests.Response) -> Mapping[str, Any] | None:
        assert self._range is not None
        return self._range.advance()

    # -- a slice's pages -------------------------------------------------------------------------------
    def range_for(self, stream_slice: Mapping[str, Any]) -> RangeRead:
        return self.endpoint_reader.range(stream_slice["low"], stream_slice["high"])

    def fed(self, page: Page) -> Page:
        """A page as the planner gave it out, before its records are emitted (end users spool it here)."""
        return page

    def emit(self, page: Page) -> Iterator[dict[str, Any]]:
        assert self._range is not None
        for record in self.records(page.items):
            self._range.records += 1
            yield record
        self.page_read(page)  # only once the page's records are out: a checkpoint never claims more

    def page_read(self, page: Page) -> None:
        if self._complete_through is None or page.complete_through > self._complete_through:
            self._complete_through = page.complete_through

    def slice_read(self, stream_slice: Mapping[str, Any], read: RangeRead) -> None:
        self.logger.info(
            f"{self.name}: read {iso(stream_slice['low'])}..{iso(stream_slice['high'])}: {read.records} records, "
            f"{read.spent} requests (floor {math.ceil(read.objects / PER_PAGE)})"
        )


def parse_state(stream: str, value: Mapping[str, Any] | None, cursor: str) -> int | None:
    """The second a saved state holds: `cursor` as UTC RFC 3339, or `<cursor>_epoch` (before 1.1.0)."""
    if not value:
        return None
    second = value.get(cursor, value.get(f"{cursor}_epoch")) if isinstance(value, Mapping) else None
    with contextlib.suppress(TypeError, ValueError):  # an epoch second, or anything else, stays as it is
        second = calendar.timegm(time.strptime(second, "%Y-%m-%dT%H:%M:%SZ"))
    if (
        not isinstance(value, Mapping)
        or value.get("version") != STATE_VERSION
        or not isinstance(second, int)
        or isinstance(second, bool)
        or second < 0
    ):
        raise config_error(
            f"The saved state of stream `{stream}` is not one this connector version writes "
            f'(expected {{"version": {STATE_VERSION}, "{cursor}": "YYYY-MM-DDTHH:MM:SSZ"}}, got {json.dumps(value)[:200]}). '
            f"Reset the stream `{stream}` (or clear its state) to read it again from `start_date`."
        )
    return second
