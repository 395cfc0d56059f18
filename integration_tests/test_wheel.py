"""The wheel, as PyPI would ship it, holds the package and its data, installs in a clean venv with pip from
the locked dependencies (hash-checked, no index, as the Dockerfile installs it), and works there as the
development install does: spec, check, and a read of every stream from the emulator.

The wheel and the dependencies' wheels come from scripts/wheelhouse.sh (the `wheel` fixture; the dependencies
are downloaded once per requirements.lock, under .cache/wheelhouse)."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from email.parser import HeaderParser
from pathlib import Path

import pytest
import yaml

from integration_tests.connector import STREAMS, Output, all_streams, config_for, read, run

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.timeout(900)


def sh(*args: str | Path, timeout: float = 600) -> str:
    done = subprocess.run(
        [str(a) for a in args], cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, (
        f"{' '.join(map(str, args))} failed:\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}"
    )
    return done.stdout


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`source-wootric` of a fresh venv: the locked dependencies with --require-hashes, then the wheel."""
    venv = tmp_path_factory.mktemp("wheel") / "venv"
    sh(sys.executable, "-m", "venv", venv)
    pip = [venv / "bin" / "python", "-m", "pip", "--disable-pip-version-check", "install", "--no-index"]
    sh(*pip, "--find-links", wheel.parent, "--require-hashes", "-r", ROOT / "requirements.lock")
    sh(*pip, "--no-deps", wheel)
    sh(venv / "bin" / "python", "-m", "pip", "check")  # every dependency's own requirements are met
    return venv / "bin" / "source-wootric"


def test_wheel_holds_the_package_its_data_and_the_command(wheel: Path) -> None:
    package_files = sh(
        "git", "ls-files", "--cached", "--others", "--exclude-standard", "source_wootric"
    ).split()
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        dist_info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
        metadata = HeaderParser().parsestr(archive.read(f"{dist_info}/METADATA").decode())
        entry_points = archive.read(f"{dist_info}/entry_points.txt").decode()
    assert {n for n in names if not n.startswith(dist_info)} == set(package_files)
    schemas = {f"source_wootric/schemas/{stream}.json" for stream in STREAMS}  # one per stream
    assert "source_wootric/spec.yaml" in names and {n for n in names if n.endswith(".json")} == schemas
    registry = yaml.safe_load((ROOT / "metadata.yaml").read_text())["data"]
    assert (metadata["Name"], metadata["Version"]) == (
        registry["remoteRegistries"]["pypi"]["packageName"],
        registry["dockerImageTag"],
    )
    assert "source-wootric=source_wootric.run:run" in entry_points.replace(" ", "")


def spec_of(output: Output) -> dict:
    assert output.returncode == 0, output.stderr[-3000:]
    (spec,) = output.of_type("SPEC")
    return spec["spec"]["connectionSpecification"]


def test_installed_wheel_answers_spec_and_check(installed: Path, emulator, tmp_path: Path) -> None:
    spec = spec_of(run(["spec"], tmp_path, command=str(installed)))
    assert (
        spec == yaml.safe_load((ROOT / "source_wootric" / "spec.yaml").read_text())["connectionSpecification"]
    )
    checked = run(
        ["check", "--config", "config"], tmp_path, command=str(installed), config=config_for(emulator)
    )
    (status,) = checked.of_type("CONNECTION_STATUS")
    assert status["connectionStatus"]["status"] == "SUCCEEDED", checked.stdout[-3000:]


def test_installed_wheel_reads_what_the_development_install_reads(
    installed: Path, emulator, tmp_path: Path
) -> None:
    config, catalog = config_for(emulator), all_streams()
    from_wheel = read(tmp_path, config, catalog, command=str(installed))
    from_development = read(tmp_path, config, catalog)
    for output in (from_wheel, from_development):
        assert output.returncode == 0 and not output.errors, output.stderr[-3000:]
    assert from_wheel.records.keys() == from_development.records.keys() == set(STREAMS)
    for stream, records in from_development.records.items():
        assert records, stream
        assert sorted(map(json.dumps, from_wheel.records[stream])) == sorted(map(json.dumps, records)), stream
