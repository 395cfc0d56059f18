"""The CDK's standard tests (scenarios in acceptance-test-config.yml), in-process, against the emulator;
and, in the same spirit, what they leave out: a basic read compared with an expected-records file, and
incremental reads from a sample and a future state."""

from __future__ import annotations

import json
import os
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from airbyte_cdk.test.standard_tests import SourceTestSuiteBase

from integration_tests.connector import STREAMS, Output, catalog, config_for, discovered_streams, read
from source_wootric.source import SourceWootric
from wootric_emulator import DatasetSpec, Emulator
from wootric_emulator.clock import simulated_time
from wootric_emulator.pytest_plugin import simulated_clock

pytest_plugins = ["airbyte_cdk.test.standard_tests.pytest_hooks"]
pytestmark = pytest.mark.timeout(300)

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
EXPECTED_RECORDS = HERE / "expected_records.jsonl"
# A fixed account (fixed dates, fixed seed) read at a fixed time on the simulated clock: its records never
# change, so they can be kept in a file, nps_summary's and email_stats' periods (up to "today") included.
DATASET = DatasetSpec(users=120, responses=150, declines=40, seed=5, start="2021-01-01", end="2021-12-31")
NOW = 1_642_248_000  # 2022-01-15T12:00:00Z
# acceptance-test-config.yml's incremental threshold_days: the look-back window (30 days), and a month more
# for nps_summary and email_stats, which re-read each period the look-back overlaps, from its first day.
THRESHOLD_DAYS = 61
FILED_STREAMS = (
    "end_users",
    "end_users_properties",
    "responses",
    "declines",
    "segments",
    "nps_summary",
    "email_stats",
    "email_send_sources",
    "survey_templates",
)
INCREMENTAL_STREAMS = (
    "end_users",
    "end_users_properties",
    "responses",
    "declines",
    "nps_summary",
    "email_stats",
)


@pytest.fixture(scope="module", autouse=True)
def emulator(tmp_path_factory):
    """One emulator for the module, on a simulated clock that the connector commands read too; the scenario
    configs are written with the port it really bound."""
    with (
        simulated_clock(tmp_path_factory.mktemp("standards"), start=NOW) as clock,
        Emulator(dataset=DATASET, clock=clock) as running,
    ):
        secrets = ROOT / "secrets"
        secrets.mkdir(exist_ok=True)
        config = config_for(running, start_date="2021-01-01T00:00:00Z")
        (secrets / "config.json").write_text(json.dumps(config, indent=2))
        wrong = {**config, "credentials": {**config["credentials"], "client_secret": "not-the-secret"}}
        (secrets / "invalid_config.json").write_text(json.dumps(wrong, indent=2))
        (secrets / "incremental_config.json").write_text(json.dumps(incremental_config(running), indent=2))
        yield running


@pytest.fixture(autouse=True)
def in_process_on_the_emulators_clock(request, emulator):
    """The CDK's standard tests run the connector in this process: on the emulator's clock too."""
    if request.cls is not TestAirbyteStandards:
        yield
        return
    with simulated_time(emulator.clock):
        yield


class TestAirbyteStandards(SourceTestSuiteBase):
    connector = SourceWootric

    @classmethod
    def get_connector_root_dir(cls) -> Path:
        return ROOT


def comparable(out: Output) -> list[dict]:
    """The records of the filed streams, in the acceptance tests' format (`emitted_at`: the fixed clock's)."""
    records = [m["record"] for m in out.of_type("RECORD") if m["record"]["stream"] in FILED_STREAMS]
    records.sort(key=lambda record: FILED_STREAMS.index(record["stream"]))
    return [{"stream": r["stream"], "data": r["data"], "emitted_at": r["emitted_at"]} for r in records]


def test_basic_read_gives_the_expected_records(emulator, tmp_path):
    out = read(
        tmp_path,
        config=config_for(emulator, start_date="2021-01-01T00:00:00Z"),
        catalog=catalog(**dict.fromkeys(FILED_STREAMS, "full_refresh")),
    )
    assert out.returncode == 0, out.stderr[-2000:]
    got = comparable(out)
    if os.environ.get("UPDATE_EXPECTED_RECORDS"):
        EXPECTED_RECORDS.write_text(
            "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in got)
        )
    expected = [json.loads(line) for line in EXPECTED_RECORDS.read_text().splitlines()]
    assert {record["stream"] for record in expected} == set(FILED_STREAMS) == set(STREAMS)  # every stream
    assert len(got) == len(expected) and got == expected


def incremental_config(emulator: Emulator) -> dict:
    """The acceptance tests' incremental scenario: no sweep, whose re-reads of records older than the look-back
    window no threshold covers; the look-back (30 days, its default), re-read whole at every sync here
    (edits_bound_hours 0: the most a sync re-reads), is within `threshold_days` (THRESHOLD_DAYS)."""
    return config_for(
        emulator, start_date="2021-01-01T00:00:00Z", backdated_bound_days=0, edits_bound_hours=0
    )


def test_discover_describes_every_stream_and_column():
    """What the Airbyte UI and data catalogs show, as `discover` gives it (unit_tests/test_metadata.py keeps the
    schema files described)."""
    for name, stream in discovered_streams().items():
        schema = stream["json_schema"]
        assert schema.get("description"), name
        assert all(column.get("description") for column in schema["properties"].values()), name


