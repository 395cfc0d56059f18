"""Responses and declines: incremental on `created_at`; edits made after creation within the look-back, and
records written with a past `created_at`, are caught by passes re-read at a pace set by a bound (rereads.py)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from airbyte_cdk.models import SyncMode

from source_wootric import records
from source_wootric.answers import Dimension
from source_wootric.config import config_error
from source_wootric.rereads import DAY, HOUR, UNBUDGETED, Pass, Plan, advance, first_pass, next_pass, plan
from source_wootric.streams.base import SyncContext, iso
from source_wootric.streams.keyset import Endpoint, KeysetStream, Page, RangeRead

CREATED = Dimension("created", "created_at")
# Each pass: the setting that bounds it, its unit, and what it re-reads (for log lines).
PASSES = {
    "edits": ("edits_bound_hours", HOUR, "the look-back window's records"),
    "sweep": ("backdated_bound_days", DAY, "the older records"),
}


class SurveyEventStream(KeysetStream):
    """Wootric filters these only on `created`. A response edited later (tags, notes, completion, exclusion)
    is caught by the `edits` pass over the `lookback_window_days` before the cursor, within
    `edits_bound_hours` (0: the whole look-back is re-read at every sync); one written with an older
    `created_at` by the `sweep` pass over the records before the look-back, within `backdated_bound_days`.

    State: `{"version": 1, "created_at": "YYYY-MM-DDTHH:MM:SSZ", "edits": {...}, "sweep": {...}, "synced_at": T}`; the
    passes (rereads.Pass) and the last sync's "now" were added by later versions: a state without them is
    read."""

    cursor_field = "created_at"
    shape_record: Callable[[Mapping[str, Any], records.Shaper], dict[str, Any]]

    def __init__(self, context: SyncContext):
        self.passes: dict[str, Pass] = {}
        self._synced_at: int | None = None
        self._measuring: list[str] = []  # the passes the main read measures (see range_for)
        self._measured = 0  # the main read's requests counted into them so far
        self._reading: tuple[str, Pass, Plan] | None = None  # while a pass's slice is read
        super().__init__(context)
        self.endpoint_reader = Endpoint(context, self.name, self.endpoint, [CREATED], "created_at")

    def bound(self, name: str) -> int:
        setting, unit, _ = PASSES[name]
        return getattr(self.context.config, setting) * unit

    def lookback_start(self, resume_after: int | None) -> int:
        start = self.context.config.start
        if resume_after is None:
            return start
        return max(start, resume_after + 1 - self.context.config.lookback_window_days * DAY)

    def window_start(self, resume_after: int | None) -> int:
        if self.bound("edits") or resume_after is None:  # the edits pass re-reads the look-back
            return super().window_start(resume_after)
        return self.lookback_start(resume_after)

    def records(self, items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for item in items:
            yield self.shape_record(item, self.shape)

    # -- state ----------------------------------------------------------------------------------------
    def state_extension(self) -> dict[str, Any]:
        extension: dict[str, Any] = {name: value.to_json() for name, value in self.passes.items()}
        if self._synced_at is not None:
            extension["synced_at"] = self._synced_at
        return extension

    def load_state_extension(self, value: Mapping[str, Any]) -> None:
        self.passes, self._synced_at = self._state_extension(value)

    def check_state(self, value: Mapping[str, Any] | None) -> None:
        super().check_state(value)
        self._state_extension(value or {})

    def _state_extension(self, value: Mapping[str, Any]) -> tuple[dict[str, Pass], int | None]:
        passes = {name: Pass.from_json(value[name]) for name in PASSES if name in value}
        synced_at = value.get("synced_at")
        if None in passes.values() or not (
            synced_at is None
            or (isinstance(synced_at, int) and not isinstance(synced_at, bool) and synced_at >= 0)
        ):
            raise config_error(
                f"The saved state of stream `{self.name}` has an `edits`, `sweep` or `synced_at` this connector "
                f"version did not write ({json.dumps(value)[:300]}). Reset the stream `{self.name}` (or clear its "
                "state) to read it again from `start_date`."
            )
        # A pass saved before it kept its own time was last credited at the last sync.
        return {
            name: saved
            if saved.credited_at is not None
            else Pass(**{**vars(saved), "credited_at": synced_at})
            for name, saved in passes.items()
            if saved is not None
        }, synced_at

    # -- slices: the main read, then the passes ---------------------------------------------------------
    def stream_slices(
        self, *, sync_mode: SyncMode, cursor_field: list[str] | None = None, stream_state: Any = None
    ) -> Iterable[Mapping[str, Any] | None]:
        config, resume_after = self.context.config, self._complete_through
        incremental = sync_mode == SyncMode.incremental and (resume_after or 0) <= self.context.high
        if incremental:  # not a full refresh, nor a state from the future (kept as it is)
            self.start_passes(resume_after)
        yield from super().stream_slices(
            sync_mode=sync_mode, cursor_field=cursor_field, stream_state=stream_state
        )
        if not incremental:
            return
        read_before = config.start - 1 if resume_after is None else resume_after
        lookback_start = self.lookback_start(resume_after)
        ranges = {"edits": (lookback_start, read_before), "sweep": (config.start, lookback_start - 1)}
        for name, (low, high) in ranges.items():
            if name in self.passes and self.bound(name):
                yield {"pass": name, "low": low, "high": high}

    def start_passes(self, resume_after: int | None) -> None:
        """Passes this state lacks begin here, unbudgeted. In an initial read, the main read measures what each
        pass's range cost (`page_read`); on a state without one (an earlier version, or a bound that was 0), the
        first pass is a full re-read of its range, which sets the pace of those that follow."""
        now = self.context.started_at
        for name in PASSES:
            if name in self.passes or not self.bound(name):
                continue
            self.passes[name] = first_pass(
                self.context.config.start, now, None, news_since=now if resume_after is None else 0
            )
            if resume_after is not None:
                self.logger.info(
                    f"{self.name}: the state holds no `{name}` pass (written by an earlier version, or with "
                    f"{PASSES[name][0]} 0): this sync re-reads {PASSES[name][2]} once, which sets the pace of "
                    "the passes that follow."
                )

    def range_for(self, stream_slice: Mapping[str, Any]) -> RangeRead:
        if "pass" not in stream_slice:
            # Unmeasured passes that stand where the main read starts: it reads their ranges for them.
            self._measuring = [
                name
                for name, current in self.passes.items()
                if current.requests_per_pass is None and stream_slice["low"] <= current.through + 1
            ]
            self._measured = 0
            return super().range_for(stream_slice)
        name = stream_slice["pass"]
        current = self.passes[name]
        bound = self.bound(name)
        slice_ = plan(current, stream_slice["low"], stream_slice["high"], self.context.started_at, bound)
        self._reading = (name, current, slice_)
        # The zone is learnt first, if this sync has not yet: its requests are not the pass's.
        _ = self.context.account_zone
        return self.endpoint_reader.range(slice_.low, slice_.high, slice_.budget)

    def page_read(self, page: Page) -> None:
        assert self._range is not None
        now = self.context.started_at
        if self._reading is not None:
            name, at_start, slice_ = self._reading
            self.note_news(page.items, at_start.news_since)
            self.passes[name] = advance(at_start, slice_, page.complete_through, self._range.spent, now)
            return
        super().page_read(page)
        if self._measuring:  # moved once the page's records are out, as the cursor is
            # Every page's requests count into the sweep (an estimate a little above its range's cost, which the
            # next pass measures exactly), those from the next look-back's start on into the edits pass too.
            cost, self._measured = self._range.spent - self._measured, self._range.spent
            in_lookback = page.complete_through >= self.lookback_start(self._range.high)
            for name in self._measuring:
                counted = cost if name == "sweep" or in_lookback else 0
                self.passes[name] = advance(
                    self.passes[name], UNBUDGETED, page.complete_through, counted, now
                )

    def slice_read(self, stream_slice: Mapping[str, Any], read: RangeRead) -> None:
        if self._reading is None:
            super().slice_read(stream_slice, read)
            return
        self._synced_at = self.context.started_at
        name, at_start, slice_ = self._reading
        finished = not read.cut_short
        if finished:
            self.passes[name] = next_pass(
                at_start, slice_, self.context.config.start, read.spent, self.context.started_at
            )
        self.log_pass(name, slice_, read, at_start.pass_requests + read.spent, finished)
        self._reading = None

    def note_news(self, items: list[dict[str, Any]], news_since: int) -> None:
        """Notes the created second of each record written or edited since the last pass went by."""
        for item in items:
            created = self.endpoint_reader.seconds(item.get("created_at"))
            updated = self.endpoint_reader.seconds(item.get("updated_at"))
            if created is not None and (updated is None or updated[1] >= news_since):
                self.context.changed_seconds.update(created)  # the periods of either end may hold it

    def log_pass(self, name: str, slice_: Plan, read: RangeRead, pass_cost: int, finished: bool) -> None:
        setting, unit, what = PASSES[name]
        budget = "no budget: first pass" if slice_.budget is None else f"budget {slice_.budget}"
        goes_on = max(self.passes[name].through + 1, slice_.low)
        reached = slice_.high if finished else goes_on - 1
        span = f"{iso(slice_.low)}..{iso(reached)}" if slice_.low <= reached else "nothing"
        outcome = (
            f"pass complete: {pass_cost} requests" if finished else f"goes on next sync from {iso(goes_on)}"
        )
        self.logger.info(
            f"{self.name}: {name} re-read {span}, {read.records} records, {read.spent} requests ({budget}); {outcome}"
        )
        took = self.context.started_at - self.passes[name].news_since if finished else 0
        if pass_cost > 0 and took > self.bound(name):
            bound = getattr(self.context.config, setting)
            self.logger.warning(
                f"{self.name}: re-reading {what} took {took / unit:.1f} {'days' if unit == DAY else 'hours'}, more "
                f"than {setting} ({bound}): a record changed there may have taken that long to arrive. Sync more "
                f"often than the bound (the next pass is paced on this one's cost), or raise {setting}."
            )


class Responses(SurveyEventStream):
    endpoint = "responses"
    shape_record = staticmethod(records.response)


class Declines(SurveyEventStream):
    endpoint = "declines"
    shape_record = staticmethod(records.decline)
