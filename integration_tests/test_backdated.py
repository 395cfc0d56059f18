"""Responses and declines written with a past `created_at` (the emulator's `add_backdated`) reach the
destination within `backdated_bound_days`, at an even cost; a 0.1.0 config and state sync without a reset.
The emulator and the connector share a simulated clock (wootric_emulator/clock.py) that the test moves on to
each sync's hour: days of hourly syncs take a minute, never real days."""

from __future__ import annotations

import json
import math
import re
import sys
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from integration_tests.connector import CLOCK_MARGIN, Output, all_streams, catalog, config_for, read
from source_wootric import run
from source_wootric.rereads import PACE_MARGIN
from source_wootric.streams.base import iso
from wootric_emulator import DatasetSpec
from wootric_emulator.clock import SharedClock, simulated_time

pytestmark = pytest.mark.timeout(900)

T0 = 1_748_736_000  # 2025-06-01T00:00:00Z: the emulator's data ends here, the first sync runs then
HOUR, DAY = 3_600, 86_400
BOUND_DAYS = 7  # the default of backdated_bound_days
EDITS_BOUND_HOURS = 24  # the default of edits_bound_hours
LOOKBACK_DAYS = 30  # the default of lookback_window_days
DATA_START = "2023-06-01"
SURVEY_STREAMS = ("responses", "declines")
PASS_LOG = re.compile(r"^(responses|declines): (edits|sweep) re-read .*?, \d+ records, (\d+) requests")
LEVELS = {"WARNING": "WARN", "CRITICAL": "FATAL"}
DONE_LOG = re.compile(r"^(responses|declines): read \S+\.\.\S+: \d+ records, (\d+) requests")
LIST_ENDPOINTS = ("end_users", "responses", "declines")


def clock_at(tmp_path: Path) -> SharedClock:
    """The clock of the emulator and the connector, at T0."""
    return SharedClock(tmp_path / "clock", start=T0)


def move_to(clock: SharedClock, now: int) -> None:
    """Moves the clock on to `now` (it never goes back)."""
    assert clock.time() <= now, (clock.time(), now)
    clock.sleep(now - clock.time())
    assert clock.time() == now


def read_in_process(
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    clock: SharedClock,
    now: int,
    config: dict[str, Any],
    catalog: dict[str, Any],
    state: list[dict[str, Any]] | None,
) -> Output:
    """`source-wootric read` as its console script runs it (`source_wootric.run.run`), in this process, at
    `now` on `clock` (this process reads it while the command runs: `simulated_time`): the command's own
    start-up costs a second, which 193 syncs cannot afford. In-process, the CDK's log lines reach pytest's
    log capture rather than stdout: they are added to the output as the LOG messages they are."""
    files = {"config": config, "catalog": catalog, **({"state": state} if state is not None else {})}
    argv = ["source-wootric", "read"]
    for name, content in files.items():
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(content))
        argv += [f"--{name}", str(path)]
    monkeypatch.setattr(sys, "argv", argv)
    move_to(clock, now)
    capsys.readouterr()
    caplog.clear()
    try:
        with simulated_time(clock):
            run.run()
        returncode = 0
    except SystemExit as exit_:
        returncode = int(exit_.code or 0)
    captured = capsys.readouterr()
    out = Output(returncode, captured.out, captured.err)
    out.messages += [
        {"type": "LOG", "log": {"level": LEVELS.get(r.levelname, r.levelname), "message": r.getMessage()}}
        for r in caplog.records
    ]
    return out


def warnings(out: Output) -> list[str]:
    return [
        m["log"]["message"] for m in out.of_type("LOG") if m["log"]["level"] in ("WARN", "ERROR", "FATAL")
    ]


def pass_costs(out: Output, passes: tuple[str, ...] = ("edits", "sweep")) -> dict[str, int]:
    """Requests each stream's `passes` spent in this sync, as it logged them (none logged: nothing to
    re-read)."""
    costs = dict.fromkeys(SURVEY_STREAMS, 0)
    for line in out.logs:
        if (match := PASS_LOG.match(line)) and match[2] in passes:
            costs[match[1]] += int(match[3])
    return costs


