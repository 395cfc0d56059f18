"""End users and their custom properties: two streams, one read of the API.

`end_users_properties` is a substream of `end_users`, but it never asks the API for its parents again:
with both streams in the catalog, whichever reads first starts at the earlier of the two streams' starts
and spools the pages to a local file; the other replays that file. Each is given the end users from its
own start. A stream read alone reads the API itself.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from typing import IO, Any, ClassVar

from source_wootric import records
from source_wootric.paging import Dimension
from source_wootric.streams.base import KeysetReader, KeysetStream, Page, SyncContext

UPDATED = Dimension("updated", "updated_at")
CREATED = Dimension("created", "created_at")


class EndUserPages:
    """Reads the end users once per sync for both end-user streams, and replays the read from disk.

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

    def pages(self, low: int, high: int) -> Iterator[Page]:
        start = low if self.shared_start is None else min(low, self.shared_start)
        spooled, self._spooled = self._spooled, None
        if spooled is not None and spooled[0] == (start, high):
            pages = self._replay(spooled[1])
        else:
            if spooled is not None:
                spooled[1].close()
            pages = self._read(start, high)
        for page in pages:
            yield page if start == low else Page(self._from(low, page.items), page.complete_through)

    def _read(self, start: int, high: int) -> Iterator[Page]:
        spool = self._open_spool() if self._spool_next_read else None
        self._spool_next_read = False
        limit, size = self.context.config.tuning.spool_max_bytes, 0
        try:
            for page in self.reader.pages(start, high):
                if spool is not None:
                    line = json.dumps([page.complete_through, page.items], separators=(",", ":")) + "\n"
                    size += len(line)  # ASCII (json.dumps escapes the rest): characters are bytes
                    if size > limit:
                        spool.close()
                        spool = None
                        self.context.logger.warning(
                            f"end users: the local spool would pass WOOTRIC_SPOOL_MAX_BYTES ({limit} bytes); "
                            "the other end-user stream will read the end users from the API again."
                        )
                    else:
                        spool.write(line)
                yield page
            if spool is not None:  # only a range read to its end is replayed
                self.context.logger.info(f"end users: {size} bytes spooled for the other end-user stream")
                self._spooled, spool = ((start, high), spool), None
        finally:
            if spool is not None:
                spool.close()

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

    def _from(self, low: int, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The end users updated at or after `low` (and any whose second cannot be read: better twice)."""
        kept = []
        for item in items:
            seconds = self.reader.seconds(item.get("updated_at"))
            if seconds is None or seconds[1] >= low:
                kept.append(item)
        return kept


class EndUserStream(KeysetStream):
    cursor_field = "updated_at"
    state_key = "updated_at_epoch"
    endpoint = "end_users"

    def __init__(self, context: SyncContext, end_user_pages: EndUserPages):
        self.end_user_pages = end_user_pages
        super().__init__(context)

    def pages(self, low: int, high: int) -> Iterator[Page]:
        return self.end_user_pages.pages(low, high)


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
