"""What every Wootric stream shares: the sync's context, keyset reading of a time range, and state."""

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
from source_wootric.signals import RateLimitSignals
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

    @cached_property
    def segments(self) -> list[dict[str, Any]]:
        """The account's custom property definitions: one request per sync, when first needed."""
        return [segment for segment in self.client.get("segments") if isinstance(segment, dict)]

    @cached_property
    def property_data_types(self) -> dict[str, str]:
        return {s["name"]: s.get("data_type") for s in self.segments if isinstance(s.get("name"), str)}


@dataclass
class Page:
    items: list[dict[str, Any]]  # the API objects of this page that the sync has not emitted yet
    complete_through: int


class KeysetReader:
    """Reads `[low, high]` of an endpoint as `paging.Planner` plans it, logging progress as it goes, and says
    once per sync what the endpoint did that a well-behaved API does not (see paging.Behaviour)."""

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

    def pages(self, low: int, high: int) -> Iterator[Page]:
        client, logger = self.context.client, self.context.logger
        margin = self.context.config.tuning.clock_margin
        planner = Planner(
            self.dimensions,
            self.tiebreak_sort_key,
            low,
            high,
            first_dimension_moves=self.first_dimension_moves,
            clock=lambda: int(time.time()) - margin,
            tie_filter=self.tie_filter,
            conduct=self.conduct,
        )
        progress = Progress(self.stream, low, high, client, logger)
        while (request := planner.next_request()) is not None:
            items = client.get(self.endpoint, request.params)
            rows = [self._row(item) for item in items]
            try:
                emitted = planner.feed(rows)
            except FiltersIgnored as ignored:
                raise self._filters_ignored(ignored, request) from None
            fresh = [row.item for row in emitted if isinstance(row.id, int)]
            yield Page(fresh, planner.complete_through)
            progress.page(len(fresh), planner.complete_through)
        for gap in planner.unreachable:
            where = ", ".join(f"{name} = {describe(value)}" for name, value in gap.fixed)
            logger.warning(
                f"{self.stream}: Wootric's API cannot reach every record where {where}: {gap.reason}; "
                f"{gap.records_seen} were read and emitted, any others were not."
            )
        self._report_conduct()
        if self.records_without_id:
            logger.warning(
                f"{self.stream}: {self.records_without_id} records had no readable id and were skipped."
            )

    def _report_conduct(self) -> None:
        """One line per behaviour and sync: a WARN for what the API should not do, INFO for shared e-mails."""
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
                self.context.logger.info(line)
            else:
                self.context.logger.warning(line)

    def _filters_ignored(self, ignored: FiltersIgnored, request: Request) -> AirbyteTracedException:
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
            internal_message=f"{what} Request: {request.params}",
            failure_type=FailureType.system_error,
        )

    def _row(self, item: Any) -> Row:
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
                f"{self.client.budget.describe()}"
            )


class WootricStream(HttpStream, ABC):
    """A Wootric stream. Requests go through the shared `WootricClient` (see client.py), and each stream's
    `read_records` drives its own paging, so HttpStream's page loop and its hooks below are not used."""

    primary_key: str | list[str] = "id"
    endpoint: str

    def __init__(self, context: SyncContext):
        self.context = context
        self.shape = Shaper(self.name, lambda: context.zone, context.logger)
        super().__init__(authenticator=None)

    @property
    def is_resumable(self) -> bool:
        # Only the incremental streams checkpoint; HttpStream's state setter would otherwise make the CDK
        # loop a full-refresh stream as "resumable full refresh" until a completion state it never sets.
        return self.supports_incremental

    @property
    def url_base(self) -> str:
        return self.context.client.host.url("")

    def read(self, *args: Any, **kwargs: Any) -> Iterable[Any]:
        # The CDK's read (records, checkpoints), with the statuses of rate-limit waits told as they end.
        return self.context.signals.around(self.name, super().read(*args, **kwargs))

    def check_state(self, value: Mapping[str, Any] | None) -> None:
        """Raises the config error that `value` as this stream's state would raise, without applying it:
        the CDK applies each stream's state when the stream starts."""

    def path(self, **kwargs: Any) -> str:
        return self.endpoint

    def next_page_token(self, response: requests.Response) -> Mapping[str, Any] | None:
        return None  # never called: paging is planned in read_records

    def parse_response(self, response: requests.Response, **kwargs: Any) -> Iterable[Mapping[str, Any]]:
        yield from ()  # never called: records are shaped in read_records

    def summary(self, records: int, requests_before: int, extra: str = "") -> None:
        requests_made = self.context.client.total_requests - requests_before
        unreadable = sum(self.shape.unreadable.values())
        self.logger.info(
            f"{self.name}: done, {records} records, {requests_made} requests"
            + (f", {unreadable} unreadable values emitted as null" if unreadable else "")
            + extra
        )


class KeysetStream(WootricStream, ABC):
    """An incremental stream read by keyset over one time dimension; its state is the newest second
    through which every record has been emitted (`{"version": 1, "<cursor>_epoch": <second>}`)."""

    state_key: str
    state_checkpoint_interval = PER_PAGE

    def __init__(self, context: SyncContext):
        self._complete_through: int | None = None
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
    def pages(self, low: int, high: int) -> Iterator[Page]: ...

    @abstractmethod
    def records(self, items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]: ...

    def read_records(
        self,
        sync_mode: SyncMode,
        cursor_field: list[str] | None = None,
        stream_slice: Mapping[str, Any] | None = None,
        stream_state: Mapping[str, Any] | None = None,
    ) -> Iterable[Mapping[str, Any]]:
        resume_after = self._complete_through if sync_mode == SyncMode.incremental else None
        high = self.context.high
        if resume_after is not None and resume_after > high:
            self.logger.warning(
                f"{self.name}: the saved state ({iso(resume_after)}) is later than now ({iso(high)}); "
                "nothing to read, state kept unchanged. Reset the stream if the state is wrong."
            )
            return
        low = self.window_start(resume_after)
        requests_before, count, objects = self.context.client.total_requests, 0, 0
        for page in self.pages(low, high):
            objects += len(page.items)
            for record in self.records(page.items):
                count += 1
                yield record
            # Moved only once the page's records are out: a checkpoint never claims more than was emitted.
            if self._complete_through is None or page.complete_through > self._complete_through:
                self._complete_through = page.complete_through
        floor = math.ceil(objects / PER_PAGE)
        self.summary(count, requests_before, f" (floor {floor}), read {iso(low)}..{iso(high)}")


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
