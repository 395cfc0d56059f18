"""The passes' schedule (source_wootric/rereads.py), against a model of the range a pass re-reads: syncs at
any rhythm, the pages of a pass read one request each, as the streams do."""

from __future__ import annotations

import math
from dataclasses import dataclass

from hypothesis import example, given, settings
from hypothesis import strategies as st

from source_wootric.rereads import DAY, HOUR, PACE_MARGIN, Pass, advance, first_pass, next_pass, plan

BOUND = 7 * DAY
START = 1_000_000
PAGE_SECONDS = 1_000  # the model's pages each cover this many seconds


@dataclass
class Sync:
    now: int
    spent: int  # requests the pass spent
    budget: int | None
    low: int  # this sync re-read the seconds [low, reached]; none if reached < low
    reached: int


def simulate(pages: int, requests_per_pass: int, gaps: list[int], bound: int = BOUND) -> list[Sync]:
    """Syncs `gaps` seconds apart over a range of `pages` pages, as the survey streams drive a pass."""
    high = START + pages * PAGE_SECONDS - 1
    now = START + 400 * DAY
    current = first_pass(START, now, requests_per_pass, news_since=now)
    syncs = []
    for gap in gaps:
        now += gap
        slice_ = plan(current, START, high, now, bound)
        at_start, spent, through = current, 0, current.through
        while through < high and (slice_.budget is None or spent < slice_.budget):  # RangeRead.advance
            spent += 1  # one request reads the next page
            through = min(high, through + PAGE_SECONDS)
            current = advance(at_start, slice_, through, spent, now)
        finished = through >= high
        current = (
            next_pass(at_start, slice_, START, spent, now)
            if finished
            else advance(at_start, slice_, through, spent, now)
        )
        syncs.append(Sync(now, spent, slice_.budget, slice_.low, through))
    return syncs


def catch_time(syncs: list[Sync], second: int, written: int) -> int | None:
    """When a pass first re-reads `second` after it was written at `written`."""
    return next((s.now for s in syncs if s.now > written and s.low <= second <= s.reached), None)


@given(
    requests_per_pass=st.none() | st.integers(0, 10**6),
    credit=st.floats(0, 10**6),
    elapsed=st.integers(0, 60 * DAY),
    bound=st.integers(1, 60 * DAY),
)
def test_a_sync_earns_its_share_of_a_pass_up_to_a_whole_one(requests_per_pass, credit, elapsed, bound):
    current = Pass(START, requests_per_pass, 0, 0, 0, credit, 0)
    slice_ = plan(current, START, START + 100, elapsed, bound)
    if requests_per_pass is None:
        assert slice_.budget is None  # the first pass after an upgrade: R is not known yet
    else:
        whole = max(requests_per_pass, 1) * PACE_MARGIN
        assert slice_.allowance == min(credit + whole * elapsed / bound, whole)
        assert slice_.budget == math.floor(slice_.allowance)


@settings(max_examples=60, deadline=None)
@given(
    pages=st.integers(1, 3_000),
    gaps=st.lists(st.integers(600, 3 * DAY), min_size=1, max_size=400),
)
def test_no_sync_spends_more_than_its_budget_and_a_pass_ends_within_its_bound(pages, gaps):
    syncs = simulate(pages, pages, gaps)
    for sync in syncs:
        assert sync.budget is not None and sync.spent <= sync.budget
    # Every pass ends at the first sync a bound or more after it began; the one still going began less than
    # that before the last sync.
    pass_start, high = START + 400 * DAY, START + pages * PAGE_SECONDS - 1
    for sync in syncs:
        if sync.reached == high:
            assert sync.now - pass_start <= BOUND + max(gaps), (sync, pass_start)
            pass_start = sync.now
    assert syncs[-1].now - pass_start <= BOUND + max(gaps)


