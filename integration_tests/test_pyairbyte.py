"""PyAirbyte, a real Airbyte client, syncs every stream of source-wootric from an emulated account into its
default DuckDB cache; the cache then holds exactly the account's data, NPS by month computed in DuckDB
matches the account's, and a second sync into the same cache (PyAirbyte sends back the saved state) brings
the changed users, their properties and the edited responses without duplicating anything.

PyAirbyte also installs the connector itself from a pip URL (the wheel in a wheelhouse, offline) and reads it.

PyAirbyte lives in its own venv (scripts/pyairbyte_venv.sh: ~600 MB, built once and reused), so it runs
as a subprocess: scripts/pyairbyte_read.py reads and queries the cache, and writes a JSON report that this
test checks against the emulator's data. PYAIRBYTE_EXECUTABLE overrides the connector command it runs.

PyAirbyte itself keeps the real clock; where a test gives its emulator a simulated clock, the connector
command PyAirbyte runs reads that clock (through a wrapper that sets its environment).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import time
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
import tomllib

from integration_tests.connector import CLOCK_MARGIN, STREAMS
from wootric_emulator import DatasetSpec, Emulator
from wootric_emulator.clock import SharedClock

ROOT = Path(__file__).resolve().parent.parent
READ_SCRIPT = ROOT / "scripts" / "pyairbyte_read.py"
TZ = "America/Los_Angeles"
START_DATE = "2018-12-01T00:00:00Z"
START = int(datetime(2018, 12, 1, tzinfo=timezone.utc).timestamp())
USERS = 300

pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope="module")
def pyairbyte_python() -> Path:
    started = time.monotonic()
    built = subprocess.run(
        ["bash", str(ROOT / "scripts" / "pyairbyte_venv.sh")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        stdin=subprocess.DEVNULL,
    )
    assert built.returncode == 0, f"scripts/pyairbyte_venv.sh failed:\n{built.stdout}\n{built.stderr[-4000:]}"
    venv = Path(built.stdout.strip().splitlines()[-1])
    venv = venv if venv.is_absolute() else ROOT / venv
    print(f"PyAirbyte venv {venv} ready in {time.monotonic() - started:.0f} s")
    return venv / "bin" / "python"


def on_clock(executable: str, clock: SharedClock, tmp_path: Path) -> str:
    """A command that runs `executable` on `clock` (and PyAirbyte, which runs it, on the real one)."""
    wrapper = tmp_path / "on-the-clock" / "source-wootric"
    wrapper.parent.mkdir(exist_ok=True)
    variables = " ".join(f"{name}={shlex.quote(value)}" for name, value in clock.env().items())
    wrapper.write_text(f'#!/bin/sh\nexec env {variables} {shlex.quote(executable)} "$@"\n')
    wrapper.chmod(0o755)
    return str(wrapper)


def pyairbyte_read(
    python: Path,
    config: dict,
    tmp_path: Path,
    name: str,
    pip_url: str | None = None,
    clock: SharedClock | None = None,
) -> dict:
    """One read by PyAirbyte, with the connector as a local executable (on `clock` if one is given), or
    installed from `pip_url` into a venv that PyAirbyte makes in tmp_path (with the `uv` of PyAirbyte's own
    venv, offline)."""
    config_path, report_path = tmp_path / f"{name}-config.json", tmp_path / f"{name}-report.json"
    config_path.write_text(json.dumps(config))
    env = {
        **os.environ,
        "PATH": f"{python.parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "UV_OFFLINE": "1",
        "AIRBYTE_OFFLINE_MODE": "1",
        "DO_NOT_TRACK": "1",
        "AIRBYTE_CACHE_ROOT": str(tmp_path / "cache"),
        "AIRBYTE_LOGGING_ROOT": str(tmp_path / "logs"),
        "AIRBYTE_TEMP_DIR": str(tmp_path / "tmp"),
    }
    (tmp_path / "tmp").mkdir(exist_ok=True)
    command = [str(python), str(READ_SCRIPT), "--config", str(config_path), "--report", str(report_path)]
    if pip_url:
        assert clock is None, "PyAirbyte runs a connector it installed itself on the real clock"
        command += ["--pip-url", pip_url]
    else:
        executable = os.environ.get("PYAIRBYTE_EXECUTABLE") or str(python.parent / "source-wootric")
        command += ["--executable", on_clock(executable, clock, tmp_path) if clock else executable]
    started = time.monotonic()
    done = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL
    )
    logs = "\n".join(p.read_text(errors="replace")[-3000:] for p in (tmp_path / "logs").rglob("*.log"))
    assert done.returncode == 0, (
        f"PyAirbyte read failed:\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}\n{logs}"
    )
    print(
        f"{name}: {done.stdout.strip().splitlines()[-1]} ({time.monotonic() - started:.1f} s with start-up)"
    )
    return json.loads(report_path.read_text())


def property_text(value: object) -> str | None:
    """Custom property values arrive as text: strings as they are, anything else as compact JSON."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def expected_nps_by_month(emu: Emulator) -> dict[str, dict]:
    """Recomputed from the responses as the API serves them: the month is the local date part of each
    created_at string (all three of Wootric's formats start with YYYY-MM), which is in the account's zone."""
    months: dict[str, Counter] = {}
    for response in emu.responses:
        if emu.epoch(response["created_at"]) < START or response["excluded_from_calculations"]:
            continue
        counter = months.setdefault(response["created_at"][:7], Counter())
        counter["responses"] += 1
        score = response["score"]
        counter["promoters" if score >= 9 else "passives" if score >= 7 else "detractors"] += 1
    return {
        month: {
            "responses": c["responses"],
            "promoters": c["promoters"],
            "detractors": c["detractors"],
            "nps": round(100 * (c["promoters"] - c["detractors"]) / c["responses"]),
        }
        for month, c in sorted(months.items())
    }


