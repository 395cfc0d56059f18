"""A long sync killed with SIGKILL at seeded points, each time restarted from the last STATE messages it
emitted before dying: the union of the outputs holds every record, and the requests of all the runs stay
within twice those of one clean sync.

The kill points are "after the k-th API request the emulator counts" (all runs together), k drawn from
`random.Random(seed)`; the test polls the emulator's request counter while the real `source-wootric read` runs. What the process
printed before the kill is what a platform would have seen (a last line cut in the middle is dropped).
The connector runs with its production settings, on the emulator's simulated clock (see connector_env).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from integration_tests.connector import COMMAND, Output, catalog, connector_env
from integration_tests.guarded import assert_clean, guarded_config, guarded_emulator
from integration_tests.test_faults import assert_exact, received
from wootric_emulator import DatasetSpec, Emulator
from wootric_emulator.pytest_plugin import simulated_clock

pytestmark = pytest.mark.timeout(240)

STREAMS = {"end_users": "incremental", "end_users_properties": "incremental", "responses": "incremental"}
DATASET = DatasetSpec(
    users=3_000, responses=4_500, declines=0, seed=41, end="2025-06-01", bulk_created_same_second=200
)


def sync(
    emulator: Any, tmp_path: Path, name: str, state: list | None, kill_after: int | None
) -> tuple[Output, bool]:
    """One `source-wootric read`; SIGKILLed once this run has made `kill_after` API requests."""
    files = {"config": guarded_config(emulator), "catalog": catalog(**STREAMS), "state": state}
    argv = [COMMAND, "read"]
    for key, value in files.items():
        if value is not None:
            path = tmp_path / f"{name}-{key}.json"
            path.write_text(json.dumps(value))
            argv += [f"--{key}", str(path)]
    stdout_path, stderr_path = tmp_path / f"{name}.out", tmp_path / f"{name}.err"
    before = emulator.requests("/v1/")
    killed = False
    with stdout_path.open("wb") as stdout, stderr_path.open("wb") as stderr:
        process = subprocess.Popen(argv, stdout=stdout, stderr=stderr, env=connector_env())
        deadline = time.monotonic() + 120
        while process.poll() is None:
            if kill_after is not None and emulator.requests("/v1/") - before >= kill_after:
                os.kill(process.pid, signal.SIGKILL)
                killed = True
                break
            if time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"{name} did not finish in time")
            time.sleep(0.003)
        process.wait()
    text = stdout_path.read_text()
    if killed and not text.endswith("\n"):
        text = text[: text.rfind("\n") + 1]  # the line the kill cut short never reached anyone
    out = Output(process.returncode, text, stderr_path.read_text())
    assert_clean(out, emulator)
    return out, killed


def merge_state(previous: list, out: Output) -> list:
    """The state a platform holds after a run: each stream's last STATE, or its previous one."""
    by_stream = {s["stream"]["stream_descriptor"]["name"]: s for s in previous}
    by_stream.update({s["stream"]["stream_descriptor"]["name"]: s for s in out.final_state})
    return list(by_stream.values())


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    """One clean sync of the same account: the reference for the request count."""
    tmp = tmp_path_factory.mktemp("clean")
    with simulated_clock(tmp) as clock:
        emulator = guarded_emulator(Emulator, dataset=DATASET, clock=clock)
        with emulator:
            started = time.monotonic()
            out, _ = sync(emulator, tmp, "clean", None, None)
            seconds = time.monotonic() - started
            assert out.returncode == 0 and not out.errors
            assert_exact(emulator, out)
            requests = emulator.requests("/v1/")
    print(f"[resume] clean sync: {requests} API requests, {seconds:.1f} s, counters {emulator.counters}")
    return requests


@pytest.mark.parametrize(("seed", "kills"), [(1, 7), (2, 5)])
def test_a_sync_killed_again_and_again_resumes_to_every_record(clean, make_emulator, tmp_path, seed, kills):
    clean_requests = clean
    emulator = guarded_emulator(make_emulator, dataset=DATASET)
    rng = random.Random(seed)
    state: list = []
    outputs: list[Output] = []
    kill_points = []
    started = time.monotonic()
    # Points along the emulator's request count (all runs together), spread over more than one clean sync's
    # worth, so that every stream is cut somewhere; a run whose point has passed dies at its first request.
    points = sorted(rng.sample(range(1, int(1.3 * clean_requests)), kills))
    for attempt, point in enumerate(points):
        kill_after = max(1, point - emulator.requests("/v1/"))
        out, killed = sync(emulator, tmp_path, f"run{attempt}", state or None, kill_after)
        outputs.append(out)
        kill_points.append((kill_after, killed, {k: len(v) for k, v in out.records.items()}))
        state = merge_state(state, out)
    final, killed = sync(emulator, tmp_path, "final", state or None, None)
    outputs.append(final)
    total = emulator.requests("/v1/")
    print(
        f"[resume] seed {seed}: {kills} kills at {kill_points}, then a final run; {total} API requests in all "
        f"({total / clean_requests:.2f}x a clean sync of {clean_requests}), {emulator.requests('/oauth/token')} "
        f"token requests, {time.monotonic() - started:.1f} s; duplicates folded {dict(received(*outputs)[1])}"
    )
    assert not killed and final.returncode == 0 and not final.errors, final.errors
    assert sum(1 for _, was_killed, _ in kill_points if was_killed) >= kills - 1  # the kills really happened
    assert_exact(emulator, *outputs)
    assert total <= 2 * clean_requests
