"""The three tools, each run as a child process against the emulator: our connector, the Singer tap and
the floor loop. Each run reads what the tool wrote (records, state, errors) once the tool has exited."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from bench import measure, oracle
from bench.datasets import Dataset

try:
    from orjson import loads
except ImportError:  # pragma: no cover - orjson comes with the CDK
    from json import loads

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
CONNECTOR = str(VENV_BIN / "source-wootric")
TIMEZONE = "America/Los_Angeles"
CLIENT = {"client_id": "demo-client-id", "client_secret": "demo-client-secret"}
ALL_CONNECTOR_STREAMS = (
    "end_users",
    "end_users_properties",
    "responses",
    "declines",
    "segments",
    "nps_summary",
    "email_stats",
    "email_send_sources",
)
SLOPE_STREAMS = ("end_users", "responses")


@dataclass
class Output:
    """What a tool emitted: the keys of its records per stream, its last state, its errors."""

    keys: dict[str, list[Any]] = field(default_factory=lambda: defaultdict(list))
    state: Any = None
    errors: list[str] = field(default_factory=list)


@dataclass
class ToolRun:
    measured: measure.Measured
    output: Output
    stderr_tail: str


def _tail(path: Path, lines: int = 15) -> str:
    with open(path, "rb") as f:
        f.seek(max(0, path.stat().st_size - 20_000))
        return b"\n".join(f.read().splitlines()[-lines:]).decode("utf-8", "replace")


def _finish(measured: measure.Measured, output: Output, stdout: Path, stderr: Path, keep: bool) -> ToolRun:
    run = ToolRun(measured, output, _tail(stderr))
    if not keep:
        stdout.unlink(missing_ok=True)
    return run


# -- our connector -------------------------------------------------------------------------------------
@cache
def _discovered() -> dict[str, dict[str, Any]]:
    """The streams as `discover` describes them; once per benchmark run, with retries (others may be
    reinstalling the package in this shared tree at that very moment)."""
    config = {
        "credentials": {"auth_type": "client_credentials", **CLIENT},
        "start_date": "2020-01-01T00:00:00Z",
    }
    for attempt in range(3):
        done = subprocess.run(
            [CONNECTOR, "discover", "--config", "/dev/stdin"],
            input=json.dumps(config),
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode == 0 and '"CATALOG"' in done.stdout:
            catalog = next(loads(line)["catalog"] for line in done.stdout.splitlines() if '"CATALOG"' in line)
            return {stream["name"]: stream for stream in catalog["streams"]}
        time.sleep(5 * (attempt + 1))
    raise RuntimeError(f"source-wootric discover failed ({done.returncode}):\n{done.stderr[-2000:]}")


def connector_catalog(streams: tuple[str, ...]) -> dict[str, Any]:
    """The configured catalog of `streams`, incremental where supported (as a platform would set it)."""
    found = _discovered()
    configured = []
    for name in streams:
        stream = found[name]
        mode = "incremental" if "incremental" in stream["supported_sync_modes"] else "full_refresh"
        configured.append(
            {
                "stream": stream,
                "sync_mode": mode,
                "destination_sync_mode": "append_dedup" if mode == "incremental" else "overwrite",
                "primary_key": stream.get("source_defined_primary_key", []),
                "cursor_field": stream.get("default_cursor_field", []),
            }
        )
    return {"streams": configured}


def _airbyte_key(stream: str, data: dict[str, Any]) -> Any:
    if stream == "end_users_properties":
        return (data.get("end_user_id"), data.get("property_key"))
    if stream == "segments":
        return data.get("name")
    if stream in ("nps_summary", "email_stats"):
        return data.get("period_start")
    if stream == "email_send_sources":
        return (data.get("source_type"), data.get("id"))
    return data.get("id")


def read_airbyte(stdout: Path) -> Output:
    output = Output()
    states: dict[str, Any] = {}
    with open(stdout, "rb") as f:
        for line in f:
            if not line.startswith(b"{"):
                continue
            message = loads(line)
            kind = message.get("type")
            if kind == "RECORD":
                record = message["record"]
                output.keys[record["stream"]].append(_airbyte_key(record["stream"], record["data"]))
            elif kind == "STATE":
                state = message["state"]
                states[state["stream"]["stream_descriptor"]["name"]] = state
            elif kind == "TRACE" and message["trace"].get("type") == "ERROR":
                output.errors.append(message["trace"]["error"].get("message", "?"))
    output.state = list(states.values())
    return output


def run_connector(
    dataset: Dataset,
    url: str,
    work: Path,
    streams: tuple[str, ...],
    state: Any = None,
    keep: bool = False,
    overrides: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
) -> ToolRun:
    work.mkdir(parents=True, exist_ok=True)
    config = {
        "credentials": {"auth_type": "client_credentials", **CLIENT},
        "start_date": dataset.start_date,
        "base_url": url,
        "account_timezone": TIMEZONE,
        **(overrides or {}),
    }
    (work / "config.json").write_text(json.dumps(config))
    (work / "catalog.json").write_text(json.dumps(connector_catalog(streams)))
    argv = [CONNECTOR, "read", "--config", str(work / "config.json"), "--catalog", str(work / "catalog.json")]
    if state is not None:
        (work / "state.json").write_text(json.dumps(state))
        argv += ["--state", str(work / "state.json")]
    stdout, stderr = work / "stdout.jsonl", work / "stderr.txt"
    measured = measure.run(argv, stdout, stderr, cwd=ROOT, env={**os.environ, **env} if env else None)
    return _finish(measured, read_airbyte(stdout), stdout, stderr, keep)


def connector_startup(work: Path) -> measure.Measured:
    work.mkdir(parents=True, exist_ok=True)
    return measure.run([CONNECTOR, "spec"], work / "spec.out", work / "spec.err", cwd=ROOT)


# -- the Singer tap ------------------------------------------------------------------------------------
def tap_python() -> str | None:
    """The tap's venv, built by scripts/tap_venv.sh (idempotent); None when it cannot be built."""
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "tap_venv.sh")], cwd=ROOT, capture_output=True, text=True, timeout=900
    )
    if done.returncode != 0:
        print(
            f"bench: scripts/tap_venv.sh failed, the Singer tap is skipped:\n{done.stderr[-2000:]}",
            file=sys.stderr,
        )
        return None
    venv = Path(done.stdout.strip().splitlines()[-1])
    python = (venv if venv.is_absolute() else ROOT / venv) / "bin" / "python"
    return str(python) if python.exists() else None