def wall_time(api_value: str) -> str:
    """The local wall time of a datetime as the API serves it (`2018-01-02 23:03:41 -0800`, the offset-less
    `2014-12-01 18:36:59`, or `2015-02-12T06:29:27.000-08:00`): what PyAirbyte's DuckDB cache keeps."""
    return api_value[:19].replace("T", " ")


def as_list(value: object) -> object:
    """A JSON array column comes back from the cache as a list or as its JSON text."""
    return json.loads(value) if isinstance(value, str) else value


def month_bounds(month: str) -> tuple[date, date]:
    first = date.fromisoformat(f"{month}-01")
    following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    return first, following - timedelta(days=1)


def expected_counts(emu: Emulator) -> dict[str, int]:
    """Rows each table must hold: the account's records within the start date, one per primary key."""
    users = [u for u in emu.end_users if emu.epoch(u["updated_at"]) >= START]
    return {
        "end_users": len(users),
        "end_users_properties": sum(len(u.get("properties") or {}) for u in users),  # (user, key) pairs
        "responses": sum(1 for r in emu.responses if emu.epoch(r["created_at"]) >= START),
        "declines": sum(1 for d in emu.declines if emu.epoch(d["created_at"]) >= START),
        "segments": len(emu.segments),
        "survey_templates": len(emu.data.survey_templates()["survey_templates"]),
    }


def check_counts(report: dict, expected: dict[str, int]) -> None:
    for stream, count in expected.items():
        table = report["tables"][stream]
        assert table is not None, f"no table {stream} in the cache"
        assert (table["rows"], table["distinct_pks"]) == (count, count), (
            f"{stream}: {table}, expected {count}"
        )


def test_pyairbyte_installs_the_wheel_by_pip_url_offline_and_reads(
    pyairbyte_python: Path, wheel: Path, tmp_path: Path
) -> None:
    """As a user of a connector not in Airbyte's registry: PyAirbyte installs it from a wheelhouse (the wheel
    and its locked dependencies, no index), under the PyPI name metadata.yaml declares, and reads every stream."""
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["poetry"]["version"]
    pip_url = f"airbyte-source-wootric=={version} --no-index --find-links {wheel.parent}"
    with Emulator(dataset=DatasetSpec(users=40, seed=8)) as emu:
        config = {
            "credentials": {
                "auth_type": "client_credentials",
                "client_id": "demo-client-id",
                "client_secret": "demo-client-secret",
            },
            "start_date": START_DATE,
            "base_url": emu.url,
        }
        expected = expected_counts(emu)
        report = pyairbyte_read(pyairbyte_python, config, tmp_path, "pip_url", pip_url=pip_url)
    installed = tmp_path / ".venv-source-wootric" / "bin" / "source-wootric"
    assert installed.is_file(), "PyAirbyte did not install the connector in its own venv"
    assert report["connector_version"] == version
    assert sorted(report["streams"]) == sorted(STREAMS)
    check_counts(report, expected)
    assert report["tables"]["nps_summary"]["rows"] > 0


