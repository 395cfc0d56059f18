"""Every end-to-end test gets the emulator fixtures: `emulator` (per module) and `make_emulator(**kwargs)`, and
`wheel`: the connector's wheel, built once per session from the working tree (scripts/wheelhouse.sh) in a
wheelhouse beside the wheels of its locked dependencies."""

import subprocess
from pathlib import Path

import pytest

pytest_plugins = ["wootric_emulator.pytest_plugin"]

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def wheel() -> Path:
    built = subprocess.run(
        ["bash", "scripts/wheelhouse.sh"], cwd=ROOT, capture_output=True, text=True, timeout=900, check=False
    )
    assert built.returncode == 0, f"scripts/wheelhouse.sh failed:\n{built.stdout}\n{built.stderr[-5000:]}"
    return ROOT / built.stdout.strip().splitlines()[-1]
