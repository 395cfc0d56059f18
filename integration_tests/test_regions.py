"""Hosts, addresses and the account's shared rate limit, through the real `source-wootric` command.

The regional hosts themselves (app.wootric.eu, app.wootric.au) need the emulator's TLS-intercepting proxy;
here: what a wrong address does on `check` and on a sync, the fair share of the rate limit, and a 0.1.0
config. The region logic itself is unit-tested in unit_tests/test_hosts.py and test_client.py.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from integration_tests.connector import STREAMS, catalog
from integration_tests.guarded import CLIENT_ID, CLIENT_SECRET, guarded_config, guarded_emulator, run_guarded

pytestmark = pytest.mark.timeout(300)

UNRESOLVABLE = "https://wootric.invalid"  # RFC 6761: a name that never resolves
READ = ["read", "--config", "config", "--catalog", "catalog"]


def failed_check_message(out: Any) -> str:
    statuses = out.of_type("CONNECTION_STATUS")
    assert out.returncode == 0 and len(statuses) == 1, out.stdout[-1500:]
    assert statuses[0]["connectionStatus"]["status"] == "FAILED"
    return statuses[0]["connectionStatus"]["message"]


def test_check_against_a_host_that_does_not_resolve_names_base_url(tmp_path):
    out = run_guarded(["check", "--config", "config"], tmp_path, config=guarded_config(base_url=UNRESOLVABLE))
    message = failed_check_message(out)
    assert "wootric.invalid does not resolve" in message and "`base_url`" in message


def test_a_sync_whose_first_request_cannot_resolve_fails_at_once_as_a_config_error(tmp_path):
    out = run_guarded(
        READ,
        tmp_path,
        config=guarded_config(base_url=UNRESOLVABLE),
        catalog=catalog(end_users="incremental"),
    )
    assert out.returncode == 1 and out.errors, out.stdout[-1500:]
    assert {error["failure_type"] for error in out.errors} == {
        "config_error"
    }  # the stream's, then the sync's
    assert "`base_url`" in out.errors[0]["message"] and "does not resolve" in out.errors[0]["message"]
    assert not [line for line in out.logs if "retry" in line]  # a retry would show in the logs


def test_a_base_url_with_a_wrong_prefix_names_base_url(make_emulator, tmp_path):
    emulator = guarded_emulator(make_emulator, dataset={"users": 10, "end": "2025-01-01"})
    out = run_guarded(
        ["check", "--config", "config"],
        tmp_path,
        emulator,
        config=guarded_config(emulator, base_url=f"{emulator.url}/wootric"),
    )
    message = failed_check_message(out)
    assert "is not Wootric's token endpoint (HTTP 404" in message and "`base_url`" in message


def test_the_sync_leaves_the_reserve_of_the_rate_limit_to_other_clients(make_emulator, tmp_path):
    """50 requests a minute, a tenth kept for other clients (the production reserve): the connector pauses
    with 5 left in every window (to avoid a 429 alone, it would leave 2), and every record still arrives."""
    dataset = {"users": 2500, "responses": 2500, "declines": 0, "end": "2025-06-01"}
    emulator = guarded_emulator(make_emulator, dataset=dataset, rate_limit=(50, 60))
    out = run_guarded(
        READ,
        tmp_path,
        emulator,
        config=guarded_config(emulator),
        catalog=catalog(end_users="full_refresh", responses="full_refresh"),
    )
    assert out.returncode == 0, out.stdout[-1500:]
    pauses = [line for line in out.logs if line.startswith("Rate limit nearly used up")]
    left = {re.search(r"rate limit (\d+)/50 left, 5 kept", line).group(1) for line in pauses}  # type: ignore[union-attr]
    assert len(pauses) >= 2 and left == {"5"}, pauses
    assert all(429 not in counts for counts in emulator.counters.values()), emulator.counters
    assert len(out.records["end_users"]) == 2500 and len(out.records["responses"]) == 2500


def test_a_0_1_0_config_reads_as_the_current_one(make_emulator, tmp_path):
    """0.1.0 wrote `region: us` (its default), credentials without auth_type; the base_url decides the host.
    The same zone in both, so that only the region and credential settings differ."""
    emulator = guarded_emulator(make_emulator, dataset={"users": 120, "responses": 150, "end": "2025-06-01"})
    old = {
        "credentials": {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
        "start_date": "2010-01-01T00:00:00Z",
        "region": "us",
        "account_timezone": "UTC",
        "lookback_window_days": 30,
        "nps_summary_period": "month",
        "base_url": emulator.url,
    }
    all_streams = catalog(**dict.fromkeys(STREAMS, "incremental"))
    runs = {
        name: run_guarded(READ, tmp_path / name, emulator, config=config, catalog=all_streams)
        for name, config in (("old", old), ("current", guarded_config(emulator, account_timezone="UTC")))
        if (tmp_path / name).mkdir() is None
    }
    for out in runs.values():
        assert out.returncode == 0 and not out.errors, out.stdout[-1500:]
    ids = {
        name: {stream: sorted(str(r.get("id", r)) for r in out.records[stream]) for stream in STREAMS}
        for name, out in runs.items()
    }
    assert ids["old"] == ids["current"] and len(ids["old"]["end_users"]) == 120
