"""Runs one command as a child process and takes its wall time, CPU time and peak RSS from `os.wait4`
(through `bench/launch.py`, which forks it from a small process: see there why)."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

LAUNCHER = Path(__file__).with_name("launch.py")


@dataclass
class Measured:
    returncode: int
    wall: float  # seconds, monotonic clock, from the command's spawn to its exit
    user: float  # CPU seconds in user mode
    system: float  # CPU seconds in the kernel
    max_rss_mb: float  # peak resident set size (ru_maxrss is in KiB on Linux)

    @property
    def cpu(self) -> float:
        return self.user + self.system


def run(
    argv: list[str],
    stdout: Path,
    stderr: Path,
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 3600,
) -> Measured:
    """stdout and stderr go to files (parsed afterwards), so reading them costs the measured tool nothing
    and takes no CPU from it while it runs."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        result = Path(f.name)
    try:
        with open(stdout, "wb") as out, open(stderr, "wb") as err:
            subprocess.run(
                [sys.executable, "-I", "-S", str(LAUNCHER), str(result), *argv],
                stdout=out,
                stderr=err,
                env=env,
                cwd=cwd,
                timeout=timeout,
                check=False,
            )
        usage = json.loads(result.read_text() or "{}")
    finally:
        result.unlink(missing_ok=True)
    if not usage:
        return Measured(-1, 0.0, 0.0, 0.0, 0.0)
    return Measured(
        usage["returncode"], usage["wall"], usage["user"], usage["system"], usage["max_rss_kb"] / 1024
    )
