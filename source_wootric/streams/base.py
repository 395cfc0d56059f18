"""What every Wootric stream shares: the sync's context, HttpStream wiring, keyset reading of a time range on
HttpStream's page loop, and state."""

from __future__ import annotations

import json
import logging
import math
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

import requests
from airbyte_cdk.models import FailureType, SyncMode
from airbyte_cdk.sources.streams.http import HttpStream
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_wootric.client import WootricClient
from source_wootric.config import WootricConfig, config_error
from source_wootric.errors import error_detail
from source_wootric.paging import (
    PER_PAGE,
    Behaviour,
    Dimension,
    EndpointConduct,
    FiltersIgnored,
    Planner,
    Request,
    Row,
    Seconds,
)
from source_wootric.records import Shaper, whole_number
from source_wootric.retries import WootricBackoff, WootricErrorHandler, decoded
from source_wootric.signals import RateLimitSignals, is_record
from source_wootric.timezone import instant_range
from source_wootric.zone_probe import AccountZone, learn_account_zone

STATE_VERSION = 1
PROGRESS_EVERY_SECONDS = 30.0


def iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class SyncContext:
    """One per sync, shared by every stream: the config, the one HTTP client, and the sync's time bounds."""

    config: WootricConfig
    client: WootricClient
    logger: logging.Logger
    started_at: int = 0  # the sync's "now": WOOTRIC_NOW (Tuning.now) if set, else the clock
    signals: RateLimitSignals = field(default_factory=RateLimitSignals)
    # created_at seconds of responses and declines the sweep found written or edited since it last passed
    # by: nps_summary (read after them) re-reads the periods that hold them.
    backdated_seconds: set[int] = field(default_factory=set)
    segments_read: list[dict[str, Any]] | None = None  # the custom property definitions, once read
    records: int = 0  # emitted by the streams read so far

    def __post_init__(self) -> None:
        self.started_at = self.started_at or self.config.tuning.now or int(time.time())
        self.client.on_wait = self.signals.waited

    @property
    def high(self) -> int:
        """The newest second this sync reads; newer records are left whole to the next sync."""
        return self.started_at - self.config.tuning.clock_margin

    @cached_property
    def account_zone(self) -> AccountZone:
        """The account's time zone, learnt by a few requests the first time a stream needs it (before its
        first record), then the same for every stream of the sync; see zone_probe.py."""
        return learn_account_zone(self.client, self.config.account_timezone, self.logger, self.started_at)

    @property
    def zone(self) -> ZoneInfo:
        """The zone in force: datetimes without an offset are shaped in it, NPS periods follow it."""
        return self.account_zone.zone

    @property
    def paging_zone(self) -> ZoneInfo | None:
        """The zone paging reads offset-less datetimes in (timezone.instant_range); None while unknown."""
        return self.account_zone.paging_zone

    def keep_segments(self, answer: list[Any]) -> list[dict[str, Any]]:
        """The account's custom property definitions, as one answer gave them: kept for the rest of the sync."""
        self.segments_read = [segment for segment in answer if isinstance(segment, dict)]
        return self.segments_read

    @cached_property
    def property_data_types(self) -> dict[str, str]:
        """The data type of each custom property: from the segments stream's answer if it came first, else
        from one request of their own (one request per sync either way)."""
        segments = (
            self.segments_read
            if self.segments_read is not None
            else self.keep_segments(self.client.get("segments"))
        )
        return {s["name"]: s.get("data_type") for s in segments if isinstance(s.get("name"), str)}


@dataclass
class Page:
    items: list[dict[str, Any]]  # the API objects of this page that the sync has not emitted yet
    complete_through: int


