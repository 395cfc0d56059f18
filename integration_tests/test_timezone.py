"""The account's time zone learnt from the data, through the real `source-wootric read` against the emulator:
an account in Sydney with half its datetimes offset-less reads whole whatever `account_timezone` says."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from integration_tests.connector import Output, catalog, config_for, read
from integration_tests.test_end_users import assert_users_match, expected_users
from integration_tests.test_survey_data import RESPONSE_COLUMNS, assert_events_match
from wootric_emulator import DatasetSpec, Emulator
from wootric_emulator.pytest_plugin import simulated_clock

pytestmark = pytest.mark.timeout(600)

SYDNEY = "Australia/Sydney"
LIST_ENDPOINTS = ("/v1/end_users", "/v1/responses", "/v1/declines")
FULL = {"end_users": "full_refresh", "responses": "full_refresh", "declines": "full_refresh"}


@pytest.fixture(scope="module")
def sydney(tmp_path_factory):
    """An account in Sydney (UTC+10 or +11 by season) whose older half of records carry no offset."""
    with simulated_clock(tmp_path_factory.mktemp("sydney")) as clock:
        spec = DatasetSpec(users=400, seed=31, legacy_fraction=0.5)
        with Emulator(spec, account_timezone=SYDNEY, clock=clock) as emulator:
            yield emulator


def warnings(out: Output) -> list[str]:
    return [m["log"]["message"] for m in out.of_type("LOG") if m["log"]["level"] == "WARN"]


def zone_lines(out: Output) -> list[str]:
    return [line for line in out.logs if line.startswith("account time zone")]


def list_requests(emulator: Emulator) -> int:
    return sum(sum(emulator.counters.get(path, {}).values()) for path in LIST_ENDPOINTS)


def assert_every_record_arrives(out: Output, emulator: Emulator) -> None:
    assert out.returncode == 0 and not out.errors, out.stderr[-2000:]
    assert_users_match(out.records["end_users"], emulator, expected_users(emulator))
    assert_events_match(out.records["responses"], emulator, emulator.responses, RESPONSE_COLUMNS)
    assert_events_match(out.records["declines"], emulator, emulator.declines, ("end_user_id", "survey_id"))


def test_the_account_really_has_offsetless_datetimes(sydney):
    # The premise of this module: without these, every test below would pass without learning anything.
    created = [user["created_at"] for user in sydney.end_users]
    offsetless = [value for value in created if len(value) == 19]
    assert 0.4 * len(created) <= len(offsetless) <= 0.6 * len(created)


def test_a_configured_zone_that_does_not_fit_is_replaced_with_one_warning(sydney, tmp_path):
    out = read(tmp_path, config=config_for(sydney, account_timezone="UTC"), catalog=catalog(**FULL))
    assert_every_record_arrives(out, sydney)
    (warning,) = warnings(out)
    assert "`account_timezone` UTC does not fit" in warning and f"{SYDNEY} does" in warning
    assert zone_lines(out) == [warning]


def test_auto_learns_the_zone_and_says_so_without_a_warning(sydney, tmp_path):
    out = read(tmp_path, config=config_for(sydney, account_timezone="auto"), catalog=catalog(**FULL))
    assert_every_record_arrives(out, sydney)
    assert warnings(out) == []
    (learnt,) = zone_lines(out)
    assert learnt.startswith(f"account time zone: learnt {SYDNEY} from the UTC offsets of")


def test_a_config_without_the_field_is_auto(sydney, tmp_path):
    config = config_for(sydney)
    del config["account_timezone"]
    out = read(tmp_path, config=config, catalog=catalog(end_users="incremental"))
    assert out.returncode == 0 and warnings(out) == []
    assert_users_match(out.records["end_users"], sydney, expected_users(sydney))


def test_the_well_behaved_default_account_logs_no_warning(make_emulator, tmp_path):
    emulator = make_emulator()  # the default account, on its own clock (the module's is Sydney's)
    out = read(
        tmp_path,
        config=config_for(emulator, account_timezone="auto", start_date="2024-01-01T00:00:00Z"),
        catalog=catalog(**FULL, segments="full_refresh", nps_summary="incremental"),
    )
    assert out.returncode == 0 and not out.errors, out.stderr[-2000:]
    assert warnings(out) == []
    (learnt,) = zone_lines(out)
    assert learnt.startswith("account time zone: learnt America/Los_Angeles from")
    # A zone that fits is confirmed quietly, as the 0.1.0 configs written with the account's zone are.
    confirmed = read(tmp_path, config=config_for(emulator), catalog=catalog(end_users="full_refresh"))
    assert warnings(confirmed) == []
    assert zone_lines(confirmed)[0].startswith(
        "account time zone: `account_timezone` America/Los_Angeles fits"
    )


def test_learning_costs_at_most_four_requests_and_none_for_segments_alone(sydney, tmp_path):
    recent = {"start_date": "2025-01-01T00:00:00Z", "account_timezone": "UTC"}
    sydney.reset_counters()
    nps_only = read(
        tmp_path, config=config_for(sydney, **recent), catalog=catalog(nps_summary="full_refresh")
    )
    assert nps_only.returncode == 0 and len(warnings(nps_only)) == 1
    assert 1 <= list_requests(sydney) <= 4  # nps_summary reads no list: these are the zone's requests
    sydney.reset_counters()
    segments_only = read(
        tmp_path, config=config_for(sydney, **recent), catalog=catalog(segments="full_refresh")
    )
    assert segments_only.returncode == 0 and zone_lines(segments_only) == []
    assert list_requests(sydney) == 0


def test_nps_periods_follow_the_learnt_zone(sydney, tmp_path):
    # 2024-05-31 20:00 UTC is already June 1 in Sydney: the first month is June, not May as in UTC.
    config = config_for(sydney, account_timezone="UTC", start_date="2024-05-31T20:00:00Z")
    out = read(tmp_path, config=config, catalog=catalog(nps_summary="full_refresh"))
    assert out.returncode == 0 and not out.errors, out.stderr[-2000:]
    records = out.records["nps_summary"]
    assert records[0]["period_start"] == "2024-06-01"
    assert records[-1]["period_start"] == datetime.now(ZoneInfo(SYDNEY)).date().replace(day=1).isoformat()
    for record in records:
        start, end = date.fromisoformat(record["period_start"]), date.fromisoformat(record["period_end"])
        summary = sydney.nps(start, end)
        assert {key: record.get(key) for key in summary} == summary
