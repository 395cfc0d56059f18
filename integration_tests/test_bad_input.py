"""Bad input through the real `source-wootric` command: configs, catalogs and states that are wrong in every
way we could think of. Each must end with exit code 1 and a TRACE error typed config_error that names what
to fix (for `check`: a FAILED connection status), with no traceback outside the TRACE message's own
stack_trace and no secret anywhere in the output.

The cases run two at a time in one module fixture (each is a separate process, mostly start-up time); each
test then looks at its own case.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests_mock
from airbyte_cdk.models import SyncMode
from airbyte_cdk.test.catalog_builder import CatalogBuilder
from airbyte_cdk.test.entrypoint_wrapper import read as cdk_read
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from integration_tests.connector import Output, catalog, config_for, read
from integration_tests.guarded import CLIENT_SECRET, guarded_config, run_guarded
from source_wootric import records
from source_wootric.source import SourceWootric
from source_wootric.streams.base import iso
from wootric_emulator import DatasetSpec

pytestmark = pytest.mark.timeout(300)

NOWHERE = "http://127.0.0.1:9"  # nothing listens: a case that got past validation would fail as transient
READ = ["read", "--config", "config", "--catalog", "catalog"]


def users() -> dict[str, Any]:
    return catalog(end_users="incremental")  # discovered once, when the first case runs


def users_stream(**changes: Any) -> dict[str, Any]:
    return {"streams": [{**users()["streams"][0], **changes}]}


FUTURE = int(time.time()) + 400 * 86_400


def config(**changes: Any) -> dict[str, Any]:
    base = guarded_config(None, base_url=NOWHERE)
    base.update(changes)
    return {key: value for key, value in base.items() if value is not ...}


def credentials(**changes: Any) -> dict[str, Any]:
    base = dict(guarded_config(None)["credentials"])
    base.update(changes)
    return {key: value for key, value in base.items() if value is not ...}


def state(stream: str, value: Any) -> list[dict[str, Any]]:
    return [{"type": "STREAM", "stream": {"stream_descriptor": {"name": stream}, "stream_state": value}}]


@dataclass
class Case:
    names: tuple[str, ...]  # what the error message must contain (the field to fix)
    args: list[str] = field(default_factory=lambda: list(READ))
    config: Any = None
    catalog: Callable[[], Any] | None = None  # built when the case runs: discovering takes a process
    state: Any = None
    raw: dict[str, str] = field(default_factory=dict)  # files written as given, not as JSON
    env: dict[str, str] = field(default_factory=dict)

    def files(self) -> dict[str, Any]:
        files = {
            "config": config() if self.config is None else self.config,
            "catalog": users() if self.catalog is None else self.catalog(),
        }
        if self.state is not None:
            files["state"] = self.state
        return files


CONFIG_CASES = {
    "no credentials": Case(("`credentials`",), config=config(credentials=...)),
    "empty client_secret": Case(
        ("`credentials.client_secret`",), config=config(credentials=credentials(client_secret=""))
    ),
    "blank password": Case(
        ("`credentials.password`",),
        config=config(credentials={"auth_type": "password", "username": "a@example.com", "password": "   "}),
    ),
    "no start_date": Case(("`start_date`",), config=config(start_date=...)),
    "start_date a number": Case(("`start_date`",), config=config(start_date=20200101)),
    "start_date malformed": Case(("`start_date`", "01/02/2020"), config=config(start_date="01/02/2020")),
    # The spec's pattern would say only "'2020-01-01' does not match '^[0-9]{4}-...$'".
    "start_date without a time": Case(
        ("`start_date` (Start date)", "write 2020-01-01T00:00:00Z"), config=config(start_date="2020-01-01")
    ),
    "start_date in the future": Case(
        ("`start_date`", "future"), config=config(start_date="2999-01-01T00:00:00Z")
    ),
    "unknown region": Case(("`region`", "mars"), config=config(region="mars", base_url=...)),
    "base_url without a scheme": Case(("`base_url`", "scheme"), config=config(base_url="api.wootric.com")),
    "lookback_window_days as text": Case(
        ("`lookback_window_days`",), config=config(lookback_window_days="30")
    ),
    "lookback_window_days above the spec's maximum": Case(
        ("`lookback_window_days`", "3650"), config=config(lookback_window_days=3651)
    ),
    # On Airbyte Cloud plain http would carry the secret in clear text (the emulator's http is fine elsewhere).
    "http base_url on Airbyte Cloud": Case(
        ("`base_url`", "https"),
        config=config(base_url="http://127.0.0.1:9"),
        env={"DEPLOYMENT_MODE": "cloud"},
    ),
    "http base_url on Airbyte Cloud, discover": Case(
        ("`base_url`", "https"),
        args=["discover", "--config", "config"],
        config=config(base_url="http://proxy.example.com/wootric"),
        env={"DEPLOYMENT_MODE": "CLOUD"},
    ),
    # Read by SourceWootric.read_config, before our other checks.
    "config not JSON": Case(("config",), raw={"config": "{credentials: oops"}),
    # discover and check read the config too
    "discover without client_secret": Case(
        ("`credentials.client_secret`",),
        args=["discover", "--config", "config"],
        config=config(credentials=credentials(client_secret=...)),
    ),
}
CATALOG_CASES = {
    "unknown stream": Case(
        ("`surveys`",),
        catalog=lambda: users_stream(stream={**users()["streams"][0]["stream"], "name": "surveys"}),
    ),
    # Incremental asked of a full-refresh stream is read in full, as PyAirbyte needs: test_survey_data.py.
    "unknown sync mode": Case(("catalog",), catalog=lambda: users_stream(sync_mode="sometimes")),
    "catalog not JSON": Case(("catalog",), raw={"catalog": "streams: [end_users]"}),
}
STATE_CASES = {
    "state not JSON": Case(
        ("state",), args=[*READ, "--state", "state"], raw={"state": "updated_at=yesterday"}
    ),
    "state of another version": Case(
        ("`end_users`", "Reset"),
        state=state("end_users", {"version": 2, "updated_at_epoch": 1_600_000_000}),
        args=[*READ, "--state", "state"],
    ),
    "state of nps_summary with an unknown period": Case(
        ("`nps_summary`",),
        catalog=lambda: catalog(nps_summary="incremental"),
        state=state("nps_summary", {"version": 1, "period": "year", "period_start": "2024-01-01"}),
        args=[*READ, "--state", "state"],
    ),
}
CASES = {**CONFIG_CASES, **CATALOG_CASES, **STATE_CASES}
STREAM_STATE_CASES = [
    name for name, case in STATE_CASES.items() if "`" in case.names[0]
]  # one stream's state


def run_case(case: Case, tmp_path: Path) -> Output:
    tmp_path.mkdir(parents=True, exist_ok=True)
    files = case.files()
    args = list(case.args)
    for name, text in case.raw.items():
        path = tmp_path / f"{name}.raw"
        path.write_text(text)
        args[args.index(name)] = str(path)
        files.pop(name, None)
    return run_guarded(args, tmp_path, env=case.env, timeout=60, **files)


@pytest.fixture(scope="module")
def outputs(tmp_path_factory) -> dict[str, Output]:
    root = tmp_path_factory.mktemp("bad_input")
    started = time.monotonic()
    with ThreadPoolExecutor(2) as pool:
        futures = {
            name: pool.submit(run_case, case, root / f"case{i}")
            for i, (name, case) in enumerate(CASES.items())
        }
        done = {name: future.result() for name, future in futures.items()}
    print(f"[bad input] {len(CASES)} cases in {time.monotonic() - started:.1f} s")
    return done


@pytest.mark.parametrize("name", CASES)
def test_bad_input_is_one_config_error_naming_what_to_fix(outputs, name):
    out = outputs[name]
    assert out.returncode == 1, (out.returncode, out.stdout[-1500:])
    assert out.errors, out.stdout[-1500:]
    assert {error["failure_type"] for error in out.errors} == {"config_error"}, out.errors
    if name not in STREAM_STATE_CASES:  # those: see test_a_bad_stream_state_is_a_single_error
        assert len(out.errors) == 1, [error["message"][:100] for error in out.errors]
    message = out.errors[0]["message"]
    for text in CASES[name].names:
        assert text in message, message
    assert not out.records, "records were emitted despite bad input"
    print(f"[bad input] {name}: {message[:160]}")


@pytest.mark.parametrize("name", STREAM_STATE_CASES)
def test_a_bad_stream_state_is_a_single_error(outputs, name):
    assert len(outputs[name].errors) == 1, [e["message"][:100] for e in outputs[name].errors]


def test_check_with_a_bad_config_fails_the_connection_naming_the_field(tmp_path):
    out = run_guarded(["check", "--config", "config"], tmp_path, config=config(start_date="yesterday"))
    statuses = out.of_type("CONNECTION_STATUS")
    assert out.returncode == 0 and len(statuses) == 1, out.stdout[-1500:]
    assert statuses[0]["connectionStatus"]["status"] == "FAILED"
    assert "`start_date`" in statuses[0]["connectionStatus"]["message"]


def test_a_misspelt_setting_is_named_with_the_nearest_and_a_state_of_a_stream_not_read_is_ignored(
    make_emulator, tmp_path
):
    emulator = make_emulator(dataset=DatasetSpec(users=50, seed=3))
    misspelt = {**config_for(emulator), "lookback_window": 0}
    out = read(
        tmp_path,
        config=misspelt,
        catalog=catalog(segments="full_refresh"),
        state=state("end_users", {"version": 99}),  # not one this version writes, for a stream not read
    )
    assert out.returncode == 0 and not out.errors, out.stdout[-1500:]
    assert len(out.records["segments"]) == len(emulator.segments)
    warnings = [m["log"]["message"] for m in out.of_type("LOG") if m["log"]["level"] == "WARN"]
    assert warnings == [
        "The config key `lookback_window` is not a setting of this connector and is ignored; "
        "did you mean `lookback_window_days`?"
    ]


def test_check_on_airbyte_cloud_sends_nothing_over_plain_http(make_emulator, tmp_path):
    from integration_tests.guarded import guarded_emulator

    emulator = guarded_emulator(make_emulator, dataset={"users": 10, "end": "2025-01-01"})
    out = run_guarded(
        ["check", "--config", "config"],
        tmp_path,
        emulator,
        env={"DEPLOYMENT_MODE": "cloud"},
        config=guarded_config(emulator),
    )
    statuses = out.of_type("CONNECTION_STATUS")
    assert len(statuses) == 1 and statuses[0]["connectionStatus"]["status"] == "FAILED", out.stdout[-1500:]
    assert "`base_url`" in statuses[0]["connectionStatus"]["message"]
    assert emulator.requests("/") == 0  # not even the token request


def test_check_with_a_wrong_secret_names_the_credentials_and_does_not_echo_it(make_emulator, tmp_path):
    from integration_tests.guarded import guarded_emulator

    emulator = guarded_emulator(make_emulator, dataset={"users": 10, "end": "2025-01-01"})
    wrong = "wrong-" + CLIENT_SECRET[::-1]
    out = run_guarded(
        ["check", "--config", "config"],
        tmp_path,
        emulator,
        config=guarded_config(emulator, credentials=credentials(client_secret=wrong)),
    )
    assert wrong not in out.stdout and wrong not in out.stderr
    statuses = out.of_type("CONNECTION_STATUS")
    assert statuses and statuses[0]["connectionStatus"]["status"] == "FAILED", out.stdout[-1500:]
    assert "`credentials.client_secret`" in statuses[0]["connectionStatus"]["message"]
    assert emulator.counters["/oauth/token"] == {401: 1}


def test_a_state_from_the_future_reads_nothing_and_keeps_the_state(make_emulator, tmp_path):
    from integration_tests.guarded import guarded_emulator

    emulator = guarded_emulator(make_emulator, dataset={"users": 50, "end": "2025-01-01"})
    future = {"version": 1, "created_at": iso(FUTURE)}
    out = run_guarded(
        [*READ, "--state", "state"],
        tmp_path,
        emulator,
        config=guarded_config(emulator),
        catalog=catalog(responses="incremental"),
        state=state("responses", future),
    )
    assert out.returncode == 0 and not out.errors and not out.records
    assert out.stream_state("responses") == future
    assert any("responses" in line and "later than now" in line for line in out.logs)
    assert emulator.requests("/v1/") == 0


# -- API records with missing, extra, null or wrongly typed fields, in-process through the source --------
# Each example serves a page of end users and one of responses (requests-mock), mutated field by field, and
# reads them with the CDK's in-process entrypoint. Whatever a field holds, the sync completes; a value that
# cannot be read as its column's type is emitted as null and logged once per stream and column, without
# its content; an unknown field passes through.

API = "http://wootric.test"
BASE_USER = {
    "id": 2,
    "created_at": "2018-01-02 23:03:41 -0800",
    "updated_at": "2018-01-16 23:07:03 -0800",
    "email": "nps2@example.com",
    "last_surveyed": "2018-01-07 15:30:44 -0800",
    "external_created_at": 1515940485,
    "last_seen_at": "2018-01-08T10:00:00.000-08:00",
    "properties": {"country": "UK", "purchase_date": 1494569021, "features_array": ["a", "b"]},
    "phone_number": "+44 20 7946 0000",
    "external_id": "e9a12f9aa245cfd5",
    "last_response": {"id": 505550023, "score": 9, "text": "Great.", "survey": {"channel": "mobile:ios"}},
    "settings": {"email_nps": True, "mobile_nps": False, "web_nps": True, "force_mobile_survey": None},
}
BASE_RESPONSE = {
    "id": 1,
    "end_user_id": 2,
    "survey_id": 7,
    "score": 3,
    "text": "Site is often slow.",
    "completed": False,
    "excluded_from_calculations": False,
    "ip_address": "127.0.0.1",
    "origin_url": "https://wootric.com",
    "created_at": "2016-12-16 09:05:00 -0800",
    "updated_at": "2016-12-16 09:05:13 -0800",
    "tags": ["PERFORMANCE"],
    "notes": ["called back"],
    "end_user": {"properties": {"persona": "Individual", "revenue_amount": 5000}},
}
# Values no column of that kind can read (the shaper does read "12" as an integer, 1 as true, and so on).
WRONG = {
    "integer": ["twelve", 1.5, [1], {"n": 1}, True],
    "text": [[1, 2], {"a": "b"}, False],
    "datetime": ["yesterday at noon", 1515940485, ["2018-01-02"], {"at": 1}, True],
    "epoch": ["soon", 10**20, [1], {"at": 1}, True],
    "boolean": ["maybe", 7, [True], {"on": True}],
    "string_list": ["PERFORMANCE", 5, {"tag": "x"}],
    "list": ["called back", 5, {"note": "x"}],
    "object": ["none", 5, [1, 2]],
}
# field -> (kind, the columns it fills, the column named when it cannot be read)
USER_FIELDS = {
    "created_at": ("datetime", ("created_at",), "created_at"),
    "updated_at": ("datetime", ("updated_at",), "updated_at"),
    "email": ("text", ("email",), "email"),
    "last_surveyed": ("datetime", ("last_surveyed",), "last_surveyed"),
    "external_created_at": ("epoch", ("external_created_at",), "external_created_at"),
    "last_seen_at": ("datetime", ("last_seen_at",), "last_seen_at"),
    "phone_number": ("text", ("phone_number",), "phone_number"),
    "external_id": ("text", ("external_id",), "external_id"),
    "last_response": (
        "object",
        (
            "last_response__id",
            "last_response__score",
            "last_response__text",
            "last_response__survey__channel",
        ),
        "last_response",
    ),
    "settings": (
        "object",
        tuple(
            f"settings_{n}"
            for n in (
                "email_nps",
                "mobile_nps",
                "web_nps",
                "force_mobile_survey",
                "force_web_survey",
                "surveys_disabled_by_end_user",
            )
        ),
        "settings",
    ),
}
RESPONSE_FIELDS = {
    "end_user_id": ("integer", ("end_user_id",), "end_user_id"),
    "survey_id": ("integer", ("survey_id",), "survey_id"),
    "score": ("integer", ("score",), "score"),
    "text": ("text", ("text",), "text"),
    "completed": ("boolean", ("completed",), "completed"),
    "excluded_from_calculations": ("boolean", ("excluded_from_calculations",), "excluded_from_calculations"),
    "ip_address": ("text", ("ip_address",), "ip_address"),
    "origin_url": ("text", ("origin_url",), "origin_url"),
    "created_at": ("datetime", ("created_at",), "created_at"),
    "updated_at": ("datetime", ("updated_at",), "updated_at"),
    "tags": ("string_list", ("tags",), "tags"),
    "notes": ("list", ("notes",), "notes"),
    "end_user": ("object", ("end_user__properties",), "end_user"),
}
EXTRA_KEYS = st.text(alphabet="abcdefghij_", min_size=1, max_size=8).map(lambda key: f"x_{key}")
EXTRA_VALUES = st.one_of(
    st.integers(-5, 5), st.text(max_size=6), st.booleans(), st.lists(st.integers(0, 3), max_size=2)
)


@st.composite
def mutated(draw, base: dict, fields: dict) -> tuple[dict, dict[str, str], dict]:
    """A copy of `base` where each field is kept, dropped, nulled or given a wrong type; plus unknown fields."""
    record = copy.deepcopy(base)
    actions = {}
    for name, (kind, _, _) in fields.items():
        action = draw(st.sampled_from(["keep", "keep", "missing", "null", "wrong"]))
        actions[name] = action
        if action == "missing":
            del record[name]
        elif action == "null":
            record[name] = None
        elif action == "wrong":
            record[name] = draw(st.sampled_from(WRONG[kind]))
    extra = draw(st.dictionaries(EXTRA_KEYS, EXTRA_VALUES, max_size=2))
    record.update(extra)
    return record, actions, extra


def shaped_base(base: dict, shape_record) -> dict:
    shaper = records.Shaper("base", lambda: ZoneInfo("America/Los_Angeles"), logging.getLogger("base"))
    return shape_record(base, shaper)


def in_process_read(users: list[dict], responses: list[dict]):
    config = guarded_config(None, base_url=API)
    catalog_ = (
        CatalogBuilder()
        .with_stream("end_users", SyncMode.full_refresh)
        .with_stream("end_users_properties", SyncMode.full_refresh)
        .with_stream("responses", SyncMode.full_refresh)
        .build()
    )
    with requests_mock.Mocker() as mock:
        mock.post(f"{API}/oauth/token", json={"access_token": "tok-" + "q" * 40, "expires_in": 7200})
        mock.get(f"{API}/v1/segments", json=[{"name": "country", "data_type": "string", "created_at": None}])
        mock.get(f"{API}/v1/end_users", json=first_page_only(users))
        mock.get(f"{API}/v1/responses", json=first_page_only(responses))
        mock.get(f"{API}/v1/declines", json=[])  # asked, with the others, to learn the account's time zone
        return cdk_read(SourceWootric(), config, catalog_)


def first_page_only(rows: list[dict]):
    """An endpoint holding `rows`, all of them on page 1, as an API whose pages hold 50 would answer."""
    return lambda request, context: rows if request.qs.get("page", ["1"]) == ["1"] else []


def check_stream(output, stream: str, examples: list, fields: dict, base: dict) -> None:
    emitted = {r.record.data["id"]: r.record.data for r in output.records if r.record.stream == stream}
    assert set(emitted) == {record["id"] for record, _, _ in examples}
    unreadable = set()
    for record, actions, extra in examples:
        data = emitted[record["id"]]
        for name, action in actions.items():
            _, columns, logged_as = fields[name]
            for column in columns:
                want = base[column] if action == "keep" else None
                assert data.get(column) == want, (stream, name, action, column, record.get(name))
            unreadable |= {logged_as} if action == "wrong" else set()
        for key, value in extra.items():
            assert data.get(key) == value
    warnings = [log.log.message for log in output.logs if log.log.level.value == "WARN"]
    for column in unreadable:
        mentions = [w for w in warnings if w.startswith(f"{stream}: column `{column}` ")]
        assert len(mentions) == 1, (stream, column, mentions)
    logged = {w.split("`")[1] for w in warnings if w.startswith(f"{stream}: column `")}
    assert logged == unreadable


@settings(max_examples=25, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    users=st.lists(mutated(BASE_USER, USER_FIELDS), min_size=1, max_size=6),
    responses=st.lists(mutated(BASE_RESPONSE, RESPONSE_FIELDS), min_size=1, max_size=6),
)
def test_odd_api_records_are_emitted_with_nulls_and_logged_once_per_column(users, responses):
    for i, (record, _, _) in enumerate(users):
        record["id"] = 1000 + i
    for i, (record, _, _) in enumerate(responses):
        record["id"] = 5000 + i
    output = in_process_read([u for u, _, _ in users], [r for r, _, _ in responses])
    assert not output.errors, [e.trace.error.message for e in output.errors]
    check_stream(output, "end_users", users, USER_FIELDS, shaped_base(BASE_USER, records.end_user))
    check_stream(
        output, "responses", responses, RESPONSE_FIELDS, shaped_base(BASE_RESPONSE, records.response)
    )
    properties = [r.record.data for r in output.records if r.record.stream == "end_users_properties"]
    assert {p["end_user_id"] for p in properties} == {u["id"] for u, _, _ in users}  # every user's properties
    for message in output.logs:  # a warning names the column and the value's type, never the value
        assert "yesterday at noon" not in message.log.message and "maybe" not in message.log.message


def test_records_without_a_usable_id_or_not_objects_are_skipped_and_counted():
    good = {**BASE_USER, "id": 1001}
    odd = [None, "user", [1, 2], {**BASE_USER, "id": None}, {k: v for k, v in BASE_USER.items() if k != "id"}]
    output = in_process_read(
        [good, *odd, {**BASE_USER, "id": 1.5}, {**BASE_USER, "id": True}], [BASE_RESPONSE]
    )
    assert not output.errors
    assert [r.record.data["id"] for r in output.records if r.record.stream == "end_users"] == [1001]
    warnings = [log.log.message for log in output.logs if log.log.level.value == "WARN"]
    assert any(w.startswith("end_users: 7 records had no readable id") for w in warnings), warnings


def test_an_id_sent_as_integral_text_is_read_like_any_integer_column():
    output = in_process_read([{**BASE_USER, "id": "1001"}], [{**BASE_RESPONSE, "id": "77"}])
    assert [r.record.data["id"] for r in output.records if r.record.stream == "end_users"] == [1001]
    assert [r.record.data["id"] for r in output.records if r.record.stream == "responses"] == [77]
