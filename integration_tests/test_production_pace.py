"""Production pace: `source-wootric` against the emulator playing Wootric as a real account answers, for syncs
that last hours of the connector's own clock and seconds of CI.

Both processes read one simulated clock (wootric_emulator/clock.py; the connector through the test-only
sitecustomize), on which time moves only by sleeps: the emulator's latency (0.15 to 0.6 s an answer), the
connector's waits for the rate limit (100 requests a minute, shared with the account's other client, which
sends bursts and runs bulk jobs that use up whole windows), and its retry back-offs. Tokens live 2 hours, or
less where a scenario revokes them. The connector runs with its production settings: no test tuning.
"""

from __future__ import annotations

import math
import re
import socket
from pathlib import Path
from typing import Any

import pytest

from integration_tests.connector import (
    STREAMS,
    Output,
    all_streams,
    assert_statuses,
    catalog,
    config_for,
    run,
)
from integration_tests.test_backdated import check_nps_of_backdated_records, most_a_sync_spends, pass_costs
from wootric_emulator import DatasetSpec, Fault
from wootric_emulator.clock import SharedClock

pytestmark = pytest.mark.timeout(300)

DATA_END = 1_793_491_200  # 2026-11-01T00:00:00Z: the account's data ends here
SYNC_AT = DATA_END + 86_400  # the first sync starts a day later
HOUR, DAY = 3_600, 86_400
PACE = {
    "rate_limit": (100, 60),
    "latency": (0.15, 0.6),
    "other_client": (30, 40),
    "busy_spells": (1_800, 1_500),  # a bulk job of the other client, 25 minutes of every 30
    "token_ttl": 7_200,
}
LIST_STREAMS = ("end_users", "responses", "declines")
PROGRESS = re.compile(r"^(\w+): \d+% of .* covered, \d+ records, \d+ requests")


class Paced:
    """An emulator at production pace and the clock it shares with the connector."""

    def __init__(self, make_emulator: Any, tmp_path: Path, dataset: dict[str, Any], **pace: Any):
        self.clock = SharedClock(tmp_path / "clock", start=SYNC_AT)
        self.tmp_path = tmp_path
        spec = DatasetSpec(start="2019-01-01", end=DATA_END, **dataset)
        self.emulator = make_emulator(dataset=spec, clock=self.clock, **{**PACE, **pace})
        self.runs = 0

    def config(self, **overrides: Any) -> dict[str, Any]:
        return config_for(self.emulator, start_date="2019-01-01T00:00:00Z", **overrides)

    def command(self, args: list[str], **files: Any) -> tuple[Output, float]:
        """`source-wootric <args>` with production settings; returns its output and the hours it took."""
        self.runs += 1
        folder = self.tmp_path / f"run{self.runs}"
        folder.mkdir()
        started = self.clock.time()
        out = run(args, folder, **files)  # on self.clock: make_emulator sets SIMULATED_CLOCK to it
        return out, (self.clock.time() - started) / HOUR

    def read(self, catalog: dict, state: list | None = None, **config: Any) -> tuple[Output, float]:
        args = ["read", "--config", "config", "--catalog", "catalog"]
        files: dict[str, Any] = {"config": self.config(**config), "catalog": catalog}
        if state is not None:
            args += ["--state", "state"]
            files["state"] = state
        return self.command(args, **files)


def stream_statuses(out: Output) -> list[dict[str, Any]]:
    return [
        {**m["trace"]["stream_status"], "at": m["trace"]["emitted_at"]}
        for m in out.of_type("TRACE")
        if m["trace"]["type"] == "STREAM_STATUS"
    ]


def stream_seconds(out: Output, stream: str) -> float:
    """How long the stream took, from its STARTED status to its COMPLETE, on the connector's clock."""
    times = [s["at"] for s in stream_statuses(out) if s["stream_descriptor"]["name"] == stream]
    return (max(times) - min(times)) / 1000


