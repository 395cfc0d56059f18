"""Every end-to-end test gets the emulator fixtures: `emulator` (per module) and `make_emulator(**kwargs)`, which
run the emulator and the test's connector commands on one simulated clock (wootric_emulator/pytest_plugin.py),
and `wheel`: the connector's wheel, built once per session from the working tree (scripts/wheelhouse.sh) in a
wheelhouse beside the wheels of its locked dependencies."""

import subprocess
from pathlib import Path

import pytest

pytest_plugins = ["wootric_emulator.pytest_plugin"]

ROOT = Path(__file__).resolve().parent.parent
# The emulator's own tests run no connector and check it in real seconds (token lifetimes, rate-limit windows,
# slow answers, the time of updates): their emulators keep the system clock.
REAL_CLOCK_MODULES = ("test_emulator.py", "test_emulator_behaviours.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    modules = {item.getparent(pytest.Module) for item in items}
    for module in modules:
        if module is not None and module.path.name in REAL_CLOCK_MODULES:
            module.add_marker(pytest.mark.real_clock)


@pytest.fixture(scope="session")
def wheel() -> Path:
    built = subprocess.run(
        ["bash", "scripts/wheelhouse.sh"], cwd=ROOT, capture_output=True, text=True, timeout=900, check=False
    )
    assert built.returncode == 0, f"scripts/wheelhouse.sh failed:\n{built.stdout}\n{built.stderr[-5000:]}"
    return ROOT / built.stdout.strip().splitlines()[-1]
