"""The paging planner against a tiny in-memory model of Wootric's list endpoint (30 pages of 50 at most), which
can also misbehave as the real API has been seen to: a page cap, ignored sort key or order, ignored filters,
ties (shared e-mails) in a new order on every request, offset-less datetimes read as ranges of instants."""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import dataclass

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from source_wootric.answers import PER_PAGE, Behaviour, Dimension, EndpointConduct, FiltersIgnored, Row
from source_wootric.paging import MAX_PAGE, Planner

UPDATED = Dimension("updated", "updated_at")
CREATED = Dimension("created", "created_at")
OPS = {"gt": int.__gt__, "gte": int.__ge__, "lt": int.__lt__, "lte": int.__le__, "eq": int.__eq__}
SHARED_EMAILS = ["Unknown", None, "team@example.com"]


@dataclass(frozen=True)
class Conduct:
    """How the model endpoint misbehaves; the default is the reference's behaviour."""

    page_cap: int | None = None  # answers at most this many rows a page, offsets counted in them
    extra_rows: int = 0  # answers this many rows more than per_page asks, offsets counted in them
    ignore_sort_key: bool = False  # sorts by e-mail, the end users' default, whatever is asked
    fixed_order: str | None = None  # answers in this order whatever sort_order asks
    ignore_filters: bool = False
    shuffle_ties: bool = False  # records with equal sort values come in a new order on every request
    shuffle_pages: bool = False  # rows of each page in a random order
    blur: int = 0  # every other record's datetimes lack an offset: read as a range this wide each side


class FakeEndpoint:
    """Filters, sorts (ties in a fixed order that is not the id order, unless shuffled) and pages like the API."""

    def __init__(
        self,
        users: dict[int, tuple[int, int]],
        emails: dict[int, str | None] | None = None,
        conduct: Conduct = Conduct(),
    ):
        self.users = users  # id -> (updated, created)
        self.emails = emails or {i: f"user{(i * 104729) % 2003:04}.{i}@example.com" for i in users}
        self.conduct = conduct
        self.requests = 0
        self.longest = 0  # the most rows an answer held

    def seconds(self, user_id: int, level: int) -> tuple[int, int]:
        second = self.users[user_id][level]
        blur = self.conduct.blur if user_id % 2 == 0 else 0
        return second - blur, second + blur * 6 // 7  # as -14 h .. +12 h, scaled down

    def row(self, user_id: int) -> Row:
        return Row(user_id, lambda level: self.seconds(user_id, level), lambda: self.emails[user_id])

    def answer(self, params: dict) -> list[Row]:
        self.requests += 1
        conduct = self.conduct
        assert 1 <= params["page"] <= MAX_PAGE and 1 <= params["per_page"] <= PER_PAGE
        ids = list(self.users)
        if not conduct.ignore_filters:
            for key, value in params.items():
                if "[" in key:
                    name, op = key[:-1].split("[")
                    level = 0 if name == "updated" else 1
                    ids = [i for i in ids if OPS[op](self.users[i][level], value)]
                elif key == "email":
                    ids = [i for i in ids if self.emails[i] == value]
        rng = random.Random(self.requests)
        tie = {i: rng.random() for i in ids} if conduct.shuffle_ties else {i: (i * 7919) % 1009 for i in ids}
        sort_key = "email" if conduct.ignore_sort_key else params["sort_key"]
        if sort_key == "email":
            ids.sort(key=lambda i: (self.emails[i] or "", tie[i]))
        else:
            level = 0 if sort_key == "updated_at" else 1
            ids.sort(key=lambda i: (self.users[i][level], tie[i]))
        if (conduct.fixed_order or params["sort_order"]) == "desc":
            ids.reverse()
        per_page = min(params["per_page"], conduct.page_cap or PER_PAGE) + conduct.extra_rows
        start = (params["page"] - 1) * per_page
        page = ids[start : start + per_page]
        self.longest = max(self.longest, len(page))
        if conduct.shuffle_pages:
            rng.shuffle(page)
        return [self.row(i) for i in page]


