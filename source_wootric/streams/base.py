"""What every Wootric stream shares: the sync's context, and HttpStream wired to the account's authenticator,
budget, error handler and backoff (http.py), with the statuses of rate-limit waits and a closing summary."""

from __future__ import annotations

import logging
import time
from abc import ABC
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property, lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import requests
from airbyte_cdk.models import AirbyteStreamStatus, StreamDescriptor, Type
from airbyte_cdk.sources.streams.http import HttpStream
from airbyte_cdk.utils.stream_status_utils import as_airbyte_message

from source_wootric.config import WootricConfig
from source_wootric.http import (
    TIMEOUTS,
    Account,
    WootricBackoff,
    WootricErrorHandler,
    error_detail,
    json_body,
)
from source_wootric.records import Shaper
from source_wootric.timezone import AccountZone, learn_account_zone

CLOCK_MARGIN = 10  # seconds: the newest are left to the next sync, in case Wootric's clock lags ours


@lru_cache(maxsize=64)  # the keyset streams' state holds it, and the CDK asks for the state per record
def iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class SyncContext:
    """One per sync, shared by every stream: the config, the account, and what the streams learn."""

    config: WootricConfig
    account: Account
    logger: logging.Logger
    started_at: int = field(default_factory=lambda: int(time.time()))  # the sync's "now"
    # created_at seconds of responses and declines the passes found written or edited since they last went by:
    # nps_summary, read after them, re-reads the periods that hold them.
    changed_seconds: set[int] = field(default_factory=set)
    segments_read: list[dict[str, Any]] | None = None  # the custom property definitions, once read
    records: int = 0  # emitted by the streams read so far

    @property
    def high(self) -> int:
        """The newest second this sync reads; newer records are left whole to the next sync."""
        return self.started_at - CLOCK_MARGIN

    @cached_property
    def account_zone(self) -> AccountZone:
        """The account's time zone, learnt by a few requests the first time a stream needs it."""
        return learn_account_zone(self.account, self.config.account_timezone, self.logger, self.started_at)

    @property
    def zone(self) -> ZoneInfo:
        return self.account_zone.zone

    def keep_segments(self, answer: list[Any]) -> list[dict[str, Any]]:
        self.segments_read = [segment for segment in answer if isinstance(segment, dict)]
        return self.segments_read

    @cached_property
    def property_data_types(self) -> dict[str, str]:
        """The data type of each custom property: from the segments stream's answer if it came first, else
        from one request of its own (one request per sync either way)."""
        segments = (
            self.segments_read
            if self.segments_read is not None
            else self.keep_segments(self.account.get("segments", {}))
        )
        return {s["name"]: s.get("data_type") for s in segments if isinstance(s.get("name"), str)}


class WootricStream(HttpStream, ABC):
    """A Wootric stream on HttpStream's page loop; `expect` is the JSON type of its answers (another is
    retried), `absent` the statuses whose JSON answer reaches `parse_response`: paths that an account, its plan
    or its region may not serve (Wootric's v2 API, survey templates) end the stream with one WARN
    (`not_served`)."""

    primary_key: str | list[str] = "id"
    endpoint: str
    api_version = "v1"
    expect: type = list
    absent: tuple[int, ...] = ()

    def __init__(self, context: SyncContext):
        self.context = context
        self.shape = Shaper(self.name, lambda: context.zone, context.logger)
        self.served = True
        self.records_read = 0
        super().__init__(authenticator=context.account.authenticator, api_budget=context.account.budget)
        if not self.supports_incremental:
            # One request, or a replay: not HttpStream's "resumable full refresh", which the CDK would loop
            # until a completion state, and whose state a platform would hand back to the next sync.
            self.cursor = None

    @property
    def is_resumable(self) -> bool:
        return self.supports_incremental

    @property
    def url_base(self) -> str:
        return self.context.account.authenticator.host.url("", self.api_version)

    def path(self, **kwargs: Any) -> str:
        return self.endpoint

    def request_kwargs(self, *args: Any, **kwargs: Any) -> Mapping[str, Any]:
        return TIMEOUTS

    def get_error_handler(self) -> WootricErrorHandler:
        return WootricErrorHandler(self.context.account, self.expect, absent=self.absent)

    def get_backoff_strategy(self) -> WootricBackoff:
        return WootricBackoff(self.context.account)

    def read(self, *args: Any, **kwargs: Any) -> Iterable[Any]:
        """The CDK's read, with a plain RUNNING before the first record after a rate-limit wait (http.Account
        tells the wait), closed by the stream's summary: the records it emitted and the requests made while it
        read (a read shared with another stream is counted where it happens)."""
        account, context = self.context.account, self.context
        requests_before, started, records = account.data_requests, time.monotonic(), 0
        account.stream, account.told_wait = self.name, False
        for message in super().read(*args, **kwargs):
            if isinstance(message, Mapping) or getattr(message, "type", None) == Type.RECORD:
                records += 1
                if account.told_wait:
                    account.told_wait = False
                    yield as_airbyte_message(StreamDescriptor(name=self.name), AirbyteStreamStatus.RUNNING)
            yield message
        account.stream, context.records = None, context.records + records
        unreadable = sum(self.shape.unreadable.values())
        self.logger.info(
            f"{self.name}: done, {records} records, {account.data_requests - requests_before} requests, "
            f"{time.monotonic() - started:.0f} s"
            + (f", {unreadable} unreadable values emitted as null" if unreadable else "")
            + self.read_note()
        )

    def read_note(self) -> str:
        """What the summary adds: how the records were read when not only by the stream's own requests."""
        return ""

    def check_state(self, value: Mapping[str, Any] | None) -> None:
        """Raises the config error that `value` as this stream's state would raise, without applying it."""

    def next_page_token(self, response: requests.Response) -> Mapping[str, Any] | None:
        return None  # one answer per request (a period, or the whole list); the keyset streams page

    def objects(self, column: str, items: Any) -> Iterator[Mapping[str, Any]]:
        """The objects of a listed answer, counted as read; an item that is not an object is logged, not emitted."""
        for item in self.shape.any_list(column, items) or []:
            if raw := self.shape.mapping(column, item):
                self.records_read += 1
                yield raw

    def served_answer(self, response: requests.Response) -> Any:
        """The answer's JSON; None, after one WARN, when its status says the path is not served (`absent`)."""
        if response.status_code in self.absent:
            self.not_served(response)
            return None
        return json_body(response)

    def not_served(self, response: requests.Response) -> None:
        self.served = False
        self.logger.warning(
            f"{self.name}: Wootric answered HTTP {response.status_code} for {response.url.split('?', 1)[0]}"
            f"{error_detail(response)}. This account, its plan or its region does not serve it (Wootric's "
            f"{self.api_version} API); the stream ends here, after {self.records_read} records."
        )
