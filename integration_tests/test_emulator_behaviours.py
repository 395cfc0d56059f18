"""The emulator's options for the real API's behaviours (issue 10): each on when asked, off by default.

Through real HTTP with ``requests``; the proxy through a ``requests.Session`` that reaches
``https://app.wootric.eu/...`` as a production client would. As in test_emulator.py, only what the connector's
end-to-end tests would not catch if it broke: test_api_behaviours.py fails on its own when ignore_sort_key,
ignore_sort_order or ignore_filters stops doing what it says.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import datetime, timezone

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from integration_tests.test_emulator import CLIENT, FIXED_END, LEGACY_RE, PASSWORD, emulator_cli, session
from wootric_emulator import DatasetSpec, Emulator
from wootric_emulator.store import page_of, shuffle_ties

pytestmark = pytest.mark.timeout(120)

SPEC = DatasetSpec(users=300, seed=7, end=FIXED_END, bulk_import_users=40)


def rows(s: requests.Session, url: str, **params) -> list[dict]:
    r = s.get(url, params=params, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def ids(records: list[dict]) -> list[int]:
    return [r["id"] for r in records]


def proxied(proxy_url: str, ca_bundle: str | None = None) -> requests.Session:
    """A session that reaches the regional hosts through the emulator's proxy, trusting only its CA
    (``ca_bundle``; None: the usual CAs only).

    ``trust_env=False``: with the environment's ``REQUESTS_CA_BUNDLE`` set, requests would prefer it to
    ``Session.verify``."""
    s = requests.Session()
    s.trust_env = False
    s.proxies = {"https": proxy_url}
    if ca_bundle is not None:
        s.verify = ca_bundle
    return s


@pytest.fixture(scope="module")
def plain():
    with Emulator(SPEC) as emu, session(emu.url) as s:
        yield emu, s


# ------------------------------------------------------------------------------------------- page cap
def test_page_cap_answers_at_most_the_cap_and_pages_follow_it(plain, make_emulator):
    emu, s = plain
    capped = make_emulator(dataset=SPEC, page_cap=25)
    with session(capped.url) as c:
        url, want = capped.url + "/v1/end_users", rows(s, emu.url + "/v1/end_users", per_page=25, page=2)
        assert len(rows(c, url, per_page=50)) == 25
        assert ids(rows(c, url, per_page=50, page=2)) == ids(want)  # page 2 starts after row 25
        assert ids(rows(c, url, per_page=10, page=2)) == ids(
            rows(s, emu.url + "/v1/end_users", per_page=10, page=2)
        )
        got = [u for p in range(1, 31) for u in rows(c, url, per_page=50, page=p, sort_key="created_at")]
        assert sorted(ids(got)) == sorted(ids(emu.end_users))  # nothing skipped, nothing twice
        assert len(rows(c, capped.url + "/v1/responses", per_page=50)) == 25
    assert len(rows(s, emu.url + "/v1/end_users", per_page=50)) == 50  # off by default


# ------------------------------------------------------------------------------------------- offset-less datetimes
def _legacy_share(records: list[dict]) -> float:
    return sum(bool(LEGACY_RE.match(r["created_at"])) for r in records) / len(records)


def test_sydney_half_offsetless_parses_back_to_the_served_instants(make_emulator):
    spec = DatasetSpec(users=400, seed=3, end=FIXED_END, legacy_fraction=0.5)
    emu = make_emulator(dataset=spec, account_timezone="Australia/Sydney")
    users = emu.end_users
    assert 0.45 <= _legacy_share(users) <= 0.55
    assert any(u["created_at"].endswith("+1100") for u in users)  # summer time
    assert any(u["created_at"].endswith("+1000") for u in users)
    held = {r.id: r for r in emu.data.users.all()}
    for u in users:
        assert emu.epoch(u["created_at"]) == held[u["id"]].created
        assert emu.epoch(u["updated_at"]) == held[u["id"]].updated


# 2023-04-02 in Sydney: 03:00 AEDT falls back to 02:00 AEST at 16:00 UTC, so 02:00-03:00 local happens twice.
FOLD_SECOND = int(datetime(2023, 4, 1, 16, 30, tzinfo=timezone.utc).timestamp())  # the second 02:30


@pytest.mark.parametrize("at_folds", [False, True])
def test_offsetless_times_inside_a_dst_fold_only_with_legacy_at_folds(make_emulator, at_folds):
    spec = DatasetSpec(
        users=60,
        seed=4,
        end=FIXED_END,
        legacy_fraction=1.0,
        clusters=((FOLD_SECOND, 20, False),),
        legacy_at_folds=at_folds,
    )
    emu = make_emulator(dataset=spec, account_timezone="Australia/Sydney")
    in_fold = [u["updated_at"] for u in emu.end_users if emu.data.users.by_id[u["id"]].updated == FOLD_SECOND]
    assert len(in_fold) == 20
    if at_folds:
        assert set(in_fold) == {
            "2023-04-02 02:30:00"
        }  # ambiguous: it reads as the first 02:30, an hour early
        assert emu.epoch(in_fold[0]) == FOLD_SECOND - 3600
    else:
        assert set(in_fold) == {"2023-04-02 02:30:00 +1000"}  # the default serves the offset here
        assert emu.epoch(in_fold[0]) == FOLD_SECOND


def test_offsetless_mix_interleaves_both_forms_over_all_time(make_emulator):
    base = dict(users=600, seed=5, end=FIXED_END, legacy_fraction=0.0, iso_fraction=0.0)
    mixed = make_emulator(
        dataset=DatasetSpec(**base, offsetless_mix=True), account_timezone="Australia/Sydney"
    )
    plain = make_emulator(dataset=DatasetSpec(**base), account_timezone="Australia/Sydney")
    for records in (mixed.end_users, mixed.responses, mixed.declines):
        assert 0.4 <= _legacy_share(records) <= 0.6
        by_time = sorted(records, key=lambda r: mixed.epoch(r["created_at"]))
        for part in (by_time[: len(by_time) // 4], by_time[-len(by_time) // 4 :]):  # oldest and newest
            assert 0.3 <= _legacy_share(part) <= 0.7
    assert _legacy_share(plain.end_users) == 0.0
    # only the forms change: the same instants, ids and values
    assert [(u["id"], mixed.epoch(u["updated_at"])) for u in mixed.end_users] == [
        (u["id"], plain.epoch(u["updated_at"])) for u in plain.end_users
    ]


# ------------------------------------------------------------------------------------------- shared e-mails, ties
def test_shared_emails_are_unknown_or_null_and_the_email_filter_finds_them_all(plain, make_emulator):
    emu, _ = plain
    shared = make_emulator(dataset=DatasetSpec(users=300, seed=7, end=FIXED_END, shared_email_fraction=0.3))
    emails = Counter(u["email"] for u in shared.end_users)
    assert 30 <= emails["Unknown"] <= 60 and 30 <= emails[None] <= 60
    assert all(n == 1 for e, n in emails.items() if e not in ("Unknown", None))
    with session(shared.url) as c:
        url = shared.url + "/v1/end_users"
        found = [u for p in (1, 2) for u in rows(c, url, email="unknown", per_page=50, page=p)]
        assert sorted(ids(found)) == sorted(u["id"] for u in shared.end_users if u["email"] == "Unknown")
        walked = [u["email"] for p in range(1, 8) for u in rows(c, url, per_page=50, page=p)]
        assert len(walked) == 300 and walked[: emails[None]] == [None] * emails[None]  # null sorts first
    assert all(n == 1 for n in Counter(u["email"] for u in emu.end_users).values())  # off by default


def _twice(s: requests.Session, url: str, **params) -> tuple[list[int], list[int]]:
    return ids(rows(s, url, per_page=50, **params)), ids(rows(s, url, per_page=50, **params))


def _bulk_second(emu: Emulator) -> int:
    """The second the bulk import updated 40 users in."""
    second, count = Counter(r.updated for r in emu.data.users.all()).most_common(1)[0]
    assert count == 40
    return second


def test_ties_come_in_a_new_order_on_every_request(plain, make_emulator):
    emu, s = plain
    spec = replace(SPEC, shared_email_fraction=0.3)
    shuffled = make_emulator(dataset=spec, ties_shuffled=True)
    url, held = shuffled.url + "/v1/end_users", shuffled.data.users.by_id
    with session(shuffled.url) as c:
        for key, field, params in (
            ("updated_at", "updated", {"updated[eq]": _bulk_second(shuffled)}),  # a one-second window
            ("email", "email", {}),  # null (sorted as "") and "Unknown" e-mails tie
            ("email", "email", {"updated[gte]": 0}),  # the same through the filtered query plan
        ):
            first, again = _twice(c, url, sort_key=key, **params)
            values = [getattr(held[i], field) for i in first]
            assert first != again and values == [getattr(held[i], field) for i in again]
            assert values == sorted(values)  # the order by the key holds; only ties move
        first, again = _twice(c, url, sort_key="email")  # page 1: the null e-mails, then "Unknown" ones
        assert set(first) != set(again)  # a tie group straddling two pages shows other members each time
        first, again = _twice(c, url, sort_key="updated_at", **{"updated[eq]": _bulk_second(shuffled)})
        assert sorted(first) == sorted(again)  # a group held whole by one page keeps its members
    first, again = _twice(
        s, emu.url + "/v1/end_users", sort_key="updated_at", **{"updated[eq]": _bulk_second(emu)}
    )
    assert first == again  # off by default: a stable order


@settings(max_examples=60, deadline=None)
@given(
    keys=st.lists(st.integers(0, 6), max_size=300),
    desc=st.booleans(),
    limit=st.integers(1, 50),
    salt=st.integers(0, 2**31),
)
def test_shuffle_ties_moves_records_only_within_their_tie_group(keys, desc, limit, salt):
    class R:  # the store's records carry the key as an attribute and an id
        def __init__(self, i, k):
            self.id, self.k = i, k

    seq = sorted((R(i, k) for i, k in enumerate(keys)), key=lambda r: (r.k, r.id))

    def fetch(offset, n):
        return page_of(seq, 0, len(seq), desc, offset, n)

    for offset in range(0, len(seq) + limit, limit):
        page = shuffle_ties(fetch, offset, limit, lambda r: r.k, salt)
        canonical = fetch(offset, limit)
        assert [r.k for r in page] == [r.k for r in canonical]  # same keys at the same places
        assert len({r.id for r in page}) == len(page)
    # a whole answer (one page) holds exactly the canonical records
    whole = shuffle_ties(fetch, 0, len(seq) + 1, lambda r: r.k, salt)
    assert sorted(r.id for r in whole) == sorted(r.id for r in seq)


# ------------------------------------------------------------------------------------------- error bodies
def test_real_error_bodies_only_when_asked(plain, make_emulator):
    emu, s = plain
    real = make_emulator(dataset=SPEC, real_errors=True)
    with session(real.url) as r:
        missing = r.get(real.url + "/v1/end_users/1", timeout=30)
        assert missing.status_code == 404
        assert missing.json() == {
            "type": "error_list",
            "errors": [{"status": 404, "message": "End user not found", "field": "id"}],
        }
        unknown = r.get(real.url + "/v1/surveys", timeout=30)
        assert unknown.status_code == 404 and unknown.json()["type"] == "error_list"
        bad = r.get(real.url + "/v1/end_users", params={"page": 31}, timeout=30)
        assert bad.status_code == 400
        assert bad.json()["errors"] == [
            {"status": 400, "message": "page does not have a valid value", "field": "page"}
        ]
    wrong = requests.post(real.url + "/oauth/token?account_token=NPS-nope", data=PASSWORD, timeout=30)
    assert (wrong.status_code, wrong.json()) == (404, {"error": "Not found", "status": 404})
    # off by default: the bodies of the reference's style
    assert s.get(emu.url + "/v1/end_users/1", timeout=30).json() == {
        "errors": [{"message": "End user not found"}]
    }
    assert s.get(emu.url + "/v1/end_users", params={"page": 31}, timeout=30).json() == {
        "errors": [{"message": "page does not have a valid value"}]
    }
    wrong = requests.post(emu.url + "/oauth/token?account_token=NPS-nope", data=PASSWORD, timeout=30)
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_grant"


# ------------------------------------------------------------------------------------------- regions and prefix
def test_api_prefix_on_the_plain_loopback_url(plain, make_emulator):
    emu, s = plain
    prefixed = make_emulator(dataset=SPEC, api_prefix="/api/v1")
    with session(prefixed.url) as p:
        assert ids(rows(p, prefixed.url + "/api/v1/end_users", per_page=50)) == ids(
            rows(s, emu.url + "/v1/end_users", per_page=50)
        )
        some = emu.end_users[0]["id"]
        assert rows(p, prefixed.url + f"/api/v1/end_users/{some}/responses") == rows(
            s, emu.url + f"/v1/end_users/{some}/responses"
        )
    assert prefixed.counters["/api/v1/end_users"] == {200: 1}
    assert "/api/v1/end_users/{id}/responses" in prefixed.counters
    assert s.get(emu.url + "/api/v1/end_users", timeout=30).status_code == 404  # off by default


def test_an_eu_account_served_on_its_sdk_host_only_through_the_proxy(make_emulator):
    emu = make_emulator(dataset=SPEC, region="eu", shapes=("sdk",), proxy=True)
    assert emu.credentials.account_token.startswith("NPS-EU-")
    assert emu.proxy_env() == {"HTTPS_PROXY": emu.proxy_url, "REQUESTS_CA_BUNDLE": emu.ca_bundle_path}
    with proxied(emu.proxy_url, emu.ca_bundle_path) as http:
        s = session("https://app.wootric.eu", http)
        served = [
            u
            for p in range(1, 8)
            for u in rows(s, "https://app.wootric.eu/api/v1/end_users", per_page=50, page=p)
        ]
        assert sorted(ids(served)) == sorted(ids(emu.end_users))
        assert (
            s.get("https://app.wootric.eu/v1/end_users", timeout=30).status_code == 404
        )  # no /v1 on EU hosts
        # another region's hosts know neither the account nor its tokens
        for host in ("https://api.wootric.com", "https://app.wootric.au"):
            r = http.post(host + "/oauth/token", data=CLIENT, timeout=30)
            assert r.status_code == 401 and r.json()["error"] == "invalid_client"
            r = http.post(
                host + f"/oauth/token?account_token={emu.credentials.account_token}",
                data=PASSWORD,
                timeout=30,
            )
            assert (r.status_code, r.json()) == (404, {"error": "Not found", "status": 404})
        assert s.get("https://api.wootric.com/v1/end_users", timeout=30).status_code == 401
        assert s.get("https://app.wootric.au/api/v1/responses", timeout=30).status_code == 401
        with pytest.raises(requests.exceptions.ProxyError):  # the region's other host does not resolve
            http.get("https://api.wootric.eu/v1/end_users", timeout=30)
    by_host = emu.counters_by_host()
    assert by_host["app.wootric.eu"]["/api/v1/end_users"] == {200: 7}
    assert by_host["api.wootric.com"]["/oauth/token"] == {401: 1, 404: 1}
    assert by_host["api.wootric.eu:443"] == {"CONNECT": {502: 1}}
    assert "loopback" not in by_host


def test_a_us_account_is_served_on_both_its_hosts_and_the_proxy_needs_its_ca(make_emulator):
    emu = make_emulator(dataset=SPEC, region="us", proxy=True)
    with proxied(emu.proxy_url, emu.ca_bundle_path) as http:
        s = session("https://api.wootric.com", http)
        assert ids(rows(s, "https://api.wootric.com/v1/responses")) == ids(
            rows(s, "https://app.wootric.com/api/v1/responses")
        )
        assert s.post("https://app.wootric.eu/oauth/token", data=CLIENT, timeout=30).status_code == 401
    with proxied(emu.proxy_url) as untrusting, pytest.raises(requests.exceptions.SSLError):
        untrusting.post("https://api.wootric.com/oauth/token", data=CLIENT, timeout=30)
    with session(emu.url) as loop:  # the plain URL still plays the account's own host
        assert rows(loop, emu.url + "/v1/segments") == emu.segments


def test_regions_and_proxy_are_checked():
    with pytest.raises(ValueError, match="region"):
        Emulator(DatasetSpec(users=5), region="asia")
    with pytest.raises(ValueError, match="region"):
        Emulator(DatasetSpec(users=5), proxy=True)
    with pytest.raises(ValueError, match="api_prefix"):
        Emulator(DatasetSpec(users=5), api_prefix="/v2")
    with pytest.raises(ValueError, match="page_cap"):
        Emulator(DatasetSpec(users=5), page_cap=0)


# ------------------------------------------------------------------------------------------- CLI
def test_cli_flags_for_the_behaviours():
    args = [
        "--users",
        "80",
        "--end",
        FIXED_END,
        "--region",
        "au",
        "--proxy",
        "--page-cap",
        "20",
        "--real-errors",
    ]
    args += ["--ignore-sort-order", "--shared-email-fraction", "0.5"]
    with emulator_cli(*args) as (_, proc):
        env = dict(proc.stdout.readline().strip().split("=", 1) for _ in range(2))
        assert set(env) == {"HTTPS_PROXY", "REQUESTS_CA_BUNDLE"}
        with session("https://app.wootric.au", proxied(env["HTTPS_PROXY"], env["REQUESTS_CA_BUNDLE"])) as s:
            page = rows(s, "https://app.wootric.au/api/v1/end_users", per_page=50, sort_order="desc")
            assert len(page) == 20 and page[0]["email"] is None  # capped, ascending, null e-mails first
            assert (
                s.get("https://app.wootric.au/api/v1/end_users/1", timeout=30).json()["type"] == "error_list"
            )