def read_all(endpoint: FakeEndpoint, planner: Planner, between_requests=None) -> list[int]:
    emitted: list[int] = []
    while (request := planner.next_request()) is not None:
        rows = endpoint.answer(request.params)
        emitted.extend(row.id for row in planner.feed(rows))
        if between_requests:
            between_requests(endpoint)
    return emitted


def end_user_planner(low: int, high: int, clock=None, conduct: EndpointConduct | None = None) -> Planner:
    return Planner(
        [UPDATED, CREATED],
        "email",
        low,
        high,
        first_dimension_moves=clock is not None,
        clock=clock,
        tie_filter="email",
        conduct=conduct or EndpointConduct(),
    )


users_strategy = (
    st.integers(0, 400)
    .flatmap(  # drawn sizes: hypothesis would favour short lists
        lambda size: st.lists(
            st.tuples(
                st.integers(0, 3),  # which cluster: spread, one hot second, one hot (updated, created) pair
                st.integers(0, 10_000),
                st.integers(0, 10_000),
            ),
            min_size=size,
            max_size=size,
        )
    )
    .map(
        lambda specs: {
            i: ((u, min(c, u)) if kind == 0 else (5_000, min(c, 5_000)) if kind == 1 else (7_000, 6_000))
            for i, (kind, u, c) in enumerate(specs, start=1)
        }
    )
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
    assert planner.conduct.observed == {}  # a well-behaved API: nothing to warn about


@settings(max_examples=60, deadline=None, derandomize=True)
@given(users=users_strategy)
def test_a_page_sorted_wrongly_costs_requests_never_a_record(users):
    planner = end_user_planner(0, 10_000)
    emitted = read_all(FakeEndpoint(users, conduct=Conduct(shuffle_pages=True)), planner)
    assert set(emitted) == set(users)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(users=users_strategy)
@example(users={1: (0, 0), **dict.fromkeys(range(2, 51), (5000, 0)), 51: (5001, 0)})  # 49 in one second
def test_requests_stay_close_to_the_floor(users):
    endpoint = FakeEndpoint(users)
    read_all(endpoint, end_user_planner(0, 10_000))
    # Each hot second (or pair of seconds) costs up to three pages more, to find it and to cut it; spread
    # seconds cost nothing extra; a range short of a page, one request to rule out a page cap. A second that
    # holds all but a few rows of a page is hot too: such a page could be in order by chance, and is checked
    # (paging.ORDER_BY_CHANCE: C(50, 4) orders are more likely than one in a million, C(50, 5) are not).
    updated = Counter(u for u, _ in users.values())
    hot = sum(n > PER_PAGE - 5 for n in updated.values()) + sum(
        n > PER_PAGE - 5 for n in Counter(users.values()).values()
    )
    assert endpoint.requests <= math.ceil(len(users) / PER_PAGE) + 3 * hot + 2


def in_cluster(user: tuple[int, int], email: str | None, fixed) -> bool:
    values = {"updated": user[0], "created": user[1], "email": email}
    return all(values[name] == value for name, value in fixed)


conducts = st.builds(
    Conduct,
    page_cap=st.sampled_from([None, 7, 25, 49]),
    ignore_sort_key=st.booleans(),
    fixed_order=st.sampled_from([None, None, "asc", "desc"]),
    shuffle_ties=st.booleans(),
    blur=st.sampled_from([0, 0, 3, 140]),
)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    users=users_strategy,
    shared=st.lists(st.booleans(), min_size=400, max_size=400),
    conduct=conducts,
    low=st.integers(0, 6_000),
)
def test_every_record_arrives_or_its_cluster_is_named_whatever_the_api_does(users, shared, conduct, low):
    emails = {i: SHARED_EMAILS[i % 3] if shared[i - 1] else f"user{i}@example.com" for i in users}
    endpoint = FakeEndpoint(users, emails, conduct)
    planner = end_user_planner(low, 10_000)
    emitted = set(read_all(endpoint, planner))
    expected = {i for i, (updated, _) in users.items() if updated >= low}
    assert emitted <= set(users)
    missing = expected - emitted
    assert all(
        any(in_cluster(users[i], emails[i], gap.fixed) for gap in planner.unreachable) for i in missing
    )
    assert planner.complete_through == 10_000
    # What cannot be read is named only where the API leaves no other way: shared e-mails in a new order on
    # every request, an order that cannot be reversed, or more records sharing every value than pages reach.
    page_size = min(PER_PAGE, conduct.page_cap or PER_PAGE)
    hot_pair = sum(u == (7_000, 6_000) for u in users.values())
    if not (conduct.shuffle_ties and any(shared)) and conduct.fixed_order is None:
        assert not planner.unreachable or hot_pair > 2 * MAX_PAGE * page_size
    if not conduct.shuffle_ties and hot_pair <= MAX_PAGE * page_size:  # ties kept in order cost nothing
        assert Behaviour.SHARED_TIES not in planner.conduct.observed