def test_pyairbyte_reads_every_stream_into_duckdb_and_syncs_changes(
    pyairbyte_python: Path, tmp_path: Path
) -> None:
    # The emulator and the connector on one simulated clock, which the test moves on past the clock margin.
    clock = SharedClock(tmp_path / "clock", start=time.time())
    with Emulator(dataset=DatasetSpec(users=USERS, seed=5), account_timezone=TZ, clock=clock) as emu:
        # Long enough a look-back, re-read whole at every sync (edits_bound_hours 0), that the second sync
        # re-reads every response, so that edits to old responses arrive too (the default 30 days would catch
        # only recent ones, and the default pace would re-read them over a day: test_hourly.py).
        lookback_days = (date.today() - date(2018, 12, 1)).days + 2
        config = {
            "credentials": {
                "auth_type": "client_credentials",
                "client_id": "demo-client-id",
                "client_secret": "demo-client-secret",
            },
            "start_date": START_DATE,
            "base_url": emu.url,
            "account_timezone": TZ,
            "lookback_window_days": lookback_days,
            "edits_bound_hours": 0,
        }
        expected = expected_counts(emu)
        assert min(expected.values()) > 0, expected

        # ---- first sync: every stream, into PyAirbyte's default DuckDB cache
        first = pyairbyte_read(pyairbyte_python, config, tmp_path, "first", clock=clock)
        assert sorted(first["streams"]) == sorted(STREAMS)
        check_counts(first, expected)
        for stream, count in expected.items():
            assert first["records_read"][stream] == count, (stream, first["records_read"])
        assert first["tables"]["nps_summary"]["rows"] > 0
        # Datetimes keep the account's local time through the connector, PyAirbyte and DuckDB (in all three
        # of Wootric's formats, the offset-less legacy one included)
        users = {str(u["id"]): wall_time(u["updated_at"]) for u in emu.end_users}
        assert first["end_users"] == users
        responses = {str(r["id"]): wall_time(r["created_at"]) for r in emu.responses}
        assert {rid: r["created_at"] for rid, r in first["responses"].items()} == responses

        # NPS by month, computed in DuckDB from `responses` = recomputed from the API's data = the emulator's
        nps = {
            row["month"]: {k: row[k] for k in ("responses", "promoters", "detractors", "nps")}
            for row in first["nps_by_month"]
        }
        assert nps == expected_nps_by_month(emu)
        for month, row in nps.items():
            wootric = emu.nps(*month_bounds(month))
            assert {k: wootric[k] for k in row} == row, month
        # ... and = the nps_summary stream (Wootric's own numbers) for the same months
        summary = {s["month"]: s for s in first["nps_summary"] if s["period"] == "month"}
        for month, row in nps.items():
            assert {k: summary[month][k] for k in row} == row, month

        # ---- changes in the account, then a second sync into the same cache (state sent back)
        clock.sleep(CLOCK_MARGIN + 1)  # past the first sync's last second
        changed_users = emu.update_users(15, seed=3)
        edited_responses = emu.edit_responses(12, seed=4)
        clock.sleep(
            CLOCK_MARGIN + 1
        )  # and past the changes' second, left to the next sync by the clock margin
        second = pyairbyte_read(pyairbyte_python, config, tmp_path, "second", clock=clock)

        current_users = {u["id"]: u for u in emu.end_users}
        changed_properties = sum(len(current_users[uid].get("properties") or {}) for uid in changed_users)
        assert second["records_read"]["end_users"] >= len(changed_users)
        assert second["records_read"]["end_users"] < expected["end_users"], (
            "the second sync was not incremental"
        )
        assert second["records_read"]["end_users_properties"] >= changed_properties > 0, second[
            "records_read"
        ]
        # Updated users may have gained properties: the counts of the account as it is now, once each.
        check_counts(second, expected_counts(emu))

        for uid in changed_users:
            user = current_users[uid]
            assert second["end_users"][str(uid)] == wall_time(user["updated_at"]), uid
        cached_properties = {
            (uid, key): (value, at) for uid, key, value, at in second["end_users_properties"]
        }
        for uid in changed_users:
            user = current_users[uid]
            for key, value in (user.get("properties") or {}).items():
                cached_value, cached_at = cached_properties[(uid, key)]
                assert cached_value == property_text(value), (uid, key)
                assert cached_at == wall_time(user["updated_at"]), (uid, key)

        current_responses = {r["id"]: r for r in emu.responses}
        for rid in edited_responses:
            response, cached = current_responses[rid], second["responses"][str(rid)]
            assert as_list(cached["tags"]) == response["tags"], rid
            assert as_list(cached["notes"]) == response["notes"], rid
            assert cached["updated_at"] == wall_time(response["updated_at"]), rid