class KeysetReader:
    """Reads ranges of one endpoint as `paging.Planner` plans them, and says once per sync what the endpoint did
    that a well-behaved API does not (see paging.Behaviour)."""

    def __init__(
        self,
        context: SyncContext,
        stream: str,
        endpoint: str,
        dimensions: list[Dimension],
        tiebreak_sort_key: str,
        first_dimension_moves: bool = False,
        tie_filter: str | None = None,
    ):
        self.context = context
        self.stream = stream
        self.endpoint = endpoint
        self.dimensions = dimensions
        self.tiebreak_sort_key = tiebreak_sort_key
        self.first_dimension_moves = first_dimension_moves
        self.tie_filter = tie_filter
        self.records_without_id = 0
        self.conduct = EndpointConduct()  # one per endpoint and sync: every range read here shares it
        self._reported: set[Behaviour] = set()

    def range(self, low: int, high: int, request_budget: int | None = None) -> RangeRead:
        return RangeRead(self, low, high, request_budget)

    def report(self, planner: Planner) -> None:
        """What a range read to its end could not reach, and the endpoint's conduct: once per behaviour and sync,
        a WARN for what the API should not do, INFO for shared e-mails."""
        logger = self.context.logger
        for gap in planner.unreachable:
            where = ", ".join(f"{name} = {describe(value)}" for name, value in gap.fixed)
            logger.warning(
                f"{self.stream}: Wootric's API cannot reach every record where {where}: {gap.reason}; "
                f"{gap.records_seen} were read and emitted, any others were not."
            )
        for behaviour, example in self.conduct.observed.items():
            if behaviour in self._reported:
                continue
            self._reported.add(behaviour)
            cost = self.conduct.extra_cost(behaviour)
            line = (
                f"{self.stream}: the endpoint /{self.endpoint} {behaviour.value} ({example}); every record was "
                f"still read where not reported otherwise, at {cost} extra requests so far in this sync."
            )
            if behaviour is Behaviour.SHARED_TIES:
                logger.info(line)
            else:
                logger.warning(line)
        if self.records_without_id:
            logger.warning(
                f"{self.stream}: {self.records_without_id} records had no readable id and were skipped."
            )

    def filters_ignored(self, ignored: FiltersIgnored, request: Request | None) -> AirbyteTracedException:
        what = (
            f"Wootric's API ignored a filter of /{self.endpoint}: it answered record {ignored.row_id} with "
            f"{ignored.name} {describe(ignored.seconds[0])}..{describe(ignored.seconds[1])} to a request for "
            f"{ignored.name}[{ignored.op}]={describe(ignored.bound)}."
        )
        return AirbyteTracedException(
            message=(
                f"{self.stream}: {what} Without working filters no range can be read completely, so the stream "
                "stops rather than miss records silently. Nothing in the configuration can fix this: retry later, "
                "and if it persists, report it to Wootric support with this message."
            ),
            internal_message=f"{what} Request: {request.params if request else None}",
            failure_type=FailureType.system_error,
        )

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
            lambda: item.get(self.tiebreak_sort_key),
            item,
        )

    def seconds(self, value: Any) -> Seconds | None:
        """The earliest and latest instant a datetime as the API sends it can be (a range for an offset-less one,
        see timezone.instant_range); None if it cannot be read."""
        return instant_range(value, self.context.paging_zone)


class RangeRead:
    """One range `[low, high]` of an endpoint on HttpStream's page loop: `params` is the request to send, `feed`
    takes its answer (the stream's parse_response), `advance` plans the next (its next_page_token). With a
    `request_budget`, the read stops once that many requests are spent (`cut_short`)."""

    def __init__(self, reader: KeysetReader, low: int, high: int, request_budget: int | None = None):
        context = reader.context
        self.reader, self.low = reader, low
        margin = context.config.tuning.clock_margin
        self.planner = Planner(
            reader.dimensions,
            reader.tiebreak_sort_key,
            low,
            high,
            first_dimension_moves=reader.first_dimension_moves,
            clock=lambda: int(time.time()) - margin,
            tie_filter=reader.tie_filter,
            conduct=reader.conduct,
        )
        self.client = context.client
        self.requests_before = self.client.total_requests
        self.request_budget = request_budget
        self.cut_short = False
        self.records = 0  # emitted by the stream
        self.objects = 0  # API objects read, for the floor in the summary
        self.progress = Progress(reader.stream, low, high, self.client, context.logger)
        self.request: Request | None = None  # the request to send, None once the read ends
        self.advance()

    @property
    def params(self) -> dict[str, Any] | None:
        return self.request.params if self.request is not None else None

    @property
    def spent(self) -> int:
        return self.client.total_requests - self.requests_before

    def feed(self, items: list[Any]) -> Page:
        rows = [self.reader.row(item) for item in items]
        try:
            emitted = self.planner.feed(rows)
        except FiltersIgnored as ignored:
            raise self.reader.filters_ignored(ignored, self.request) from None
        fresh = [row.item for row in emitted if isinstance(row.id, int)]
        self.objects += len(fresh)
        self.progress.page(len(fresh), self.planner.complete_through)
        return Page(fresh, self.planner.complete_through)

    def advance(self) -> dict[str, Any] | None:
        """The next request's params; None when the range is read (then its reports) or the budget is spent."""
        if self.request_budget is not None and self.spent >= self.request_budget:
            self.cut_short, self.request = True, None
            return None
        self.request = self.planner.next_request()
        if self.request is None:
            self.reader.report(self.planner)
        return self.params


def describe(value: int | str | None) -> str:
    """A filter value for a log line: a second as ISO time and epoch, anything else as it is."""
    return f"{iso(value)} ({value})" if isinstance(value, int) else repr(value)