@settings(max_examples=100, deadline=None, derandomize=True)
@given(users=users_strategy, conduct=conducts, low=st.integers(0, 6_000))
def test_ignored_filters_stop_the_read_unless_every_answer_was_what_was_asked(users, conduct, low):
    endpoint = FakeEndpoint(users, conduct=Conduct(**{**conduct.__dict__, "ignore_filters": True}))
    planner = end_user_planner(low, 10_000)
    try:
        emitted = read_all(endpoint, planner)
    except FiltersIgnored as ignored:  # the record named truly lies outside the bound named
        level = 0 if ignored.name == "updated" else 1
        assert not OPS[ignored.op](users[ignored.row_id][level], ignored.bound)
    else:  # nothing told: then every answer held only what was asked (an offset-less second may be any
        # instant of its range), and every record was read
        assert all(endpoint.seconds(user_id, 0)[1] >= low for user_id in users)
        assert set(emitted) == set(users) or planner.unreachable


@settings(max_examples=100, deadline=None, derandomize=True)
@given(users=users_strategy, conduct=conducts)
def test_what_the_api_did_is_observed_and_a_well_behaved_api_shows_nothing(users, conduct):
    planner = end_user_planner(0, 10_000)
    read_all(FakeEndpoint(users, conduct=conduct), planner)
    observed = planner.conduct.observed
    if conduct.page_cap is None and not conduct.ignore_sort_key and conduct.fixed_order is None:
        assert Behaviour.PAGE_CAP not in observed and Behaviour.SORT_IGNORED not in observed
    if Behaviour.PAGE_CAP in observed:
        assert planner.conduct.page_cap == conduct.page_cap


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


def test_a_short_first_answer_is_checked_once_for_a_page_cap():
    users = {i: (100 + i, 100 + i) for i in range(1, 8)}
    endpoint = FakeEndpoint(users)
    conduct = EndpointConduct()
    planner = end_user_planner(0, 1_000, conduct=conduct)
    assert sorted(read_all(endpoint, planner)) == sorted(users)
    # Seven rows could be a cap of seven: page 2 with per_page=7 says there is no more.
    assert endpoint.requests == 2 and conduct.observed == {} and conduct.page_cap is None
    # A later range of the same endpoint with fewer rows than the largest page seen ends at once.
    endpoint.requests = 0
    assert sorted(read_all(endpoint, end_user_planner(103, 1_000, conduct=conduct))) == [3, 4, 5, 6, 7]
    assert endpoint.requests == 1


