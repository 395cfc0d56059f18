"""poetry.lock is the source of truth for the dependencies: requirements.lock and requirements-dev.lock (what
scripts/setup.sh and the Dockerfile install with --require-hashes) are its exports (scripts/lock.sh), and
it still satisfies what pyproject.toml asks for. A file edited by hand, or one not re-exported after
`poetry lock`, fails here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import tomllib
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENT_LINE = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;\\]+)")
HASH = re.compile(r"--hash=(\S+)")

# (normalised name, version) -> the set of file hashes pip accepts for it
Pins = dict[tuple[str, str], frozenset[str]]


def exported_pins(text: str) -> Pins:
    """The pins of a requirements file with hashes: `name==version [; marker] \\` then `--hash=...` lines."""
    pins: dict[tuple[str, str], set[str]] = {}
    current: tuple[str, str] | None = None
    for line in text.splitlines():
        if match := REQUIREMENT_LINE.match(line):
            current = (canonicalize_name(match["name"]), match["version"])
            assert current not in pins, f"{current} is pinned twice"
            pins[current] = set()
        elif line.strip().startswith("--hash="):
            assert current is not None, f"a hash before any requirement: {line!r}"
            pins[current].update(HASH.findall(line))
        elif line.strip() and not line.lstrip().startswith("#"):
            raise AssertionError(f"an unexpected line in a requirements export: {line!r}")
    return {pin: frozenset(hashes) for pin, hashes in pins.items()}


def locked_pins(lock: dict, groups: set[str]) -> Pins:
    return {
        (canonicalize_name(package["name"]), package["version"]): frozenset(
            f["hash"] for f in package["files"]
        )
        for package in lock["package"]
        if groups & set(package["groups"])
    }


@pytest.fixture(scope="module")
def lock() -> dict:
    return tomllib.loads((ROOT / "poetry.lock").read_text())


@pytest.fixture(scope="module")
def poetry() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["poetry"]


def test_the_parser_reads_pins_and_hashes() -> None:
    text = (
        'numpy==2.2.6 ; python_version == "3.10" \\\n'
        "    --hash=sha256:aa \\\n"
        "    --hash=sha256:bb\n"
        "Requests_Mock==1.12.1 \\\n"
        "    --hash=sha256:cc\n"
    )
    assert exported_pins(text) == {
        ("numpy", "2.2.6"): frozenset({"sha256:aa", "sha256:bb"}),
        ("requests-mock", "1.12.1"): frozenset({"sha256:cc"}),
    }
    with pytest.raises(AssertionError, match="unexpected line"):
        exported_pins("requests>=2\n")


@pytest.mark.parametrize(
    ("export", "groups"),
    [("requirements.lock", {"main"}), ("requirements-dev.lock", {"main", "dev"})],
)
def test_exports_match_poetry_lock(lock: dict, export: str, groups: set[str]) -> None:
    """Every package of those groups, at the locked version, with every hash the lock knows; nothing else."""
    exported = exported_pins((ROOT / export).read_text())
    locked = locked_pins(lock, groups)
    assert set(exported) == set(locked), (
        f"{export} is not poetry.lock's export (run scripts/lock.sh --export): "
        f"only in {export}: {sorted(set(exported) - set(locked))}, "
        f"only in poetry.lock: {sorted(set(locked) - set(exported))}"
    )
    differing = sorted(pin for pin in locked if exported[pin] != locked[pin])
    assert not differing, f"{export}: other hashes than poetry.lock's for {differing}"


def test_the_runtime_export_holds_no_dev_package(lock: dict) -> None:
    runtime = {name for name, _ in exported_pins((ROOT / "requirements.lock").read_text())}
    dev_only = {canonicalize_name(p["name"]) for p in lock["package"] if p["groups"] == ["dev"]}
    assert {"pytest", "ruff", "hypothesis"} <= dev_only
    assert not runtime & dev_only


def test_poetry_lock_satisfies_pyproject(lock: dict, poetry: dict) -> None:
    """A dependency added or tightened in pyproject.toml without `poetry lock` (scripts/lock.sh) fails here."""
    assert lock["metadata"]["python-versions"] == poetry["dependencies"]["python"]
    versions: dict[str, list[Version]] = {}
    for package in lock["package"]:
        versions.setdefault(canonicalize_name(package["name"]), []).append(Version(package["version"]))
    declared = {
        **{k: v for k, v in poetry["dependencies"].items() if k != "python"},
        **poetry["group"]["dev"]["dependencies"],
    }
    assert "airbyte-cdk" in declared and "pytest" in declared
    for name, constraint in declared.items():
        specifier = SpecifierSet(constraint if isinstance(constraint, str) else constraint["version"])
        locked = versions.get(canonicalize_name(name), [])
        assert locked, f"{name} is declared in pyproject.toml but not locked"
        assert all(v in specifier for v in locked), (
            f"{name}: locked {locked}, pyproject.toml asks {specifier}"
        )