class Progress:
    """Logs, every half minute, how much of the range a stream has covered and what it cost."""

    def __init__(self, stream: str, low: int, high: int, client: WootricClient, logger: logging.Logger):
        self.stream, self.low, self.high = stream, low, high
        self.client, self.logger = client, logger
        self.records = 0
        self.requests_before = client.total_requests
        self.last_log = time.monotonic()

    def page(self, records: int, complete_through: int) -> None:
        self.records += records
        if time.monotonic() - self.last_log >= PROGRESS_EVERY_SECONDS:
            self.last_log = time.monotonic()
            covered = (complete_through - self.low + 1) / max(1, self.high - self.low + 1)
            self.logger.info(
                f"{self.stream}: {max(0.0, covered):.0%} of {iso(self.low)}..{iso(self.high)} covered, "
                f"{self.records} records, {self.client.total_requests - self.requests_before} requests, "
                f"{self.client.budget.state.describe()}"
            )


class WootricStream(HttpStream, ABC):
    """A Wootric stream on HttpStream's page loop: `url_base`, `path` and `request_params` build a request, the
    CDK's HttpClient sends and retries it through the account's session, authenticator, budget, error handler
    and backoff (client.py), `parse_response` shapes its records and `next_page_token` says what comes next."""

    primary_key: str | list[str] = "id"
    endpoint: str
    api_version = "v1"
    expect: type = list  # the JSON type of the endpoint's answers; another answer is retried
    # A JSON 404 reaches parse_response instead of failing the stream: Wootric's v2 paths, which an account or
    # region may not serve; the stream then ends with one WARN (`not_served`).
    not_found_ok = False

    def __init__(self, context: SyncContext):
        self.context = context
        self.shape = Shaper(self.name, lambda: context.zone, context.logger)
        self.served = True
        self.records_read = 0
        super().__init__(authenticator=context.client.authenticator, api_budget=context.client.budget)
        # HttpStream gives each stream an HttpClient on a session of its own, which re-reads the environment's
        # proxy settings on every request (requests.Session.merge_environment_settings): ours sends through the
        # account's one session (client.WootricClient.http_client).
        self._http_client = context.client.http_client(self.name, self.get_error_handler())
        if not self.supports_incremental:
            # Not HttpStream's "resumable full refresh" cursor: these streams are one request, or a replay.
            self.cursor = None

    @property
    def is_resumable(self) -> bool:
        # Only the incremental streams checkpoint; HttpStream's state setter would otherwise make the CDK
        # loop a full-refresh stream as "resumable full refresh" until a completion state it never sets.
        return self.supports_incremental

    @property
    def url_base(self) -> str:
        return self.context.client.host.url("", self.api_version)

    def path(self, **kwargs: Any) -> str:
        return self.endpoint

    def get_error_handler(self) -> WootricErrorHandler:
        return WootricErrorHandler(self.context.client, self.expect, not_found_ok=self.not_found_ok)

    def get_backoff_strategy(self) -> WootricBackoff:
        return self.context.client.backoff

    def request_kwargs(self, *args: Any, **kwargs: Any) -> Mapping[str, Any]:
        return self.context.client.request_kwargs(self.url_base)

    def read(self, *args: Any, **kwargs: Any) -> Iterable[Any]:
        """The CDK's read (records, checkpoints, statuses), closed by the stream's summary: the records it
        emitted and the requests made while it read (shared reads are counted where they happen)."""
        context = self.context
        requests_before, started, records = context.client.total_requests, time.monotonic(), 0
        for message in context.signals.around(self.name, super().read(*args, **kwargs)):
            records += is_record(message)
            yield message
        context.records += records
        unreadable = sum(self.shape.unreadable.values())
        self.logger.info(
            f"{self.name}: done, {records} records, {context.client.total_requests - requests_before} requests, "
            f"{time.monotonic() - started:.0f} s"
            + (f", {unreadable} unreadable values emitted as null" if unreadable else "")
            + self.read_note()
        )

    def read_note(self) -> str:
        """What the summary adds: how the stream's records were read when not only by its own requests."""
        return ""

    def check_state(self, value: Mapping[str, Any] | None) -> None:
        """Raises the config error that `value` as this stream's state would raise, without applying it:
        the CDK applies each stream's state when the stream starts."""

    def not_served(self, response: requests.Response) -> None:
        self.served = False
        self.logger.warning(
            f"{self.name}: Wootric answered HTTP 404 for {response.url.split('?', 1)[0]}{error_detail(response)}. "
            f"This account or its region does not serve Wootric's {self.api_version} API for it; the stream ends "
            f"here, after {self.records_read} records."
        )


