"""Profiles `source-wootric read` with pyinstrument against the emulator (not part of the benchmark run).

    .venv/bin/python -m bench.profile [--users 20000] [--streams end_users,responses|all]

pyinstrument is not a project dependency: `uv pip install --python .venv/bin/python pyinstrument`.
Writes bench/out/profile/{session.pyisession, tree.txt} and prints the top of the call tree; `--py-spy` prints
where the CPU goes by part, `--cprofile` the functions by own CPU time.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from bench import tools
from bench.datasets import Dataset, start_of_yesterday
from bench.emulator_proc import EmulatorProcess

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out" / "profile"
PYINSTRUMENT = str(Path(sys.executable).parent / "pyinstrument")


# cProfile with a CPU clock (process_time), so that waiting for the emulator does not count; imports included.
CPU_PROFILE = """
import cProfile, sys, time
out = sys.argv[1]
sys.argv = ["source-wootric", *sys.argv[2:]]
profile = cProfile.Profile(time.process_time)
profile.enable()
try:
    from source_wootric.run import run
    run()
finally:
    profile.disable()
    profile.dump_stats(out)
"""

# (label, file suffix, function name): cumulative CPU of these frames, the ones a record goes through.
PARTS = [
    ("whole run (imports included)", "source_wootric/run.py", "run"),
    ("  read_records: paging + HTTP + shaping", "source_wootric/streams/keyset.py", "read_records"),
    (
        "    the CDK's HttpClient: HTTP, retries, budget",
        "airbyte_cdk/sources/streams/http/http_client.py",
        "send_request",
    ),
    ("      requests: Session.send", "requests/sessions.py", "send"),
    (
        "        of which proxy/netrc look-ups in the environment",
        "requests/sessions.py",
        "merge_environment_settings",
    ),
    ("        of which preparing the request", "requests/sessions.py", "prepare_request"),
    ("    json_body: the answer's JSON", "source_wootric/http.py", "json_body"),
    ("    Endpoint.row: the planner's seconds", "source_wootric/streams/keyset.py", "row"),
    ("    Planner.feed", "source_wootric/paging.py", "feed"),
    ("    records.end_user (shaping)", "source_wootric/records.py", "end_user"),
    ("    records.response (shaping)", "source_wootric/records.py", "response"),
    ("      Shaper.timestamp (datetimes)", "source_wootric/records.py", "timestamp"),
    (
        "  CDK: record -> AirbyteMessage",
        "airbyte_cdk/sources/utils/record_helper.py",
        "stream_data_to_airbyte_message",
    ),
    ("  CDK: AirbyteMessage -> JSON line", "airbyte_cdk/entrypoint.py", "airbyte_message_to_string"),
    ("  CDK: handle_record_counts", "airbyte_cdk/entrypoint.py", "handle_record_counts"),
    ("  print to stdout", "~", "<built-in method builtins.print>"),
]


# py-spy stacks by part: the first rule whose every text occurs in a stack (outermost frame first) takes it.
RULES = [
    ("start-up: imports, config, catalog", (), ("AirbyteEntrypoint.run",)),
    (
        "HTTP: requests' environment look-ups (proxies, netrc) per request",
        ("client.py", "merge_environment_settings"),
        (),
    ),
    ("HTTP: decode JSON (json.loads)", ("client.py", "loads (json/"), ()),
    ("HTTP: requests/urllib3/http.client/socket", ("client.py",), ()),
    ("paging: datetime of each row for the planner (_row)", ("row (source_wootric/streams/keyset.py",), ()),
    ("paging: planner and spool", ("source_wootric/paging.py",), ()),
    ("shaping records (records.py)", ("source_wootric/records.py",), ()),
    ("CDK: record -> AirbyteMessage", ("record_helper.py",), ()),
    ("CDK: AirbyteMessage -> JSON (serpyco + orjson)", ("airbyte_message_to_string",), ()),
    ("CDK: record counts", ("handle_record_counts",), ()),
    ("write to stdout (print, PrintBuffer)", ("print_buffer.py",), ()),
    ("connector: other", ("source_wootric/",), ()),
    ("CDK: other (stream loop, state, logging)", ("airbyte_cdk/",), ()),
]


def print_parts(raw: Path) -> None:
    totals: dict[str, int] = {}
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        part = "other"
        for label, needed, excluded in RULES:
            if all(n in stack for n in needed) and not any(e in stack for e in excluded):
                part = label
                break
        totals[part] = totals.get(part, 0) + int(count)
    samples = sum(totals.values())
    print(f"py-spy: {samples} on-CPU samples at 250/s (about {samples / 250:.1f} CPU s)")
    for part, n in sorted(totals.items(), key=lambda kv: -kv[1]):
        print(f"{part:<68} {n / 250:6.2f} s  {n / samples:6.1%}")


def print_breakdown(path: Path) -> None:
    import pstats

    stats = pstats.Stats(str(path))
    total = stats.total_tt
    rows = []
    for label, file_suffix, name in PARTS:
        cumulative, calls = 0.0, 0
        for (file, _line, function), (_cc, nc, _tt, ct, _callers) in stats.stats.items():
            if function == name and file.endswith(file_suffix):
                cumulative += ct
                calls += nc
        rows.append((label, cumulative, calls))
    print(
        f"CPU profile (cProfile, process_time; profiler overhead inflates every figure): {total:.2f} s in all"
    )
    for label, cumulative, calls in rows:
        print(f"{label:<58} {cumulative:7.2f} s  {cumulative / total:6.1%}  {calls:>9,} calls")
    print()
    stats.sort_stats("tottime").print_stats(30)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.splitlines()[0])
    p.add_argument("--users", type=int, default=20_000)
    p.add_argument("--years", type=float, default=2)
    p.add_argument("--streams", default=",".join(tools.SLOPE_STREAMS))
    p.add_argument("--interval", default="0.001")
    p.add_argument(
        "--cprofile",
        action="store_true",
        help="cProfile instead (exact call counts, more overhead): prints the top functions by own time",
    )
    p.add_argument(
        "--py-spy",
        action="store_true",
        help="py-spy instead (sampling from outside, on-CPU stacks only): prints where the CPU goes by part",
    )
    args = p.parse_args(argv)
    streams = tools.ALL_CONNECTOR_STREAMS if args.streams == "all" else tuple(args.streams.split(","))
    if not Path(PYINSTRUMENT).exists():
        print(
            "pyinstrument is not installed in this venv: uv pip install --python .venv/bin/python pyinstrument",
            file=sys.stderr,
        )
        return 2
    OUT.mkdir(parents=True, exist_ok=True)
    dataset = Dataset("profile", args.users, args.years, f"{args.users} users").at_end(start_of_yesterday())
    with EmulatorProcess(dataset) as emu:
        config = {
            "credentials": {"auth_type": "client_credentials", **tools.CLIENT},
            "start_date": dataset.start_date,
            "base_url": emu.url,
            "account_timezone": tools.TIMEZONE,
        }
        (OUT / "config.json").write_text(json.dumps(config))
        (OUT / "catalog.json").write_text(json.dumps(tools.connector_catalog(streams)))
        if args.py_spy:
            raw = OUT / "py-spy.txt"
            with open(OUT / "stdout.jsonl", "wb") as out, open(OUT / "stderr.txt", "wb") as err:
                subprocess.run(
                    [
                        str(Path(sys.executable).parent / "py-spy"),
                        "record",
                        "-r",
                        "250",
                        "-f",
                        "raw",
                        "-o",
                        str(raw),
                        "--",
                        tools.CONNECTOR,
                        "read",
                        "--config",
                        str(OUT / "config.json"),
                        "--catalog",
                        str(OUT / "catalog.json"),
                    ],
                    stdout=out,
                    stderr=err,
                    check=True,
                )
            print_parts(raw)
            return 0
        if args.cprofile:
            stats = OUT / "cprofile.pstats"
            with open(OUT / "stdout.jsonl", "wb") as out, open(OUT / "stderr.txt", "wb") as err:
                subprocess.run(
                    [
                        sys.executable,
                        "-c",
                        CPU_PROFILE,
                        str(stats),
                        "read",
                        "--config",
                        str(OUT / "config.json"),
                        "--catalog",
                        str(OUT / "catalog.json"),
                    ],
                    stdout=out,
                    stderr=err,
                    check=True,
                    cwd=ROOT,
                )
            print_breakdown(stats)
            return 0
        session = OUT / "session.pyisession"
        with open(OUT / "stdout.jsonl", "wb") as out, open(OUT / "stderr.txt", "wb") as err:
            subprocess.run(
                [
                    PYINSTRUMENT,
                    "-i",
                    args.interval,
                    "-r",
                    "pyisession",
                    "-o",
                    str(session),
                    tools.CONNECTOR,
                    "read",
                    "--config",
                    str(OUT / "config.json"),
                    "--catalog",
                    str(OUT / "catalog.json"),
                ],
                stdout=out,
                stderr=err,
                check=True,
            )
    render = [PYINSTRUMENT, "--load", str(session), "--no-color", "--unicode"]
    tree = subprocess.run(
        [*render, "-r", "text", "-p", "processor_options.filter_threshold=0.02"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    (OUT / "tree.txt").write_text(tree)
    print("\n".join(tree.splitlines()[:80]))
    print(f"\nwhole tree: {(OUT / 'tree.txt').relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
