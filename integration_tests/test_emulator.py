"""The Wootric API emulator, through real HTTP with ``requests``.

Only what the connector's own end-to-end tests (the other ``test_*.py`` here, which run ``source-wootric``
against the emulator) would not catch if it broke: the documented API's forms, limits, errors, filters, sort
orders, datetimes and NPS arithmetic that those tests take from the emulator rather than pin; what they
would pass without (a fault or a data shape that did nothing); and what the benchmark relies on (the CLI, the
control endpoints, determinism, speed).
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wootric_emulator import DatasetSpec, Emulator, Fault

pytestmark = pytest.mark.timeout(120)

ROOT = Path(__file__).resolve().parents[1]
LA = ZoneInfo("America/Los_Angeles")
OFFSET_RE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}$")
LEGACY_RE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")
ISO_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$")
FIXED_END = "2024-06-30T00:00:00Z"  # a fixed end makes a dataset independent of today's date
CLIENT = {
    "grant_type": "client_credentials",
    "client_id": "demo-client-id",
    "client_secret": "demo-client-secret",
}
PASSWORD = {"grant_type": "password", "username": "demo@example.com", "password": "demo-password"}
USER_FIELDS = {
    "id",
    "created_at",
    "updated_at",
    "email",
    "last_surveyed",
    "external_created_at",
    "last_seen_at",
    "properties",
    "phone_number",
    "external_id",
    "last_response",
    "settings",
}
RESPONSE_FIELDS = {
    "id",
    "end_user_id",
    "survey_id",
    "score",
    "text",
    "completed",
    "excluded_from_calculations",
    "ip_address",
    "origin_url",
    "created_at",
    "updated_at",
    "tags",
    "notes",
    "end_user",
}
DECLINE_FIELDS = RESPONSE_FIELDS - {
    "score",
    "text",
    "completed",
    "excluded_from_calculations",
    "tags",
    "notes",
}
OPS = {
    "gt": lambda t, v: t > v,
    "gte": lambda t, v: t >= v,
    "lt": lambda t, v: t < v,
    "lte": lambda t, v: t <= v,
    "eq": lambda t, v: t == v,
}


# ------------------------------------------------------------------------------------------- helpers
def token(base_url: str, form: dict = CLIENT, http: requests.Session | None = None) -> str:
    r = (http or requests).post(base_url + "/oauth/token", data=form, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def session(base_url: str, http: requests.Session | None = None, form: dict = CLIENT) -> requests.Session:
    """A session (``http``, or a new one) holding a token of ``base_url``'s token endpoint."""
    s = http or requests.Session()
    s.headers["Authorization"] = f"Bearer {token(base_url, form, s)}"
    return s


def get(s, emu, path, **params) -> requests.Response:
    return s.get(emu.url + path, params=params, timeout=30)


def walk(s, emu, path, **params) -> list[dict]:
    """Every page of one filter window (at most 30 pages of 50)."""
    out = []
    for page in range(1, 31):
        r = get(s, emu, path, page=page, per_page=50, **params)
        assert r.status_code == 200, r.text
        out.extend(r.json())
        if len(r.json()) < 50:
            break
    return out


@contextmanager
def emulator_cli(*args: str) -> Iterator[tuple[str, subprocess.Popen]]:
    """``python -m wootric_emulator <args>``: its URL (the first line it prints) and the process, which must
    exit 0 on SIGTERM once the block is done."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "wootric_emulator", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), url
        yield url, proc
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()


@pytest.fixture(scope="module")
def api(emulator):
    """A session on the module's demo emulator."""
    with session(emulator.url) as s:
        yield s


# ------------------------------------------------------------------------------------------- auth
def test_client_credentials_grant(emulator):
    r = requests.post(emulator.url + "/oauth/token", data=CLIENT, timeout=30)
    assert r.status_code == 200
    body = r.json()
    assert body["token_type"] == "bearer" and body["scope"] == "public" and body["expires_in"] == 7200
    assert isinstance(body["created_at"], int) and len(body["access_token"]) >= 32
    assert "refresh_token" not in body
    assert body["access_token"] != token(emulator.url)  # random


def test_password_and_refresh_grants(emulator):
    url = emulator.url + "/oauth/token"
    r = requests.post(url + "?account_token=NPS-demo0001", data=PASSWORD, timeout=30)
    assert r.status_code == 200 and r.json()["refresh_token"]
    refresh = r.json()["refresh_token"]
    r2 = requests.post(url, data={"grant_type": "refresh_token", "refresh_token": refresh}, timeout=30)
    assert r2.status_code == 200 and r2.json()["access_token"] != r.json()["access_token"]
    bearer = {"Authorization": f"Bearer {r2.json()['access_token']}"}
    assert requests.get(emulator.url + "/v1/segments", headers=bearer, timeout=30).status_code == 200
    again = requests.post(url, data={"grant_type": "refresh_token", "refresh_token": refresh}, timeout=30)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"  # used once only


def _without(form: dict, key: str) -> dict:
    return {k: v for k, v in form.items() if k != key}