class KeysetStream(WootricStream, ABC):
    """An incremental stream read by keyset over one time dimension; its state is the newest second
    through which every record has been emitted (`{"version": 1, "<cursor>_epoch": <second>}`).

    Each slice is a range of seconds, read on HttpStream's page loop as `reader` plans it (see RangeRead)."""

    state_key: str
    state_checkpoint_interval = PER_PAGE
    reader: KeysetReader

    def __init__(self, context: SyncContext):
        self._complete_through: int | None = None
        self._range: RangeRead | None = None  # the slice being read
        super().__init__(context)

    @property
    def state(self) -> MutableMapping[str, Any]:
        if self._complete_through is None:
            return {}
        return {"version": STATE_VERSION, self.state_key: self._complete_through, **self.state_extension()}

    @state.setter
    def state(self, value: Mapping[str, Any] | None) -> None:
        self._complete_through = parse_state(self.name, value, self.state_key)
        self.load_state_extension(value or {})

    def state_extension(self) -> dict[str, Any]:
        """Fields a stream adds to the version-1 state; a state without them stays valid."""
        return {}

    def load_state_extension(self, value: Mapping[str, Any]) -> None:
        """Reads the fields of `state_extension` back from a saved state (that may lack them)."""

    def check_state_extension(self, value: Mapping[str, Any]) -> None:
        """Raises the config error that `load_state_extension(value)` would raise, without applying it."""

    def check_state(self, value: Mapping[str, Any] | None) -> None:
        parse_state(self.name, value, self.state_key)
        self.check_state_extension(value or {})

    def start_for(self, sync_mode: SyncMode, state: Mapping[str, Any] | None) -> int:
        """The first second a read in `sync_mode` from `state` asks for: after the state, or `start_date`."""
        incremental = sync_mode == SyncMode.incremental
        return self.window_start(parse_state(self.name, state, self.state_key) if incremental else None)

    def window_start(self, resume_after: int | None) -> int:
        start = self.context.config.start
        return start if resume_after is None else max(start, resume_after + 1)

    @abstractmethod
    def records(self, items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]: ...

    # -- HttpStream's loop -----------------------------------------------------------------------------
    def stream_slices(
        self, *, sync_mode: SyncMode, cursor_field: list[str] | None = None, stream_state: Any = None
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
        cursor_field: list[str] | None = None,
        stream_slice: Mapping[str, Any] | None = None,
        stream_state: Mapping[str, Any] | None = None,
    ) -> Iterable[Mapping[str, Any]]:
        """One slice: its range planned, HttpStream's page loop over it, then what the read tells."""
        assert stream_slice is not None
        self._range = self.range_for(stream_slice)
        if self._range.params is not None:
            yield from super().read_records(sync_mode, cursor_field, stream_slice, stream_state)
        self.slice_read(stream_slice, self._range)

    def request_params(self, stream_state: Any, stream_slice: Any = None, next_page_token: Any = None) -> Any:
        """The request the planner plans next: the range's first, then each that next_page_token announced."""
        assert self._range is not None
        return self._range.params

    def parse_response(self, response: requests.Response, **kwargs: Any) -> Iterable[Mapping[str, Any]]:
        assert self._range is not None
        yield from self.emit(self.fed(self._range.feed(decoded(response))))

    def next_page_token(self, response: requests.Response) -> Mapping[str, Any] | None:
        assert self._range is not None
        return self._range.advance()

    # -- a slice's pages -------------------------------------------------------------------------------
    def range_for(self, stream_slice: Mapping[str, Any]) -> RangeRead:
        return self.reader.range(stream_slice["low"], stream_slice["high"])

    def fed(self, page: Page) -> Page:
        """A page as the planner gave it out, before its records are emitted (end users spool it here)."""
        return page

    def emit(self, page: Page) -> Iterator[dict[str, Any]]:
        assert self._range is not None
        for record in self.records(page.items):
            self._range.records += 1
            yield record
        # Moved only once the page's records are out: a checkpoint never claims more than was emitted.
        self.page_read(page)

    def page_read(self, page: Page) -> None:
        if self._complete_through is None or page.complete_through > self._complete_through:
            self._complete_through = page.complete_through

    def slice_read(self, stream_slice: Mapping[str, Any], read: RangeRead) -> None:
        self.logger.info(
            f"{self.name}: read {iso(stream_slice['low'])}..{iso(stream_slice['high'])}: {read.records} records, "
            f"{read.spent} requests (floor {math.ceil(read.objects / PER_PAGE)})"
        )


def parse_state(stream: str, value: Mapping[str, Any] | None, key: str) -> int | None:
    if not value:
        return None
    second = value.get(key) if isinstance(value, Mapping) else None
    if (
        not isinstance(value, Mapping)
        or value.get("version") != STATE_VERSION
        or not isinstance(second, int)
        or isinstance(second, bool)
        or second < 0
    ):
        raise config_error(
            f"The saved state of stream `{stream}` is not one this connector version writes "
            f'(expected {{"version": {STATE_VERSION}, "{key}": <epoch seconds>}}, got {json.dumps(value)[:200]}). '
            f"Reset the stream `{stream}` (or clear its state) to read it again from `start_date`."
        )
    return second
