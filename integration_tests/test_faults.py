"""Faults through the real `source-wootric read`, against the emulator's fault injection.

Each scenario reads end users, their properties and responses. A fault that ends must leave exactly the
emulator's records (compared by primary key, with their updated_at / created_at instants and property
values); a fault that does not end must stop the sync within a bounded time with a classified error
(transient or config) and a state from which a second run, the fault gone, completes the data. Every run
holds known secrets and is checked for leaks and stray tracebacks (`guarded.run_guarded`), `--debug` on.

The connector runs with its production settings, on the simulated clock it shares with the emulator (see
wootric_emulator/pytest_plugin.py): its back-offs, its waits for the rate limit and the emulator's slow
answers cost no real time, and the times below are seconds of that clock.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import datetime
from typing import Any

import pytest

from integration_tests.connector import (
    CLOCK_MARGIN,
    MAX_RATE_LIMIT_SECONDS,
    MAX_RETRY_SECONDS,
    READ_TIMEOUT,
    Output,
    catalog,
)
from integration_tests.guarded import guarded_config, guarded_emulator, run_guarded
from wootric_emulator import DatasetSpec, Fault

pytestmark = pytest.mark.timeout(120)

STREAMS = {"end_users": "incremental", "end_users_properties": "incremental", "responses": "incremental"}
READ = ["read", "--debug", "--config", "config", "--catalog", "catalog"]
RESUME = [*READ, "--state", "state"]
# A fixed end, so that the data never changes under a test; ~9 pages of users and ~13 of responses.
DATASET = {"users": 400, "responses": 600, "declines": 0, "end": "2025-06-01"}
SLOW = 1.5 * READ_TIMEOUT  # seconds a slow answer takes: past the connector's read timeout


def epoch(value: str | None) -> int | None:
    return None if value is None else int(datetime.fromisoformat(value).timestamp())


def property_text(value: Any) -> str | None:
    return (
        value
        if value is None or isinstance(value, str)
        else json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    )


def expected(emulator: Any) -> dict[str, dict]:
    users = emulator.end_users
    return {
        "end_users": {
            u["id"]: (emulator.epoch(u["updated_at"]), emulator.epoch(u["created_at"])) for u in users
        },
        "end_users_properties": {
            (u["id"], key): property_text(value)
            for u in users
            for key, value in (u.get("properties") or {}).items()
        },
        "responses": {r["id"]: emulator.epoch(r["created_at"]) for r in emulator.responses},
    }


def received(*outputs: Output) -> tuple[dict[str, dict], Counter]:
    """What a destination deduplicating on the primary key holds after these runs (the last copy wins),
    and how many duplicates it folded."""
    got: dict[str, dict] = {name: {} for name in STREAMS}
    duplicates: Counter = Counter()
    for out in outputs:
        records = out.records
        for r in records["end_users"]:
            duplicates["end_users"] += r["id"] in got["end_users"]
            got["end_users"][r["id"]] = (epoch(r.get("updated_at")), epoch(r.get("created_at")))
        for r in records["end_users_properties"]:
            key = (r["end_user_id"], r["property_key"])
            duplicates["end_users_properties"] += key in got["end_users_properties"]
            got["end_users_properties"][key] = r.get("property_value")
        for r in records["responses"]:
            duplicates["responses"] += r["id"] in got["responses"]
            got["responses"][r["id"]] = epoch(r.get("created_at"))
    return got, duplicates


def assert_exact(emulator: Any, *outputs: Output) -> Counter:
    got, duplicates = received(*outputs)
    want = expected(emulator)
    for name in STREAMS:
        missing, extra = set(want[name]) - set(got[name]), set(got[name]) - set(want[name])
        assert not missing and not extra, f"{name}: missing {sorted(missing)[:5]}, extra {sorted(extra)[:5]}"
        wrong = [key for key in want[name] if want[name][key] != got[name][key]]
        assert not wrong, f"{name}: values differ for {wrong[:5]}"
    return duplicates


def single_run_duplicates(out: Output) -> Counter:
    return received(out)[1]


def started(emulator: Any) -> tuple[float, float]:
    """Now, in real seconds and on the emulator's (simulated) clock, for `summary`."""
    return time.monotonic(), emulator.clock.time()


