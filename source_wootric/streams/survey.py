"""Responses and declines: incremental on `created_at`, with a look-back for edits made after creation."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from source_wootric import records
from source_wootric.paging import Dimension
from source_wootric.streams.base import KeysetReader, KeysetStream, Page, SyncContext

CREATED = Dimension("created", "created_at")
DAY = 86_400


class SurveyEventStream(KeysetStream):
    """Wootric filters these only on `created`; a response edited later (tags, notes, completion,
    exclusion) is caught by re-reading `lookback_window_days` before the cursor on each sync."""

    cursor_field = "created_at"
    state_key = "created_at_epoch"
    shape_record: Callable[[Mapping[str, Any], records.Shaper], dict[str, Any]]

    def __init__(self, context: SyncContext):
        super().__init__(context)
        self.reader = KeysetReader(context, self.name, self.endpoint, [CREATED], "created_at")

    def window_start(self, resume_after: int | None) -> int:
        if resume_after is None:
            return self.context.config.start
        lookback = self.context.config.lookback_window_days * DAY
        return max(self.context.config.start, resume_after + 1 - lookback)

    def pages(self, low: int, high: int) -> Iterator[Page]:
        return self.reader.pages(low, high)

    def records(self, items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for item in items:
            yield self.shape_record(item, self.shape)


class Responses(SurveyEventStream):
    endpoint = "responses"
    shape_record = staticmethod(records.response)


class Declines(SurveyEventStream):
    endpoint = "declines"
    shape_record = staticmethod(records.decline)
