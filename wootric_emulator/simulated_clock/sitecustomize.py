"""Test-only: with this folder on PYTHONPATH and SIMULATED_CLOCK naming a shared clock file (see ../clock.py),
a Python process reads the time from that clock: `time.time`, `time.monotonic`, their `_ns` forms and
`datetime.now`/`utcnow`/`today` show it, and `time.sleep` moves it on at once instead of waiting. Time then
passes only by sleeps, the connector's and the emulator's (its latency), never by CPU work.

Nothing in the connector reads SIMULATED_CLOCK: this file is imported by Python's `site` at start-up, before
the connector's modules, so they see the patched functions.
"""

import datetime
import importlib.util
import os
import queue  # noqa: F401  imported first: it keeps the real monotonic clock for its timeouts
import threading  # noqa: F401  likewise: a timed wait must not spin on a clock that stands still
import time
from pathlib import Path


def _shared_clock(path: str):
    spec = importlib.util.spec_from_file_location("_shared_clock", Path(__file__).parent.parent / "clock.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.SharedClock(path)


def install(clock) -> None:
    real = datetime.datetime

    class _Datetime(type):
        def __instancecheck__(cls, obj):
            return isinstance(obj, real)

        def __subclasscheck__(cls, sub):
            return issubclass(sub, real)

    class SimulatedDatetime(real, metaclass=_Datetime):
        @classmethod
        def now(cls, tz=None):
            return real.fromtimestamp(clock.time(), tz)

        @classmethod
        def utcnow(cls):
            return real.fromtimestamp(clock.time(), datetime.timezone.utc).replace(tzinfo=None)

        @classmethod
        def today(cls):
            return real.fromtimestamp(clock.time())

    time.time = time.monotonic = clock.time
    time.time_ns = time.monotonic_ns = lambda: int(clock.time() * 1e9)
    time.sleep = clock.sleep
    datetime.datetime = SimulatedDatetime


if os.environ.get("SIMULATED_CLOCK"):
    install(_shared_clock(os.environ["SIMULATED_CLOCK"]))
