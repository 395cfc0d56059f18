"""The benchmark at production pace: a full sync of every stream of an account of 20,000 end users against the
emulator answering as Wootric does (0.15 to 0.6 s an answer, 100 requests a minute), on the simulated clock
both processes share (wootric_emulator/clock.py), beside the floor: ceil(N/50) requests per list at 100 a
minute. Not part of the test suite; the production-pace tier (integration_tests/test_production_pace.py) is.

    .venv/bin/python -m bench.pace [--users 20000]

Writes bench/results/pace.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import tempfile
import time
from pathlib import Path

from integration_tests.connector import COMMAND, Output, all_streams, config_for
from wootric_emulator import DatasetSpec, Emulator
from wootric_emulator.clock import SharedClock

RESULTS = Path(__file__).resolve().parent / "results" / "pace.md"
DATA_END = 1_793_491_200  # 2026-11-01T00:00:00Z
PER_MINUTE = 100


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20_000)
    users = parser.parse_args().users
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        clock = SharedClock(tmp / "clock", start=DATA_END + 86_400)
        spec = DatasetSpec(users=users, seed=7, start="2024-11-01", end=DATA_END)
        with Emulator(spec, clock=clock, rate_limit=(PER_MINUTE, 60), latency=(0.15, 0.6)) as emulator:
            (tmp / "config.json").write_text(
                json.dumps(config_for(emulator, start_date="2024-11-01T00:00:00Z"))
            )
            (tmp / "catalog.json").write_text(json.dumps(all_streams("incremental")))
            started, wall = clock.time(), time.monotonic()
            done = subprocess.run(
                [
                    COMMAND,
                    "read",
                    "--config",
                    str(tmp / "config.json"),
                    "--catalog",
                    str(tmp / "catalog.json"),
                ],
                capture_output=True,
                text=True,
                env={**os.environ, **clock.env()},
                check=False,
            )
            minutes, wall = (clock.time() - started) / 60, time.monotonic() - wall
            out = Output(done.returncode, done.stdout, done.stderr)
            lists = {name: len(getattr(emulator, name)) for name in ("end_users", "responses", "declines")}
            counted = {path: sum(statuses.values()) for path, statuses in emulator.counters.items()}
    floor = sum(math.ceil(n / 50) for n in lists.values())
    data = sum(n for path, n in counted.items() if path != "/oauth/token")
    lists_made = sum(counted.get(f"/v1/{name}", 0) for name in lists)
    row = (
        f"| {users:,} end users, {lists['responses']:,} responses, {lists['declines']:,} declines "
        f"(2 years) | {'ok' if done.returncode == 0 and not out.errors else 'FAILED'} | "
        f"{sum(len(r) for r in out.records.values()):,} | {lists_made:,} + {data - lists_made:,} | "
        f"{floor:,} | {minutes:.1f} min | {floor / PER_MINUTE:.1f} min | {minutes / (data / PER_MINUTE):.2f}x | "
        f"{wall:.0f} s |"
    )
    RESULTS.write_text(
        "# At production pace\n\n"
        f"`.venv/bin/python -m bench.pace`, measured {time.strftime('%Y-%m-%d')}: a full sync of every stream "
        "(incremental, from `start_date` 2024-11-01) against the emulator answering in 0.15 to 0.6 s, limited "
        f"to {PER_MINUTE} requests a minute, on the simulated clock the emulator and the connector share "
        "(no other client on the account). *minutes*: the connector's own clock from start to end; *floor*: "
        f"ceil(N/50) requests for each list at {PER_MINUTE} a minute; *vs its requests*: the minutes over "
        f"the data requests it made at {PER_MINUTE} a minute (1.00x: no time lost beyond the limit).\n\n"
        "| account | result | records out | requests (lists + account) | floor ceil(N/50) | minutes | "
        "floor minutes | vs its requests | CI wall |\n|---|---|---|---|---|---|---|---|---|\n"
        f"{row}\n"
    )
    print(RESULTS.read_text())


if __name__ == "__main__":
    main()
