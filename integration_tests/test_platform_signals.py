"""What the platform hears besides records, through the real `source-wootric` command: stream statuses while
a sync waits on the rate limit, and the CONTROL message of a migrated config.

Status rules checked on every run (`assert_statuses`): per stream, STARTED first and COMPLETE last, once
each; every record is emitted while the stream is plainly RUNNING (never while it is reported rate limited);
a plain RUNNING only ever follows STARTED or a RATE_LIMITED status, so none repeats one the CDK emitted.
"""

from __future__ import annotations

import json
import logging
import re
import time
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
from source_wootric.client import WootricClient
from source_wootric.config import Tuning, parse_config
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


class FakeTime:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    def clock(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("remaining", "reset_in", "told"),
    # The client pauses once the 10% of the limit kept for other clients is reached: 10 of 100 left.
    [(2, 0.5, False), (2, 1.0, True), (10, 20.0, True), (11, 20.0, False)],
)
def test_the_client_tells_of_429s_and_of_pauses_of_a_second_or_more(
    requests_mock, monkeypatch, remaining, reset_in, told
):
    api = "http://wootric.test"
    config = parse_config(
        {
            "credentials": {"auth_type": "client_credentials", "client_id": "id", "client_secret": "secret"},
            "start_date": "2020-01-01T00:00:00Z",
            "base_url": api,
        }
    )
    fake = FakeTime()
    monkeypatch.setattr(time, "sleep", fake.sleep)  # the CDK sleeps the waits
    client = WootricClient(
        type(config)(**{**config.__dict__, "tuning": Tuning()}), logging.getLogger("test"), fake.clock
    )
    waits: list[tuple[float, float | None]] = []
    client.on_wait = lambda seconds, reset_at: waits.append((seconds, reset_at))
    reset = fake.now + reset_in
    limit_headers = {"X-Rate-Limit-Limit": "100", "X-Rate-Limit-Reset": str(reset)}
    requests_mock.post(f"{api}/oauth/token", json={"access_token": "t", "expires_in": 7200})
    requests_mock.get(
        f"{api}/v1/end_users",
        [
            {"status_code": 429, "json": {}, "headers": {**limit_headers, "X-Rate-Limit-Remaining": "0"}},
            {"json": [], "headers": {**limit_headers, "X-Rate-Limit-Remaining": str(remaining)}},
            {"json": [], "headers": {**limit_headers, "X-Rate-Limit-Remaining": "90"}},
        ],
    )
    client.get("end_users")  # a 429, waited out until its reset
    assert waits == [(max(1.0, reset_in), reset)]
    reset = fake.now + reset_in  # the second answer says: `remaining` left until `reset_in` from now
    requests_mock.get(
        f"{api}/v1/end_users",
        [
            {
                "json": [],
                "headers": {
                    **limit_headers,
                    "X-Rate-Limit-Reset": str(reset),
                    "X-Rate-Limit-Remaining": str(remaining),
                },
            },
            {"json": [], "headers": {**limit_headers, "X-Rate-Limit-Remaining": "90"}},
        ],
    )
    client.get("end_users")
    waits.clear()
    client.get("end_users")  # paused before it when the budget was nearly spent
    assert waits == ([(reset_in, reset)] if told else [])


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
