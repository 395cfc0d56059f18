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
    the two streams' starts, and spools the pages; each stream is given the end users from its own start.
    """

    def __init__(self, context: SyncContext, shared_start: int | None):
        self.context = context
        self.shared_start = shared_start
        self.reader = KeysetReader(
            context, "end_users", "end_users", [UPDATED, CREATED], "email", True, "email"
        )
        self._spooled: tuple[tuple[int, int], IO[str]] | None = None

    def pages(self, low: int, high: int) -> Iterator[Page]:
        start = low if self.shared_start is None else min(low, self.shared_start)
        if self._spooled is not None and self._spooled[0] == (start, high):
            pages = self._replay(self._spooled[1])
        else:
            pages = self._read(start, high)
        for page in pages:
            yield page if start == low else Page(self._from(low, page.items), page.complete_through)

    def _read(self, start: int, high: int) -> Iterator[Page]:
        # Kept open past this call, for the replay; the file is deleted when closed or at exit.
        spool = tempfile.TemporaryFile("w+", encoding="utf-8") if self.shared_start is not None else None  # noqa: SIM115
        for page in self.reader.pages(start, high):
            if spool is not None:
                spool.write(json.dumps([page.complete_through, page.items], separators=(",", ":")) + "\n")
            yield page
        if spool is not None:  # only a range read to its end is replayed
            self._spooled = ((start, high), spool)

    def _replay(self, spool: IO[str]) -> Iterator[Page]:
        self.context.logger.info("end users: replaying this sync's pages from the local spool, no requests")
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