def test_a_page_cap_is_found_once_and_read_through():
    users = {i: (i * 10, i * 10) for i in range(1, 1_001)}
    endpoint = FakeEndpoint(users, conduct=Conduct(page_cap=25))
    planner = end_user_planner(0, 10**7)
    emitted = read_all(endpoint, planner)
    assert sorted(emitted) == sorted(users) and len(emitted) == len(set(emitted))
    assert planner.conduct.page_cap == 25 and Behaviour.PAGE_CAP in planner.conduct.observed
    # One page, its check, then 24 new records a page.
    assert endpoint.requests == 2 + math.ceil((1_000 - 25) / 24)
    # The WARN's count is what the cap cost against 50-row pages, within the one page it was found on.
    without_cap = math.ceil((1_000 - 1) / (PER_PAGE - 1))
    assert abs(planner.conduct.extra_cost(Behaviour.PAGE_CAP) - (endpoint.requests - without_cap)) <= 1


def test_a_page_cap_with_offset_paging_reads_30_pages_of_the_cap_each_way():
    users = {i: (9_000, 8_000) for i in range(1, 1_401)}  # more than 30 x 25, less than 60 x 25
    endpoint = FakeEndpoint(users, conduct=Conduct(page_cap=25))
    planner = end_user_planner(0, 10_000)
    assert set(read_all(endpoint, planner)) == set(users) and not planner.unreachable


@settings(max_examples=100, deadline=None, derandomize=True)
@given(users=users_strategy, low=st.integers(0, 6_000))
def test_answers_longer_than_per_page_are_read_as_full_pages_and_named(users, low):
    endpoint = FakeEndpoint(users, conduct=Conduct(extra_rows=10))
    planner = end_user_planner(low, 10_000)
    emitted = read_all(endpoint, planner)
    assert sorted(emitted) == sorted(i for i, (updated, _) in users.items() if updated >= low)
    assert (Behaviour.TOO_MANY_ROWS in planner.conduct.observed) == (endpoint.longest > PER_PAGE)


def test_ignored_filters_stop_the_read():
    users = {i: (i * 10, i * 10) for i in range(1, 201)}
    planner = end_user_planner(1_000, 10_000)
    with pytest.raises(FiltersIgnored) as raised:
        read_all(FakeEndpoint(users, conduct=Conduct(ignore_filters=True)), planner)
    assert raised.value.name == "updated" and raised.value.op == "gte" and raised.value.bound == 1_000


def test_a_range_of_instants_contradicts_a_filter_only_when_wholly_outside():
    planner = end_user_planner(1_000, 2_000)
    planner.next_request()
    # An offset-less datetime that could be 1,000 or 14 hours earlier does not contradict updated[gte]=1000.
    assert planner.feed([Row(1, lambda level: (1_000 - 50_400, 1_000))]) == []  # short of a page: unsure
    planner.next_request()
    with pytest.raises(FiltersIgnored):
        planner.feed([Row(2, lambda level: (2_001, 2_050))])


@pytest.mark.parametrize("conduct", [Conduct(ignore_sort_key=True), Conduct(fixed_order="desc")])
def test_an_ignored_sort_is_read_through_by_narrowing_windows(conduct):
    users = {i: (random.Random(i).randrange(0, 100_000), 0) for i in range(1, 2_001)}
    endpoint = FakeEndpoint(users, conduct=conduct)
    planner = end_user_planner(0, 100_000)
    emitted = read_all(endpoint, planner)
    assert sorted(set(emitted)) == sorted(users)
    assert Behaviour.SORT_IGNORED in planner.conduct.observed
    extra = planner.conduct.extra_cost(Behaviour.SORT_IGNORED)
    assert 0 < extra < endpoint.requests <= 3 * math.ceil(2_000 / PER_PAGE) + 20


def test_a_full_page_in_one_later_second_is_checked_for_older_records_at_no_cost():
    older = {i: (100 + i, 0) for i in range(1, 11)}
    bulk = {i: (5_000, 5_000 - i) for i in range(11, 111)}  # the newest second holds 100 records
    endpoint = FakeEndpoint({**older, **bulk}, conduct=Conduct(fixed_order="desc"))
    planner = end_user_planner(0, 10_000)
    assert set(read_all(endpoint, planner)) == {*older, *bulk}
    assert Behaviour.SORT_IGNORED in planner.conduct.observed
    well_behaved = FakeEndpoint(bulk)
    read_all(well_behaved, end_user_planner(0, 10_000))
    # Page 1, the check that nothing precedes its second (in place of reading that page again, as before
    # the check), the cut by created second at 49 new a page, and one request past the second: as before.
    assert well_behaved.requests == 2 + math.ceil((100 - 1) / (PER_PAGE - 1)) + 1


