"""Streams read one period per request (`nps_summary_period`: day, week or month), from `start_date`'s
period to today's, as Wootric computes them in the account's time zone: the NPS summary, and the survey e-mail
delivery statistics of Wootric's v2 API (accounts or regions without it answer 404: the stream is then empty,
with one WARN)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from dataclasses import replace
from datetime import date
from typing import Any, ClassVar

import pendulum
import requests
from airbyte_cdk.models import SyncMode

from source_wootric import records
from source_wootric.config import config_error
from source_wootric.rereads import HOUR, Pass, Plan, advance, first_pass, next_pass, plan
from source_wootric.streams.base import SyncContext, WootricStream
from source_wootric.streams.keyset import STATE_VERSION

FIRST = date.min.toordinal()  # the look-back pass's positions are the ordinals of the periods' first days


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
    if "lookback" in state and Pass.from_json(state["lookback"]) is None:
        return False
    try:
        date.fromisoformat(state["period_start"])
    except (KeyError, TypeError, ValueError):
        return False
    return state.get("version") == STATE_VERSION and state.get("period") in ("day", "week", "month")


class PeriodStream(WootricStream, ABC):
    """One record per period (`nps_summary_period`: day, week or month) from `start_date`'s period to today's,
    as Wootric computes it in the account's time zone. Each sync re-reads the open period and every period
    that overlaps the look-back window, since late changes alter closed periods.
    State: `{"version": 1, "period": "month", "period_start": "2024-05-01"}`, the open period."""

    primary_key: ClassVar[list[str]] = ["period", "period_start"]
    cursor_field = "period_start"
    state_checkpoint_interval = 1
    expect = dict

    def __init__(self, context: SyncContext):
        self._open_period: dict[str, Any] = {}
        self._lookback: Pass | None = None  # the pass over the closed periods of the look-back window
        self._pacing: tuple[Pass, Plan, int] | None = None  # while it is read: as it began, its plan, its end
        self.older_count = 0
        super().__init__(context)

    @property
    def state(self) -> MutableMapping[str, Any]:
        lookback = {"lookback": self._lookback.to_json()} if self._lookback and self._open_period else {}
        return {**self._open_period, **lookback}

    @state.setter
    def state(self, value: Mapping[str, Any] | None) -> None:
        self.check_state(value)
        self._open_period = {key: item for key, item in (value or {}).items() if key != "lookback"}
        self._lookback = Pass.from_json(value["lookback"]) if value and "lookback" in value else None

    def check_state(self, value: Mapping[str, Any] | None) -> None:
        if value and not _valid_state(value):
            raise config_error(
                f"The saved state of stream `{self.name}` is not one this connector version writes (expected "
                f'{{"version": {STATE_VERSION}, "period": "month", "period_start": "YYYY-MM-DD"}}). '
                f"Reset the stream `{self.name}` to read it again from `start_date`."
            )

    def local_date(self, epoch: int) -> date:
        return pendulum.from_timestamp(epoch, tz=self.context.zone.key).date()

    def first_day(self, sync_mode: SyncMode, today: date) -> date:
        config = self.context.config
        # start_date's own (UTC) date, or its date in the account's zone where that is later: in zones west of
        # UTC the account's date alone would fall on the day (and month) before start_date.
        start = max(pendulum.from_timestamp(config.start, tz="UTC").date(), self.local_date(config.start))
        if sync_mode != SyncMode.incremental or not self._open_period:
            return start
        if self._open_period["period"] != config.nps_summary_period:
            self.logger.warning(
                f"{self.name}: the period changed from {self._open_period['period']} to {config.nps_summary_period}; "
                "reading every period afresh from start_date."
            )
            return start
        lookback_start = today - pendulum.duration(days=config.lookback_window_days)
        return max(start, min(date.fromisoformat(self._open_period["period_start"]), lookback_start))

    @abstractmethod
    def period_params(self, start: date, end: date) -> dict[str, str]:
        """The query of one period's request."""

    @abstractmethod
    def period_columns(self, start: date, end: date, answer: dict[str, Any]) -> dict[str, Any]:
        """The columns of one period, from its answer, besides `period`, `period_start` and `period_end`."""

    def older_periods(self, reading: list[tuple[date, date]]) -> list[tuple[date, date]]:
        """Periods besides those `reading` that this sync re-reads too (none by default)."""
        return []

    def paced(self, closed: list[tuple[date, date]]) -> list[tuple[date, date]]:
        """The closed periods of the look-back window this sync re-reads: a pass over them once per
        `edits_bound_hours` (rereads.py), one request a period."""
        now, bound = self.context.started_at, self.context.config.edits_bound_hours * HOUR
        low, high = closed[0][0].toordinal(), closed[-1][0].toordinal()
        # A state written before the pass has none: it earns a whole bound, and re-reads them all as before.
        saved = self._lookback or Pass(low - 1, None, now, 0, 0, 0.0, None)
        current = replace(saved, requests_per_pass=len(closed))
        slice_ = plan(current, low, high, now, bound)
        chosen = [p for p in closed if p[0].toordinal() >= slice_.low][: slice_.budget]
        self._lookback = advance(current, slice_, current.through, 0, now)
        self._pacing = (current, slice_, high)
        return chosen

    def period_read(self, start: date, spent: int) -> None:
        """The paced pass after it re-read the period starting `start`, the `spent`th this sync."""
        assert self._pacing is not None
        current, slice_, high = self._pacing
        now = self.context.started_at
        if start.toordinal() >= high:
            self._lookback = next_pass(current, slice_, FIRST, spent, now)
        else:
            self._lookback = advance(current, slice_, start.toordinal(), spent, now)

    # -- HttpStream's loop: a slice per period, one request each -----------------------------------------
    def stream_slices(
        self, *, sync_mode: SyncMode, cursor_field: list[str] | None = None, stream_state: Any = None
    ) -> Iterable[Mapping[str, Any] | None]:
        period = self.context.config.nps_summary_period
        today = self.local_date(self.context.high)
        saved = date.fromisoformat(self._open_period["period_start"]) if self._open_period else None
        if sync_mode == SyncMode.incremental and saved is not None and saved > today:
            self.logger.warning(
                f"{self.name}: the saved state ({saved}) is later than today ({today}); nothing to read, state "
                "kept unchanged. Reset the stream if the state is wrong."
            )
            return
        first_day = self.first_day(sync_mode, today)
        due = list(periods(first_day, today, period))
        chosen: list[tuple[date, date]] = []
        continuing = sync_mode == SyncMode.incremental and self._open_period.get("period") == period
        if self.context.config.edits_bound_hours and continuing and saved is not None and first_day < saved:
            closed = [p for p in due if p[0] < saved]  # before the open period of the last sync
            due, chosen = due[len(closed) :], self.paced(closed) if closed else []
        elif self.context.config.edits_bound_hours:  # read in full: the pass begins afresh
            self._lookback = first_pass(FIRST, self.context.started_at, None, self.context.started_at)
        older = self.older_periods([*chosen, *due])
        self.older_count = len(older) + len(chosen)
        # The older periods come first and leave the state alone; `paced`: the nth of the look-back pass, or 0.
        slices = [
            *((p, True, 0) for p in older),
            *((p, True, n) for n, p in enumerate(chosen, 1)),
            *((p, False, 0) for p in due),
        ]
        for (start, end), is_older, paced in slices:
            if not self.served:
                break
            yield {"period": period, "start": start, "end": end, "older": is_older, "paced": paced}

    def read_note(self) -> str:
        return f" ({self.older_count} older periods re-read)" if self.older_count else ""

    def request_params(self, stream_state: Any, stream_slice: Any = None, next_page_token: Any = None) -> Any:
        return self.period_params(stream_slice["start"], stream_slice["end"])

    def parse_response(
        self, response: requests.Response, *, stream_slice: Any = None, **kwargs: Any
    ) -> Iterable[Mapping[str, Any]]:
        answer = self.served_answer(response)
        if answer is None:
            return
        start, end = stream_slice["start"], stream_slice["end"]
        record: dict[str, Any] = {
            "period": stream_slice["period"],
            "period_start": start.isoformat(),
            "period_end": end.isoformat(),
        }
        for key, value in self.period_columns(start, end, answer).items():
            record.setdefault(key, value)
        self.records_read += 1
        yield record
        if stream_slice["paced"]:
            self.period_read(start, stream_slice["paced"])
        if not stream_slice["older"]:
            self._open_period = {
                "version": STATE_VERSION,
                "period": record["period"],
                "period_start": record["period_start"],
            }