def most_a_sync_spends(saved: dict[str, Any], elapsed: int, bounds: dict[str, int]) -> int:
    """What a stream's passes may spend `elapsed` seconds after the sync that saved `saved`: what that time
    earned (rereads.plan), and at most as much again that a pass which ended left unspent."""
    earned = sum(
        saved[name]["requests_per_pass"] * PACE_MARGIN * elapsed / bound for name, bound in bounds.items()
    )
    return math.floor(2 * earned + 2)


def main_read_costs(out: Output) -> dict[str, int]:
    """Requests each stream's main read made, as it logged them."""
    return {m[1]: int(m[2]) for line in out.logs if (m := DONE_LOG.match(line))}


def list_requests(emulator: Any) -> int:
    return sum(emulator.counters.get(f"/v1/{endpoint}", {}).get(200, 0) for endpoint in LIST_ENDPOINTS)


def survey_ids(out: Output) -> dict[str, set[int]]:
    return {stream: {record["id"] for record in out.records.get(stream, [])} for stream in SURVEY_STREAMS}


def month_of(emulator: Any, second: int) -> date:
    """The first day of the month, in the account's time zone, that holds `second`."""
    local = datetime.fromtimestamp(second, tz=timezone.utc).astimezone(ZoneInfo(emulator.account_timezone))
    return local.date().replace(day=1)


