"""pytest fixtures: ``pytest_plugins = ["wootric_emulator.pytest_plugin"]``.

* ``emulator``: a started :class:`Emulator` with the default demo dataset, one per test module.
* ``make_emulator(**kwargs)``: builds and starts an Emulator with the given arguments (``dataset=`` a
  :class:`DatasetSpec` or a dict of its fields); everything it started is stopped after the test.

Both put the emulator on a simulated clock (:class:`SharedClock`, see clock.py: it starts at the real time
and moves on only when a process sleeps) and set ``SIMULATED_CLOCK`` to it for the test (for the module, with
``emulator``), so that a connector command started with ``clock.SITE`` on its PYTHONPATH reads the same clock
(integration_tests/connector.py does so). The emulators one test makes share one clock, the test's;
``clock=`` chooses it: a :class:`SharedClock` becomes the test's clock, a :class:`SystemClock` is the real
clock, for the emulator and for the test's connector commands. A test or module marked ``real_clock`` gets
emulators on the system clock and no ``SIMULATED_CLOCK``. A module-scoped fixture that builds its own
Emulator gets a clock for it from ``simulated_clock``.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from .clock import SharedClock, SystemClock
from .data import DatasetSpec
from .emulator import Emulator

REAL_CLOCK = "real_clock"
CLOCK_VARIABLE = "SIMULATED_CLOCK"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{REAL_CLOCK}: the emulator fixtures use the system clock and set no {CLOCK_VARIABLE}"
    )


def on_real_clock(node: pytest.Item | pytest.Collector) -> bool:
    return node.get_closest_marker(REAL_CLOCK) is not None


@contextmanager
def simulated_clock(folder: Path, start: float | None = None) -> Iterator[SharedClock]:
    """A shared clock in `folder`, from `start` (epoch seconds; default: now), that SIMULATED_CLOCK names
    until the block ends: for an emulator and the connector commands of a module-scoped fixture."""
    clock = SharedClock(Path(folder) / "simulated-clock", start=time.time() if start is None else start)
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv(CLOCK_VARIABLE, str(clock.path))
            yield clock
    finally:
        clock.close()


@contextmanager
def _real_clock() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv(CLOCK_VARIABLE, raising=False)
        yield None


@pytest.fixture(scope="module")
def emulator(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    real = on_real_clock(request.node)
    with _real_clock() if real else simulated_clock(tmp_path_factory.mktemp("clock")) as clock:
        emu = Emulator(DatasetSpec(), clock=clock)
        emu.start()
        try:
            yield emu
        finally:
            emu.stop()


@pytest.fixture
def make_emulator(request: pytest.FixtureRequest, tmp_path, monkeypatch: pytest.MonkeyPatch):
    started: list[Emulator] = []
    made: list[SharedClock] = []  # the clock this fixture made for the test, closed after it
    real = on_real_clock(request.node)
    if real:
        monkeypatch.delenv(CLOCK_VARIABLE, raising=False)
    test_clock: SharedClock | SystemClock | None = SystemClock() if real else None

    def make(**kwargs) -> Emulator:
        nonlocal test_clock
        clock = kwargs.get("clock")
        if clock is None:
            if test_clock is None:
                made.append(SharedClock(tmp_path / "simulated-clock", start=time.time()))
                test_clock = made[0]
            clock = kwargs["clock"] = test_clock
        elif test_clock is None or isinstance(clock, SharedClock):
            test_clock = clock
        if isinstance(clock, SharedClock):
            monkeypatch.setenv(CLOCK_VARIABLE, str(clock.path))
        elif not real:  # the system clock, asked for: the test's connector commands read it too
            monkeypatch.delenv(CLOCK_VARIABLE, raising=False)
        emu = Emulator(**kwargs)
        gc.freeze()  # its records live as long as the test: the collector need not walk them on every pass
        emu.start()
        started.append(emu)
        return emu

    try:
        yield make
    finally:
        for emu in started:
            emu.stop()
        for clock in made:
            clock.close()
        gc.unfreeze()
