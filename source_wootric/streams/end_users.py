"""End users and their custom properties: two streams, one read of the API.

`end_users_properties` is a substream of `end_users`, but it never asks the API for its parents again:
with both streams in the catalog, whichever reads first starts at the earlier of the two streams' starts
and spools the pages to a local file; the other replays that file. Each is given the end users from its
own start. A stream read alone reads the API itself.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import IO, Any, ClassVar

from airbyte_cdk.models import SyncMode

from source_wootric import records
from source_wootric.paging import Dimension
from source_wootric.streams.base import KeysetReader, KeysetStream, Page, RangeRead, SyncContext

UPDATED = Dimension("updated", "updated_at")
CREATED = Dimension("created", "created_at")


class EndUserPages:
    """The end users read once per sync for both end-user streams: the first stream reads the API and spools
    the pages, the other replays them from disk.

    With `shared_start` (both streams in the catalog), the first stream to read starts there, the earlier of
    the two streams' starts, and spools the pages to a temporary file, about 0.8 kB per end user; each
    stream is given the end users from its own start. A spool that would pass `Tuning.spool_max_bytes`
    (WOOTRIC_SPOOL_MAX_BYTES) is dropped, and the second stream reads the API itself.
    """

    def __init__(self, context: SyncContext, shared_start: int | None):
        self.context = context
        self.shared_start = shared_start
        self.reader = KeysetReader(
            context, "end_users", "end_users", [UPDATED, CREATED], "email", True, "email"
        )
        self._spool_next_read = shared_start is not None  # only the first of the two reads is spooled
        self._spooled: tuple[tuple[int, int], IO[str]] | None = None
        self._spool: IO[str] | None = None  # the spool being written
        self._spool_size = 0

    def start(self, low: int) -> int:
        return low if self.shared_start is None else min(low, self.shared_start)

    def replay(self, start: int, high: int) -> Iterator[Page] | None:
        """The pages of `[start, high]` if this sync spooled them; else None (and the spool is dropped)."""
        spooled, self._spooled = self._spooled, None
        if spooled is not None and spooled[0] == (start, high):
            return self._replay(spooled[1])
        if spooled is not None:
            spooled[1].close()
        return None

    @contextmanager
    def spooling(self, start: int, high: int) -> Iterator[None]:
        """Around an API read of `[start, high]`: spools its pages (see `spool`) if it is the first of two reads,
        and keeps the spool for `replay` only if the read gets to its end."""
        if self._spool_next_read:
            self._spool_next_read = False
            self._spool, self._spool_size = self._open_spool(), 0
        try:
            yield
            if self._spool is not None:
                self.context.logger.info(
                    f"end users: {self._spool_size} bytes spooled for the other end-user stream"
                )
                self._spooled, self._spool = ((start, high), self._spool), None
        finally:
            if self._spool is not None:
                self._spool.close()
                self._spool = None

    def spool(self, page: Page) -> None:
        if self._spool is None:
            return
        line = json.dumps([page.complete_through, page.items], separators=(",", ":")) + "\n"
        self._spool_size += len(line)  # ASCII (json.dumps escapes the rest): characters are bytes
        limit = self.context.config.tuning.spool_max_bytes
        if self._spool_size > limit:
            self._spool.close()
            self._spool = None
            self.context.logger.warning(
                f"end users: the local spool would pass WOOTRIC_SPOOL_MAX_BYTES ({limit} bytes); "
                "the other end-user stream will read the end users from the API again."
            )
        else:
            self._spool.write(line)

    @staticmethod
    def _open_spool() -> IO[str]:
        return tempfile.TemporaryFile("w+", encoding="utf-8")  # deleted when closed

    def _replay(self, spool: IO[str]) -> Iterator[Page]:
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
        kept = []
        for item in page.items:
            seconds = self.reader.seconds(item.get("updated_at"))
            if seconds is None or seconds[1] >= low:
                kept.append(item)
        return Page(kept, page.complete_through)


class EndUserStream(KeysetStream):
    cursor_field = "updated_at"
    state_key = "updated_at_epoch"
    endpoint = "end_users"

    def __init__(self, context: SyncContext, end_user_pages: EndUserPages):
        self.end_user_pages = end_user_pages
        super().__init__(context)
        self.reader = end_user_pages.reader
        self._low = 0  # this stream's own start in the slice being read
        self.replayed = False

    def read_records(
        self,
        sync_mode: SyncMode,
        cursor_field: list[str] | None = None,
        stream_slice: Mapping[str, Any] | None = None,
        stream_state: Mapping[str, Any] | None = None,
    ) -> Iterable[Mapping[str, Any]]:
        assert stream_slice is not None
        pages = self.end_user_pages
        self._low, high = stream_slice["low"], stream_slice["high"]
        start = pages.start(self._low)
        replay = pages.replay(start, high)
        if replay is None:
            with pages.spooling(start, high):
                yield from super().read_records(sync_mode, cursor_field, stream_slice, stream_state)
            return
        # The other end-user stream read these pages earlier in this sync: they come from disk, without a
        # request, so not through HttpStream's page loop.
        self.replayed = True
        self._range = self.reader.range(start, high, request_budget=0)
        for page in replay:
            self._range.objects += len(page.items)
            yield from self.emit(pages.since(self._low, page))
        self.slice_read(stream_slice, self._range)

    def range_for(self, stream_slice: Mapping[str, Any]) -> RangeRead:
        return self.reader.range(self.end_user_pages.start(stream_slice["low"]), stream_slice["high"])

    def read_note(self) -> str:
        other = "end_users_properties" if self.name == "end_users" else "end_users"
        return (
            f" (the end users {other} read earlier in this sync, replayed from disk)" if self.replayed else ""
        )

    def fed(self, page: Page) -> Page:
        self.end_user_pages.spool(page)
        return self.end_user_pages.since(self._low, page)


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