NUMBERS = ("nps", "response_rate", "email_response_rate")
COUNTS = ("responses", "detractors", "passives", "promoters")


class NpsSummary(PeriodStream):
    """Wootric's NPS per period; late exclusions change closed periods, hence the look-back."""

    endpoint = "nps_summary"

    def older_periods(self, reading: list[tuple[date, date]]) -> list[tuple[date, date]]:
        """The periods holding records that the passes over responses and declines found new earlier in this
        sync (back-dated, or edited since they last went by): their NPS changed."""
        period = self.context.config.nps_summary_period
        days = {self.local_date(second) for second in self.context.changed_seconds}
        starts = {period_start(day, period) for day in days} - {start for start, _ in reading}
        return [next(periods(start, start, period)) for start in sorted(starts)]

    def period_params(self, start: date, end: date) -> dict[str, str]:
        return {"date[start]": start.isoformat(), "date[end]": end.isoformat()}

    def period_columns(self, start: date, end: date, summary: dict[str, Any]) -> dict[str, Any]:
        columns = {key: self.shape.number(key, summary.get(key)) for key in NUMBERS}
        columns.update({key: self.shape.integer(key, summary.get(key)) for key in COUNTS})
        return columns


class EmailStats(PeriodStream):
    """Sent, delivered, bounced, opened, opted out and answered survey e-mails, per period. The answer
    reports the range Wootric counted (`raw_results`): a range other than the one asked is logged, since
    the record would then not be the period it names."""

    endpoint = "email_stats"
    api_version = "v2"
    absent = (404,)

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
