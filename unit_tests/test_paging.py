"""The paging planner against a tiny in-memory model of Wootric's list endpoint (30 pages of 50 at most)."""

from __future__ import annotations

import math
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from source_wootric.paging import MAX_PAGE, PER_PAGE, Dimension, Planner, Row

UPDATED = Dimension("updated", "updated_at")
CREATED = Dimension("created", "created_at")
OPS = {"gt": int.__gt__, "gte": int.__ge__, "lt": int.__lt__, "lte": int.__le__, "eq": int.__eq__}


class FakeEndpoint:
    """Filters, sorts (ties in a fixed order that is not the id order) and pages like the real API."""

    def __init__(self, users: dict[int, tuple[int, int]], shuffle_pages: bool = False):
        self.users = users  # id -> (updated, created)
        self.requests = 0
        self.shuffle_pages = shuffle_pages  # an API that sorts wrongly within a page

    def answer(self, params: dict) -> list[Row]:
        self.requests += 1
        assert 1 <= params["page"] <= MAX_PAGE and params["per_page"] <= PER_PAGE
        rows = [Row(i, seconds.__getitem__) for i, seconds in self.users.items()]
        for key, value in params.items():
            if "[" in key:
                name, op = key[:-1].split("[")
                index = 0 if name == "updated" else 1
                rows = [r for r in rows if OPS[op](r.second(index), value)]
        field = {"updated_at": 0, "created_at": 1}.get(params["sort_key"])
        if field is None:  # by e-mail: an order unrelated to the ties of the time sorts
            rows.sort(key=lambda r: ((r.id * 104729) % 2003, r.id))
        else:
            rows.sort(key=lambda r: (r.second(field), (r.id * 7919) % 1009, r.id))
        if params["sort_order"] == "desc":
            rows.reverse()
        start = (params["page"] - 1) * params["per_page"]
        page = rows[start : start + params["per_page"]]
        if self.shuffle_pages:
            random.Random(self.requests).shuffle(page)
        return page


def read_all(endpoint: FakeEndpoint, planner: Planner, between_requests=None) -> list[int]:
    emitted: list[int] = []
    while (request := planner.next_request()) is not None:
        rows = endpoint.answer(request.params)
        emitted.extend(rows[i].id for i in planner.feed(rows))
        if between_requests:
            between_requests(endpoint)
    return emitted


def end_user_planner(low: int, high: int, clock=None) -> Planner:
    return Planner(
        [UPDATED, CREATED], "email", low, high, first_dimension_moves=clock is not None, clock=clock
    )


users_strategy = st.lists(
    st.tuples(
        st.integers(0, 3),  # which cluster: spread, one hot second, one hot (updated, created) pair
        st.integers(0, 10_000),
        st.integers(0, 10_000),
    ),
    max_size=400,
).map(
    lambda specs: {
        i: ((u, min(c, u)) if kind == 0 else (5_000, min(c, 5_000)) if kind == 1 else (7_000, 6_000))
        for i, (kind, u, c) in enumerate(specs, start=1)
    }
)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(users=users_strategy, low=st.integers(0, 6_000), high=st.integers(4_000, 10_000))
def test_every_record_in_range_is_emitted_exactly_once(users, low, high):
    endpoint = FakeEndpoint(users)
    planner = end_user_planner(low, high)
    emitted = read_all(endpoint, planner)
    expected = {i for i, (updated, _) in users.items() if low <= updated <= high}
    assert len(emitted) == len(set(emitted))
    assert set(emitted) == expected
    assert planner.complete_through == high and not planner.unreachable


@settings(max_examples=60, deadline=None, derandomize=True)
@given(users=users_strategy)
def test_a_page_sorted_wrongly_costs_duplicates_never_a_record(users):
    emitted = read_all(FakeEndpoint(users, shuffle_pages=True), end_user_planner(0, 10_000))
    assert set(emitted) == set(users)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(users=users_strategy)
def test_requests_stay_close_to_the_floor(users):
    endpoint = FakeEndpoint(users)
    read_all(endpoint, end_user_planner(0, 10_000))
    # Each hot second costs one page that is re-read while cutting it; spread seconds cost nothing extra.
    assert endpoint.requests <= math.ceil(len(users) / PER_PAGE) + 1 + 2 * 2 + 2


def test_spread_records_cost_the_floor_exactly():
    users = {i: (i * 1_000, i * 1_000) for i in range(1, 1_001)}
    endpoint = FakeEndpoint(users)
    emitted = read_all(endpoint, end_user_planner(0, 10**7))
    assert sorted(emitted) == sorted(users)
    # Every full page re-reads its newest second, so each next page brings 49 new records.
    assert endpoint.requests == math.ceil((1_000 - 1) / (PER_PAGE - 1))


def test_an_empty_range_costs_one_request_and_completes():
    endpoint = FakeEndpoint({})
    planner = end_user_planner(100, 200)
    assert read_all(endpoint, planner) == []
    assert endpoint.requests == 1 and planner.complete_through == 200


def test_a_bulk_import_in_one_second_is_cut_by_created_second():
    users = {i: (9_000, i) for i in range(1, 5_001)}  # 5,000 users updated in one second
    endpoint = FakeEndpoint(users)
    emitted = read_all(endpoint, end_user_planner(0, 10_000))
    assert sorted(emitted) == sorted(users)
    # One page to find the hot second, one re-read of it as the cut begins, then 49 new users a page.
    assert endpoint.requests <= math.ceil(5_000 / (PER_PAGE - 1)) + 3


def test_a_cluster_sharing_both_seconds_is_read_from_both_ends():
    users = {i: (9_000, 8_000) for i in range(1, 2_801)}  # more than 30 pages, less than 60
    endpoint = FakeEndpoint(users)
    planner = end_user_planner(0, 10_000)
    emitted = read_all(endpoint, planner)
    assert sorted(emitted) == sorted(users)
    assert not planner.unreachable


def test_a_cluster_beyond_both_ends_is_reported_not_dropped_silently():
    users = {i: (9_000, 8_000) for i in range(1, 3_101)}
    planner = end_user_planner(0, 10_000)
    emitted = read_all(FakeEndpoint(users), planner)
    assert len(emitted) == len(set(emitted)) >= 2 * MAX_PAGE * PER_PAGE
    [gap] = planner.unreachable
    assert gap.fixed == (("updated", 9_000), ("created", 8_000)) and gap.records_seen == len(emitted)


def test_complete_through_only_covers_seconds_fully_read():
    users = {i: (100 + i // 10, 0) for i in range(1, 200)}  # ten users per second
    endpoint = FakeEndpoint(users)
    planner = end_user_planner(0, 1_000)
    rows = endpoint.answer(planner.next_request().params)
    planner.feed(rows)
    newest = max(r.second(0) for r in rows)
    assert planner.complete_through == newest - 1


def test_users_leaving_a_cluster_mid_read_do_not_hide_their_neighbours():
    users = {i: (9_000, 8_000) for i in range(1, 301)}
    endpoint = FakeEndpoint(users)
    now = [20_000]
    moved: list[int] = []

    def update_one_member(api: FakeEndpoint) -> None:
        if len(moved) < 3 and api.requests >= 3:
            victim = sorted(api.users, key=lambda i: ((i * 104729) % 2003, i))[len(moved) * 7]
            api.users[victim] = (now[0], 8_000)  # its updated_at jumps past the range being read
            moved.append(victim)

    planner = end_user_planner(0, 10_000, clock=lambda: now[0])
    emitted = read_all(endpoint, planner, update_one_member)
    assert len(emitted) == len(set(emitted))
    assert set(emitted) | set(moved) == set(users)