def test_backdated_records_arrive_within_the_bound_at_an_even_cost(
    make_emulator, tmp_path, capsys, caplog, monkeypatch
):
    clock = clock_at(tmp_path)
    emulator = make_emulator(
        dataset=DatasetSpec(users=2_000, responses=15_000, declines=3_000, seed=10, start=DATA_START, end=T0),
        clock=clock,
    )
    data_start = emulator.epoch(min(r["created_at"] for r in emulator.responses))
    config = config_for(emulator, start_date="2023-01-01T00:00:00Z")
    # In the order a UI lists them: nps_summary before responses (the source reads it last).
    sync_catalog = catalog(declines="incremental", nps_summary="incremental", responses="incremental")

    first = read_in_process(capsys, caplog, monkeypatch, tmp_path, clock, T0, config, sync_catalog, None)
    assert first.returncode == 0 and not first.errors, first.stdout[-2000:]
    initial_cost = main_read_costs(first)
    for stream in SURVEY_STREAMS:  # the first passes are paced on what the initial read cost (edits: its end)
        passes = first.stream_state(stream)
        assert passes["sweep"]["requests_per_pass"] == initial_cost[stream]
        assert 0 < passes["edits"]["requests_per_pass"] < initial_cost[stream]

    written: dict[tuple[str, int], int] = {}  # (stream, id) -> when it was written, for back-dated ones
    created: dict[tuple[str, int], int] = {}  # -> its created_at
    arrived: dict[tuple[str, int], int] = {}  # -> the "now" of the sync that first emitted it
    costs: dict[str, list[int]] = {stream: [] for stream in SURVEY_STREAMS}
    total_requests = 0  # every data request of the hourly syncs
    state = first.final_state
    hours = 8 * 24
    for hour in range(1, hours + 1):
        now = T0 + hour * HOUR
        write_at = now - HOUR // 2
        emulator.add_backdated("responses", 2, write_at, seed=hour, at=write_at)  # new, not back-dated
        if (
            hour % 3 == 0
        ):  # back-dated: 200 days back, and anywhere between the data's start and the look-back
            older = data_start + (hour * 7919 * HOUR) % (write_at - (LOOKBACK_DAYS + 1) * DAY - data_start)
            for stream, created_at in (  # declines in other months: they alone would re-read a month's NPS
                ("responses", write_at - 200 * DAY),
                ("declines", write_at - 300 * DAY),
                ("responses", older),
                ("declines", older - 40 * DAY if older - 40 * DAY > data_start else older + 40 * DAY),
            ):
                for record_id in emulator.add_backdated(stream, 1, created_at, seed=hour, at=write_at):
                    written[(stream, record_id)] = write_at
                    created[(stream, record_id)] = created_at
        emulator.reset_counters()
        out = read_in_process(capsys, caplog, monkeypatch, tmp_path, clock, now, config, sync_catalog, state)
        assert out.returncode == 0 and not out.errors, out.stdout[-2000:]
        assert not warnings(out)
        total_requests += emulator.requests("/v1/")
        spent, main = pass_costs(out), main_read_costs(out)
        # What the streams logged is what they asked: the emulator counts the main reads and the passes.
        survey_requests = sum(emulator.requests(f"/v1/{stream}") for stream in SURVEY_STREAMS)
        assert survey_requests == sum(main.values()) + sum(spent.values())
        for stream in SURVEY_STREAMS:
            saved = next(s for s in state if s["stream"]["stream_descriptor"]["name"] == stream)["stream"][
                "stream_state"
            ]
            bounds = {"sweep": BOUND_DAYS * DAY, "edits": EDITS_BOUND_HOURS * HOUR}
            assert spent[stream] <= most_a_sync_spends(saved, HOUR, bounds), (stream, spent[stream])
            costs[stream].append(spent[stream])
        new = {(s, i) for s, ids in survey_ids(out).items() for i in ids if (s, i) not in arrived}
        arrived.update(dict.fromkeys(new, now))
        check_nps_of_backdated_records(
            emulator, out, {created[k] for k in new if k in created and k[0] == "responses"}
        )
        state = out.final_state

    last = T0 + hours * HOUR
    late = {
        key: arrived.get(key, last) - at
        for key, at in written.items()
        if arrived.get(key, last) - at > BOUND_DAYS * DAY
    }
    assert not late, (
        f"{len(late)} of {len(written)} back-dated records arrived after {BOUND_DAYS} days: {late}"
    )
    due = [key for key, at in written.items() if at <= last - BOUND_DAYS * DAY]
    assert due and all(key in arrived for key in due)
    for stream, spent in costs.items():
        mean = sum(spent) / len(spent)
        assert max(spent) <= 2 * mean + 1, (stream, max(spent), mean)  # +1: a request earned over hours
    latency = sorted(arrived[key] - at for key, at in written.items() if key in arrived)
    with capsys.disabled():
        print(
            f"\n{len(written)} back-dated records over {hours} hourly syncs; latency median "
            f"{latency[len(latency) // 2] / DAY:.1f} d, max {latency[-1] / DAY:.1f} d; {total_requests} requests in "
            "all; initial read "
            + ", ".join(f"{s} {initial_cost[s]}" for s in SURVEY_STREAMS)
            + "; sweep requests "
            + ", ".join(
                f"{s}: {sum(c)} in all, {sum(c) / len(c):.2f} a sync, at most {max(c)}"
                for s, c in costs.items()
            )
        )


