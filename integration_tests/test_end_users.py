"""End users and their properties, through the real `source-wootric read` against the emulator, compared
record by record with the data the emulator holds."""

from __future__ import annotations

import json
import math
from datetime import datetime

import pytest

from integration_tests.connector import CLOCK_MARGIN, catalog, config_for, read
from wootric_emulator import DatasetSpec, Fault

pytestmark = pytest.mark.timeout(600)

BOTH = {"end_users": "incremental", "end_users_properties": "incremental"}


def epoch(value: str | None) -> int | None:
    return None if value is None else int(datetime.fromisoformat(value).timestamp())


def property_text(value):
    return (
        value
        if value is None or isinstance(value, str)
        else json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    )


def expected_users(emulator, since: int = 0) -> dict[int, dict]:
    return {u["id"]: u for u in emulator.end_users if emulator.epoch(u["updated_at"]) >= since}


def assert_users_match(records: list[dict], emulator, users: dict[int, dict]) -> None:
    """Every expected user exactly once, each column as the emulator holds it."""
    ids = [r["id"] for r in records]
    assert len(ids) == len(set(ids)), "duplicate end users"
    assert set(ids) == set(users), (
        f"missing {sorted(set(users) - set(ids))[:10]}, extra {sorted(set(ids) - set(users))[:10]}"
    )
    for record in records:
        raw = users[record.get("id")]
        for column in ("created_at", "updated_at", "last_surveyed", "last_seen_at"):
            assert epoch(record.get(column)) == emulator.epoch(raw.get(column)), (record.get("id"), column)
            assert (
                record.get(column) is None
                or datetime.fromisoformat(record.get(column)).utcoffset() is not None
            )
        assert epoch(record.get("external_created_at")) == raw.get("external_created_at")
        assert record.get("email") == raw.get("email") and record.get("external_id") == raw.get("external_id")
        last_response = raw.get("last_response") or {}
        assert record.get("last_response__score") == last_response.get("score")
        assert record.get("last_response__survey__channel") == (last_response.get("survey") or {}).get(
            "channel"
        )
        for name, value in (raw.get("settings") or {}).items():
            assert record.get(f"settings_{name}") == value


def assert_properties_match(rows: list[dict], users: dict[int, dict], data_types: dict[str, str]) -> None:
    expected = {
        (user_id, key): (property_text(value), data_types.get(key))
        for user_id, user in users.items()
        for key, value in (user.get("properties") or {}).items()
    }
    got = {
        (r["end_user_id"], r["property_key"]): (r.get("property_value"), r.get("property_data_type"))
        for r in rows
    }
    assert len(got) == len(rows), "duplicate property rows"
    assert got == expected


def requests_of(emulator, path: str = "/v1/end_users") -> int:
    return sum(emulator.counters.get(path, {}).values())


def test_full_refresh_reads_every_end_user_and_property(make_emulator, tmp_path):
    emulator = make_emulator(dataset=DatasetSpec(users=1_200, seed=11))
    out = read(
        tmp_path,
        config=config_for(emulator),
        catalog=catalog(end_users="full_refresh", end_users_properties="full_refresh"),
    )
    assert out.returncode == 0 and not out.errors, out.stderr[-2000:]
    users = expected_users(emulator)
    assert_users_match(out.records["end_users"], emulator, users)
    data_types = {s["name"]: s["data_type"] for s in emulator.segments}
    assert_properties_match(out.records["end_users_properties"], users, data_types)


def test_the_substream_costs_no_extra_request(make_emulator, tmp_path):
    emulator = make_emulator(dataset=DatasetSpec(users=1_000, seed=12))
    config = config_for(emulator)
    alone = read(
        tmp_path,
        config=config,
        catalog=catalog(end_users="incremental"),
    )
    requests_alone = requests_of(emulator)
    emulator.reset_counters()
    both = read(
        tmp_path,
        config=config,
        catalog=catalog(**BOTH),
    )
    assert alone.returncode == both.returncode == 0
    assert requests_of(emulator) == requests_alone  # the same end user requests, not one more
    assert requests_of(emulator, "/v1/segments") == 1  # the property types, once per sync
    # Checkpoints come per page, not per end user.
    property_states = [
        s for s in both.states if s["stream"]["stream_descriptor"]["name"] == "end_users_properties"
    ]
    assert len(property_states) <= math.ceil(len(both.records["end_users_properties"]) / 50) + 2
    assert len(property_states) < len(both.records["end_users"])