def test_offset_less_rows_of_a_full_second_are_not_taken_for_an_ignored_sort():
    # User 2 lacks an offset: it may lie at 5,000 like the bulk behind it, so the check for records before
    # 5,000 finds it, and only it: already on the page, not a sign of a wrong order.
    users = {2: (4_999, 0)} | {i: (5_000, i) for i in range(3, 103)}
    planner = end_user_planner(0, 10_000)
    emitted = read_all(FakeEndpoint(users, conduct=Conduct(blur=140)), planner)
    assert set(emitted) == set(users) and planner.conduct.observed == {}


def test_a_page_in_order_by_chance_is_checked_before_its_order_is_believed():
    # Sorted by e-mail, whatever is asked: the four a-users (second 0) and then the b-users (5,000) look
    # sorted by time, but the c-users of second 0 come after them.
    users = {i: (0, 0) for i in range(1, 5)} | {i: (5_000, 0) for i in range(5, 31)}
    users |= {i: (0, 0) for i in range(31, 61)}
    emails = {i: f"{'a' if i < 5 else 'b' if i < 31 else 'c'}{i:02}@example.com" for i in users}
    planner = end_user_planner(0, 10_000)
    emitted = read_all(FakeEndpoint(users, emails, Conduct(page_cap=25, ignore_sort_key=True)), planner)
    assert set(emitted) == set(users) and Behaviour.SORT_IGNORED in planner.conduct.observed


def test_complete_through_never_passes_an_unanswered_claim():
    users = {i: (5_000, i) for i in range(1, 101)}
    endpoint = FakeEndpoint(users)
    planner = end_user_planner(0, 10_000)
    planner.feed(endpoint.answer(planner.next_request().params))
    assert planner.complete_through == -1  # the page says nothing lies before 5,000: not yet proven
    planner.feed(endpoint.answer(planner.next_request().params))
    assert planner.complete_through == 4_999


def test_shared_emails_in_a_new_order_on_every_request_are_read_again_by_email():
    users = {i: (9_000, 8_000) for i in range(1, 201)}
    # E-mails in runs of 20: every page edge falls inside a run, whose members change places per request.
    emails = {i: f"shared{(i - 1) // 20:02}@example.com" for i in users}
    endpoint = FakeEndpoint(users, emails, Conduct(shuffle_ties=True))
    planner = end_user_planner(0, 10_000)
    assert set(read_all(endpoint, planner)) == set(users) and not planner.unreachable
    assert Behaviour.SHARED_TIES in planner.conduct.observed
    assert 0 < planner.conduct.extra_cost(Behaviour.SHARED_TIES) <= 4  # one request per run that straddled


def test_users_without_an_email_split_by_pages_are_named():
    users = {i: (9_000, 8_000) for i in range(1, 121)}
    emails = {i: None if i % 2 else f"user{i}@example.com" for i in users}
    planner = end_user_planner(0, 10_000)
    read_all(FakeEndpoint(users, emails, Conduct(shuffle_ties=True)), planner)
    [gap] = planner.unreachable
    assert gap.fixed == (("updated", 9_000), ("created", 8_000)) and "same email (None)" in gap.reason


