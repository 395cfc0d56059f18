"""Account-level streams: the custom property definitions (segments) and the NPS summary per period."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from datetime import date
from typing import Any, ClassVar

import pendulum
from airbyte_cdk.models import SyncMode

from source_wootric import records
from source_wootric.config import config_error
from source_wootric.streams.base import STATE_VERSION, SyncContext, WootricStream


class Segments(WootricStream):
    primary_key = "name"
    endpoint = "segments"

    def read_records(self, sync_mode: SyncMode, *args: Any, **kwargs: Any) -> Iterable[Mapping[str, Any]]:
        requests_before = self.context.client.total_requests
        segments = self.context.segments
        for segment in segments:
            yield records.segment(segment, self.shape)
        self.summary(len(segments), requests_before)


def period_start(day: date, period: str) -> date:
    if period == "week":
        return pendulum.Date(day.year, day.month, day.day).start_of("week")
    if period == "month":
        return day.replace(day=1)
    return day


def periods(first: date, last: date, period: str) -> Iterator[tuple[date, date]]:
    """The periods (start, end; both inclusive) from the one holding `first` to the one holding `last`."""
    unit = {"day": "days", "week": "weeks", "month": "months"}[period]
    start = pendulum.Date(*period_start(first, period).timetuple()[:3])
    while start <= last:
        following = start.add(**{unit: 1})
        yield start, following.subtract(days=1)
        start = following


def _valid_state(state: Mapping[str, Any]) -> bool:
    try:
        date.fromisoformat(state["period_start"])
    except (KeyError, TypeError, ValueError):
        return False
    return state.get("version") == STATE_VERSION and state.get("period") in ("day", "week", "month")


NUMBERS = ("nps", "response_rate", "email_response_rate")
COUNTS = ("responses", "detractors", "passives", "promoters")


class NpsSummary(WootricStream):
    """One record per period; each sync re-reads the open period and every period that overlaps the
    look-back window, since late exclusions change closed periods. Wootric computes it in the account's
    time zone. State: `{"version": 1, "period": "month", "period_start": "2024-05-01"}`, the open period."""

    primary_key: ClassVar[list[str]] = ["period", "period_start"]
    endpoint = "nps_summary"
    cursor_field = "period_start"
    state_checkpoint_interval = 1

    def __init__(self, context: SyncContext):
        self._state: dict[str, Any] = {}
        super().__init__(context)

    @property
    def state(self) -> MutableMapping[str, Any]:
        return dict(self._state)

    @state.setter
    def state(self, value: Mapping[str, Any] | None) -> None:
        self._state = dict(value or {})
        if self._state and not _valid_state(self._state):
            raise config_error(
                f"The saved state of stream `nps_summary` is not one this connector version writes (expected "
                f'{{"version": {STATE_VERSION}, "period": "month", "period_start": "YYYY-MM-DD"}}). '
                "Reset the stream `nps_summary` to read it again from `start_date`."
            )

    def first_day(self, sync_mode: SyncMode, today: date) -> date:
        config = self.context.config
        start = pendulum.from_timestamp(config.start, tz=config.account_timezone.key).date()
        if sync_mode != SyncMode.incremental or not self._state:
            return start
        if self._state["period"] != config.nps_summary_period:
            self.logger.warning(
                f"nps_summary: the period changed from {self._state['period']} to {config.nps_summary_period}; "
                "reading every period afresh from start_date."
            )
            return start
        lookback_start = today - pendulum.duration(days=config.lookback_window_days)
        return max(start, min(date.fromisoformat(self._state["period_start"]), lookback_start))

    def backdated_periods(self, first_day: date) -> list[tuple[date, date]]:
        """The periods before `first_day` that hold records the survey streams' sweep found new (read
        earlier in this sync): back-dated responses and declines, or old ones edited since."""
        config = self.context.config
        days = {
            pendulum.from_timestamp(second, tz=config.account_timezone.key).date()
            for second in self.context.backdated_seconds
        }
        starts = {period_start(day, config.nps_summary_period) for day in days if day < first_day}
        return [next(periods(start, start, config.nps_summary_period)) for start in sorted(starts)]

    def read_records(self, sync_mode: SyncMode, *args: Any, **kwargs: Any) -> Iterable[Mapping[str, Any]]:
        config = self.context.config
        period = config.nps_summary_period
        today = pendulum.from_timestamp(self.context.high, tz=config.account_timezone.key).date()
        requests_before, count = self.context.client.total_requests, 0
        first_day = self.first_day(sync_mode, today)
        backdated = self.backdated_periods(first_day)
        for start, end in backdated:  # older periods first: the state stays the open period
            count += 1
            yield self.summary_record(start, end)
        for start, end in periods(first_day, today, period):
            count += 1
            yield self.summary_record(start, end)
            self._state = {"version": STATE_VERSION, "period": period, "period_start": start.isoformat()}
        extra = f", {len(backdated)} of them older periods holding back-dated records" if backdated else ""
        self.summary(count, requests_before, extra)

    def summary_record(self, start: date, end: date) -> dict[str, Any]:
        summary = self.context.client.get(
            self.endpoint, {"date[start]": start.isoformat(), "date[end]": end.isoformat()}, expect=dict
        )
        record: dict[str, Any] = {
            "period": self.context.config.nps_summary_period,
            "period_start": start.isoformat(),
            "period_end": end.isoformat(),
        }
        for key in NUMBERS:
            record[key] = self.shape.number(key, summary.get(key))
        for key in COUNTS:
            record[key] = self.shape.integer(key, summary.get(key))
        return record