def test_sequential_reads_emit_nothing_before_the_state_less_the_threshold(emulator, tmp_path):
    """The acceptance tests' sequential-read check: a read from the state of the last one emits no record whose
    cursor is older than the state's cursor less `threshold_days`."""
    streams = catalog(**dict.fromkeys(INCREMENTAL_STREAMS, "incremental"))
    first = read(tmp_path, config=incremental_config(emulator), catalog=streams)
    second = read(tmp_path, config=incremental_config(emulator), catalog=streams, state=first.final_state)
    assert first.returncode == second.returncode == 0
    assert second.records["responses"] and second.records["declines"]  # the look-back, read again
    threshold = THRESHOLD_DAYS * 86_400
    for stream in INCREMENTAL_STREAMS:
        state = first.stream_state(stream)
        cursor = (
            "period_start"
            if "period_start" in state
            else next(k for k in ("updated_at", "created_at") if k in state)
        )
        floor = (
            second_of(state[cursor] if cursor != "period_start" else f"{state[cursor]}T00:00:00Z") - threshold
        )
        for record in second.records[stream]:
            value = record[cursor] if cursor != "period_start" else f"{record[cursor]}T00:00:00+00:00"
            assert datetime.fromisoformat(value).timestamp() >= floor, (stream, record[cursor], state[cursor])


def second_of(instant: str) -> int:
    """The epoch second of a state's cursor value (UTC RFC 3339 with `Z`)."""
    assert instant.endswith("Z"), instant
    return int(datetime.fromisoformat(instant).timestamp())


def state_file(name: str) -> list[dict]:
    return json.loads((HERE / name).read_text())


def test_incremental_from_the_sample_state_reads_only_newer_records(emulator, tmp_path):
    state = state_file("sample_state.json")
    out = read(
        tmp_path,
        # Neither the look-back nor the sweep of older records (backdated_bound_days) re-reads anything.
        config=config_for(
            emulator, start_date="2021-01-01T00:00:00Z", lookback_window_days=0, backdated_bound_days=0
        ),
        catalog=catalog(**dict.fromkeys(INCREMENTAL_STREAMS, "incremental")),
        state=state,
    )
    assert out.returncode == 0
    bounds = {s["stream"]["stream_descriptor"]["name"]: s["stream"]["stream_state"] for s in state}
    assert (
        set(bounds)
        == set(INCREMENTAL_STREAMS)
        == {
            name
            for name, stream in discovered_streams().items()
            if "incremental" in stream["supported_sync_modes"]
        }
    )
    after_users = second_of(bounds["end_users"]["updated_at"])
    after_responses = second_of(bounds["responses"]["created_at"])
    expected_users = {u["id"] for u in emulator.end_users if emulator.epoch(u["updated_at"]) > after_users}
    expected_responses = {
        r["id"] for r in emulator.responses if emulator.epoch(r["created_at"]) > after_responses
    }
    assert 0 < len(expected_users) < len(emulator.end_users) and 0 < len(expected_responses) < len(
        emulator.responses
    )
    assert {r["id"] for r in out.records["end_users"]} == expected_users
    assert {r["id"] for r in out.records["responses"]} == expected_responses

    after_properties = second_of(bounds["end_users_properties"]["updated_at"])
    expected_rows = {
        (u["id"], key)
        for u in emulator.end_users
        if emulator.epoch(u["updated_at"]) > after_properties
        for key in u.get("properties") or {}
    }
    after_declines = second_of(bounds["declines"]["created_at"])
    expected_declines = {
        d["id"] for d in emulator.declines if emulator.epoch(d["created_at"]) > after_declines
    }
    assert 0 < len(expected_declines) < len(emulator.declines) and expected_rows
    assert {
        (r["end_user_id"], r["property_key"]) for r in out.records["end_users_properties"]
    } == expected_rows
    assert {r["id"] for r in out.records["declines"]} == expected_declines
    # The period streams re-read the period of their state (still open when it was saved) and every one since.
    today = datetime.fromtimestamp(NOW, ZoneInfo(config_for(emulator)["account_timezone"])).date()
    for stream in ("nps_summary", "email_stats"):
        first = date.fromisoformat(bounds[stream]["period_start"])
        months = (today.year - first.year) * 12 + today.month - first.month + 1
        expected_months = [
            date(first.year + (first.month - 1 + n) // 12, (first.month - 1 + n) % 12 + 1, 1)
            for n in range(months)
        ]
        assert [r["period_start"] for r in out.records[stream]] == [m.isoformat() for m in expected_months]


def test_incremental_from_the_abnormal_state_reads_nothing(emulator, tmp_path):
    state = state_file("abnormal_state.json")
    out = read(
        tmp_path,
        config=config_for(emulator, start_date="2021-01-01T00:00:00Z"),
        catalog=catalog(**dict.fromkeys(INCREMENTAL_STREAMS, "incremental")),
        state=state,
    )
    assert out.returncode == 0 and not out.records
    assert {given["stream"]["stream_descriptor"]["name"] for given in state} == set(INCREMENTAL_STREAMS)
    for given in state:
        name = given["stream"]["stream_descriptor"]["name"]
        assert out.stream_state(name) == given["stream"]["stream_state"]