def summary(name: str, emulator: Any, since: tuple[float, float], *outputs: Output) -> str:
    retries = sum(1 for out in outputs for line in out.logs if "; retry " in line)
    waits = sum(1 for out in outputs for line in out.logs if "Rate limited (HTTP 429)" in line)
    line = (
        f"[fault] {name}: {time.monotonic() - since[0]:.1f} s ({emulator.clock.time() - since[1]:.0f} s on the "
        f"clock), {len(outputs)} run(s), counters {emulator.counters}, {retries} retries, {waits} 429 waits, "
        f"exit codes {[o.returncode for o in outputs]}"
    )
    print(line)
    return line


def read(emulator: Any, tmp_path: Any, *, auth: str = "client_credentials", state=None) -> Output:
    files: dict[str, Any] = {"config": guarded_config(emulator, auth=auth), "catalog": catalog(**STREAMS)}
    if state is not None:
        files["state"] = state
    return run_guarded(RESUME if state is not None else READ, tmp_path, emulator, **files)


def assert_succeeded(out: Output) -> None:
    assert out.returncode == 0 and not out.errors, (out.errors, out.stderr[-1000:])


# -- faults that end: the sync completes with exactly the emulator's records -------------------------------
# (emulator keywords, faults, a line some retry logs: the fault was met as intended, or None)
ENDING = {
    "429 storm with X-Rate-Limit-Reset, under a real rate limit": (
        {"rate_limit": (12, 60)},
        [Fault("429", after=3, times=3), Fault("429", path_prefix="/v1/responses", after=4, times=2)],
        None,
    ),
    "429 storm without X-Rate-Limit-Reset": (
        {},
        [Fault("429", after=2, times=8, reset_header=False)],
        None,
    ),
    "bursts of 500, 502 and 503": (
        {},
        [
            Fault("500", path_prefix="/v1/end_users", after=1, times=3),
            Fault("502", path_prefix="/v1/responses", after=2, times=4),
            Fault("503", after=6, times=2),
            Fault("503", probability=0.15, after=20),
        ],
        None,
    ),
    "connection resets": (
        {"fault_seed": 7},
        [
            Fault("reset", after=2, times=2),
            Fault("reset", probability=0.2),
            Fault("reset", path_prefix="/oauth/token"),
        ],
        None,
    ),
    "truncated and non-JSON bodies, the token's too": (
        {},
        [
            Fault("truncated", path_prefix="/oauth/token"),
            Fault("not_json", path_prefix="/oauth/token", after=1),
            Fault("truncated", path_prefix="/v1/end_users", after=2, times=2),
            Fault("not_json", path_prefix="/v1/responses", after=3, times=2),
            Fault("not_json", path_prefix="/v1/segments"),
        ],
        None,
    ),
    # Slow on the simulated clock: the connector's read times out there (see simulated_clock/sitecustomize.py).
    "slow answers past the read timeout": (
        {},
        [
            Fault("slow", seconds=SLOW, after=2, times=2),
            Fault("slow", path_prefix="/v1/responses", seconds=SLOW, after=5),
        ],
        "ReadTimeout on",
    ),
    "the token endpoint failing for a while": (
        {},
        [Fault("token_500", times=3)],
        None,
    ),
}


