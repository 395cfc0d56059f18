"""pytest fixtures: ``pytest_plugins = ["wootric_emulator.pytest_plugin"]``.

* ``emulator``: a started :class:`Emulator` with the default demo dataset, one per test module.
* ``make_emulator(**kwargs)``: builds and starts an Emulator with the given arguments (``dataset=`` a
  :class:`DatasetSpec` or a dict of its fields); everything it started is stopped after the test.
"""

from __future__ import annotations

import pytest

from .data import DatasetSpec
from .emulator import Emulator


@pytest.fixture(scope="module")
def emulator():
    emu = Emulator(DatasetSpec())
    emu.start()
    try:
        yield emu
    finally:
        emu.stop()


@pytest.fixture
def make_emulator():
    started: list[Emulator] = []

    def make(**kwargs) -> Emulator:
        emu = Emulator(**kwargs)
        emu.start()
        started.append(emu)
        return emu

    try:
        yield make
    finally:
        for emu in started:
            emu.stop()
