"""The benchmark of frequent syncs: what an idle hourly sync, a day of 24 hourly syncs (with edits and back-dated
records written between them), and a daily sync cost on the account of issue 19 (20,000 end users, 100,000
responses and 20,000 declines over 3 years), on the simulated clock, for this tree and, with `--baseline`, for
another checkout of the connector (its package imported first: PYTHONPATH).

    .venv/bin/python -m bench.hourly [--baseline /path/to/checkout]

Writes bench/results/hourly.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from integration_tests.connector import COMMAND, Output, all_streams, config_for
from wootric_emulator import DatasetSpec, Emulator
from wootric_emulator.clock import SharedClock

RESULTS = Path(__file__).resolve().parent / "results" / "hourly.md"
DATA_END = 1_793_491_200  # 2026-11-01T00:00:00Z
HOUR, DAY = 3_600, 86_400
LOOKBACK = 30 * DAY


class Account:
    """The emulated account, the shared clock, and `source-wootric read` run as a command at a given time."""

    def __init__(self, tmp: Path, emulator: Emulator, clock: SharedClock, checkout: Path | None):
        self.tmp, self.emulator, self.clock = tmp, emulator, clock
        self.env = {**os.environ, **clock.env()}
        if checkout is not None:  # first on the path, before the simulated clock's start-up hook
            self.env["PYTHONPATH"] = os.pathsep.join((str(checkout), self.env["PYTHONPATH"]))
        (tmp / "config.json").write_text(json.dumps(config_for(emulator, start_date="2023-01-01T00:00:00Z")))
        # The streams the issue measured (survey_templates, added since, costs 1 more request a sync).
        streams = [
            s for s in all_streams("incremental")["streams"] if s["stream"]["name"] != "survey_templates"
        ]
        (tmp / "catalog.json").write_text(json.dumps({"streams": streams}))

    def sync(self, at: int, state: list[dict[str, Any]] | None) -> tuple[Output, int]:
        """A sync at `at`: its output and the data requests it made (the token's aside, as in the issue's 101)."""
        self.clock.sleep(at - self.clock.time())
        args = [
            COMMAND,
            "read",
            "--config",
            str(self.tmp / "config.json"),
            "--catalog",
            str(self.tmp / "catalog.json"),
        ]
        if state is not None:
            (self.tmp / "state.json").write_text(json.dumps(state))
            args += ["--state", str(self.tmp / "state.json")]
        self.emulator.reset_counters()
        done = subprocess.run(args, capture_output=True, text=True, env=self.env, check=False)
        out = Output(done.returncode, done.stdout, done.stderr)
        assert done.returncode == 0 and not out.errors, out.errors or done.stderr[-2000:]
        return out, self.emulator.requests("/v1/") + self.emulator.requests("/v2/")


def measure(checkout: Path | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        start = DATA_END + DAY
        clock = SharedClock(tmp / "clock", start=start)
        spec = DatasetSpec(
            users=20_000,
            responses=100_000,
            declines=20_000,
            seed=5,
            start=DATA_END - 3 * 365 * DAY,
            end=DATA_END,
        )
        with Emulator(spec, clock=clock) as emulator:
            account = Account(tmp, emulator, clock, checkout)
            first, full = account.sync(start, None)
            _, idle = account.sync(start + HOUR, first.final_state)
            day = day_of_hourly_syncs(account, start + HOUR, first.final_state)
        clock = SharedClock(tmp / "clock-daily", start=start)
        with Emulator(spec, clock=clock) as emulator:  # the daily sync, from the same initial read
            account = Account(tmp, emulator, clock, checkout)
            first, _ = account.sync(start, None)
            _, daily = account.sync(start + DAY, first.final_state)
    return {"full": full, "idle": idle, "daily": daily, **day}


def day_of_hourly_syncs(account: Account, first_at: int, state: list[dict[str, Any]]) -> dict[str, Any]:
    """24 hourly syncs after the initial read (the idle sync at `first_at` aside); between them, 4 new responses an hour, an edit of a
    response in the look-back every 4 hours, a back-dated response and decline every 6 hours."""
    emulator, costs, late = account.emulator, [], {"edit": [], "backdated": []}
    pending: dict[tuple[str, int], tuple[str, int]] = {}  # (stream, id) -> (kind, when written)
    for hour in range(1, 25):
        now = first_at + hour * HOUR
        written = now - HOUR // 2
        emulator.add_backdated("responses", 4, written, seed=hour, at=written)
        if hour % 4 == 0:
            for record_id in emulator.edit_responses(
                1, seed=hour, at=written, created_from=written - LOOKBACK + DAY
            ):
                pending[("responses", record_id)] = ("edit", written)
        if hour % 6 == 3:
            created = DATA_END - 3 * 365 * DAY + (hour * 7919 * HOUR) % (2 * 365 * DAY)
            for stream in ("responses", "declines"):
                for record_id in emulator.add_backdated(stream, 1, created, seed=hour, at=written):
                    pending[(stream, record_id)] = ("backdated", written)
        out, cost = account.sync(now, state)
        costs.append(cost)
        for stream in ("responses", "declines"):
            for record in out.records.get(stream, []):
                key = (stream, record["id"])
                if (
                    key in pending
                    and datetime.fromisoformat(record["updated_at"]).timestamp() >= pending[key][1]
                ):
                    kind, at = pending.pop(key)
                    late[kind].append((now - at) / HOUR)
        state = out.final_state
    unarrived = {kind: sum(1 for k, _ in pending.values() if k == kind) for kind in late}
    return {"costs": costs, "late": late, "unarrived": unarrived}


def row(name: str, result: dict[str, Any]) -> str:
    costs, late = result["costs"], result["late"]

    def arrivals(kind: str) -> str:
        hours = late[kind]
        arrived = f"{len(hours)} arrived, at most {max(hours):.1f} h" if hours else "none arrived"
        return f"{arrived}; {result['unarrived'][kind]} not yet"

    return (
        f"| {name} | {result['full']:,} | {result['idle']} | {sum(costs) / len(costs):.1f} / {max(costs)} | "
        f"{result['daily']} | {arrivals('edit')} | {arrivals('backdated')} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--baseline", type=Path, help="another checkout of the connector, measured beside this one"
    )
    baseline = parser.parse_args().baseline
    rows = [row("this tree", measure(None))]
    if baseline is not None:
        rows.append(row(f"baseline ({baseline.name})", measure(baseline)))
    RESULTS.write_text(
        "# Frequent syncs: requests per sync\n\n"
        "Written by `python -m bench.hourly`. The account of issue 19 on the emulator and the simulated clock: "
        "20,000 end users, 100,000 responses and 20,000 declines over 3 years. Data requests (a token request "
        "each sync aside). "
        "The day: 24 hourly syncs after an idle one, with 4 new responses an hour, an edit of a response created "
        "in the look-back every 4 hours, a back-dated response and decline every 6 hours; an edit or back-dated "
        "record arrives when a sync emits it as written (the bounds are 24 hours and 7 days: back-dated ones "
        "not yet arrived are within them; integration_tests/test_hourly.py follows 8 days).\n\n"
        "| connector | full sync | idle hourly sync | day of hourly syncs: mean / max | daily sync | edits | back-dated |\n"
        "| :--- | ---: | ---: | ---: | ---: | :--- | :--- |\n" + "\n".join(rows) + "\n"
    )
    print(RESULTS.read_text())


if __name__ == "__main__":
    main()