@pytest.mark.parametrize(
    ("query", "form", "status", "error"),
    [
        ("", {**CLIENT, "client_secret": "nope"}, 401, "invalid_client"),
        ("?client_secret=demo-client-secret", _without(CLIENT, "client_secret"), 400, "invalid_request"),
        ("?password=demo-password", _without(PASSWORD, "password"), 400, "invalid_request"),
        ("", {"grant_type": "magic"}, 400, "unsupported_grant_type"),
        ("", {**PASSWORD, "password": "wrong"}, 400, "invalid_grant"),
        ("?account_token=NPS-other000", PASSWORD, 401, "invalid_grant"),
    ],
    ids=[
        "wrong client secret",
        "client secret in the query",
        "password in the query",
        "unknown grant",
        "wrong password",
        "another account",
    ],
)
def test_token_errors(emulator, query, form, status, error):
    r = requests.post(emulator.url + "/oauth/token" + query, data=form, timeout=30)
    assert (r.status_code, r.json()["error"]) == (status, error) and r.json()["error_description"]


def test_v1_needs_a_valid_bearer_token(emulator):
    url = emulator.url + "/v1/end_users"
    good = token(emulator.url)
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": f"Token {good}"}):
        r = requests.get(url, headers=headers, timeout=30)
        assert r.status_code == 401 and "error" in r.json()
    r = requests.get(url, params={"access_token": good}, timeout=30)  # the removed query form
    assert r.status_code == 401


def test_revoked_tokens_stay_refused(make_emulator):
    """The connector renews after a revocation's first 401: whether the old token still works it never sees."""
    emu = make_emulator(dataset=DatasetSpec(users=5), faults=[Fault("revoke", after=1)])
    with session(emu.url) as s:
        # served, the fault's own 401, then refused for good
        assert [get(s, emu, "/v1/end_users").status_code for _ in range(3)] == [200, 401, 401]
    with session(emu.url) as s:
        assert get(s, emu, "/v1/end_users").status_code == 200
        emu.revoke_tokens()
        assert get(s, emu, "/v1/end_users").status_code == 401


# ------------------------------------------------------------------------------------------- paging
def test_lists_are_bare_arrays_with_default_and_clamped_per_page(emulator, api):
    r = get(api, emulator, "/v1/end_users")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
    assert isinstance(r.json(), list) and len(r.json()) == 25
    assert len(get(api, emulator, "/v1/end_users", per_page=50).json()) == 50
    assert len(get(api, emulator, "/v1/end_users", per_page=500).json()) == 50  # clamped
    assert len(get(api, emulator, "/v1/responses", per_page=7).json()) == 7


@pytest.mark.parametrize("page", ["31", "0", "-1", "x", "1000"])
def test_page_out_of_range_is_400(emulator, api, page):
    r = get(api, emulator, "/v1/end_users", page=page)
    assert r.status_code == 400
    if page in ("31", "1000"):
        assert r.json() == {"errors": [{"message": "page does not have a valid value"}]}
    else:
        assert r.json()["errors"][0]["message"]
    assert get(api, emulator, "/v1/responses", page=30).status_code == 200