@settings(max_examples=40, deadline=None)
@given(
    pages=st.integers(1, 2_000),
    gap=st.integers(600, DAY),
    writes=st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1)), min_size=1, max_size=20),
)
def test_with_regular_syncs_a_changed_record_is_read_within_the_bound_and_a_gap(pages, gap, writes):
    horizon = 3 * BOUND
    syncs = simulate(pages, pages, [gap] * (horizon // gap))
    for where, when in writes:
        second = START + int(where * (pages * PAGE_SECONDS - 1))
        written = START + 400 * DAY + int(when * BOUND)  # early enough that the bound falls in the horizon
        caught = catch_time(syncs, second, written)
        assert caught is not None and caught - written <= BOUND + gap, (second, written, caught)


@settings(max_examples=30, deadline=None)
@given(pages=st.integers(1, 3_000), gap=st.integers(600, DAY))
@example(pages=783, gap=67_601)  # a pass ends early in a sync: the next spends about twice the mean
def test_the_cost_is_even_and_about_one_pass_per_bound(pages, gap):
    syncs = simulate(pages, pages, [gap] * (4 * BOUND // gap))
    costs = [sync.spent for sync in syncs]
    earned = pages * PACE_MARGIN * gap / BOUND  # what each sync earns
    # At most twice that, +1 (a request earned over several syncs is spent in one): the sync after a pass ended
    # early spends what that sync earned and did not spend, carried as credit, and its own share.
    assert max(costs) <= 2 * earned + 1
    passes = (syncs[-1].now - START - 400 * DAY) / BOUND
    assert sum(costs) <= math.ceil(passes * pages * PACE_MARGIN) + 1


def test_an_hourly_sync_re_reads_a_24th_of_the_look_back_a_daily_one_all_of_it():
    hourly = simulate(55, 55, [HOUR] * 24 * 7, bound=DAY)
    assert sum(s.spent for s in hourly) / len(hourly) <= 55 * PACE_MARGIN / 24 + 0.01
    daily = simulate(55, 55, [DAY] * 7, bound=DAY)
    assert [s.spent for s in daily] == [55] * 7


def test_a_pass_that_ends_measures_the_next_ones_pace_and_carries_what_was_not_spent():
    current = first_pass(START, 5_000, 100, news_since=5_000)
    slice_ = plan(current, START, START + 100, 5_000 + BOUND // 2, BOUND)
    assert slice_.budget == 52  # half a bound earns half a pass, and 5% more
    current = advance(current, slice_, START + 10, 40, 5_000 + BOUND // 2)
    assert (current.through, current.pass_requests, current.requests_per_pass) == (START + 10, 40, 100)
    assert current.credit == slice_.allowance - 40
    following = next_pass(current, slice_, START, 5, 9_000)
    # R is what the pass cost; news since the finished pass began; what the slice did not spend is carried.
    assert following == Pass(START - 1, 45, 9_000, 0, 5_000, slice_.allowance - 5, 9_000)


def test_a_pass_saved_without_its_own_time_earns_a_whole_bound():
    current = Pass(START, 700, 0, 0, 0, 0.0, None)
    assert plan(current, START, START + 100, 10, BOUND).budget == math.floor(700 * PACE_MARGIN)


@given(
    through=st.integers(0, 2**40),
    requests_per_pass=st.none() | st.integers(0, 2**31),
    pass_started=st.integers(0, 2**40),
    pass_requests=st.integers(0, 2**31),
    news_since=st.integers(0, 2**40),
    credit=st.floats(0, 2**31),
    credited_at=st.none() | st.integers(0, 2**40),
)
def test_the_saved_pass_reads_back(
    through, requests_per_pass, pass_started, pass_requests, news_since, credit, credited_at
):
    saved = Pass(through, requests_per_pass, pass_started, pass_requests, news_since, credit, credited_at)
    assert Pass.from_json(saved.to_json()) == saved


def test_a_pass_this_version_did_not_write_is_not_read_and_an_earlier_ones_is():
    good = Pass(1, 2, 3, 4, 5, 0.5, 6).to_json()
    assert Pass.from_json("through=1") is None
    assert Pass.from_json({**good, "through": -1}) is None
    assert Pass.from_json({**good, "pass_started": True}) is None
    assert Pass.from_json({**good, "credit": "a lot"}) is None
    assert Pass.from_json({key: value for key, value in good.items() if key != "news_since"}) is None
    assert Pass.from_json({**good, "requests_per_pass": None}) == Pass(1, None, 3, 4, 5, 0.5, 6)
    written_by_1_0 = {
        "through": 1,
        "requests_per_pass": 2,
        "pass_started": 3,
        "pass_requests": 4,
        "news_since": 5,
    }
    assert Pass.from_json(written_by_1_0) == Pass(1, 2, 3, 4, 5, 0.0, None)
