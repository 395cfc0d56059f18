"""What the platform hears besides records, through the real `source-wootric` command: stream statuses while
a sync waits on the rate limit, and the CONTROL message of a migrated config.

Status rules checked on every run (`assert_statuses`): per stream, STARTED first and COMPLETE last, once
each; every record is emitted while the stream is plainly RUNNING (never while it is reported rate limited);
a plain RUNNING only ever follows STARTED or a RATE_LIMITED status, so none repeats one the CDK emitted.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from integration_tests.connector import (
    CLIENT_SECRET,
    Output,
    assert_statuses,
    catalog,
    config_for,
    rate_limited,
    read,
)
from integration_tests.guarded import guarded_config, guarded_emulator, run_guarded
from wootric_emulator import DatasetSpec, Fault

pytestmark = pytest.mark.timeout(180)

STREAMS = {"end_users": "incremental", "end_users_properties": "incremental", "responses": "incremental"}
READ = ["read", "--config", "config", "--catalog", "catalog"]
DATASET = {"users": 200, "responses": 300, "declines": 0, "end": "2025-06-01"}


def assert_every_record(emulator: Any, out: Output) -> None:
    records = out.records
    assert sorted(r["id"] for r in records["end_users"]) == sorted(u["id"] for u in emulator.end_users)
    assert sorted(r["id"] for r in records["responses"]) == sorted(r["id"] for r in emulator.responses)
    properties = {(r["end_user_id"], r["property_key"]) for r in records["end_users_properties"]}
    assert properties == {(u["id"], key) for u in emulator.end_users for key in u.get("properties") or {}}


def test_each_429_is_one_rate_limited_status_with_its_reset_then_running(make_emulator, tmp_path):
    faults = [Fault("429", after=3, times=2), Fault("429", path_prefix="/v1/responses", after=2, times=2)]
    emulator = guarded_emulator(make_emulator, dataset=DatasetSpec(seed=41, **DATASET), faults=faults)
    before = int(emulator.clock.time())  # the clock the emulator and the connector share
    out = run_guarded(
        READ,
        tmp_path,
        emulator,
        config=guarded_config(emulator),
        catalog=catalog(**STREAMS),
    )
    after = int(emulator.clock.time())
    assert out.returncode == 0 and not out.errors, out.stderr[-1500:]
    assert_every_record(emulator, out)
    assert_statuses(out, STREAMS)
    answered_429 = sum(counts.get(429, 0) for counts in emulator.counters.values())
    assert answered_429 == 4
    limited = rate_limited(out)
    assert len(limited) == answered_429, limited
    assert {stream for stream, _ in limited} == {"end_users", "responses"}
    for _, quota_reset in limited:  # the emulator's X-Rate-Limit-Reset: whole seconds, one after the 429
        assert quota_reset % 1000 == 0 and before * 1000 < quota_reset <= (after + 1) * 1000


def test_pauses_before_the_budget_runs_out_are_rate_limited_statuses(make_emulator, tmp_path):
    # 10 requests per one-minute window: after 8, the client waits for the window's end (up to a minute)
    # instead of drawing a 429. Each pause of a second or more is a RATE_LIMITED status carrying the window's reset.
    emulator = guarded_emulator(make_emulator, dataset=DatasetSpec(seed=42, **DATASET), rate_limit=(10, 60))
    out = run_guarded(
        READ,
        tmp_path,
        emulator,
        config=guarded_config(emulator),
        catalog=catalog(**STREAMS),
    )
    assert out.returncode == 0 and not out.errors, out.stderr[-1500:]
    assert all(429 not in counts for counts in emulator.counters.values()), emulator.counters
    assert_every_record(emulator, out)
    assert_statuses(out, STREAMS)
    pauses = [
        int(m.group(1)) for line in out.logs if (m := re.search(r"nearly used up.*waiting (\d+) s", line))
    ]
    limited = rate_limited(out)
    # A pause logged as 2 s or more lasted at least 1.5 s; one logged as 0 or 1 s may have been under a second.
    assert sum(seconds >= 2 for seconds in pauses) <= len(limited) <= len(pauses), (pauses, limited)
    assert len(limited) >= 1
    assert all(quota_reset % 1000 == 0 for _, quota_reset in limited)


def test_a_config_without_auth_type_is_migrated_written_back_and_emitted(make_emulator, tmp_path):
    emulator = make_emulator(dataset={"users": 30, "responses": 20, "declines": 0, "end": "2025-06-01"})
    old = config_for(emulator)
    del old["credentials"]["auth_type"]  # as 0.1.0 allowed
    out = read(tmp_path, old, catalog(end_users="incremental"))
    assert out.returncode == 0 and not out.errors, out.stderr[-1500:]
    assert len(out.records["end_users"]) == 30
    controls = out.of_type("CONTROL")
    assert len(controls) == 1 and controls[0]["control"]["type"] == "CONNECTOR_CONFIG"
    migrated = controls[0]["control"]["connectorConfig"]["config"]
    assert migrated == {**old, "credentials": {**old["credentials"], "auth_type": "client_credentials"}}
    assert json.loads((tmp_path / "config.json").read_text()) == migrated
    # The platform stores the config from that message, secret included; nowhere else does the secret show.
    others = [line for line in out.stdout.splitlines() if '"CONTROL"' not in line]
    assert CLIENT_SECRET not in "\n".join(others) and CLIENT_SECRET not in out.stderr

    (tmp_path / "again").mkdir()
    again = read(tmp_path / "again", migrated, catalog(end_users="incremental"))
    assert again.returncode == 0 and not again.of_type("CONTROL")
