"""Runs `source-wootric` commands as forks of a process that has imported the connector already: a command then
costs its own work, not Python's start-up and the CDK's import (about 1.5 s of CPU each, for some 200 commands
in the suite). The fork runs what the console script runs, `sys.exit(source_wootric.run.run())`, with the
command's argv, environment, working folder, stdin, stdout and stderr, and exits as it does: an uncaught
exception through `sys.excepthook` (which the CDK sets), then the interpreter's exit handlers. The wheel, the
image, PyAirbyte, the Singer tap and the commands a test kills start processes of their own.

A command on a simulated clock (SIMULATED_CLOCK) forks from a server whose `time` and `datetime` were patched,
before the connector was imported, with a clock the fork then points at the test's (as a command started with
wootric_emulator/simulated_clock on its PYTHONPATH is patched before its imports).

    python -m integration_tests.forkserver [--simulated-clock]     (started by `forked`, one per caller)
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
_idle: dict[bool, list[subprocess.Popen[str]]] = {False: [], True: []}
_lock = threading.Lock()


# -- the client: what connector.run calls ----------------------------------------------------------------
def forked(argv: list[str], env: dict[str, str], cwd: Path, timeout: float) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of the command `argv` run in a fork; subprocess.TimeoutExpired after
    `timeout` seconds, as subprocess.run raises it."""
    simulated = bool(env.get("SIMULATED_CLOCK"))
    server = _checkout(simulated)
    out, err = _temp_file(".out"), _temp_file(".err")
    job = {"argv": argv, "env": env, "cwd": str(cwd), "stdout": str(out), "stderr": str(err)}
    assert server.stdin is not None and server.stdout is not None
    server.stdin.write(json.dumps(job) + "\n")
    server.stdin.flush()
    pid = json.loads(server.stdout.readline())["pid"]
    if not select.select([server.stdout], [], [], timeout)[0]:
        os.kill(pid, signal.SIGKILL)
        server.stdout.readline()
        _checkin(simulated, server)
        raise subprocess.TimeoutExpired(argv, timeout)
    returncode = json.loads(server.stdout.readline())["returncode"]
    _checkin(simulated, server)
    try:
        return returncode, out.read_text(), err.read_text()
    finally:
        out.unlink()
        err.unlink()


def _temp_file(suffix: str) -> Path:
    fd, name = tempfile.mkstemp(prefix="forked-", suffix=suffix)
    os.close(fd)
    return Path(name)


def _checkout(simulated: bool) -> subprocess.Popen[str]:
    with _lock:
        if _idle[simulated]:
            return _idle[simulated].pop()
    env = {key: value for key, value in os.environ.items() if key not in ("SIMULATED_CLOCK", "PYTHONPATH")}
    command = [
        sys.executable,
        "-m",
        "integration_tests.forkserver",
        *(["--simulated-clock"] if simulated else []),
    ]
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )


def _checkin(simulated: bool, server: subprocess.Popen[str]) -> None:
    with _lock:
        _idle[simulated].append(server)


# -- the server --------------------------------------------------------------------------------------------
class SwitchedClock:
    """The real clock until a fork switches it to the shared clock its command runs on."""

    def __init__(self) -> None:
        import time

        self.shared: Any = None
        self._real_time, self._real_sleep = time.time, time.sleep

    def time(self) -> float:
        return self.shared.time() if self.shared is not None else self._real_time()

    def sleep(self, seconds: float) -> None:
        if self.shared is not None:
            self.shared.sleep(seconds)
        else:
            self._real_sleep(seconds)


def serve(simulated: bool) -> None:
    jobs, replies = os.fdopen(os.dup(0), "r"), os.fdopen(os.dup(1), "w")
    os.dup2(os.open(os.devnull, os.O_RDWR), 1)  # nothing but the replies reaches the client's pipe
    clock = None
    if simulated:
        from wootric_emulator.simulated_clock import sitecustomize

        clock = SwitchedClock()
        sitecustomize.install(clock)
    from source_wootric import run  # what each command would import

    for line in jobs:
        job = json.loads(line)
        pid = os.fork()
        # In the fork: the command, which exits as the console script does; nothing brings it back to this loop.
        if pid == 0:
            jobs.close()
            replies.close()
            _enter(job, clock)
            sys.exit(run.run())
        replies.write(json.dumps({"pid": pid}) + "\n")
        replies.flush()
        _, status = os.waitpid(pid, 0)
        replies.write(json.dumps({"returncode": os.waitstatus_to_exitcode(status)}) + "\n")
        replies.flush()


def _enter(job: dict[str, Any], clock: SwitchedClock | None) -> None:
    """In the fork: the command's files, environment, folder, argv and clock."""
    for fd, path, flags in (
        (0, os.devnull, os.O_RDONLY),
        (1, job["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
        (2, job["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
    ):
        os.dup2(os.open(path, flags, 0o600), fd)
    os.environ.clear()
    os.environ.update(job["env"])
    os.chdir(job["cwd"])
    sys.argv = job["argv"]
    if clock is not None:
        from wootric_emulator.clock import SharedClock
        from wootric_emulator.simulated_clock import sitecustomize

        clock.shared = SharedClock(os.environ["SIMULATED_CLOCK"])
        sitecustomize.read_timeouts(clock.shared)


if __name__ == "__main__":
    serve("--simulated-clock" in sys.argv)
