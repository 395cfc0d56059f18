"""Runs the real `source-wootric` command and reads what it says, for the end-to-end tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import orjson

from integration_tests.forkserver import forked
from wootric_emulator.clock import SITE

COMMAND = str(Path(sys.executable).parent / "source-wootric")
CLIENT_SECRET = "demo-client-secret"
# The connector's production settings, which the tests wait out on the simulated clock (see connector_env):
CLOCK_MARGIN = 10  # seconds: the newest records are left to the next sync
READ_TIMEOUT = 60  # seconds an answer may take
MAX_RETRY_SECONDS = 600  # a request's transient failures are retried for this long at most
MAX_RATE_LIMIT_SECONDS = 1800  # a request waits out 429s for this long at most
STREAMS = (
    "end_users",
    "end_users_properties",
    "responses",
    "declines",
    "segments",
    "nps_summary",
    "email_stats",
    "email_send_sources",
    "survey_templates",
)


@dataclass
class Output:
    returncode: int
    stdout: str
    stderr: str
    messages: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        for line in self.stdout.splitlines():
            try:
                self.messages.append(orjson.loads(line))  # a sync's output can hold 500,000 lines
            except ValueError:
                self.messages.append({"type": "NOT_JSON", "line": line})

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["type"] == kind]

    @property
    def records(self) -> dict[str, list[dict[str, Any]]]:
        by_stream: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for message in self.of_type("RECORD"):
            by_stream[message["record"]["stream"]].append(message["record"]["data"])
        return by_stream

    @property
    def states(self) -> list[dict[str, Any]]:
        return [m["state"] for m in self.of_type("STATE")]

    @property
    def final_state(self) -> list[dict[str, Any]]:
        """The last STATE of each stream: what a platform would pass to the next sync."""
        last: dict[str, dict[str, Any]] = {}
        for state in self.states:
            last[state["stream"]["stream_descriptor"]["name"]] = state
        return list(last.values())

    def stream_state(self, stream: str) -> dict[str, Any] | None:
        return next(
            (
                s["stream"]["stream_state"]
                for s in self.final_state
                if s["stream"]["stream_descriptor"]["name"] == stream
            ),
            None,
        )

    @property
    def logs(self) -> list[str]:
        return [m["log"]["message"] for m in self.of_type("LOG")]

    @property
    def errors(self) -> list[dict[str, Any]]:
        return [m["trace"]["error"] for m in self.of_type("TRACE") if m["trace"]["type"] == "ERROR"]


def connector_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a connector command: this process's, then `env`. Where SIMULATED_CLOCK is set (the
    emulator fixtures set it to the emulator's clock), the command reads that clock: its sleeps cost no real
    time (wootric_emulator/simulated_clock)."""
    merged = {**os.environ, **(env or {})}
    if merged.get("SIMULATED_CLOCK"):
        paths = [path for path in merged.get("PYTHONPATH", "").split(os.pathsep) if path]
        if str(SITE) not in paths:
            merged["PYTHONPATH"] = os.pathsep.join([str(SITE), *paths])
    return merged


def run(
    args: list[str],
    tmp_path: Path,
    *,
    env: dict[str, str] | None = None,
    timeout: float = 600,
    command: str = COMMAND,
    **files: Any,
) -> Output:
    """`source-wootric <args>` (another install's with `command`), with its production settings, where
    `--config config` etc. name JSON files written from `files`; on the test's simulated clock if it has one
    (see connector_env)."""
    argv = [command]
    for arg in args:
        if arg in files:
            path = tmp_path / f"{arg}.json"
            path.write_text(json.dumps(files[arg]))
            argv.append(str(path))
        else:
            argv.append(arg)
    if command == COMMAND:  # this install's command: forked from a process that imported it already
        return Output(*forked(argv, connector_env(env), Path.cwd(), timeout))
    done = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=connector_env(env),
        check=False,
    )
    return Output(done.returncode, done.stdout, done.stderr)


def read(tmp_path: Path, config: dict, catalog: dict, state: list | None = None, **kwargs: Any) -> Output:
    """`source-wootric read`, with a state when one is given."""
    args = ["read", "--config", "config", "--catalog", "catalog"] + (
        ["--state", "state"] if state is not None else []
    )
    files = {"config": config, "catalog": catalog, **({"state": state} if state is not None else {})}
    return run(args, tmp_path, **files, **kwargs)


