"""End users and their custom properties: two streams, one read of the API.

`end_users_properties` is a substream of `end_users`, but it never asks the API for its parents again: with
both streams in the catalog, whichever reads first starts at the earlier of the two streams' starts and spools
the pages to a local file; the other replays that file. Each is given the end users from its own start. A
stream read alone reads the API itself. (The CDK's HttpSubStream would re-read the parents with the parent's
own state.)
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from typing import IO, Any, ClassVar

from airbyte_cdk.models import SyncMode

from source_wootric import records
from source_wootric.answers import Dimension
from source_wootric.streams.base import SyncContext
from source_wootric.streams.keyset import Endpoint, KeysetStream, Page, RangeRead

SPOOL_MAX_BYTES = 2 * 1024**3  # about 0.8 kB an end user; past it, the other stream reads the API itself


class EndUserPages:
    """The end users read once per sync for both end-user streams. With `shared_start` (both streams in the
    catalog), the first stream to read starts there and spools its pages to a temporary file; the other
    replays them. A spool that would pass SPOOL_MAX_BYTES is dropped."""

    def __init__(self, context: SyncContext, shared_start: int | None = None):
        self.context, self.shared_start = context, shared_start
        dimensions = [Dimension("updated", "updated_at"), Dimension("created", "created_at")]
        self.endpoint = Endpoint(
            context,
            "end_users",
            "end_users",
            dimensions,
            "email",
            first_dimension_moves=True,
            tie_filter="email",
        )
        self._spooled_once = False  # only the first of the two reads is spooled
        self._spool: IO[str] | None = None  # being written
        self._spool_size = 0
        self._spooled: tuple[tuple[int, int], IO[str]] | None = None  # a whole read of (start, high)

    def start(self, low: int) -> int:
        return low if self.shared_start is None else min(low, self.shared_start)

    def begin(self) -> None:
        if self.shared_start is not None and not self._spooled_once:
            self._spooled_once, self._spool_size = True, 0
            self._spool = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115 (closed by end or replay)

    def spool(self, page: Page) -> None:
        if self._spool is None:
            return
        line = json.dumps([page.complete_through, page.items], separators=(",", ":")) + "\n"
        self._spool_size += len(line)  # ASCII (json.dumps escapes the rest): characters are bytes
        if self._spool_size <= SPOOL_MAX_BYTES:
            self._spool.write(line)
            return
        self.end(None)
        self.context.logger.warning(
            f"end users: the local spool would pass {SPOOL_MAX_BYTES} bytes; the other end-user stream will read the end users from the API again."
        )

    def end(self, whole: tuple[int, int] | None) -> None:
        """After the first read: its spool is kept for the other stream if the read was `whole`, else dropped."""
        if self._spool is not None and whole is not None:
            self.context.logger.info(
                f"end users: {self._spool_size} bytes spooled for the other end-user stream"
            )
            self._spooled = (whole, self._spool)
        elif self._spool is not None:
            self._spool.close()
        self._spool = None

    def replay(self, start: int, high: int) -> Iterator[Page] | None:
        """The pages of `[start, high]` if this sync spooled them; else None (and the spool is dropped)."""
        spooled, self._spooled = self._spooled, None
        if spooled is None or spooled[0] != (start, high):
            if spooled is not None:
                spooled[1].close()
            return None
        return self._pages(spooled[1])

    def _pages(self, spool: IO[str]) -> Iterator[Page]:
        self.context.logger.info("end users: replaying this sync's pages from the local spool, no requests")
        with spool:
            spool.seek(0)
            for line in spool:
                complete_through, items = json.loads(line)
                yield Page(items, complete_through)

    def since(self, low: int, page: Page) -> Page:
        """The page's end users updated at or after `low` (and any whose second cannot be read: better twice),
        when the read started earlier, at the other stream's start."""
        if self.start(low) == low:
            return page
        kept = [
            item
            for item in page.items
            if (s := self.endpoint.seconds(item.get("updated_at"))) is None or s[1] >= low
        ]
        return Page(kept, page.complete_through)


class EndUserStream(KeysetStream):
    cursor_field = "updated_at"
    endpoint = "end_users"

    def __init__(self, context: SyncContext, pages: EndUserPages):
        self.pages = pages
        super().__init__(context)
        self.endpoint_reader = pages.endpoint
        self._low = 0  # this stream's own start in the slice being read
        self.replayed = False

    def read_records(
        self,
        sync_mode: SyncMode,
        cursor_field: Any = None,
        stream_slice: Mapping[str, Any] | None = None,
        stream_state: Any = None,
    ) -> Iterable[Mapping[str, Any]]:
        assert stream_slice is not None
        self._low, high = stream_slice["low"], stream_slice["high"]
        start = self.pages.start(self._low)
        replay = self.pages.replay(start, high)
        if replay is None:
            self.pages.begin()
            try:
                yield from super().read_records(sync_mode, cursor_field, stream_slice, stream_state)
            except BaseException:
                self.pages.end(None)
                raise
            self.pages.end((start, high))
            return
        # The other end-user stream read these pages earlier in this sync: from disk, not the page loop.
        self.replayed = True
        self._range = self.endpoint_reader.range(start, high, request_budget=0)
        for page in replay:
            self._range.objects += len(page.items)
            yield from self.emit(self.pages.since(self._low, page))
        self.slice_read(stream_slice, self._range)

    def range_for(self, stream_slice: Mapping[str, Any]) -> RangeRead:
        return self.endpoint_reader.range(self.pages.start(stream_slice["low"]), stream_slice["high"])

    def fed(self, page: Page) -> Page:
        self.pages.spool(page)
        return self.pages.since(self._low, page)

    def read_note(self) -> str:
        other = "end_users_properties" if self.name == "end_users" else "end_users"
        return (
            f" (the end users {other} read earlier in this sync, replayed from disk)" if self.replayed else ""
        )


class EndUsers(EndUserStream):
    primary_key = "id"

    def records(self, items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for item in items:
            yield records.end_user(item, self.shape)


class EndUsersProperties(EndUserStream):
    primary_key: ClassVar[list[str]] = ["end_user_id", "property_key"]

    def records(self, items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        data_types = self.context.property_data_types.get
        for item in items:
            yield from records.end_user_properties(item, self.shape, data_types)