def check_nps_of_backdated_records(emulator: Any, out: Output, created: set[int]) -> None:
    """This sync's nps_summary re-read the month of every back-dated response it emitted first (`created`:
    their created_at), and matches the account's NPS of that month as it is now."""
    periods = {r["period_start"]: r for r in out.records.get("nps_summary", [])}
    for month in {month_of(emulator, second) for second in created}:
        assert month.isoformat() in periods, month
        end = date(month.year + month.month // 12, month.month % 12 + 1, 1)
        expected = emulator.nps(month, date.fromordinal(end.toordinal() - 1))
        summary = periods[month.isoformat()]
        assert (summary["responses"], summary["nps"]) == (expected["responses"], expected["nps"]), month


def test_a_0_1_0_config_and_state_sync_without_a_reset_and_lose_nothing(make_emulator, tmp_path):
    """Version 0.1.0 wrote `{"version": 1, "created_at_epoch": N}` and knew no `backdated_bound_days` or
    `edits_bound_hours`: the first sync on this version reads on from that state, re-reads the look-back and
    every older record once (unbudgeted passes: they measure the pace), and the next sync within budget."""
    clock = clock_at(tmp_path)
    emulator = make_emulator(dataset=DatasetSpec(users=300, seed=12, start=DATA_START, end=T0), clock=clock)
    config = config_for(emulator)  # the keys a 0.1.0 config has
    assert "backdated_bound_days" not in config
    old_state = [
        stream_state("end_users", {"version": 1, "updated_at_epoch": T0 - 1}),
        stream_state("end_users_properties", {"version": 1, "updated_at_epoch": T0 - 1}),
        stream_state("responses", {"version": 1, "created_at_epoch": T0 - 1}),
        stream_state("declines", {"version": 1, "created_at_epoch": T0 - 1}),
        stream_state("nps_summary", {"version": 1, "period": "month", "period_start": "2025-05-01"}),
    ]
    # Written after the 0.1.0 sync, with a created_at 200 days back: 0.1.0 would never read them.
    written = T0 + HOUR // 2
    backdated = {
        stream: set(emulator.add_backdated(stream, 3, written - 200 * DAY, at=written))
        for stream in SURVEY_STREAMS
    }
    # In the order a UI lists them (nps_summary before responses): the source reads nps_summary last.
    alphabetical = {"streams": sorted(all_streams()["streams"], key=lambda s: s["stream"]["name"])}
    move_to(clock, T0 + HOUR)
    upgrade = read(tmp_path, config, alphabetical, old_state)
    assert upgrade.returncode == 0 and not upgrade.errors, upgrade.stdout[-2000:]
    survey_requests = sum(emulator.requests(f"/v1/{stream}") for stream in SURVEY_STREAMS)
    assert survey_requests == sum(main_read_costs(upgrade).values()) + sum(pass_costs(upgrade).values())
    assert not [m for m in upgrade.of_type("LOG") if m["log"]["level"] in ("WARN", "ERROR")]
    for stream in SURVEY_STREAMS:
        got = {record["id"] for record in upgrade.records[stream]}
        assert backdated[stream] <= got
        assert got == {record["id"] for record in getattr(emulator, stream)}  # nothing lost: every record
        state = upgrade.stream_state(stream)
        # The cursor under its own name, in UTC with `Z`; the 0.1.0 key is gone.
        assert state["created_at"] == iso(T0 + HOUR - CLOCK_MARGIN) and state["synced_at"] == T0 + HOUR
        assert "created_at_epoch" not in state
        # The passes are complete and measured what they cost.
        for name in ("edits", "sweep"):
            assert state[name]["requests_per_pass"] == pass_costs(upgrade, (name,))[stream]
            assert state[name]["pass_requests"] == 0
            assert any(f"state holds no `{name}` pass" in line for line in upgrade.logs)
    check_nps_of_backdated_records(emulator, upgrade, {written - 200 * DAY})

    emulator.reset_counters()
    move_to(clock, T0 + 2 * HOUR)
    later = read(tmp_path, config, all_streams(), upgrade.final_state)
    assert later.returncode == 0 and not later.errors, later.stdout[-2000:]
    spent = pass_costs(later, ("sweep",))
    for stream in SURVEY_STREAMS:
        per_pass = upgrade.stream_state(stream)["sweep"]["requests_per_pass"]
        budget = math.floor(per_pass * PACE_MARGIN * HOUR / (BOUND_DAYS * DAY))  # an hour's share of a pass
        assert spent[stream] <= budget
        assert f"(budget {budget})" in next(
            line for line in later.logs if line.startswith(f"{stream}: sweep")
        )


def test_with_both_passes_off_a_0_1_0_state_becomes_the_cursor_alone(make_emulator, tmp_path):
    clock = clock_at(tmp_path)
    emulator = make_emulator(dataset=DatasetSpec(users=100, seed=13, start=DATA_START, end=T0), clock=clock)
    config = config_for(emulator, backdated_bound_days=0, edits_bound_hours=0)
    state = [stream_state("responses", {"version": 1, "created_at_epoch": T0 - 1})]
    move_to(clock, T0 + HOUR)
    out = read(tmp_path, config, catalog(responses="incremental"), state)
    assert out.returncode == 0 and not out.errors
    assert out.stream_state("responses") == {"version": 1, "created_at": iso(T0 + HOUR - CLOCK_MARGIN)}
    assert not [line for line in out.logs if "sweep" in line]
    # The look-back window only: its one short page (9 responses), and the one request that proves the
    # page short because the endpoint had no more to give, not because it caps pages (paging.py).
    assert sum(emulator.counters["/v1/responses"].values()) == 2


def test_a_0_2_state_syncs_on_under_the_cursors_own_name_and_keeps_its_sweep(make_emulator, tmp_path):
    """Versions 0.2.0 to 1.0.0 wrote the cursor as `created_at_epoch` beside a sweep without `credit`: the next
    sync reads on from both, and writes the cursor as `created_at` in UTC."""
    clock = clock_at(tmp_path)
    emulator = make_emulator(dataset=DatasetSpec(users=300, seed=16, start=DATA_START, end=T0), clock=clock)
    sweep = {"through": T0 - 400 * DAY, "requests_per_pass": 40, "pass_started": T0 - DAY, "pass_requests": 3}
    written_by_0_2 = {
        "version": 1,
        "created_at_epoch": T0 - 1,
        "sweep": {**sweep, "news_since": T0 - 8 * DAY},
        "synced_at": T0 - HOUR,
    }
    move_to(clock, T0 + HOUR)
    out = read(
        tmp_path,
        config_for(emulator),
        catalog(responses="incremental"),
        [stream_state("responses", written_by_0_2)],
    )
    assert out.returncode == 0 and not out.errors, out.stdout[-2000:]
    state = out.stream_state("responses")
    assert state["created_at"] == iso(T0 + HOUR - CLOCK_MARGIN) and "created_at_epoch" not in state
    # Two hours earn the sweep half a request: it waits, credited from the 0.2 state's last sync, nothing lost.
    assert state["sweep"]["through"] == sweep["through"] and state["sweep"]["credited_at"] == T0 - HOUR
    expected = {
        r["id"] for r in emulator.responses if emulator.epoch(r["created_at"]) >= T0 - LOOKBACK_DAYS * DAY
    }
    assert expected <= {record["id"] for record in out.records["responses"]}  # the look-back: read on from it


def test_the_emulator_writes_backdated_records_through_its_control_route(make_emulator):
    emulator = make_emulator(dataset=DatasetSpec(users=50, seed=14, start=DATA_START, end=T0))
    created_at, written = T0 - 200 * DAY, T0 + 60
    answer = requests.post(
        f"{emulator.url}/_emulator/add_backdated",
        params={"kind": "declines", "n": 2, "created_at": created_at, "at": written},
        timeout=10,
    )
    assert answer.status_code == 200
    ids = set(answer.json()["ids"])
    served = {d["id"]: d for d in emulator.declines if d["id"] in ids}
    assert len(served) == 2
    for decline in served.values():
        assert emulator.epoch(decline["created_at"]) == created_at
        assert emulator.epoch(decline["updated_at"]) == written
    bad = requests.post(f"{emulator.url}/_emulator/add_backdated", params={"kind": "end_users"}, timeout=10)
    assert bad.status_code == 400


def stream_state(stream: str, value: dict[str, Any]) -> dict[str, Any]:
    return {"type": "STREAM", "stream": {"stream_descriptor": {"name": stream}, "stream_state": value}}


def test_a_sweep_this_version_did_not_write_is_a_config_error(make_emulator, tmp_path):
    emulator = make_emulator(dataset=DatasetSpec(users=50, seed=15, start=DATA_START, end=T0))
    bad = {"version": 1, "created_at_epoch": T0 - 1, "sweep": {"through": "yesterday"}, "synced_at": T0}
    out = read(
        tmp_path, config_for(emulator), catalog(declines="incremental"), [stream_state("declines", bad)]
    )
    assert out.returncode == 1 and not out.records
    assert [e["failure_type"] for e in out.errors] == ["config_error"]
    assert "Reset the stream `declines`" in out.errors[0]["message"]
    assert emulator.requests("/v1/") == 0