def read_singer(stdout: Path, stderr: Path) -> Output:
    output = Output()
    with open(stdout, "rb") as f:
        for line in f:
            if not line.startswith(b"{"):
                continue
            message = loads(line)
            if message.get("type") == "RECORD":
                output.keys[message["stream"]].append(message["record"].get("id"))
            elif message.get("type") == "STATE":
                output.state = message["value"]
    for line in _tail(stderr, 40).splitlines():
        if line.startswith("CRITICAL") or "Error" in line.split(":", 1)[0]:
            output.errors.append(line.strip()[:300])
    return output


def run_tap(
    python: str, dataset: Dataset, url: str, work: Path, state: Any = None, keep: bool = False
) -> ToolRun:
    work.mkdir(parents=True, exist_ok=True)
    (work / "config.json").write_text(json.dumps({**CLIENT, "start_date": dataset.start_date}))
    argv = [
        python,
        str(ROOT / "scripts" / "singer_tap.py"),
        "--base-url",
        url,
        "--config",
        str(work / "config.json"),
    ]
    if state is not None:
        (work / "state.json").write_text(json.dumps(state))
        argv += ["--state", str(work / "state.json")]
    stdout, stderr = work / "stdout.jsonl", work / "stderr.txt"
    env = {k: v for k, v in os.environ.items() if k != "WOOTRIC_BASE_URL"}
    measured = measure.run(argv, stdout, stderr, env=env, cwd=ROOT)
    return _finish(measured, read_singer(stdout, stderr), stdout, stderr, keep)


def tap_startup(python: str, work: Path) -> measure.Measured:
    work.mkdir(parents=True, exist_ok=True)
    return measure.run(
        [python, str(ROOT / "scripts" / "singer_tap.py"), "--discover"],
        work / "spec.out",
        work / "spec.err",
        cwd=ROOT,
    )


# -- the floor loop ------------------------------------------------------------------------------------
def run_floor(url: str, work: Path, requests: list[dict[str, Any]], keep: bool = False) -> ToolRun:
    work.mkdir(parents=True, exist_ok=True)
    plan = {
        "base_url": url,
        "token_form": {"grant_type": "client_credentials", **CLIENT},
        "requests": requests,
    }
    (work / "plan.json").write_text(json.dumps(plan))
    out, stdout, stderr = work / "ids.json", work / "stdout.txt", work / "stderr.txt"
    out.unlink(missing_ok=True)
    measured = measure.run(
        [sys.executable, str(ROOT / "bench" / "floor.py"), str(work / "plan.json"), str(out)],
        stdout,
        stderr,
        cwd=ROOT,
    )
    output = Output()
    if out.exists():
        for stream, keys in json.loads(out.read_text()).items():
            output.keys[stream] = keys
        if not keep:
            out.unlink()
    if measured.returncode:
        output.errors.append(_tail(stderr, 3))
    return _finish(measured, output, stdout, stderr, keep)


def floor_startup(url: str, work: Path) -> measure.Measured:
    return run_floor(url, work, []).measured


def floor_requests(
    data: dict[str, Any], dataset: Dataset, streams: tuple[str, ...] | None = None, after: int | None = None
) -> list[dict[str, Any]]:
    requests = oracle.plan(data, dataset.start - 86_400, TIMEZONE, after)
    return [r for r in requests if streams is None or r["stream"] in streams]
