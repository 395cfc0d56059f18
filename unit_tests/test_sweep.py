"""The sweep's schedule (source_wootric/sweep.py), against a model of the range it re-reads: syncs at
any rhythm, the pages of a pass read one request each, as the stream does."""

from __future__ import annotations

import math
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from source_wootric.rereads import (
    DAY,
    SLACK_REQUESTS,
    SweepState,
    advance,
    budget,
    first_pass,
    next_pass,
    plan,
)

PERIOD = 7 * DAY
START = 1_000_000
PAGE_SECONDS = 1_000  # the model's pages each cover this many seconds of created_at


@dataclass
class Sync:
    now: int
    spent: int  # requests the sweep spent
    budget: int | None
    low: int  # this sync re-read the created seconds [low, reached]; none if reached < low
    reached: int


def simulate(pages: int, requests_per_pass: int, gaps: list[int]) -> list[Sync]:
    """Syncs `gaps` seconds apart over a range of `pages` pages, as SurveyEventStream.sweep drives them."""
    below = START + pages * PAGE_SECONDS
    now = START + 400 * DAY
    sweep = first_pass(START, now, requests_per_pass, news_since=now)
    synced_at, syncs = now, []
    for gap in gaps:
        now += gap
        slice_ = plan(sweep, START, below, now, synced_at, PERIOD)
        at_start, spent, through = sweep, 0, sweep.through
        finished = False
        while slice_.budget is None or spent < slice_.budget:
            if through + 1 > slice_.high:
                finished = True
                break
            spent += 1  # one request reads the next page
            through = min(slice_.high, through + PAGE_SECONDS)
            sweep = advance(at_start, through, spent)
        syncs.append(Sync(now, spent, slice_.budget, slice_.low, through))
        if finished:
            sweep = next_pass(at_start, START, now, spent)
        synced_at = now
    return syncs


def catch_time(syncs: list[Sync], second: int, written: int) -> int | None:
    """When the sweep first re-reads `second` after it was written at `written`."""
    return next((s.now for s in syncs if s.now > written and s.low <= second <= s.reached), None)


@given(
    requests_per_pass=st.none() | st.integers(0, 10**6),
    elapsed=st.integers(-DAY, 60 * DAY),
    period=st.integers(1, 60 * DAY),
)
def test_a_sync_may_spend_its_share_of_a_pass_plus_two(requests_per_pass, elapsed, period):
    allowed = budget(requests_per_pass, elapsed, period)
    if requests_per_pass is None:
        assert allowed is None  # the first pass after an upgrade: R is not known yet
    else:
        assert allowed == math.ceil(requests_per_pass * max(0, elapsed) / period) + SLACK_REQUESTS


@settings(max_examples=60, deadline=None)
@given(
    pages=st.integers(1, 3_000),
    gaps=st.lists(st.integers(600, 3 * DAY), min_size=1, max_size=400),
)
def test_no_sync_spends_more_than_its_budget_and_a_pass_ends_within_a_period(pages, gaps):
    syncs = simulate(pages, pages, gaps)
    for sync in syncs:
        assert sync.budget is not None and sync.spent <= sync.budget
    # Every pass ends at the first sync a period or more after it began; the one still going began less
    # than a period before the last sync.
    pass_start = START + 400 * DAY
    for sync in syncs:
        if sync.reached == START + pages * PAGE_SECONDS - 1:
            assert sync.now - pass_start <= PERIOD + max(gaps)
            pass_start = sync.now
    assert syncs[-1].now == pass_start or syncs[-1].now - pass_start < PERIOD


@settings(max_examples=40, deadline=None)
@given(
    pages=st.integers(1, 2_000),
    gap=st.integers(600, DAY),
    writes=st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1)), min_size=1, max_size=20),
)
def test_with_regular_syncs_a_backdated_record_is_read_within_a_period_and_a_gap(pages, gap, writes):
    horizon = 3 * PERIOD
    syncs = simulate(pages, pages, [gap] * (horizon // gap))
    for where, when in writes:
        second = START + int(where * (pages * PAGE_SECONDS - 1))
        written = START + 400 * DAY + int(when * PERIOD)  # early enough that the bound falls in the horizon
        caught = catch_time(syncs, second, written)
        assert caught is not None and caught - written <= PERIOD + gap, (second, written, caught)


@settings(max_examples=30, deadline=None)
@given(pages=st.integers(1, 3_000), gap=st.integers(600, DAY))
def test_the_cost_is_even_no_sync_spends_more_than_twice_the_mean(pages, gap):
    syncs = simulate(pages, pages, [gap] * (2 * PERIOD // gap))
    costs = [sync.spent for sync in syncs]
    assert max(costs) <= 2 * (sum(costs) / len(costs)) + 1  # +1: the last page of a pass may stand alone


def test_a_pass_that_ends_measures_the_next_ones_pace():
    sweep = first_pass(START, 5_000, 100, news_since=5_000)
    sweep = advance(sweep, START + 10, 40)
    assert (sweep.through, sweep.pass_requests, sweep.requests_per_pass) == (START + 10, 40, 100)
    following = next_pass(sweep, START, 9_000, 25)
    assert following == SweepState(START - 1, 65, 9_000, 0, 5_000)  # news since the finished pass began


def test_without_a_last_sync_a_whole_period_counts_as_elapsed():
    sweep = first_pass(START, 0, 700, news_since=0)
    assert plan(sweep, START, START + 100, 10, None, PERIOD).budget == 700 + SLACK_REQUESTS


@given(
    through=st.integers(0, 2**40),
    requests_per_pass=st.none() | st.integers(0, 2**31),
    pass_started=st.integers(0, 2**40),
    pass_requests=st.integers(0, 2**31),
    news_since=st.integers(0, 2**40),
)
def test_the_saved_sweep_reads_back(through, requests_per_pass, pass_started, pass_requests, news_since):
    sweep = SweepState(through, requests_per_pass, pass_started, pass_requests, news_since)
    assert SweepState.from_json(sweep.to_json()) == sweep


def test_a_sweep_this_version_did_not_write_is_not_read():
    good = SweepState(1, 2, 3, 4, 5).to_json()
    assert SweepState.from_json("through=1") is None
    assert SweepState.from_json({**good, "through": -1}) is None
    assert SweepState.from_json({**good, "pass_started": True}) is None
    assert SweepState.from_json({key: value for key, value in good.items() if key != "news_since"}) is None
    assert SweepState.from_json({**good, "requests_per_pass": None}) == SweepState(1, None, 3, 4, 5)
