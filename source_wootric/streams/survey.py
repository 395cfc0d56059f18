"""Responses and declines: incremental on `created_at`, with a look-back for edits made after creation and
a sweep of older records for those written with a past `created_at` (see rereads.py)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from airbyte_cdk.models import SyncMode

from source_wootric import records
from source_wootric.answers import Dimension
from source_wootric.config import config_error
from source_wootric.rereads import DAY, SweepPlan, SweepState, advance, first_pass, next_pass, plan
from source_wootric.streams.base import SyncContext, iso
from source_wootric.streams.keyset import Endpoint, KeysetStream, Page, RangeRead

CREATED = Dimension("created", "created_at")


class SurveyEventStream(KeysetStream):
    """Wootric filters these only on `created`; a response edited later (tags, notes, completion,
    exclusion) is caught by re-reading `lookback_window_days` before the cursor on each sync, and one
    written with an older `created_at` by the sweep, within `backdated_bound_days`.

    State: `{"version": 1, "created_at_epoch": N, "sweep": {...}, "synced_at": T}`; the last two are
    added by this version (sweep.SweepState, and the last sync's "now"); a state without them is read."""

    cursor_field = "created_at"
    state_key = "created_at_epoch"
    shape_record: Callable[[Mapping[str, Any], records.Shaper], dict[str, Any]]

    def __init__(self, context: SyncContext):
        self._sweep: SweepState | None = None
        self._synced_at: int | None = None
        self._measuring: SweepState | None = None  # the pass the main read measures, if it does
        self._sweep_plan: SweepPlan | None = None  # while the sweep's slice is read
        self._sweep_from: SweepState | None = None  # the sweep's progress when its slice began
        super().__init__(context)
        self.endpoint_reader = Endpoint(context, self.name, self.endpoint, [CREATED], "created_at")

    def window_start(self, resume_after: int | None) -> int:
        if resume_after is None:
            return self.context.config.start
        lookback = self.context.config.lookback_window_days * DAY
        return max(self.context.config.start, resume_after + 1 - lookback)

    def records(self, items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for item in items:
            yield self.shape_record(item, self.shape)

    # -- state ----------------------------------------------------------------------------------------
    def state_extension(self) -> dict[str, Any]:
        extension: dict[str, Any] = {}
        if self._sweep is not None:
            extension["sweep"] = self._sweep.to_json()
        if self._synced_at is not None:
            extension["synced_at"] = self._synced_at
        return extension

    def load_state_extension(self, value: Mapping[str, Any]) -> None:
        self._sweep, self._synced_at = self._state_extension(value)

    def check_state(self, value: Mapping[str, Any] | None) -> None:
        super().check_state(value)
        self._state_extension(value or {})

    def _state_extension(self, value: Mapping[str, Any]) -> tuple[SweepState | None, int | None]:
        sweep = SweepState.from_json(value["sweep"]) if "sweep" in value else None
        synced_at = value.get("synced_at")
        if ("sweep" in value and sweep is None) or not (
            synced_at is None
            or (isinstance(synced_at, int) and not isinstance(synced_at, bool) and synced_at >= 0)
        ):
            raise config_error(
                f"The saved state of stream `{self.name}` has a `sweep` or `synced_at` this connector version "
                f"did not write ({json.dumps(value)[:300]}). Reset the stream `{self.name}` (or clear its state) "
                "to read it again from `start_date`."
            )
        return sweep, synced_at

    # -- slices: the main read, then the sweep ----------------------------------------------------------
    def stream_slices(
        self, *, sync_mode: SyncMode, cursor_field: list[str] | None = None, stream_state: Any = None
    ) -> Iterable[Mapping[str, Any] | None]:
        config, now = self.context.config, self.context.started_at
        resume_after = self._complete_through
        sweeping = sync_mode == SyncMode.incremental and config.backdated_bound_days > 0
        if resume_after is not None and resume_after > self.context.high:
            sweeping = False  # a state from the future is kept as it is
        if sweeping and self._sweep is None:
            # The first pass is a full read that measures the pace of the next ones: the initial read itself,
            # or, on a state without a sweep (0.1.0, or written with backdated_bound_days 0), this sync's
            # read and an unbudgeted sweep of every older record.
            self._sweep = first_pass(config.start, now, None, news_since=now if resume_after is None else 0)
            if resume_after is not None:
                self.logger.info(
                    f"{self.name}: the state holds no sweep (written by version 0.1.0 or with "
                    "backdated_bound_days 0): this sync re-reads every older record once, which sets the pace "
                    "of the sweeps that follow."
                )
        yield from super().stream_slices(
            sync_mode=sync_mode, cursor_field=cursor_field, stream_state=stream_state
        )
        if sweeping:
            yield {"sweep_below": self.window_start(resume_after)}

    def range_for(self, stream_slice: Mapping[str, Any]) -> RangeRead:
        """The main read, or the sweep's slice of `[start_date, below)` with its request budget (sweep.plan).
        While the pass has no measured cost yet (the initial read, a read resumed from it, the first sync after
        an upgrade), the main read is part of the full read that measures it: its requests count into the pass,
        and so does what it read if it starts where the pass stands."""
        config, now = self.context.config, self.context.started_at
        if "sweep_below" not in stream_slice:
            sweep = self._sweep
            self._measuring = sweep if sweep is not None and sweep.requests_per_pass is None else None
            return super().range_for(stream_slice)
        assert self._sweep is not None
        self._sweep_plan = plan(
            self._sweep,
            config.start,
            stream_slice["sweep_below"],
            now,
            self._synced_at,
            config.backdated_bound_days * DAY,
        )
        self._sweep_from = self._sweep
        return self.endpoint_reader.range(
            self._sweep_plan.low, self._sweep_plan.high, self._sweep_plan.budget
        )

    def page_read(self, page: Page) -> None:
        assert self._range is not None
        if self._sweep_plan is not None:  # a page of the sweep
            assert self._sweep_from is not None
            self.note_news(page.items, self._sweep_from.news_since)
            self._sweep = advance(self._sweep_from, page.complete_through, self._range.spent)
            return
        super().page_read(page)
        if self._measuring is not None:  # moved once the page's records are out, as the cursor is
            measuring = self._measuring
            reached = page.complete_through if self._range.low <= measuring.through + 1 else measuring.through
            self._sweep = advance(measuring, reached, self._range.spent)

    def slice_read(self, stream_slice: Mapping[str, Any], read: RangeRead) -> None:
        if self._sweep_plan is None:
            super().slice_read(stream_slice, read)
            return
        assert self._sweep_from is not None
        at_start, finished = self._sweep_from, not read.cut_short
        self.log_sweep(
            self._sweep_plan, read.records, read.spent, at_start.pass_requests + read.spent, finished
        )
        if finished:
            self._sweep = next_pass(at_start, self.context.config.start, self.context.started_at, read.spent)
        self._synced_at = self.context.started_at
        self._sweep_plan = self._sweep_from = None

    def note_news(self, items: list[dict[str, Any]], news_since: int) -> None:
        """Notes the created second of each record written or edited since the last pass went by."""
        for item in items:
            created = self.endpoint_reader.seconds(item.get("created_at"))
            updated = self.endpoint_reader.seconds(item.get("updated_at"))
            if created is not None and (updated is None or updated[1] >= news_since):
                self.context.backdated_seconds.update(created)  # the periods of either end may hold it

    def log_sweep(
        self, slice_: SweepPlan, records_read: int, spent: int, pass_cost: int, finished: bool
    ) -> None:
        assert self._sweep is not None
        config = self.context.config
        budget = "no budget: first pass" if slice_.budget is None else f"budget {slice_.budget}"
        reached = slice_.high if finished else self._sweep.through
        outcome = (
            f"pass complete: {pass_cost} requests"
            if finished
            else f"the pass goes on next sync from {iso(self._sweep.through + 1)}"
        )
        if slice_.low > slice_.high:
            self.logger.info(
                f"{self.name}: sweep: nothing to re-read before {iso(slice_.high + 1)}; {outcome}"
            )
        else:
            self.logger.info(
                f"{self.name}: sweep re-read {iso(slice_.low)}..{iso(reached)}, "
                f"{records_read} records, {spent} requests ({budget}); {outcome}"
            )
        took = self.context.started_at - self._sweep.pass_started
        if finished and pass_cost > 0 and took > config.backdated_bound_days * DAY:
            self.logger.warning(
                f"{self.name}: the sweep took {took / DAY:.1f} days to re-read the older records, more than "
                f"backdated_bound_days ({config.backdated_bound_days}): a record written with a past created_at "
                "may have taken that long to arrive. Sync more often than the bound (the next pass is paced "
                "on this one's cost), or raise backdated_bound_days."
            )


class Responses(SurveyEventStream):
    endpoint = "responses"
    shape_record = staticmethod(records.response)


class Declines(SurveyEventStream):
    endpoint = "declines"
    shape_record = staticmethod(records.decline)