def assert_exact_lists(emulator: Any, *outputs: Output, streams: tuple[str, ...] = LIST_STREAMS) -> None:
    """Every record of the list streams, once per run at most, over the runs."""
    for stream in streams:
        runs = [[r["id"] for r in out.records[stream]] for out in outputs]
        assert all(len(ids) == len(set(ids)) for ids in runs), f"{stream}: a record twice in one run"
        assert set().union(*runs) == {r["id"] for r in getattr(emulator, stream)}, stream


def assert_exact(emulator: Any, out: Output) -> None:
    assert_exact_lists(emulator, out)
    records = out.records
    properties = {(r["end_user_id"], r["property_key"]) for r in records["end_users_properties"]}
    assert properties == {(u["id"], key) for u in emulator.end_users for key in u["properties"]}
    assert {r["name"] for r in records["segments"]} == {s["name"] for s in emulator.segments}


SUMMARY = re.compile(r"^(\w+): done, (\d+) records, (\d+) requests")
CLOSING = re.compile(
    r"^Sync done: (\d+) records, (\d+) data requests and (\d+) token requests in ([\d.]+) min"
)


def assert_summaries(out: Output, emulator: Any) -> None:
    """Each stream's closing line tells the records it emitted, and the sync's the requests Wootric counted."""
    summaries = {m[1]: (int(m[2]), int(m[3])) for line in out.logs if (m := SUMMARY.match(line))}
    assert {stream: records for stream, (records, _) in summaries.items()} == {
        stream: len(records) for stream, records in out.records.items()
    }
    counted = {path: sum(statuses.values()) for path, statuses in emulator.counters.items()}
    tokens = counted.pop("/oauth/token")
    assert sum(requests for _, requests in summaries.values()) == sum(counted.values())
    [closing] = [m for line in out.logs if (m := CLOSING.match(line))]
    assert (int(closing[1]), int(closing[2]), int(closing[3])) == (
        sum(len(r) for r in out.records.values()),
        sum(counted.values()),
        tokens,
    )


def data_requests(emulator: Any, endpoint: str) -> int:
    """Requests the emulator answered with data (its 429s and 401s counted apart)."""
    return emulator.counters.get(f"/v1/{endpoint}", {}).get(200, 0)


def assert_near_the_floor(emulator: Any) -> None:
    """At most 1.05 x ceil(N/50) data requests per list stream, and one for the time zone probe."""
    for endpoint, served in (
        ("end_users", emulator.end_users),
        ("responses", emulator.responses),
        ("declines", emulator.declines),
    ):
        floor = math.ceil(len(served) / 50)
        assert data_requests(emulator, endpoint) <= math.ceil(1.05 * floor) + 1, (endpoint, floor)


def test_a_full_sync_of_hours_on_a_busy_account(make_emulator, tmp_path):
    paced = Paced(
        make_emulator, tmp_path, {"users": 2_000, "responses": 60_000, "declines": 15_000, "seed": 3}
    )
    out, hours = paced.read(all_streams("incremental"))
    emulator = paced.emulator
    print(f"[pace] full sync: {hours:.2f} h simulated, counters {emulator.counters}")
    assert out.returncode == 0 and not out.errors, (out.errors, out.stderr[-2000:])
    assert hours > 2  # longer than a token lives
    assert_exact(emulator, out)
    assert_near_the_floor(emulator)
    # The bulk jobs of the other client filled windows: 429s, each waited out with its own status.
    answered_429 = sum(counts.get(429, 0) for counts in emulator.counters.values())
    limited = [s for s in stream_statuses(out) if s["status"] == "RUNNING" and s.get("reasons")]
    assert answered_429 > 5 and len(limited) >= answered_429
    for status in limited:
        reset = status["reasons"][0]["rate_limited"]["quota_reset"]
        assert status["at"] <= reset <= status["at"] + 61_000
    # The first token lived 2 hours: renewed before it expired, never refused.
    assert emulator.counters["/oauth/token"] == {200: 2}
    assert all(401 not in counts for counts in emulator.counters.values())
    # Progress: a line about every half minute of each long stream's reading (bulk jobs hold it up longer).
    for stream in LIST_STREAMS:
        lines = [line for line in out.logs if (m := PROGRESS.match(line)) and m[1] == stream]
        seconds = stream_seconds(out, stream)
        assert (seconds < 60 or lines) and len(lines) <= seconds / 30 + 1, (stream, len(lines), seconds)
    assert stream_seconds(out, "responses") > HOUR
    assert_statuses(out, STREAMS)
    assert_summaries(out, emulator)
    # Checkpoints as the stream reads, not only at its end: about one a page.
    for stream, served in (("responses", emulator.responses), ("declines", emulator.declines)):
        states = [s for s in out.states if s["stream"]["stream_descriptor"]["name"] == stream]
        assert len(states) >= len(served) // 50 - 1, stream