def test_requests_stay_at_the_floor(make_emulator, tmp_path):
    emulator = make_emulator(dataset=DatasetSpec(users=2_000, seed=13))
    out = read(
        tmp_path,
        config=config_for(emulator),
        catalog=catalog(end_users="incremental"),
    )
    assert len(out.records["end_users"]) == 2_000
    # Each next page re-reads the newest second of the last one: 49 new users a page.
    assert requests_of(emulator) <= math.ceil(2_000 / 49) + 1
    assert any("end_users: done, 2000 records" in line for line in out.logs)


def test_an_incremental_sync_reads_only_what_changed(make_emulator, tmp_path):
    emulator = make_emulator(dataset=DatasetSpec(users=800, seed=14))
    config = config_for(emulator)
    first = read(
        tmp_path,
        config=config,
        catalog=catalog(**BOTH),
    )
    assert len(first.records["end_users"]) == 800
    state = first.final_state
    assert first.stream_state("end_users")["version"] == 1

    emulator.reset_counters()
    # The next sync comes later: on the simulated clock, time passes only when told to.
    emulator.clock.sleep(CLOCK_MARGIN + 1)
    unchanged = read(
        tmp_path,
        config=config,
        catalog=catalog(**BOTH),
        state=state,
    )
    assert unchanged.records["end_users"] == [] and requests_of(emulator) == 1

    # Past the clock margin (on the clock the emulator and the connector share): the changes come after what
    # the last sync read, and the next sync reads through them.
    emulator.clock.sleep(CLOCK_MARGIN + 1)
    changed = set(emulator.update_users(25, seed=3))
    emulator.clock.sleep(CLOCK_MARGIN + 1)
    second = read(
        tmp_path,
        config=config,
        catalog=catalog(**BOTH),
        state=unchanged.final_state,
    )
    users = {u["id"]: u for u in emulator.end_users if u["id"] in changed}
    assert_users_match(second.records["end_users"], emulator, users)
    data_types = {s["name"]: s["data_type"] for s in emulator.segments}
    assert_properties_match(second.records["end_users_properties"], users, data_types)
    assert second.stream_state("end_users")["updated_at"] > first.stream_state("end_users")["updated_at"]


def test_bulk_imports_and_clusters_past_the_paging_limit_are_read_whole(make_emulator, tmp_path):
    spec = DatasetSpec(users=9_000, seed=15, bulk_import_users=5_000, bulk_created_same_second=2_000)
    emulator = make_emulator(dataset=spec)
    out = read(
        tmp_path,
        config=config_for(emulator),
        catalog=catalog(end_users="incremental"),
    )
    assert out.returncode == 0
    assert_users_match(out.records["end_users"], emulator, expected_users(emulator))
    assert not [line for line in out.logs if "cannot reach" in line]
    assert requests_of(emulator) <= math.ceil(9_000 / 49) + 10


def test_a_cluster_beyond_what_the_api_reaches_is_reported(make_emulator, tmp_path):
    emulator = make_emulator(dataset=DatasetSpec(users=3_200, seed=16, bulk_created_same_second=3_100))
    out = read(
        tmp_path,
        config=config_for(emulator),
        catalog=catalog(end_users="full_refresh"),
    )
    assert out.returncode == 0
    assert 3_000 <= len(out.records["end_users"]) < 3_200
    warnings = [m["log"]["message"] for m in out.of_type("LOG") if m["log"]["level"] == "WARN"]
    assert any("cannot reach" in w and " were read and emitted" in w for w in warnings), warnings


