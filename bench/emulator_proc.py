"""The emulator in a process of its own (`python -m wootric_emulator`), driven through its control
endpoints, so that the CPU and memory measured for a tool are the tool's alone."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench.datasets import Dataset
from wootric_emulator.clock import SharedClock

ROOT = Path(__file__).resolve().parents[1]


def _loads(data: bytes) -> Any:
    try:
        import orjson

        return orjson.loads(data)
    except ImportError:  # pragma: no cover - orjson comes with the CDK
        return json.loads(data)


class EmulatorProcess:
    """The emulator's process, on a clock it shares with the connector runs that ask for it (`clock.env()`):
    the real time until a run moves it on (the backdated runs: an hour, a week after a sync)."""

    def __init__(self, dataset: Dataset):
        self.dataset = dataset
        self.proc: subprocess.Popen | None = None
        self.url = ""
        self.startup_seconds = 0.0
        self._folder = tempfile.TemporaryDirectory()
        self.clock = SharedClock(Path(self._folder.name) / "clock", start=time.time())

    def __enter__(self) -> EmulatorProcess:
        started = time.monotonic()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "wootric_emulator",
                *self.dataset.emulator_args(),
                "--clock",
                str(self.clock.path),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if not line.startswith("http"):
            self.proc.kill()
            _, err = self.proc.communicate()
            raise RuntimeError(f"the emulator did not start: {line!r}\n{err[-2000:]}")
        self.url = line
        self.startup_seconds = time.monotonic() - started
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    # -- control endpoints (not counted, never faulted) -----------------------------------------------
    def _call(self, method: str, path: str, timeout: float = 300) -> Any:
        request = urllib.request.Request(
            f"{self.url}/_emulator/{path}", method=method, data=b"" if method == "POST" else None
        )
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return _loads(answer.read())

    def counters(self) -> dict[str, dict[str, int]]:
        return self._call("GET", "counters")

    def reset_counters(self) -> None:
        self._call("POST", "reset_counters")

    def data(self) -> dict[str, list[dict[str, Any]]]:
        return self._call("GET", "data")

    def update_users(self, n: int, *, seed: int, at: int) -> list[int]:
        return self._call("POST", f"update_users?n={n}&seed={seed}&at={at}")["ids"]

    def add_backdated(self, kind: str, n: int, created_at: int, *, seed: int, at: int) -> list[int]:
        query = f"kind={kind}&n={n}&created_at={created_at}&seed={seed}&at={at}"
        return self._call("POST", f"add_backdated?{query}")["ids"]