def test_tokens_revoked_every_few_minutes_for_hours_are_renewed_each_time(make_emulator, tmp_path):
    # Another integration obtains a token with the same credentials every 7 minutes, which revokes ours.
    paced = Paced(
        make_emulator,
        tmp_path,
        {"users": 2_000, "responses": 60_000, "declines": 10_000, "seed": 4},
        revoke_every=420,
    )
    out, hours = paced.read(catalog(end_users="incremental", responses="incremental", declines="incremental"))
    emulator = paced.emulator
    print(f"[pace] revoked tokens: {hours:.2f} h simulated, counters {emulator.counters}")
    assert out.returncode == 0 and not out.errors, (out.errors, out.stderr[-2000:])
    assert hours > 1.5
    assert_exact_lists(emulator, out)
    refused = sum(counts.get(401, 0) for counts in emulator.counters.values())
    assert refused >= hours * 60 / 7 - 2  # one per revocation the sync met
    assert emulator.counters["/oauth/token"] == {200: 1 + refused}  # renewed after each, nothing more


def test_tokens_revoked_more_often_than_one_in_ten_requests_end_the_sync_as_transient(
    make_emulator, tmp_path
):
    paced = Paced(
        make_emulator, tmp_path, {"users": 1_000, "responses": 3_000, "declines": 0, "seed": 5}, token_uses=8
    )
    streams = catalog(end_users="incremental", responses="incremental")
    out, _ = paced.read(streams)
    assert out.returncode == 1 and [e["failure_type"] for e in out.errors] == ["transient_error"] * len(
        out.errors
    )
    assert any("revoked" in e["message"] for e in out.errors), out.errors
    assert out.final_state, "no state to resume from"
    paced.emulator.tokens.token_uses = None
    again, _ = paced.read(streams, state=out.final_state)
    assert again.returncode == 0 and not again.errors
    assert_exact_lists(paced.emulator, out, again, streams=("end_users", "responses"))


def closed_port() -> int:
    with socket.socket() as probe:  # a port nothing listens on once the probe is closed
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def connection_status(out: Output) -> dict[str, Any]:
    statuses = out.of_type("CONNECTION_STATUS")
    assert out.returncode == 0 and len(statuses) == 1, (out.returncode, out.stdout[-2000:])
    return statuses[0]["connectionStatus"]


def test_a_refused_connection_names_base_url_within_seconds_on_check_and_on_a_sync(make_emulator, tmp_path):
    paced = Paced(make_emulator, tmp_path, {"users": 100, "seed": 6})
    config = paced.config(base_url=f"http://127.0.0.1:{closed_port()}")  # ignore-https-check: loopback
    out, hours = paced.command(["check", "--config", "config"], config=config)
    status = connection_status(out)
    assert status["status"] == "FAILED" and "refused the connection" in status["message"], status
    assert "`base_url`" in status["message"] and hours * HOUR < 8
    out, hours = paced.command(
        ["read", "--config", "config", "--catalog", "catalog"],
        config=config,
        catalog=catalog(end_users="incremental"),
    )
    assert out.returncode == 1 and {e["failure_type"] for e in out.errors} == {"config_error"}, out.errors
    assert "`base_url`" in out.errors[0]["message"] and hours * HOUR < 8