def test_responses_of_one_second_in_a_new_order_on_every_request_are_named():
    responses = {i: (8_000, 8_000) for i in range(1, 121)}  # created in one second: ties on created_at
    endpoint = FakeEndpoint(responses, conduct=Conduct(shuffle_ties=True))
    endpoint.row = lambda i: Row(i, lambda level: endpoint.seconds(i, 0), lambda: "2026-01-01 00:00:00 +0000")
    planner = Planner([CREATED], "created_at", 0, 10_000)
    emitted = set(read_all(endpoint, planner))
    [gap] = planner.unreachable
    assert gap.fixed == (("created", 8_000),) and "changed places" in gap.reason and len(emitted) < 120
    stable = Planner([CREATED], "created_at", 0, 10_000)
    endpoint.conduct = Conduct()
    assert set(read_all(endpoint, stable)) == set(responses) and not stable.unreachable


def test_a_page_cap_met_inside_ties_in_a_new_order_is_still_found():
    users = {i: (1, 0) for i in range(3, 25)} | {
        1: (20, 0),
        2: (4_981, 0),
        25: (7_000, 6_000),
        26: (7_000, 6_000),
    }
    planner = end_user_planner(1, 10_000)
    # Page 1 holds 25 of 26, page 2 one row that may repeat one of them: still proof of a cap.
    emitted = read_all(FakeEndpoint(users, conduct=Conduct(page_cap=25, shuffle_ties=True)), planner)
    assert set(emitted) == set(users) and planner.conduct.page_cap == 25


def test_a_bulk_import_in_one_second_is_cut_by_created_second():
    users = {i: (9_000, i) for i in range(1, 5_001)}  # 5,000 users updated in one second
    endpoint = FakeEndpoint(users)
    emitted = read_all(endpoint, end_user_planner(0, 10_000))
    assert sorted(emitted) == sorted(users)
    # One page to find the hot second, one check that nothing precedes it, then 49 new users a page.
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


def test_an_ignored_sort_order_on_a_cluster_past_30_pages_is_reported():
    users = {i: (9_000, 8_000) for i in range(1, 2_001)}
    planner = end_user_planner(0, 10_000)
    read_all(FakeEndpoint(users, conduct=Conduct(fixed_order="asc")), planner)
    [gap] = planner.unreachable
    assert "ignores sort_order" in gap.reason and Behaviour.SORT_IGNORED in planner.conduct.observed


def test_complete_through_only_covers_seconds_fully_read():
    users = {i: (100 + i // 10, 0) for i in range(1, 200)}  # ten users per second
    endpoint = FakeEndpoint(users)
    planner = end_user_planner(0, 1_000)
    rows = endpoint.answer(planner.next_request().params)
    planner.feed(rows)
    newest = max(r.seconds(0)[0] for r in rows)
    assert planner.complete_through == newest - 1


def test_paging_advances_only_to_the_earliest_instant_of_a_range():
    users = {i: (100 + i, 0) for i in range(1, 200)}
    endpoint = FakeEndpoint(users, conduct=Conduct(blur=30))
    planner = end_user_planner(0, 1_000)
    rows = endpoint.answer(planner.next_request().params)
    planner.feed(rows)
    # Overlapping ranges say nothing of the order: the page's claim is checked before state may pass it.
    assert planner.complete_through == -1
    planner.feed(endpoint.answer(planner.next_request().params))
    assert planner.complete_through == max(r.seconds(0)[0] for r in rows) - 1 < 100 + 50


def test_users_leaving_a_cluster_mid_read_do_not_hide_their_neighbours():
    users = {i: (9_000, 8_000) for i in range(1, 301)}
    endpoint = FakeEndpoint(users)
    now = [20_000]
    moved: list[int] = []

    def update_one_member(api: FakeEndpoint) -> None:
        if len(moved) < 3 and api.requests >= 3:
            victim = sorted(api.users, key=lambda i: (api.emails[i], i))[len(moved) * 7]
            api.users[victim] = (now[0], 8_000)  # its updated_at jumps past the range being read
            moved.append(victim)

    planner = end_user_planner(0, 10_000, clock=lambda: now[0])
    emitted = read_all(endpoint, planner, update_one_member)
    assert len(emitted) == len(set(emitted))
    assert set(emitted) | set(moved) == set(users)
