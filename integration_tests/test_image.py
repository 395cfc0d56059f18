"""The container image: builds with podman on the (local stand-in of the) Python connector base, and reads
from an emulated account exactly the records the package reads outside it. All the work is in
scripts/image_test.sh, which this test runs; it fails when the script fails."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "image_test.sh"

TIMEOUT = 20 * 60


@pytest.mark.timeout(TIMEOUT + 60)
def test_image_builds_and_reads_like_the_package() -> None:
    if sys.platform != "linux":
        pytest.skip("podman with runc: Linux only")
    env = {
        **os.environ,
        "PYTHON": sys.executable,
        "LOCAL_SOURCE": str(Path(sys.executable).parent / "source-wootric"),
    }
    started = time.monotonic()
    try:
        result = subprocess.run(
            ["bash", str(SCRIPT)],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"scripts/image_test.sh ran over {TIMEOUT} s:\n{exc.stdout or ''}\n{exc.stderr or ''}")
    elapsed = time.monotonic() - started
    output = f"{result.stdout}\n{result.stderr}"
    print(output)
    print(f"scripts/image_test.sh: {elapsed:.0f} s")
    assert result.returncode == 0, f"scripts/image_test.sh exited {result.returncode}:\n{output[-6000:]}"
    assert "identical:" in result.stdout
    assert "image_test: OK" in result.stdout
