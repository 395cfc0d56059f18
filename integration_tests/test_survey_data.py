"""Responses, declines, segments and the NPS summary, through `source-wootric read` against the emulator."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta

import pytest

from integration_tests.connector import CLOCK_MARGIN, catalog, config_for, read
from wootric_emulator import DatasetSpec
from wootric_emulator.pytest_plugin import simulated_clock

pytestmark = pytest.mark.timeout(600)
RESPONSE_COLUMNS = ("end_user_id", "survey_id", "score", "text", "completed", "excluded_from_calculations")


def epoch(value: str | None) -> int | None:
    return None if value is None else int(datetime.fromisoformat(value).timestamp())


def assert_events_match(records: list[dict], emulator, raws: list[dict], columns: tuple[str, ...]) -> None:
    by_id = {raw["id"]: raw for raw in raws}
    ids = [r["id"] for r in records]
    assert len(ids) == len(set(ids)) and set(ids) == set(by_id)
    for record in records:
        raw = by_id[record.get("id")]
        assert epoch(record.get("created_at")) == emulator.epoch(raw["created_at"])
        assert epoch(record.get("updated_at")) == emulator.epoch(raw.get("updated_at"))
        snapshot = raw.get("end_user") or {}
        assert record.get("end_user__properties") == snapshot.get("properties")
        # Who answered: the snapshot's identity, which the emulator takes from the end user at answer time.
        assert (
            record.get("end_user__id"),
            record.get("end_user__email"),
            record.get("end_user__external_id"),
        ) == (
            snapshot.get("id"),
            snapshot.get("email"),
            snapshot.get("external_id"),
        )
        assert snapshot.get("id") == raw.get("end_user_id")
        assert record.get("ip_address") == raw.get("ip_address") and record.get("origin_url") == raw.get(
            "origin_url"
        )
        for column in columns:
            assert record.get(column) == raw.get(column), (record.get("id"), column)


@pytest.fixture(scope="module")
def account(tmp_path_factory):
    from wootric_emulator import Emulator

    tmp = tmp_path_factory.mktemp("survey")
    with simulated_clock(tmp) as clock:
        emulator = Emulator(
            dataset=DatasetSpec(users=1_500, responses=4_000, declines=1_200, seed=21, start="2023-01-01"),
            clock=clock,
        )
        with emulator:
            sync_modes = {
                "responses": "incremental",
                "declines": "incremental",
                "segments": "full_refresh",
                "nps_summary": "incremental",
            }
            out = read(
                tmp,
                config=config_for(emulator, start_date="2022-06-01T00:00:00Z"),
                catalog=catalog(**sync_modes),
            )
            assert out.returncode == 0 and not out.errors, out.stderr[-2000:]
            yield emulator, out


def test_every_response_and_decline_is_read(account):
    emulator, out = account
    assert_events_match(
        out.records["responses"], emulator, emulator.responses, (*RESPONSE_COLUMNS, "tags", "notes")
    )
    assert_events_match(out.records["declines"], emulator, emulator.declines, ("end_user_id", "survey_id"))
    for record in out.records["declines"]:
        assert "score" not in record


def test_responses_cost_the_floor_of_requests(account):
    emulator, _ = account
    assert sum(emulator.counters["/v1/responses"].values()) <= math.ceil(4_000 / 49) + 1
    assert sum(emulator.counters["/v1/declines"].values()) <= math.ceil(1_200 / 49) + 1


def test_segments_are_the_account_definitions(account):
    emulator, out = account
    got = {r["name"]: (r["data_type"], epoch(r["created_at"])) for r in out.records["segments"]}
    assert got == {s["name"]: (s["data_type"], emulator.epoch(s["created_at"])) for s in emulator.segments}


def months(first: date, last: date):
    start = first.replace(day=1)
    while start <= last:
        following = (start + timedelta(days=32)).replace(day=1)
        yield start, following - timedelta(days=1)
        start = following


def test_nps_summary_has_one_record_per_month_as_wootric_computes_it(account):
    emulator, out = account
    today = datetime.now(tz=emulator_zone(emulator)).date()
    # start_date 2022-06-01 UTC is May 31 in Los Angeles, but no period before start_date's month is read
    expected = list(months(date(2022, 6, 1), today))
    records = out.records["nps_summary"]
    assert [(r["period_start"], r["period_end"]) for r in records] == [
        (s.isoformat(), e.isoformat()) for s, e in expected
    ]
    for record, (start, end) in zip(records, expected, strict=True):
        summary = emulator.nps(start, end)
        assert {k: record.get(k) for k in summary} == summary and record.get("period") == "month"


def emulator_zone(emulator):
    from zoneinfo import ZoneInfo

    return ZoneInfo(emulator.account_timezone)


def test_the_look_back_catches_an_edited_response(account, tmp_path):
    emulator, first = account
    # edits_bound_hours 0: the whole look-back at every sync (paced re-reads: test_hourly.py)
    config = config_for(
        emulator, start_date="2022-06-01T00:00:00Z", lookback_window_days=3_650, edits_bound_hours=0
    )
    emulator.clock.sleep(CLOCK_MARGIN + 1)  # past the clock margin, as in test_end_users.py
    edited = set(emulator.edit_responses(5, seed=4))
    emulator.clock.sleep(CLOCK_MARGIN + 1)
    second = read(
        tmp_path,
        config=config,
        catalog=catalog(responses="incremental"),
        state=first.final_state,
    )
    latest = {r["id"]: r for r in second.records["responses"]}
    assert edited <= set(latest)
    for raw in emulator.responses:
        if raw["id"] in edited:
            assert (
                latest[raw["id"]].get("tags") == raw["tags"]
                and latest[raw["id"]].get("notes") == raw["notes"]
            )
            assert epoch(latest[raw["id"]].get("updated_at")) == emulator.epoch(raw["updated_at"])
    # Without a look-back (nor the sweep of older records), the next sync asks once and reads nothing already read.
    emulator.reset_counters()
    emulator.clock.sleep(CLOCK_MARGIN + 1)  # the next sync comes later: the clock moves only when told to
    third = read(
        tmp_path,
        config={**config, "lookback_window_days": 0, "backdated_bound_days": 0},
        catalog=catalog(responses="incremental"),
        state=second.final_state,
    )
    assert third.records["responses"] == [] and sum(emulator.counters["/v1/responses"].values()) == 1
    assert third.stream_state("responses")["created_at"] >= second.stream_state("responses")["created_at"]


def test_nps_summary_incremental_rereads_the_open_and_look_back_periods(account, tmp_path):
    emulator, first = account
    config = config_for(
        emulator, start_date="2022-06-01T00:00:00Z", lookback_window_days=40, edits_bound_hours=0
    )
    second = read(
        tmp_path,
        config=config,
        catalog=catalog(nps_summary="incremental"),
        state=first.final_state,
    )
    today = datetime.now(tz=emulator_zone(emulator)).date()
    expected_first = min(
        (today - timedelta(days=40)).replace(day=1),
        date.fromisoformat(first.stream_state("nps_summary")["period_start"]),
    )
    assert [r["period_start"] for r in second.records["nps_summary"]] == [
        s.isoformat() for s, _ in months(expected_first, today)
    ]
    # Another period starts the stream afresh rather than mixing months and weeks.
    weekly = read(
        tmp_path,
        config={**config, "nps_summary_period": "week"},
        catalog=catalog(nps_summary="incremental"),
        state=second.final_state,
    )
    periods = weekly.records["nps_summary"]
    assert {r["period"] for r in periods} == {"week"} and periods[0]["period_start"] <= "2022-05-30"
    assert all(date.fromisoformat(r["period_start"]).weekday() == 0 for r in periods)


def test_a_full_refresh_stream_asked_for_incremental_is_read_in_full(account, tmp_path):
    emulator, _ = account  # PyAirbyte asks every stream for incremental
    out = read(tmp_path, config=config_for(emulator), catalog=catalog(segments="incremental"))
    assert out.returncode == 0 and len(out.records["segments"]) == len(emulator.segments)
    assert any(
        "supports only full_refresh" in m["log"]["message"]
        for m in out.of_type("LOG")
        if m["log"]["level"] == "WARN"
    )