@pytest.mark.parametrize("name", list(ENDING))
def test_a_fault_that_ends_leaves_exactly_the_emulators_records(make_emulator, tmp_path, name):
    emulator_kwargs, faults, shows = ENDING[name]
    emulator = guarded_emulator(
        make_emulator, dataset=DatasetSpec(seed=31, **DATASET), faults=faults, **emulator_kwargs
    )
    since = started(emulator)
    out = read(emulator, tmp_path)
    summary(name, emulator, since, out)
    assert_succeeded(out)
    assert shows is None or any(shows in line and "; retry " in line for line in out.logs), out.logs
    assert sum(fault.hits for fault in emulator.faults) >= len(faults) - 1  # the faults really fired
    duplicates = assert_exact(emulator, out)
    assert duplicates == Counter(), duplicates  # one run: retries never emit a record twice
    assert emulator.issued_tokens()


def test_a_real_rate_limit_is_waited_out_from_its_headers_without_a_429(make_emulator, tmp_path):
    emulator = guarded_emulator(make_emulator, dataset=DatasetSpec(seed=32, **DATASET), rate_limit=(10, 60))
    since = started(emulator)
    out = read(emulator, tmp_path)
    summary("rate limit 10 per minute", emulator, since, out)
    assert_succeeded(out)
    assert_exact(emulator, out)
    assert all(429 not in counts for counts in emulator.counters.values()), emulator.counters
    assert any("Rate limit nearly used up" in line for line in out.logs)


@pytest.mark.parametrize("auth", ["client_credentials", "password"])
def test_tokens_that_expire_during_the_sync_are_renewed(make_emulator, tmp_path, auth):
    # Tokens live a minute and the rate limit stretches the sync over several: renewed as they near their end.
    # End users take 20 s an answer, so a token expires while the API works on one: a 401, then a new token.
    faults = [Fault("slow", path_prefix="/v1/end_users", seconds=20, after=3, times=-1)]
    emulator = guarded_emulator(
        make_emulator,
        dataset=DatasetSpec(seed=33, **DATASET),
        token_ttl=60,
        rate_limit=(10, 60),
        latency=(0.2, 0.5),
        faults=faults,
    )
    since = started(emulator)
    out = read(emulator, tmp_path, auth=auth)
    summary(f"token expiry ({auth})", emulator, since, out)
    assert_succeeded(out)
    assert_exact(emulator, out)
    assert emulator.counters["/v1/end_users"].get(401, 0) >= 1
    assert emulator.counters["/oauth/token"][200] >= 3  # renewed, by refresh token for the password grant
    assert len(emulator.issued_tokens()) >= 3


@pytest.mark.parametrize("auth", ["client_credentials", "password"])
def test_a_token_revoked_mid_sync_is_replaced(make_emulator, tmp_path, auth):
    faults = [
        Fault("revoke", path_prefix="/v1/end_users", after=3),
        Fault("revoke", path_prefix="/v1/responses", after=5),
    ]
    emulator = guarded_emulator(make_emulator, dataset=DatasetSpec(seed=34, **DATASET), faults=faults)
    since = started(emulator)
    out = read(emulator, tmp_path, auth=auth)
    summary(f"token revoked ({auth})", emulator, since, out)
    assert_succeeded(out)
    assert_exact(emulator, out)
    tokens = emulator.counters["/oauth/token"]
    assert tokens[200] == 3  # the first token and one after each revocation
    # The password grant first tries its (revoked) refresh token, then signs in again.
    assert tokens.get(400, 0) == (2 if auth == "password" else 0)


def test_users_updated_while_the_sync_reads_arrive_whole_by_the_next_sync(make_emulator, tmp_path):
    faults = [Fault("update_users", path_prefix="/v1/end_users", after=1, times=6, users=8)]
    dataset = DatasetSpec(seed=35, users=900, responses=300, declines=0, bulk_created_same_second=120)
    emulator = guarded_emulator(make_emulator, dataset=dataset, faults=faults)
    since = started(emulator)
    first = read(emulator, tmp_path)
    assert_succeeded(first)
    emulator.clock.sleep(
        CLOCK_MARGIN + 1
    )  # past the clock margin: the next sync reads through the last update
    second = read(emulator, tmp_path, state=first.final_state)
    summary("users updated while read", emulator, since, first, second)
    assert_succeeded(second)
    assert emulator.faults[0].hits == 6
    duplicates = assert_exact(emulator, first, second)
    print(f"[fault] users updated while read: duplicates folded by primary key {dict(duplicates)}")