# ------------------------------------------------------------------------------------------- filters
# The connector never sends gt nor lt. Without updated[gte], updated[lte], updated[eq] or created[eq] its reads
# lose end users (test_end_users.py, test_api_behaviours.py); created[gte] and created[lte] it pins only by chance.
@pytest.mark.parametrize(
    ("field", "op"),
    [
        ("created", "gt"),
        ("created", "gte"),
        ("created", "lt"),
        ("created", "lte"),
        ("updated", "gt"),
        ("updated", "lt"),
    ],
)
def test_each_time_filter_op_on_end_users(emulator, api, field, op):
    held = emulator.end_users
    stamps = sorted(emulator.epoch(u[f"{field}_at"]) for u in held)
    pivot = stamps[len(stamps) // 2]
    want = {u["id"] for u in held if OPS[op](emulator.epoch(u[f"{field}_at"]), pivot)}
    got = walk(api, emulator, "/v1/end_users", **{f"{field}[{op}]": pivot, "sort_key": f"{field}_at"})
    assert {u["id"] for u in got} == want and len(got) == len(want)
    # the same filter under another sort key (the emulator's slower, cached path)
    got_by_email = walk(api, emulator, "/v1/end_users", **{f"{field}[{op}]": pivot})
    assert {u["id"] for u in got_by_email} == want


def test_filters_chain(emulator, api):
    held = emulator.end_users
    created = sorted(emulator.epoch(u["created_at"]) for u in held)
    updated = sorted(emulator.epoch(u["updated_at"]) for u in held)
    lo, hi, upd = created[40], created[160], updated[60]
    want = {
        u["id"]
        for u in held
        if lo <= emulator.epoch(u["created_at"]) < hi and emulator.epoch(u["updated_at"]) > upd
    }
    params = {"created[gte]": lo, "created[lt]": hi, "updated[gt]": upd}
    for sort_key in ("email", "created_at", "updated_at"):
        for order in ("asc", "desc"):
            got = walk(api, emulator, "/v1/end_users", sort_key=sort_key, sort_order=order, **params)
            assert {u["id"] for u in got} == want, (sort_key, order)
    assert walk(api, emulator, "/v1/end_users", **{"created[gt]": hi, "created[lt]": lo}) == []


def test_response_and_decline_filters(emulator, api):
    for path, held in (("/v1/responses", emulator.responses), ("/v1/declines", emulator.declines)):
        stamps = sorted(emulator.epoch(r["created_at"]) for r in held)
        lo, hi = stamps[len(stamps) // 10], stamps[len(stamps) * 7 // 10]
        want = {r["id"] for r in held if lo < emulator.epoch(r["created_at"]) <= hi}
        got = walk(api, emulator, path, **{"created[gt]": lo, "created[lte]": hi})
        assert {r["id"] for r in got} == want
        # updated[...] is not supported on responses and declines: ignored
        assert len(walk(api, emulator, path, **{"updated[gt]": 2**40})) == min(len(held), 1500)


def test_email_filter_and_bad_filter_values(emulator, api):
    user = emulator.end_users[17]
    got = get(api, emulator, "/v1/end_users", email=user["email"]).json()
    assert [u["id"] for u in got] == [user["id"]]
    assert get(api, emulator, "/v1/end_users", email="nobody@example.com").json() == []
    for params in ({"created[gt]": "yesterday"}, {"updated[eq]": "1.5"}, {"created[between]": "1"}):
        assert get(api, emulator, "/v1/end_users", **params).status_code == 400


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_filter_combination_matches_brute_force(emulator, api, data):
    held = emulator.end_users
    stamps = {f: sorted(emulator.epoch(u[f"{f}_at"]) for u in held) for f in ("created", "updated")}
    params = {}
    for _ in range(data.draw(st.integers(0, 3))):
        field = data.draw(st.sampled_from(["created", "updated"]))
        op = data.draw(st.sampled_from(sorted(OPS)))
        value = stamps[field][data.draw(st.integers(0, len(held) - 1))] + data.draw(
            st.sampled_from([-1, 0, 0, 1])
        )
        params[f"{field}[{op}]"] = value
    sort_key = data.draw(st.sampled_from(["email", "created_at", "updated_at"]))
    want = {
        u["id"]
        for u in held
        if all(OPS[k[8:-1]](emulator.epoch(u[k[:7] + "_at"]), v) for k, v in params.items())
    }
    asc = walk(api, emulator, "/v1/end_users", sort_key=sort_key, sort_order="asc", **params)
    desc = walk(api, emulator, "/v1/end_users", sort_key=sort_key, sort_order="desc", **params)
    assert {u["id"] for u in asc} == want and len(asc) == len(want)
    assert asc == desc[::-1]
    keys = [u["email"] if sort_key == "email" else emulator.epoch(u[sort_key]) for u in asc]
    assert keys == sorted(keys)


# ------------------------------------------------------------------------------------------- order
def test_sort_keys_and_defaults(emulator, api):
    def key_of(rec, field):
        return rec[field] if field == "email" else emulator.epoch(rec[field])

    for sort_key, default_check in (("email", True), ("created_at", False), ("updated_at", False)):
        for order in ("asc", "desc"):
            got = walk(api, emulator, "/v1/end_users", sort_key=sort_key, sort_order=order)
            keys = [key_of(u, sort_key) for u in got]
            assert keys == sorted(keys, reverse=order == "desc"), (sort_key, order)
        if default_check:
            assert walk(api, emulator, "/v1/end_users") == walk(
                api, emulator, "/v1/end_users", sort_key="email", sort_order="asc"
            )
    for path in ("/v1/responses", "/v1/declines"):
        default = walk(api, emulator, path)
        keys = [emulator.epoch(r["created_at"]) for r in default]
        assert keys == sorted(keys, reverse=True)  # default: created_at desc
        asc = walk(api, emulator, path, sort_order="asc", sort_key="created_at")
        assert asc == default[::-1]
    assert get(api, emulator, "/v1/end_users", sort_key="id").status_code == 400
    assert get(api, emulator, "/v1/responses", sort_key="updated_at").status_code == 400
    assert get(api, emulator, "/v1/end_users", sort_order="sideways").status_code == 400


def test_same_second_order_is_stable_and_not_id_order(make_emulator):
    second = 1_600_000_000
    emu = make_emulator(dataset=DatasetSpec(users=400, clusters=((second, 300, True),), end=FIXED_END))
    with session(emu.url) as s:
        first = walk(s, emu, "/v1/end_users", sort_key="updated_at", **{"updated[eq]": second})
        again = walk(s, emu, "/v1/end_users", sort_key="updated_at", **{"updated[eq]": second})
        desc = walk(
            s, emu, "/v1/end_users", sort_key="updated_at", sort_order="desc", **{"updated[eq]": second}
        )
        by_created = walk(s, emu, "/v1/end_users", sort_key="created_at", **{"updated[eq]": second})
    ids = [u["id"] for u in first]
    assert len(ids) == 300 and len({emu.epoch(u["created_at"]) for u in first}) == 1
    assert ids == [u["id"] for u in again]  # stable
    assert ids != sorted(ids) and ids != sorted(ids, reverse=True)  # not id order
    assert [u["id"] for u in desc] == ids[::-1]
    assert [u["id"] for u in by_created] == ids  # the same tie order under every time key


# ------------------------------------------------------------------------------------------- content
def test_datetimes_come_in_three_forms_and_parse_back(make_emulator):
    emu = make_emulator(dataset=DatasetSpec(users=2000, end=FIXED_END))
    users, responses = emu.end_users, emu.responses
    forms = Counter()
    for rec in (*users, *responses):
        for key in ("created_at", "updated_at"):
            v = rec[key]
            form = (
                "offset"
                if OFFSET_RE.match(v)
                else "legacy"
                if LEGACY_RE.match(v)
                else "iso"
                if ISO_RE.match(v)
                else v
            )
            forms[form] += 1
            assert isinstance(emu.epoch(v), int)
    assert set(forms) == {"offset", "legacy", "iso"}, forms
    assert forms["offset"] > forms["legacy"] + forms["iso"]
    # DST: both Pacific offsets appear; the offset matches the instant
    offsets = {u["created_at"][-5:] for u in users if OFFSET_RE.match(u["created_at"])}
    assert {"-0800", "-0700"} <= offsets
    for u in users[:300]:
        v = u["created_at"]
        local = datetime.fromtimestamp(emu.epoch(v), LA)
        assert v.startswith(local.strftime("%Y-%m-%d")), v
    # legacy (no offset) records are the oldest ones
    legacy = [emu.epoch(u["created_at"]) for u in users if LEGACY_RE.match(u["created_at"])]
    others = [emu.epoch(u["created_at"]) for u in users if not LEGACY_RE.match(u["created_at"])]
    assert legacy and max(legacy) <= min(others)
    # nullable datetimes and the integer external_created_at
    assert any(u["last_seen_at"] is None for u in users) and any(u["last_seen_at"] for u in users)
    assert any(u["last_surveyed"] is None for u in users) and any(u["last_surveyed"] for u in users)
    assert {type(u["external_created_at"]) for u in users} == {int, type(None)}
    assert emu.epoch(None) is None
    assert emu.epoch("2015-02-12T06:29:27.000-08:00") == 1423751367
    assert emu.epoch("2018-01-02 23:03:41 -0800") == 1514963021
    assert emu.epoch("2014-12-01 18:36:59") == int(datetime(2014, 12, 1, 18, 36, 59, tzinfo=LA).timestamp())


def test_records_carry_the_documented_fields(make_emulator):
    emu = make_emulator(dataset=DatasetSpec(users=1000, end=FIXED_END))
    users, responses, declines = emu.end_users, emu.responses, emu.declines
    assert len(responses) == 1500 and len(declines) == 500  # the defaults: 1.5 and 0.5 per user
    for u in users:
        assert set(u) >= USER_FIELDS, set(u) ^ USER_FIELDS
        assert set(u["settings"]) == {
            "email_nps",
            "mobile_nps",
            "web_nps",
            "force_mobile_survey",
            "force_web_survey",
            "surveys_disabled_by_end_user",
        }
        if u["last_response"] is not None:
            assert set(u["last_response"]) == {"id", "score", "text", "survey"}
            assert isinstance(u["last_response"]["id"], int) and "channel" in u["last_response"]["survey"]
    assert any(u["last_response"] is None for u in users)
    assert any(v is None for u in users for v in u["settings"].values())
    assert any("user_id" in u and "page_views_count" in u for u in users)
    assert len({u["email"] for u in users}) == len(users)
    ids = [r["id"] for r in (*users, *responses, *declines)]
    assert len(set(ids)) == len(ids)
    user_ids = {u["id"] for u in users}
    for r in responses:
        assert set(r) == RESPONSE_FIELDS and 0 <= r["score"] <= 10 and r["end_user_id"] in user_ids
        assert isinstance(r["end_user"]["properties"], dict) and isinstance(r["tags"], list)
        assert emu.epoch(r["updated_at"]) >= emu.epoch(r["created_at"])
    assert any(r["excluded_from_calculations"] for r in responses) and any(r["tags"] for r in responses)
    assert any(not r["completed"] for r in responses) and any(r["notes"] for r in responses)
    for d in declines:
        assert set(d) == DECLINE_FIELDS and d["end_user_id"] in user_ids
    for u in users:
        assert emu.epoch(u["updated_at"]) >= emu.epoch(u["created_at"])


def test_custom_properties_of_every_kind_and_segments(emulator, api):
    users = emulator.end_users
    props = [u["properties"] for u in users]
    values = [(k, v) for p in props for k, v in p.items()]
    assert any(isinstance(v, str) and any(ord(c) > 0xFFFF for c in v) for _, v in values)  # emoji
    assert any(isinstance(v, str) and any("\u4e00" <= c <= "\u9fff" for c in v) for _, v in values)  # CJK
    assert any(("é" in v or "ü" in v) for _, v in values if isinstance(v, str))  # accents
    assert any(isinstance(v, str) and len(v.encode()) > 5000 for _, v in values)  # long text
    assert any(v is None for _, v in values)
    assert all(isinstance(v, int) for k, v in values if k.endswith(("_date", "_amount")))
    assert any(k.endswith("_date") for k, _ in values) and any(k.endswith("_amount") for k, _ in values)
    assert all(isinstance(v, list) for k, v in values if k.endswith("_array"))
    assert any(isinstance(v, int) and not k.endswith(("_date", "_amount")) for k, v in values)
    assert len({frozenset(p) for p in props}) > 10  # keys vary per user

    segments = get(api, emulator, "/v1/segments").json()
    assert segments == emulator.segments
    assert {s["data_type"] for s in segments} == {"string", "date", "integer"}
    assert all(set(s) == {"name", "data_type", "created_at"} for s in segments)
    names = {s["name"] for s in segments}
    used = {k for p in props for k in p}
    assert len(used & names) > len(used - names) > 0  # most, not all, property names are defined


def test_single_user_and_404s(emulator, api):
    user = emulator.end_users[3]
    r = get(api, emulator, f"/v1/end_users/{user['id']}")
    assert r.status_code == 200 and r.json() == user
    by_email = get(api, emulator, f"/v1/end_users/{user['email']}", lookup_by_email="true")
    assert by_email.json() == user
    quoted = get(api, emulator, f"/v1/end_users/{quote(user['email'], safe='')}", lookup_by_email="true")
    assert quoted.json() == user
    with_ext = next(u for u in emulator.end_users if u["external_id"])
    r = get(api, emulator, f"/v1/end_users/{with_ext['external_id']}", lookup_by_external_id="true")
    assert r.json()["id"] == with_ext["id"]
    for path in ("/v1/end_users/1", "/v1/end_users/abc", "/v1/end_users/1/responses"):
        r = get(api, emulator, path)
        assert r.status_code == 404 and r.json()["errors"][0]["message"]
    for path in ("/v1/nothing", "/v2/end_users", "/", "/v1/end_users/1/x"):
        assert get(api, emulator, path).status_code == 404
    assert api.post(emulator.url + "/v1/end_users", timeout=30).status_code == 404


def test_per_user_responses_and_declines(emulator, api):
    responses, declines = emulator.responses, emulator.declines
    uid = Counter(r["end_user_id"] for r in responses).most_common(1)[0][0]
    mine = [r for r in responses if r["end_user_id"] == uid]
    got = get(api, emulator, f"/v1/end_users/{uid}/responses").json()
    assert sorted(r["id"] for r in got) == sorted(r["id"] for r in mine)
    stamps = [emulator.epoch(r["created_at"]) for r in got]
    assert stamps == sorted(stamps, reverse=True)
    promoters = get(api, emulator, f"/v1/end_users/{uid}/responses/promoters").json()
    assert {r["id"] for r in promoters} == {r["id"] for r in mine if r["score"] >= 9}
    detractors = get(api, emulator, f"/v1/end_users/{uid}/responses/detractors").json()
    assert {r["id"] for r in detractors} == {r["id"] for r in mine if r["score"] <= 6}
    duid = declines[0]["end_user_id"]
    got = get(api, emulator, f"/v1/end_users/{duid}/declines").json()
    assert {d["id"] for d in got} == {d["id"] for d in declines if d["end_user_id"] == duid}


# ------------------------------------------------------------------------------------------- NPS
def _recompute_nps(emu, start: date, end: date) -> dict:
    def local_day(rec):
        return datetime.fromtimestamp(emu.epoch(rec["created_at"]), LA).date()

    scores = [
        r["score"]
        for r in emu.responses
        if start <= local_day(r) <= end and not r["excluded_from_calculations"]
    ]
    declined = sum(1 for d in emu.declines if start <= local_day(d) <= end)
    p, d = sum(s >= 9 for s in scores), sum(s <= 6 for s in scores)
    n = len(scores)
    return {
        "nps": round(100 * (p - d) / n) if n else 0,
        "responses": n,
        "promoters": p,
        "detractors": d,
        "passives": n - p - d,
        "response_rate": round(100 * n / (n + declined), 1) if n + declined else 0.0,
    }


def test_nps_summary_matches_a_recomputation(make_emulator):
    emu = make_emulator(dataset=DatasetSpec(users=1500, end=FIXED_END))
    with session(emu.url) as s:
        for start, end in (
            (date(2019, 1, 1), date(2024, 6, 30)),
            (date(2021, 3, 14), date(2021, 11, 7)),  # DST boundaries
            (date(2022, 7, 4), date(2022, 7, 4)),
            (date(2030, 1, 1), date(2030, 1, 31)),
        ):
            r = get(
                s, emu, "/v1/nps_summary", **{"date[start]": start.isoformat(), "date[end]": end.isoformat()}
            )
            assert r.status_code == 200
            body = r.json()
            assert set(body) == {
                "nps",
                "responses",
                "detractors",
                "passives",
                "promoters",
                "response_rate",
                "email_response_rate",
            }
            assert body == emu.nps(start, end)
            want = _recompute_nps(emu, start, end)
            assert {k: body[k] for k in want} == want, (start, end)
            assert 0 <= body["email_response_rate"] <= 100
        # no range: the previous calendar month in the account time zone
        today = datetime.now(LA).date()
        last = today.replace(day=1) - timedelta(days=1)
        assert get(s, emu, "/v1/nps_summary").json() == emu.nps(last.replace(day=1), last)
        assert (
            get(
                s, emu, "/v1/nps_summary", **{"date[start]": "2020-13-01", "date[end]": "2021-01-01"}
            ).status_code
            == 400
        )
        assert get(s, emu, "/v1/nps_summary", **{"date[start]": "2021-01-01"}).status_code == 400


# ------------------------------------------------------------------------------------------- rate limit
def test_rate_limit_headers_and_429(make_emulator):
    emu = make_emulator(dataset=DatasetSpec(users=20), rate_limit=(5, 3.0))
    with session(emu.url) as s:
        remaining = []
        for _ in range(5):
            r = get(s, emu, "/v1/end_users")
            assert r.status_code == 200
            assert r.headers["X-Rate-Limit-Limit"] == "5"
            remaining.append(int(r.headers["X-Rate-Limit-Remaining"]))
            reset = int(r.headers["X-Rate-Limit-Reset"])
        assert remaining == [4, 3, 2, 1, 0]
        assert time.time() - 1 <= reset <= time.time() + 4
        r = get(s, emu, "/v1/responses")
        assert r.status_code == 429 and r.json() == {"errors": [{"message": "rate limit exceeded"}]}
        assert r.headers["X-Rate-Limit-Remaining"] == "0"
        # another holder (the password grant's user) has its own window
        with session(emu.url, form=PASSWORD) as s2:
            assert get(s2, emu, "/v1/end_users").status_code == 200
        time.sleep(max(0.0, reset - time.time()) + 0.05)
        r = get(s, emu, "/v1/end_users")
        assert r.status_code == 200 and r.headers["X-Rate-Limit-Remaining"] == "4"
        assert requests.post(emu.url + "/oauth/token", timeout=30).status_code == 400  # token: not limited
    assert emu.counters["/v1/responses"] == {429: 1}


def test_no_rate_limit_no_headers(emulator, api):
    r = get(api, emulator, "/v1/end_users")
    assert not any(h.lower().startswith("x-rate-limit") for h in r.headers)


# ------------------------------------------------------------------------------------------- faults
@pytest.mark.parametrize("kind,status", [("500", 500), ("502", 502), ("503", 503), ("429", 429)])
def test_status_faults_then_recovery(make_emulator, kind, status):
    emu = make_emulator(dataset=DatasetSpec(users=20), faults=[Fault(kind, after=1, times=2)])
    with session(emu.url) as s:
        codes = [get(s, emu, "/v1/end_users").status_code for _ in range(4)]
        assert codes == [200, status, status, 200]
        emu.set_faults([Fault(kind)])
        r = get(s, emu, "/v1/end_users")
    if kind == "500":
        assert r.json()["errors"][0]["message"]
    elif kind == "429":
        assert r.json() == {"errors": [{"message": "rate limit exceeded"}]}
        assert int(r.headers["X-Rate-Limit-Reset"]) >= int(time.time())
    else:
        assert r.headers["Content-Type"].startswith("text/html") and str(status) in r.text
    assert emu.counters["/v1/end_users"] == {200: 2, status: 3}


def test_429_fault_without_reset_header(make_emulator):
    emu = make_emulator(dataset=DatasetSpec(users=5), faults=[Fault("429", reset_header=False)])
    with session(emu.url) as s:
        r = get(s, emu, "/v1/end_users")
    assert r.status_code == 429 and "X-Rate-Limit-Reset" not in r.headers


def test_reset_fault_closes_the_socket(make_emulator):
    emu = make_emulator(dataset=DatasetSpec(users=5), faults=[Fault("reset")])
    with session(emu.url) as s:
        with pytest.raises(requests.exceptions.ConnectionError):
            get(s, emu, "/v1/end_users")
        assert get(s, emu, "/v1/end_users").status_code == 200
    assert emu.counters["/v1/end_users"] == {0: 1, 200: 1}


def test_truncated_and_not_json_faults(make_emulator):
    emu = make_emulator(
        dataset=DatasetSpec(users=60), faults=[Fault("truncated"), Fault("not_json", after=2)]
    )
    with session(emu.url) as s:
        cut = get(s, emu, "/v1/end_users", per_page=50)
        whole = get(s, emu, "/v1/end_users", per_page=50)
        html = get(s, emu, "/v1/end_users")
    assert cut.status_code == 200 and cut.content.startswith(b"[{") and whole.content.startswith(cut.content)
    assert len(cut.content) < len(whole.content)
    with pytest.raises(ValueError):
        cut.json()
    assert whole.status_code == 200 and len(whole.json()) == 50
    assert html.status_code == 200 and html.headers["Content-Type"].startswith("text/html")
    with pytest.raises(ValueError):
        html.json()


def test_update_users_fault_changes_data_while_reading(make_emulator):
    emu = make_emulator(
        dataset=DatasetSpec(users=100, end=FIXED_END), faults=[Fault("update_users", users=3, after=1)]
    )
    before = {u["id"]: u["updated_at"] for u in emu.end_users}
    with session(emu.url) as s:
        get(s, emu, "/v1/end_users")
        assert all(emu.end_users[i]["updated_at"] == before[emu.end_users[i]["id"]] for i in range(100))
        t0 = int(time.time())
        get(s, emu, "/v1/end_users")
    changed = [u for u in emu.end_users if u["updated_at"] != before[u["id"]]]
    assert len(changed) == 3 and all(emu.epoch(u["updated_at"]) >= t0 for u in changed)


def test_fault_schedules_prefixes_and_probability(make_emulator):
    emu = make_emulator(
        dataset=DatasetSpec(users=5),
        faults=[Fault("500", path_prefix="/v1/responses", after=2, times=-1)],
    )
    with session(emu.url) as s:
        assert [get(s, emu, "/v1/responses").status_code for _ in range(5)] == [200, 200, 500, 500, 500]
        assert get(s, emu, "/v1/end_users").status_code == 200  # another prefix

    def pattern(seed):
        e = make_emulator(
            dataset=DatasetSpec(users=5), faults=[Fault("503", probability=0.3)], fault_seed=seed
        )
        with session(e.url) as s:
            return [get(s, e, "/v1/end_users").status_code for _ in range(40)]

    a, b, c = pattern(1), pattern(1), pattern(2)
    assert a == b and a != c and 503 in a and 200 in a


# ------------------------------------------------------------------------------------------- counters and control
def test_counters_and_control_endpoints(make_emulator):
    emu = make_emulator(dataset=DatasetSpec(users=50, end=FIXED_END))
    uid = emu.end_users[0]["id"]
    with session(emu.url) as s:
        get(s, emu, "/v1/end_users")
        get(s, emu, f"/v1/end_users/{uid}")
        get(s, emu, f"/v1/end_users/{uid}/responses")
        get(s, emu, "/v1/end_users", page=31)
        control = requests.get(emu.url + "/_emulator/counters", timeout=30).json()
    assert emu.counters == {
        "/oauth/token": {200: 1},
        "/v1/end_users": {200: 1, 400: 1},
        "/v1/end_users/{id}": {200: 1},
        "/v1/end_users/{id}/responses": {200: 1},
    }
    assert control == {t: {str(k): v for k, v in c.items()} for t, c in emu.counters.items()}
    assert emu.requests() == 4 and emu.requests("/v1/end_users/") == 2 and emu.requests("/oauth") == 1

    data = requests.get(emu.url + "/_emulator/data", timeout=30).json()
    assert data == {
        "end_users": emu.end_users,
        "responses": emu.responses,
        "declines": emu.declines,
        "segments": emu.segments,
    }
    ids = requests.post(emu.url + "/_emulator/update_users?n=4&at=1800000000", timeout=30).json()["ids"]
    assert len(ids) == 4 and all(
        emu.epoch(u["updated_at"]) == 1800000000 for u in emu.end_users if u["id"] in ids
    )
    added = requests.post(emu.url + "/_emulator/add_users?n=2", timeout=30).json()["ids"]
    assert len(emu.end_users) == 52 and set(added) <= {u["id"] for u in emu.end_users}
    r = requests.post(emu.url + "/_emulator/faults", json=[{"kind": "503", "times": 1}], timeout=30)
    assert r.status_code == 200 and emu.faults[0].kind == "503"
    assert requests.post(emu.url + "/_emulator/reset_counters", timeout=30).status_code == 200
    assert emu.counters == {} and emu.requests() == 0


# ------------------------------------------------------------------------------------------- changes
def test_update_add_and_edit(make_emulator):
    emu = make_emulator(dataset=DatasetSpec(users=300, end=FIXED_END))
    before = {u["id"]: u for u in emu.end_users}
    at = 1_750_000_000
    ids = emu.update_users(40, seed=3, at=at)
    assert len(ids) == 40
    after = {u["id"]: u for u in emu.end_users}
    for uid in ids:
        assert emu.epoch(after[uid]["updated_at"]) == at
        assert after[uid]["created_at"] == before[uid]["created_at"]
        assert after[uid]["properties"] != before[uid]["properties"]
    with session(emu.url) as s:
        got = walk(s, emu, "/v1/end_users", sort_key="updated_at", **{"updated[eq]": at})
        assert sorted(u["id"] for u in got) == sorted(ids)
        new = emu.add_users(5, at=at + 10)
        got = walk(s, emu, "/v1/end_users", sort_key="created_at", **{"created[gte]": at + 10})
        assert sorted(u["id"] for u in got) == sorted(new)
        old = {r["id"]: r for r in emu.responses}
        edited = emu.edit_responses(7, seed=1)
        now = {r["id"]: r for r in emu.responses}
        for rid in edited:
            assert now[rid]["created_at"] == old[rid]["created_at"]
            assert emu.epoch(now[rid]["updated_at"]) > emu.epoch(old[rid]["updated_at"])
            assert now[rid]["notes"] != old[rid]["notes"]
        one = get(s, emu, "/v1/responses", **{"created[eq]": emu.epoch(now[edited[0]]["created_at"])}).json()
        assert now[edited[0]] in one


def test_determinism_for_a_seed():
    spec = DatasetSpec(users=300, seed=5, end=FIXED_END, bulk_import_users=20)
    a, b = Emulator(spec), Emulator(spec)
    assert a.end_users == b.end_users and a.responses == b.responses and a.declines == b.declines
    assert a.segments == b.segments
    c = Emulator(DatasetSpec(users=300, seed=6, end=FIXED_END, bulk_import_users=20))
    assert c.end_users != a.end_users


def test_clusters_sparse_years_and_counts():
    spec = DatasetSpec(
        users=8000,
        responses=100,
        declines=50,
        start="2015-01-01",
        end=FIXED_END,
        bulk_import_users=5000,
        bulk_created_same_second=1600,
        sparse_years=3,
    )
    emu = Emulator(spec)
    users = emu.end_users
    assert len(users) == 8000 and len(emu.responses) == 100 and len(emu.declines) == 50
    by_updated = Counter(emu.epoch(u["updated_at"]) for u in users)
    (bulk_second, bulk_n), (same_second, same_n) = by_updated.most_common(2)
    assert bulk_n == 5000 and same_n == 1600
    bulk = [u for u in users if emu.epoch(u["updated_at"]) == bulk_second]
    created = [emu.epoch(u["created_at"]) for u in bulk]
    assert len(set(created)) > 1000 and bulk_second - min(created) <= 366 * 86400
    same = [u for u in users if emu.epoch(u["updated_at"]) == same_second]
    assert len({emu.epoch(u["created_at"]) for u in same}) == 1
    # the silent gap: three years with no record created or updated
    hole_lo = emu.epoch("2015-04-01 00:00:00 -0700")
    hole_hi = hole_lo + 3 * 365 * 86400
    stamps = [emu.epoch(r[k]) for r in (*users, *emu.responses) for k in ("created_at", "updated_at")]
    assert not [t for t in stamps if hole_lo + 86400 < t < hole_hi - 86400]
    assert any(t < hole_lo for t in stamps)


def test_compat_singer_tap_dataset():
    end = 1_719_705_600  # 2024-06-30 UTC
    spec = DatasetSpec(
        users=3000,
        responses=1500,
        declines=500,
        start=end - 60 * 86400,
        end=end,
        busy_days=(("2024-06-01", 1450),),
    )
    emu = Emulator(spec, compat="singer-tap")
    users = emu.end_users
    for rec in (*users, *emu.responses, *emu.declines):
        for key in ("created_at", "updated_at", "last_surveyed", "last_seen_at"):
            assert rec.get(key) is None or OFFSET_RE.match(rec[key]), rec.get(key)
    per_day = Counter(emu.epoch(u["updated_at"]) // 86400 for u in users)
    assert max(per_day.values()) == 1450
    assert len({u["updated_at"] for u in users}) == len(users)  # unique seconds
    assert len({r["created_at"] for r in emu.responses}) == len(emu.responses)
    with pytest.raises(ValueError):
        Emulator(spec, compat="singer-tap", rate_limit=(100, 60))
    with pytest.raises(ValueError):
        Emulator(DatasetSpec(users=3000, start=end - 86400, end=end), compat="singer-tap")  # > 1,500 a day


# ------------------------------------------------------------------------------------------- CLI and concurrency
def test_cli_prints_url_and_stops_on_sigterm():
    args = ["--users", "30", "--port", "0", "--seed", "3", "--rate-limit", "100/60", "--fault", "503:after=1"]
    with emulator_cli(*args) as (url, _), session(url) as s:
        r = s.get(url + "/v1/end_users", params={"per_page": 50}, timeout=30)
        assert r.status_code == 200 and len(r.json()) == 30 and r.headers["X-Rate-Limit-Limit"] == "100"
        assert s.get(url + "/v1/end_users", timeout=30).status_code == 503
        assert requests.get(url + "/_emulator/counters", timeout=30).json()["/v1/end_users"] == {
            "200": 1,
            "503": 1,
        }


def test_concurrent_clients_get_consistent_pages(emulator):
    from concurrent.futures import ThreadPoolExecutor

    want = sorted(emulator.end_users, key=lambda u: u["email"])

    def reader(_):
        with session(emulator.url) as s:
            return walk(s, emulator, "/v1/end_users")

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(reader, range(16)))
    assert all(r == want for r in results)
