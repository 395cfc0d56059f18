"""The emulator's clocks: the system's, or one that several processes share, in which time moves only when
one of them sleeps (a request's latency, a connector's wait for the rate limit), so that a sync of hours runs
in seconds and the same way every time.

The shared clock is an 8-byte file holding the epoch seconds it shows. The emulator reads it directly; a
connector process reads it through `simulated_clock/sitecustomize.py` (test-only), which patches the
process's `time` and `datetime` with it; `simulated_time` does the same in this process, for a block.
"""

from __future__ import annotations

import fcntl
import mmap
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_SECONDS = struct.Struct("d")
# With this folder on PYTHONPATH and SIMULATED_CLOCK set, a Python process reads the shared clock.
SITE = Path(__file__).resolve().parent / "simulated_clock"


class SystemClock:
    """The real clock."""

    def time(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class SharedClock:
    """A clock kept in `path`, shared by every process that opens it; `start` (epoch seconds) creates it."""

    def __init__(self, path: str | Path, start: float | None = None):
        self.path = Path(path)
        if start is not None:
            self.path.write_bytes(_SECONDS.pack(float(start)))
        self._file = open(self.path, "r+b")  # noqa: SIM115 (kept open: the map needs it)
        self._map = mmap.mmap(self._file.fileno(), _SECONDS.size)
        self._lock = threading.Lock()  # flock does not exclude threads that share one file

    def time(self) -> float:
        return _SECONDS.unpack_from(self._map)[0]

    def sleep(self, seconds: float) -> None:
        """Moves the clock on by `seconds` at once: a sleep costs no real time."""
        if seconds <= 0:
            return
        with self._lock:
            fcntl.flock(self._file, fcntl.LOCK_EX)
            try:
                _SECONDS.pack_into(self._map, 0, self.time() + seconds)
            finally:
                fcntl.flock(self._file, fcntl.LOCK_UN)

    def env(self) -> dict[str, str]:
        """The environment that makes a Python process read this clock (see simulated_clock/)."""
        return {"PYTHONPATH": str(SITE), "SIMULATED_CLOCK": str(self.path)}

    def close(self) -> None:
        self._map.close()
        self._file.close()


@contextmanager
def simulated_time(clock: SharedClock) -> Iterator[SharedClock]:
    """Within the block, this process's `time.time`, `time.monotonic`, `time.sleep` and `datetime.now` read
    `clock` (for a connector run in-process), with simulated_clock/sitecustomize.py's patching; functions
    taken from `time` before (`from time import monotonic`, a default argument) keep the real clock."""
    from .simulated_clock import sitecustomize

    undo = sitecustomize.install(clock)
    try:
        yield clock
    finally:
        undo()