def test_a_connection_refused_later_in_a_sync_is_transient_and_the_next_sync_resumes(make_emulator, tmp_path):
    paced = Paced(make_emulator, tmp_path, {"users": 1_000, "responses": 3_000, "declines": 0, "seed": 7})
    paced.emulator.set_faults([Fault("down", path_prefix="/v1/responses", after=20)])
    streams = catalog(end_users="incremental", responses="incremental")
    out, hours = paced.read(streams)
    assert out.returncode == 1 and {e["failure_type"] for e in out.errors} == {"transient_error"}, out.errors
    assert out.final_state and hours * HOUR < 15 * 60  # a sync's retries: minutes, not an hour
    paced.emulator.set_faults([])
    paced.emulator.start()  # Wootric is back, on the same address
    again, _ = paced.read(streams, state=out.final_state)
    assert again.returncode == 0 and not again.errors, again.errors
    assert_exact_lists(paced.emulator, out, again, streams=("end_users", "responses"))


def test_check_tells_of_a_rate_limit_that_outlasts_it_as_one_failed_status(make_emulator, tmp_path):
    paced = Paced(make_emulator, tmp_path, {"users": 100, "seed": 8})
    out, hours = paced.command(["check", "--config", "config"], config=paced.config())
    assert connection_status(out)["status"] == "SUCCEEDED" and hours * HOUR < 10
    paced.clock.sleep(700)  # into the other client's bulk job, which uses every window for 25 minutes
    out, hours = paced.command(["check", "--config", "config"], config=paced.config())
    status = connection_status(out)
    assert status["status"] == "FAILED" and "429" in status["message"], status
    assert 60 < hours * HOUR < 300  # a check waits out a couple of minutes of it, not the job's 25


def test_a_day_of_hourly_syncs_brings_back_dated_records_within_the_bound(make_emulator, tmp_path):
    paced = Paced(make_emulator, tmp_path, {"users": 300, "responses": 3_000, "declines": 1_000, "seed": 9})
    emulator = paced.emulator
    streams = catalog(declines="incremental", nps_summary="incremental", responses="incremental")
    first, _ = paced.read(streams, backdated_bound_days=1)
    assert first.returncode == 0 and not first.errors, first.errors
    data_start = emulator.epoch(min(r["created_at"] for r in emulator.responses))
    written: dict[tuple[str, int], float] = {}  # back-dated records, when they were written
    arrived: dict[tuple[str, int], float] = {}  # when the sync that first emitted them started
    state = first.final_state
    for hour in range(1, 25 + 4):  # each record written in the first 4 hours gets its whole day
        paced.clock.sleep(SYNC_AT + hour * HOUR - paced.clock.time())
        now = paced.clock.time()
        if hour <= 4:  # written now with a past created_at, behind the 30-day look-back
            for stream, created_at in (
                ("responses", now - 200 * DAY),
                ("declines", now - 400 * DAY),
                ("responses", data_start + hour * 97 * DAY),
            ):
                for record_id in emulator.add_backdated(stream, 1, int(created_at), seed=hour, at=int(now)):
                    written[(stream, record_id)] = now
        out, hours = paced.read(streams, state, backdated_bound_days=1)
        assert out.returncode == 0 and not out.errors and hours < 1, (hour, out.errors, hours)
        for stream in ("responses", "declines"):
            most = most_a_sync_spends(first.stream_state(stream), HOUR, {"sweep": DAY, "edits": DAY})
            assert pass_costs(out)[stream] <= most, (hour, stream)
        new = {(s, r["id"]) for s in ("responses", "declines") for r in out.records[s]}
        arrived.update({key: now for key in new if key in written and key not in arrived})
        check_nps_of_backdated_records(
            emulator,
            out,
            {
                emulator.epoch(r["created_at"])
                for r in out.records["responses"]
                if ("responses", r["id"]) in written
            },
        )
        state = out.final_state
    late = {key: arrived.get(key, float("inf")) - at for key, at in written.items()}
    assert all(delay <= DAY + HOUR for delay in late.values()), late
    print(f"[pace] back-dated: {len(written)} records, arrived after {sorted(late.values())} s")
