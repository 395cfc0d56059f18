"""Survey e-mail delivery, from Wootric's v2 API: the statistics per period, and the sources of the sends.

Accounts or regions without the v2 API answer 404: the stream is then empty, with one WARN, and the sync
goes on. `POST /v2/email_stats/bounce_report` e-mails a report to a person: it is never called.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any, ClassVar

import requests

from source_wootric import records
from source_wootric.retries import decoded
from source_wootric.streams.account import PeriodStream
from source_wootric.streams.base import SyncContext, WootricStream

API_VERSION = "v2"
KNOWN_SOURCE_LISTS = ("ongoing", "sends")


class EmailStats(PeriodStream):
    """Sent, delivered, bounced, opened, opted out and answered survey e-mails, per period. The answer
    reports the range Wootric counted (`raw_results`): a range other than the one asked is logged, since
    the record would then not be the period it names."""

    endpoint = "email_stats"
    api_version = API_VERSION
    not_found_ok = True

    def __init__(self, context: SyncContext):
        super().__init__(context)
        self.unconfirmed: list[str] = []  # the periods whose answer did not report the range asked

    def period_params(self, start: date, end: date) -> dict[str, str]:
        return {"date_range[start_date]": start.isoformat(), "date_range[end_date]": end.isoformat()}

    def period_columns(self, start: date, end: date, answer: dict[str, Any]) -> dict[str, Any]:
        columns = records.email_stats(answer, self.shape)
        counted = (str(columns["raw_results__start_date"])[:10], str(columns["raw_results__end_date"])[:10])
        if counted != (start.isoformat(), end.isoformat()):
            self.unconfirmed.append(f"asked {start}..{end}, counted {counted[0]}..{counted[1]}")
        return columns

    def stream_slices(self, **kwargs: Any) -> Iterable[Mapping[str, Any] | None]:
        yield from super().stream_slices(**kwargs)
        if self.unconfirmed:
            self.logger.warning(
                f"{self.name}: for {len(self.unconfirmed)} periods Wootric did not report counting the days asked "
                f"(first: {self.unconfirmed[0]}); those records may not hold the figures of the period they name."
            )


class EmailSendSources(WootricStream):
    """The ongoing sources of survey e-mails (`email_api`, `webhook_trigger`) and the sends (CSV uploads),
    one record each; a send's date is read in the account's time zone. Full refresh, one request."""

    primary_key: ClassVar[list[str]] = ["source_type", "id"]
    endpoint = "email_stats/sources"

    api_version = API_VERSION
    expect = dict
    not_found_ok = True

    def stream_slices(self, **kwargs: Any) -> Iterable[Mapping[str, Any] | None]:
        yield {}  # one request

    def parse_response(self, response: requests.Response, **kwargs: Any) -> Iterable[Mapping[str, Any]]:
        if response.status_code == 404:
            self.not_served(response)
            return
        for source_type, items in decoded(response).items():
            if source_type not in KNOWN_SOURCE_LISTS:
                self.logger.warning(
                    f"{self.name}: Wootric's answer holds a list `{source_type}` this version does not know; "
                    "its items are emitted with that source_type."
                )
            for item in self.shape.any_list(source_type, items) or []:
                # Anything but an object is logged as unreadable, not emitted.
                if raw := self.shape.mapping(source_type, item):
                    self.records_read += 1
                    yield records.email_send_source(raw, source_type, self.shape)

    def next_page_token(self, response: requests.Response) -> Mapping[str, Any] | None:
        return None  # one answer holds them all