def config_for(emulator: Any, **overrides: Any) -> dict[str, Any]:
    config = {
        "credentials": {
            "auth_type": "client_credentials",
            "client_id": "demo-client-id",
            "client_secret": CLIENT_SECRET,
        },
        "start_date": "2010-01-01T00:00:00Z",
        "base_url": emulator.url,
        "account_timezone": "America/Los_Angeles",
    }
    config.update(overrides)
    return config


@cache
def discovered_streams() -> dict[str, dict[str, Any]]:
    """The streams as `discover` describes them (discover needs no API access)."""
    config = {"credentials": {"client_id": "x", "client_secret": "y"}, "start_date": "2020-01-01T00:00:00Z"}
    done = subprocess.run(
        [COMMAND, "discover", "--config", "/dev/stdin"],
        input=json.dumps(config),
        capture_output=True,
        text=True,
        check=True,
    )
    catalog = next(json.loads(line)["catalog"] for line in done.stdout.splitlines() if '"CATALOG"' in line)
    return {stream["name"]: stream for stream in catalog["streams"]}


def catalog(**sync_modes: str) -> dict[str, Any]:
    """A configured catalog: `catalog(end_users="incremental", segments="full_refresh")`."""
    streams = discovered_streams()
    return {
        "streams": [
            {
                "stream": streams[name],
                "sync_mode": mode,
                "destination_sync_mode": "append_dedup" if mode == "incremental" else "overwrite",
                "primary_key": streams[name].get("source_defined_primary_key", []),
                "cursor_field": streams[name].get("default_cursor_field", []),
            }
            for name, mode in sync_modes.items()
        ]
    }


def all_streams(mode: str = "incremental") -> dict[str, Any]:
    streams = discovered_streams()
    return catalog(
        **{
            name: mode if mode in streams[name]["supported_sync_modes"] else "full_refresh"
            for name in STREAMS
        }
    )


def statuses(out: Output) -> list[tuple[str, str, dict | None]]:
    """(stream, status, the rate-limited reason or None) of every STREAM_STATUS trace, in order."""
    found = []
    for message in out.of_type("TRACE"):
        if message["trace"]["type"] == "STREAM_STATUS":
            status = message["trace"]["stream_status"]
            reasons = status.get("reasons") or []
            found.append(
                (
                    status["stream_descriptor"]["name"],
                    status["status"],
                    reasons[0].get("rate_limited", {}) if reasons else None,
                )
            )
    return found


def rate_limited(out: Output) -> list[tuple[str, int]]:
    """(stream, quota_reset) of every RUNNING status with reason RATE_LIMITED."""
    return [
        (stream, reason["quota_reset"])
        for stream, status, reason in statuses(out)
        if status == "RUNNING" and reason is not None
    ]


def assert_statuses(out: Output, streams: Iterable[str]) -> None:
    """Per stream, STARTED first and COMPLETE last, once each; every record emitted while the stream is plainly
    RUNNING (never while it is reported rate limited); a plain RUNNING only after STARTED or a RATE_LIMITED
    status, so that none repeats one the CDK emitted."""
    last: dict[str, str] = {}
    seen: Counter = Counter()
    for message in out.messages:
        if message["type"] == "RECORD":
            stream = message["record"]["stream"]
            assert last.get(stream) == "RUNNING", f"a record of {stream} while it is {last.get(stream)}"
        elif message["type"] == "TRACE" and message["trace"]["type"] == "STREAM_STATUS":
            status = message["trace"]["stream_status"]
            stream, name = status["stream_descriptor"]["name"], status["status"]
            state = "RATE_LIMITED" if name == "RUNNING" and status.get("reasons") else name
            if state == "STARTED":
                assert stream not in last, f"{stream} started twice"
            elif state == "RUNNING":
                assert last.get(stream) in ("STARTED", "RATE_LIMITED"), (
                    f"{stream}: RUNNING after {last.get(stream)}"
                )
            elif state == "RATE_LIMITED":
                assert last.get(stream) in ("STARTED", "RUNNING", "RATE_LIMITED"), (stream, last.get(stream))
            seen[(stream, state)] += 1
            last[stream] = state
    for stream in streams:
        assert seen[(stream, "STARTED")] == 1 and seen[(stream, "COMPLETE")] == 1, seen
        assert last[stream] == "COMPLETE"