# -- faults that do not end: a classified error in bounded time, then a run from the state completes -------
# Seconds from start to error on the simulated clock, where only waits take time (start-up and work none):
# a request retries transient failures until a retry would start more than 600 s after its first failure,
# and waits out 429s for 30 minutes at most. An attempt takes up to SLOW (a read that times out): the one
# before the first failure, the last one, and then one try of each other stream, as Wootric is out.
RETRIES_BOUND = MAX_RETRY_SECONDS + (1 + len(STREAMS)) * SLOW
RATE_LIMIT_BOUND = MAX_RATE_LIMIT_SECONDS
# (faults, bound in seconds, failure type)
NOT_ENDING = {
    "503 for good": ([Fault("503", after=5, times=-1)], RETRIES_BOUND, "transient_error"),
    "connection resets for good": (
        [Fault("reset", path_prefix="/v1/responses", after=3, times=-1)],
        RETRIES_BOUND,
        "transient_error",
    ),
    "slow for good": (
        [Fault("slow", path_prefix="/v1/end_users", seconds=SLOW, after=4, times=-1)],
        RETRIES_BOUND,
        "transient_error",
    ),
    "429 for good, no reset header": (
        [Fault("429", after=6, times=-1, reset_header=False)],
        RATE_LIMIT_BOUND,
        "transient_error",
    ),
    "token revoked, then the token endpoint down": (
        [Fault("token_500", after=1, times=-1), Fault("revoke", path_prefix="/v1/end_users", after=4)],
        RETRIES_BOUND,
        "transient_error",
    ),
    "token revoked and every new one refused": (
        [Fault("revoke", after=4, times=-1)],
        RETRIES_BOUND,
        "config_error",
    ),
}


@pytest.mark.parametrize("name", list(NOT_ENDING))
def test_a_fault_that_does_not_end_is_a_classified_error_with_a_resumable_state(
    make_emulator, tmp_path, name
):
    faults, bound, failure_type = NOT_ENDING[name]
    emulator = guarded_emulator(make_emulator, dataset=DatasetSpec(seed=36, **DATASET), faults=faults)
    since = started(emulator)
    first = read(emulator, tmp_path)
    elapsed = emulator.clock.time() - since[1]  # simulated seconds
    assert first.returncode == 1 and first.errors
    assert {error["failure_type"] for error in first.errors} == {failure_type}, [
        e["message"] for e in first.errors
    ]
    assert elapsed <= bound, elapsed
    assert first.final_state or first.records == {}, "records were emitted but no state to resume from"

    emulator.set_faults([])
    second = read(emulator, tmp_path, state=first.final_state)
    summary(f"{name} (error after {elapsed:.0f} s on the clock)", emulator, since, first, second)
    assert_succeeded(second)
    duplicates = assert_exact(emulator, first, second)
    print(
        f"[fault] {name}: records before the error {dict((k, len(v)) for k, v in first.records.items())}, "
        f"duplicates folded {dict(duplicates)}"
    )


def test_check_answers_an_outage_after_two_retries_where_a_sync_would_retry_longer(make_emulator, tmp_path):
    emulator = guarded_emulator(
        make_emulator, dataset={"users": 10, "end": "2025-01-01"}, faults=[Fault("503", times=-1)]
    )
    out = run_guarded(["check", "--config", "config"], tmp_path, emulator, config=guarded_config(emulator))
    statuses = out.of_type("CONNECTION_STATUS")  # one, FAILED, with the outage's message; exit 0
    assert out.returncode == 0 and [s["connectionStatus"]["status"] for s in statuses] == ["FAILED"]
    assert "HTTP 503" in statuses[0]["connectionStatus"]["message"]
    assert emulator.counters["/v1/end_users"] == {503: 3}  # the try and two retries; a sync makes nine
