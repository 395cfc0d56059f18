"""Edges found on review: the end-user spool (closed after its replay, bounded by SPOOL_MAX_BYTES),
nps_summary's first period in zones west of UTC, and each stream's state applied once."""

from __future__ import annotations

import logging
import re
import sys
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pendulum
import pytest
from airbyte_cdk.models import SyncMode
from airbyte_cdk.test.catalog_builder import CatalogBuilder
from airbyte_cdk.test.entrypoint_wrapper import read as cdk_read
from airbyte_cdk.test.state_builder import StateBuilder
from hypothesis import given
from hypothesis import strategies as st

from integration_tests.connector import catalog, config_for, read
from source_wootric.config import parse_config
from source_wootric.source import SourceWootric, account_for
from source_wootric.streams import end_users, keyset
from source_wootric.streams.base import SyncContext
from source_wootric.streams.periods import NpsSummary
from source_wootric.timezone import AccountZone
from wootric_emulator import DatasetSpec

pytestmark = pytest.mark.timeout(300)

USERS = 300
DATASET = DatasetSpec(users=USERS, responses=0, declines=0, seed=51, end="2025-06-01")
BOTH = {"end_users": "incremental", "end_users_properties": "incremental"}


def capped_command(folder, cap: int) -> str:
    """A `source-wootric` command (the console script's `run`) whose spool is capped at `cap` bytes (2 GiB in
    production: no test reaches that)."""
    script = folder / "source-wootric-capped"
    script.write_text(
        f"#!{sys.executable}\n"
        "from source_wootric.run import run\n"
        "from source_wootric.streams import end_users\n"
        f"end_users.SPOOL_MAX_BYTES = {cap}\n"
        "run()\n"
    )
    script.chmod(0o755)
    return str(script)


def spooled_bytes(logs: list[str]) -> int | None:
    found = [int(m.group(1)) for line in logs if (m := re.search(r"end users: (\d+) bytes spooled", line))]
    return found[0] if found else None


def assert_both_streams_complete(emulator, out) -> None:
    assert out.returncode == 0 and not out.errors, out.stderr[-1500:]
    assert sorted(r["id"] for r in out.records["end_users"]) == sorted(u["id"] for u in emulator.end_users)
    rows = {(r["end_user_id"], r["property_key"]) for r in out.records["end_users_properties"]}
    assert rows == {(u["id"], key) for u in emulator.end_users for key in u.get("properties") or {}}


