"""Read every stream of source-wootric with PyAirbyte into its default DuckDB cache, then query the cache.

Runs inside the PyAirbyte venv (scripts/pyairbyte_venv.sh), as a real Airbyte client would, with the
connector as a local executable (by default, the venv's own) or installed by PyAirbyte from a pip URL:

    AIRBYTE_OFFLINE_MODE=1 AIRBYTE_CACHE_ROOT=/tmp/cache \\
        .cache/pyairbyte-venv/bin/python scripts/pyairbyte_read.py --config config.json --report report.json \\
        [--pip-url "airbyte-source-wootric --no-index --find-links .cache/wheelhouse"]

`ab.get_default_cache()` keeps its DuckDB file under $AIRBYTE_CACHE_ROOT; reading again into the same
cache sends back the state PyAirbyte saved there, as an incremental sync in Airbyte would.

The report (JSON) holds, per stream, the records this read received and the rows in the cache (all, distinct
primary keys), NPS by month computed in DuckDB from `responses`, and the
cached end users, properties and responses that a test needs to check updates (datetimes as local wall time).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

PRIMARY_KEYS = {
    "end_users": ["id"],
    "end_users_properties": ["end_user_id", "property_key"],
    "responses": ["id"],
    "declines": ["id"],
    "segments": ["name"],
    "nps_summary": ["period", "period_start"],
    "email_stats": ["period", "period_start"],
    "email_send_sources": ["source_type", "id"],
    "survey_templates": ["id"],
}

# NPS per month of the account's time zone, without the responses excluded from calculations: promoters
# score 9-10, detractors 0-6. PyAirbyte's DuckDB cache stores a date-time as TIMESTAMP (no time zone)
# holding the wall time of the offset the value carried (the account's): its month is the local month. Were
# it a TIMESTAMPTZ, the session's TimeZone (set to the account's) would show it in the same zone. round_even: halves go to the even integer, as
# Python's round() does.
NPS_BY_MONTH = """
SELECT strftime(created_at, '%Y-%m') AS month,
       count(*) AS responses,
       count(*) FILTER (WHERE score >= 9) AS promoters,
       count(*) FILTER (WHERE score BETWEEN 7 AND 8) AS passives,
       count(*) FILTER (WHERE score <= 6) AS detractors,
       round_even(100.0 * (count(*) FILTER (WHERE score >= 9) - count(*) FILTER (WHERE score <= 6))
                  / count(*), 0)::INTEGER AS nps
FROM responses
WHERE NOT coalesce(excluded_from_calculations, false)
GROUP BY 1
ORDER BY 1
"""


def rows(con: Any, sql: str, params: dict | None = None) -> list[dict[str, Any]]:
    from sqlalchemy import text

    return [dict(row._mapping) for row in con.execute(text(sql), params or {})]


def local(column: str) -> str:
    """SQL for a datetime column as the account's local wall time, `YYYY-MM-DD HH:MM:SS`."""
    return f"strftime({column}, '%Y-%m-%d %H:%M:%S')"


def iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def query_cache(cache: Any, streams: list[str], tz: str) -> dict[str, Any]:
    """Queries the cache through PyAirbyte's own SQL engine (DuckDB allows one writer configuration)."""
    with cache.get_sql_engine().connect() as con:
        rows(con, f"SET TimeZone = '{tz}'")
        tables = {r["table_name"] for r in rows(con, "SELECT table_name FROM information_schema.tables")}
        report: dict[str, Any] = {"tables": {}, "column_types": {}}
        for stream in streams:
            if stream not in tables:
                report["tables"][stream] = None
                continue
            pk = ", ".join(PRIMARY_KEYS.get(stream, []))
            distinct = f"count(DISTINCT ({pk}))" if pk else "NULL"
            (counts,) = rows(
                con,
                f"SELECT count(*) AS rows, {distinct} AS distinct_pks FROM {stream}",
            )
            report["tables"][stream] = counts
            report["column_types"][stream] = {
                r["column_name"]: r["data_type"]
                for r in rows(
                    con,
                    "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = :t",
                    {"t": stream},
                )
            }
        if "responses" in tables:
            report["nps_by_month"] = rows(con, NPS_BY_MONTH)
            report["responses"] = {
                str(r["id"]): {k: iso(v) for k, v in r.items() if k != "id"}
                for r in rows(
                    con,
                    f"SELECT id, {local('created_at')} AS created_at, {local('updated_at')} AS updated_at, "
                    "tags, notes, completed, excluded_from_calculations FROM responses",
                )
            }
        if "end_users" in tables:
            report["end_users"] = {
                str(r["id"]): iso(r["updated_at"])
                for r in rows(con, f"SELECT id, {local('updated_at')} AS updated_at FROM end_users")
            }
        if "end_users_properties" in tables:
            report["end_users_properties"] = [
                [r["end_user_id"], r["property_key"], r["property_value"], iso(r["updated_at"])]
                for r in rows(
                    con,
                    f"SELECT end_user_id, property_key, property_value, {local('updated_at')} AS updated_at "
                    "FROM end_users_properties ORDER BY 1, 2",
                )
            ]
        if "nps_summary" in tables:
            report["nps_summary"] = [
                {k: iso(v) for k, v in r.items()}
                for r in rows(
                    con,
                    "SELECT period, strftime(period_start, '%Y-%m') AS month, nps::DOUBLE AS nps, responses, "
                    "promoters, detractors FROM nps_summary ORDER BY period_start",
                )
            ]
        return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", type=Path, required=True, help="the connector's config (JSON)")
    install = parser.add_mutually_exclusive_group()
    install.add_argument(
        "--executable",
        default=str(Path(sys.executable).parent / "source-wootric"),
        help="the connector command PyAirbyte runs (default: this venv's source-wootric)",
    )
    install.add_argument(
        "--pip-url",
        help="install the connector with this pip URL instead, into a venv PyAirbyte makes in the current "
        "directory, e.g. 'airbyte-source-wootric --no-index --find-links WHEELHOUSE' (scripts/wheelhouse.sh)",
    )
    parser.add_argument("--report", type=Path, required=True, help="where to write the JSON report")
    args = parser.parse_args(argv)

    os.environ.setdefault("AIRBYTE_OFFLINE_MODE", "1")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    # PyAirbyte installs with uv, whose cache keys a wheel by its file name: the wheelhouse's wheel is rebuilt
    # from the working tree under an unchanged version, and a cached older build would be installed instead.
    os.environ.setdefault("UV_NO_CACHE", "1")
    import airbyte as ab

    config = json.loads(args.config.read_text())
    if args.pip_url:
        source = ab.get_source("source-wootric", config=config, pip_url=args.pip_url, install_root=Path.cwd())
    else:
        source = ab.get_source("source-wootric", config=config, local_executable=args.executable)
    source.select_all_streams()
    streams = list(source.get_selected_streams())
    cache = ab.get_default_cache()

    started = time.monotonic()
    result = source.read(cache=cache)
    elapsed = time.monotonic() - started
    tracker = getattr(result, "_progress_tracker", None)
    read_counts = dict(getattr(tracker, "stream_read_counts", {}) or {})

    report = {
        "airbyte_version": ab.__version__ if hasattr(ab, "__version__") else None,
        "connector_version": source.connector_version,
        "db_path": str(cache.db_path),
        "streams": streams,
        "processed_records": result.processed_records,
        "records_read": {s: read_counts.get(s, 0) for s in streams},
        "read_seconds": round(elapsed, 2),
    }
    report |= query_cache(cache, streams, config.get("account_timezone") or "UTC")
    args.report.write_text(json.dumps(report, indent=2, default=str))
    print(
        f"read {result.processed_records} records in {elapsed:.1f} s into {cache.db_path}: "
        + ", ".join(f"{s} {report['records_read'][s]}" for s in streams)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