def test_sparse_years_cost_no_empty_windows(make_emulator, tmp_path):
    emulator = make_emulator(dataset=DatasetSpec(users=1_000, seed=17, start="2012-01-01", sparse_years=6))
    out = read(
        tmp_path,
        config=config_for(emulator),
        catalog=catalog(end_users="incremental"),
    )
    assert len(out.records["end_users"]) == 1_000
    assert requests_of(emulator) <= math.ceil(1_000 / 49) + 1


def test_users_updated_while_the_sync_reads_arrive_by_the_next_sync(make_emulator, tmp_path):
    faults = [Fault("update_users", path_prefix="/v1/end_users", after=2, times=10, users=5)]
    emulator = make_emulator(
        dataset=DatasetSpec(users=3_000, seed=18, bulk_created_same_second=400), faults=faults
    )
    config = config_for(emulator)
    first = read(
        tmp_path,
        config=config,
        catalog=catalog(end_users="incremental"),
    )
    emulator.set_faults([])
    emulator.clock.sleep(CLOCK_MARGIN + 1)
    second = read(
        tmp_path,
        config=config,
        catalog=catalog(end_users="incremental"),
        state=first.final_state,
    )
    latest: dict[int, dict] = {}
    for record in first.records["end_users"] + second.records["end_users"]:
        latest[record.get("id")] = record
    assert set(latest) == {u["id"] for u in emulator.end_users}
    for user in emulator.end_users:  # each with its latest updated_at
        assert epoch(latest[user["id"]]["updated_at"]) == emulator.epoch(user["updated_at"])


def test_a_state_from_the_future_reads_nothing_and_keeps_the_state(make_emulator, tmp_path):
    emulator = make_emulator(dataset=DatasetSpec(users=100, seed=19))
    future = {"version": 1, "updated_at": "2100-01-01T00:00:00Z"}
    state = [
        {"type": "STREAM", "stream": {"stream_descriptor": {"name": "end_users"}, "stream_state": future}}
    ]
    out = read(
        tmp_path,
        config=config_for(emulator),
        catalog=catalog(end_users="incremental"),
        state=state,
    )
    assert out.returncode == 0 and out.records["end_users"] == []
    assert out.stream_state("end_users") == future
    assert any(
        m["log"]["level"] == "WARN" and "later than now" in m["log"]["message"] for m in out.of_type("LOG")
    )


def test_a_malformed_state_is_a_config_error(make_emulator, tmp_path):
    emulator = make_emulator(dataset=DatasetSpec(users=10, seed=20))
    state = [
        {
            "type": "STREAM",
            "stream": {
                "stream_descriptor": {"name": "end_users"},
                "stream_state": {"updated_at": "yesterday"},
            },
        }
    ]
    out = read(
        tmp_path,
        config=config_for(emulator),
        catalog=catalog(end_users="incremental"),
        state=state,
    )
    assert out.returncode != 0 and out.errors and {e["failure_type"] for e in out.errors} == {"config_error"}
    assert "Reset the stream `end_users`" in out.errors[0]["message"]


def test_the_two_end_user_streams_share_one_read_from_different_states(make_emulator, tmp_path):
    emulator = make_emulator(dataset=DatasetSpec(users=1_500, seed=22))
    seconds = sorted(emulator.epoch(u["updated_at"]) for u in emulator.end_users)
    properties_after, users_after = seconds[299], seconds[999]  # properties behind end_users, as after a kill
    state = [
        {
            "type": "STREAM",
            "stream": {
                "stream_descriptor": {"name": name},
                "stream_state": {"version": 1, "updated_at_epoch": after},
            },
        }
        for name, after in (("end_users", users_after), ("end_users_properties", properties_after))
    ]
    out = read(tmp_path, config=config_for(emulator), catalog=catalog(**BOTH), state=state)
    assert out.returncode == 0
    users = expected_users(emulator, since=users_after + 1)
    assert_users_match(out.records["end_users"], emulator, users)
    with_properties = expected_users(emulator, since=properties_after + 1)
    assert {r["end_user_id"] for r in out.records["end_users_properties"]} == {
        i for i, u in with_properties.items() if u.get("properties")
    }
    # One read, from the earlier state: what the properties stream alone would cost.
    assert requests_of(emulator) <= math.ceil(len(with_properties) / 49) + 1