def test_the_spool_serves_the_second_stream_and_above_its_cap_that_stream_reads_the_api(
    make_emulator, tmp_path
):
    emulator = make_emulator(dataset=DATASET)
    config = config_for(emulator)

    shared = read(tmp_path, config, catalog(**BOTH))
    assert_both_streams_complete(emulator, shared)
    one_read = sum(emulator.counters["/v1/end_users"].values())
    size = spooled_bytes(shared.logs)
    assert size is not None and any("replaying this sync's pages" in line for line in shared.logs)
    print(f"[spool] {size} bytes for {USERS} end users: {size / USERS:.0f} bytes each")
    assert 300 <= size / USERS <= 1200  # about 0.8 kB per end user, as documented

    emulator.reset_counters()
    (tmp_path / "capped").mkdir()
    command = capped_command(tmp_path / "capped", size // 3)
    capped = read(tmp_path / "capped", config, catalog(**BOTH), command=command)
    assert_both_streams_complete(emulator, capped)
    # The second stream's own read; the time zone is learnt once per sync (one request on this account).
    zone_learning = 1
    assert sum(emulator.counters["/v1/end_users"].values()) == 2 * (one_read - zone_learning) + zone_learning
    assert any("the local spool would pass" in line for line in capped.logs)
    assert spooled_bytes(capped.logs) is None and not any("replaying" in line for line in capped.logs)


@pytest.mark.parametrize("cap", [None, 1_000])
def test_every_spool_file_is_closed_once_read_or_dropped(make_emulator, monkeypatch, cap):
    emulator = make_emulator(dataset=DATASET)
    if cap is not None:
        monkeypatch.setattr(end_users, "SPOOL_MAX_BYTES", cap)
    opened = []
    open_spool = end_users.tempfile.TemporaryFile

    def recorded(*args, **kwargs) -> object:
        opened.append(open_spool(*args, **kwargs))
        return opened[-1]

    monkeypatch.setattr(end_users.tempfile, "TemporaryFile", recorded)
    both = (
        CatalogBuilder()
        .with_stream("end_users", SyncMode.full_refresh)
        .with_stream("end_users_properties", SyncMode.full_refresh)
        .build()
    )
    output = cdk_read(SourceWootric(), config_for(emulator), both)
    assert not output.errors
    ids = [r.record.data["id"] for r in output.records if r.record.stream == "end_users"]
    owners = {
        r.record.data["end_user_id"] for r in output.records if r.record.stream == "end_users_properties"
    }
    assert sorted(ids) == sorted(u["id"] for u in emulator.end_users)
    assert owners == {u["id"] for u in emulator.end_users if u.get("properties")}
    assert sum(emulator.counters["/v1/end_users"].values()) > 0
    assert len(opened) == 1 and opened[0].closed
    assert sum(emulator.counters["/v1/end_users"].values()) > 0


# -- nps_summary's first period ----------------------------------------------------------------------------
ZONES = ["America/Los_Angeles", "Pacific/Honolulu", "UTC", "Europe/Paris", "Asia/Tokyo", "Pacific/Kiritimati"]


def nps_stream(start_date: str, zone: str, period: str = "month") -> NpsSummary:
    parsed = parse_config(
        {
            "credentials": {"auth_type": "client_credentials", "client_id": "i", "client_secret": "s"},
            "start_date": start_date,
            "account_timezone": zone,
            "nps_summary_period": period,
        }
    )
    logger = logging.getLogger("test")
    sync = SyncContext(parsed, account_for(parsed, logger), logger)
    sync.account_zone = AccountZone(ZoneInfo(zone), known=True)  # as if learnt from the data
    return NpsSummary(sync)


@given(
    start=st.datetimes(min_value=datetime(2015, 1, 1), max_value=datetime(2025, 1, 1)),
    zone=st.sampled_from(ZONES),
)
def test_the_first_nps_day_is_the_earliest_not_before_start_date(start, zone):
    """Not before start_date's (UTC) date, not a day of the account's zone that ended before start_date,
    and the earliest such day."""
    instant = start.replace(tzinfo=timezone.utc, microsecond=0)
    stream = nps_stream(instant.strftime("%Y-%m-%dT%H:%M:%SZ"), zone)
    first = stream.first_day(SyncMode.full_refresh, date(2026, 1, 1))

    def allowed(day: date) -> bool:
        day_ends = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=ZoneInfo(zone))
        return day >= instant.date() and day_ends > instant

    assert allowed(first) and not allowed(first - timedelta(days=1))


def test_nps_summary_starts_in_start_dates_month_west_of_utc(make_emulator, tmp_path):
    emulator = make_emulator(dataset={"users": 20, "responses": 40, "declines": 0, "start": "2024-01-01"})
    today = pendulum.now("America/Los_Angeles").date()
    first_month = today.subtract(months=2).replace(day=1)
    start_date = f"{first_month.isoformat()}T00:00:00Z"  # the evening before, in Los Angeles
    out = read(tmp_path, config_for(emulator, start_date=start_date), catalog(nps_summary="full_refresh"))
    assert out.returncode == 0 and not out.errors, out.stderr[-1500:]
    assert [r["period_start"] for r in out.records["nps_summary"]] == [
        first_month.add(months=n).isoformat() for n in range(3)
    ]
    assert sum(emulator.counters["/v1/nps_summary"].values()) == 3


# -- the state, applied once -------------------------------------------------------------------------------
def test_each_streams_state_is_applied_once_by_the_cdk(make_emulator, monkeypatch):
    emulator = make_emulator(dataset=DATASET)
    applied: list[str] = []
    setter = keyset.KeysetStream.state.fset

    def counting(stream, value):
        applied.append(stream.name)
        setter(stream, value)

    monkeypatch.setattr(keyset.KeysetStream, "state", keyset.KeysetStream.state.setter(counting))
    second = emulator.epoch(sorted(u["updated_at"] for u in emulator.end_users)[USERS // 2])
    state = StateBuilder()
    for name in BOTH:
        state = state.with_stream_state(name, {"version": 1, "updated_at_epoch": second})
    catalog_ = (
        CatalogBuilder()
        .with_stream("end_users", SyncMode.incremental)
        .with_stream("end_users_properties", SyncMode.incremental)
        .build()
    )
    output = cdk_read(SourceWootric(), config_for(emulator), catalog_, state.build())
    assert not output.errors
    assert sorted(applied) == sorted(BOTH)
    ids = {r.record.data["id"] for r in output.records if r.record.stream == "end_users"}
    assert ids == {u["id"] for u in emulator.end_users if emulator.epoch(u["updated_at"]) > second}
