"""Test-only: with this folder on PYTHONPATH and SIMULATED_CLOCK naming a shared clock file (see ../clock.py),
a Python process reads the time from that clock: `time.time`, `time.monotonic` (which also runs with real time,
a little), their `_ns` forms and `datetime.now`/`utcnow`/`today` show it, and `time.sleep` moves it on at once
instead of waiting. Time then
passes only by sleeps, the connector's and the emulator's (its latency, its slow answers), never by CPU work.
A socket read with a timeout times out when its answer came later than that on the clock (`read_timeouts`).

Nothing in the connector reads SIMULATED_CLOCK: this file is imported by Python's `site` at start-up, before
the connector's modules, so they see the patched functions. Imported under another name (as
`wootric_emulator.simulated_clock.sitecustomize`, by `clock.simulated_time`), it patches nothing by itself:
`install` patches this process until the function it returns is called.
"""

import datetime
import importlib.util
import os
import queue  # noqa: F401  imported first: it keeps the real monotonic clock for its timeouts
import socket
import threading  # noqa: F401  likewise: a timed wait must not spin on a clock that stands still
import time
import weakref
from pathlib import Path

_TIME_FUNCTIONS = ("time", "monotonic", "time_ns", "monotonic_ns", "sleep")


def _shared_clock(path: str):
    spec = importlib.util.spec_from_file_location("_shared_clock", Path(__file__).parent.parent / "clock.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.SharedClock(path)


def install(clock):
    """Makes this process's `time` and `datetime.datetime` read `clock`; returns the function that undoes it
    (functions taken before, as `from time import monotonic`, keep the real clock either way)."""
    real = datetime.datetime
    saved = {name: getattr(time, name) for name in _TIME_FUNCTIONS}

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

    # The monotonic clock also runs with real time, a little: output buffers that flush every so many
    # monotonic seconds (the CDK's PrintBuffer) must not hold a whole sync's output while no sleep happens.
    real_monotonic, started = saved["monotonic"], saved["monotonic"]()
    time.time = clock.time
    time.monotonic = lambda: clock.time() + real_monotonic() - started
    time.time_ns = lambda: int(clock.time() * 1e9)
    time.monotonic_ns = lambda: int(time.monotonic() * 1e9)
    time.sleep = clock.sleep
    datetime.datetime = SimulatedDatetime

    def uninstall() -> None:
        for name, function in saved.items():
            setattr(time, name, function)
        datetime.datetime = real

    return uninstall


def read_timeouts(clock) -> None:
    """A read on a plain socket with a timeout (a client's read timeout) raises TimeoutError when the clock
    moved on by more than that timeout since the socket last sent or received: the emulator's slow answers
    cost no real time, so the real timer would never fire. The answer's bytes are dropped with the
    connection, as a client drops a connection whose read timed out. TLS sockets keep the real timer."""
    last_active = weakref.WeakKeyDictionary()  # socket -> the clock when it last sent or received
    real_sendall, real_recv_into = socket.socket.sendall, socket.socket.recv_into

    def sendall(self, data, flags=0):
        last_active[self] = clock.time()  # before the peer can see the data, and answer (or sleep)
        return real_sendall(self, data, flags)

    def recv_into(self, buffer, nbytes=0, flags=0):
        received = real_recv_into(self, buffer, nbytes, flags)
        now, timeout = clock.time(), self.gettimeout()
        if timeout and now - last_active.get(self, now) > timeout:
            raise TimeoutError("timed out")
        last_active[self] = now
        return received

    socket.socket.sendall = sendall
    socket.socket.recv_into = recv_into


if __name__ == "sitecustomize" and os.environ.get("SIMULATED_CLOCK"):
    _clock = _shared_clock(os.environ["SIMULATED_CLOCK"])
    install(_clock)
    read_timeouts(_clock)
