"""The benchmark command.

    .venv/bin/python -m bench [--datasets sparse,dense,bulk,incremental,backdated] [--tools connector,tap,floor] [--quick]

For each dataset it starts the emulator in its own process, runs each tool as a child process on loopback
(our connector: `source-wootric read`, all streams; the Singer tap-wootric 0.5.3 in its own venv; the
floor: a bare `requests` + `json.loads` loop over the pages an ideal client needs), and takes from each run:
records out, records lost or duplicated against the emulator's data, HTTP requests (the emulator's counters),
wall and CPU seconds and peak RSS (`os.wait4`). Results: bench/results/results.json, chart.png and results.md
(the tables, between its `<!-- bench:start -->` and `<!-- bench:end -->`; the text around them is kept).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench import report, tools
from bench.datasets import Dataset, datasets, start_of_yesterday
from bench.emulator_proc import EmulatorProcess

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"  # the tools' files (git-ignored)
RESULTS = ROOT / "bench" / "results"
LIST_STREAMS = ("end_users", "responses", "declines")
API_STREAMS = LIST_STREAMS  # the records every tool delivers: what "records per CPU second" counts
PER_PAGE = 50
LIMIT_PER_MINUTE = 100
LOOKBACK_0 = "all streams, lookback_window_days=0"
DAY = 86_400
CONNECTOR_CLOCK_MARGIN = 10  # seconds: source-wootric leaves the newest seconds to the next sync


def modelled_seconds(requests: int, wall: float) -> float:
    """The sync under a limit of 100 requests per minute (fixed windows from the first request): every
    full window of 100 requests but the last waits the minute out; compute spreads over the windows."""
    if requests <= 0:
        return wall
    windows = math.ceil(requests / LIMIT_PER_MINUTE)
    return max(wall, 60.0 * (windows - 1) + wall / windows)


class Expected:
    """What the emulator holds, as the keys each stream's records carry."""

    def __init__(self, data: dict[str, list[dict[str, Any]]]):
        self.all = {
            "end_users": {u["id"] for u in data["end_users"]},
            "responses": {r["id"] for r in data["responses"]},
            "declines": {d["id"] for d in data["declines"]},
            "end_users_properties": {
                (u["id"], key) for u in data["end_users"] for key in (u.get("properties") or {})
            },
            "segments": {s["name"] for s in data["segments"]},
        }
        self.properties_of = {u["id"]: list(u.get("properties") or {}) for u in data["end_users"]}

    def full(self) -> dict[str, set[Any]]:
        return self.all

    def changed(self, user_ids: set[int]) -> dict[str, set[Any]]:
        return {
            "end_users": set(user_ids),
            "responses": set(),
            "declines": set(),
            "end_users_properties": {(i, key) for i in user_ids for key in self.properties_of[i]},
            "segments": self.all["segments"],
        }


def evaluate(
    tool: str,
    variant: str,
    dataset: Dataset,
    run: tools.ToolRun,
    counters: dict[str, dict[str, int]],
    expected: dict[str, set[Any]],
    everything: Expected,
    offered: tuple[str, ...],
) -> dict[str, Any]:
    m = run.measured
    records = {stream: len(keys) for stream, keys in run.output.keys.items()}
    lost, duplicated, unexpected, lost_examples = {}, {}, {}, {}
    for stream in offered:
        if stream not in expected:
            continue
        keys = run.output.keys.get(stream, [])
        unique = set(keys)
        missing = expected[stream] - unique
        lost[stream] = len(missing)
        if missing:
            lost_examples[stream] = sorted(missing, key=str)[:5]
        duplicated[stream] = len(keys) - len(unique)
        unexpected[stream] = len(unique - everything.all[stream])
    requests = {path: sum(by_status.values()) for path, by_status in counters.items()}
    not_ok = {
        path: {s: n for s, n in by_status.items() if s != "200"} for path, by_status in counters.items()
    }
    not_ok = {path: v for path, v in not_ok.items() if v}
    data_requests = sum(n for path, n in requests.items() if path.startswith(("/v1/", "/v2/")))
    list_requests = sum(requests.get(f"/v1/{s}", 0) for s in LIST_STREAMS if s in offered)
    floor_pages = {s: max(1, math.ceil(len(expected[s]) / PER_PAGE)) for s in LIST_STREAMS if s in offered}
    floor_list = sum(floor_pages.values())
    api_records = sum(records.get(s, 0) for s in API_STREAMS)
    status = "ok"
    if m.returncode != 0:
        status = f"failed (exit {m.returncode})"
    elif sum(lost.values()):
        status = "lost records"
    elif sum(duplicated.values()) or sum(unexpected.values()):
        status = "duplicates"
    return {
        "dataset": dataset.name,
        "tool": tool,
        "variant": variant,
        "status": status,
        "returncode": m.returncode,
        "errors": run.output.errors[:5],
        "stderr_tail": run.stderr_tail if m.returncode else "",
        "records": records,
        "records_total": sum(records.values()),
        "api_records": api_records,
        "expected": {s: len(v) for s, v in expected.items() if s in offered},
        "lost": lost,
        "lost_examples": lost_examples,
        "duplicated": duplicated,
        "unexpected": unexpected,
        "requests": requests,
        "not_ok": not_ok,
        "data_requests": data_requests,
        "list_requests": list_requests,
        "account_requests": data_requests - list_requests,
        "floor_pages": floor_pages,
        "floor_list": floor_list,
        "ratio": list_requests / floor_list if floor_list else None,
        "modelled_seconds": modelled_seconds(data_requests, m.wall),
        "wall": m.wall,
        "cpu": m.cpu,
        "user": m.user,
        "system": m.system,
        "max_rss_mb": m.max_rss_mb,
        "api_records_per_cpu_second": api_records / m.cpu if m.cpu else None,
    }


class Bench:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.notes: list[str] = []
        self.last_run_started = 0.0
        self.end = start_of_yesterday()
        self.all_datasets = {name: d.at_end(self.end) for name, d in datasets(args.quick).items()}
        self.results: list[dict[str, Any]] = []
        self.startup: dict[str, dict[str, float]] = {}
        self.states: dict[tuple[str, str], Any] = {}  # (dataset, tool) -> the state its full run left
        self.last_keys: dict[str, list[Any]] = {}  # the record keys of the last run, by stream
        self.tap_python = tools.tap_python() if "tap" in args.tools else None
        if "tap" in args.tools and self.tap_python is None:
            self.notes.append("The Singer tap was skipped: scripts/tap_venv.sh could not build its venv.")

    def log(self, text: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)

    def offered(self, tool: str) -> tuple[str, ...]:
        if tool == "connector":
            return tools.ALL_CONNECTOR_STREAMS
        if tool == "tap":
            return LIST_STREAMS
        return (*LIST_STREAMS, "segments")

    def run_tool(
        self,
        tool: str,
        variant: str,
        dataset: Dataset,
        emu: EmulatorProcess,
        data: dict[str, Any],
        expected: dict[str, set[Any]],
        everything: Expected,
        state: Any = None,
        after: int | None = None,
        streams: tuple[str, ...] | None = None,
        overrides: dict[str, Any] | None = None,
        env: dict[str, str] | None = None,
    ) -> dict[str, Any] | None:
        work = (
            OUT
            / dataset.name
            / (
                tool
                + (
                    ""
                    if variant == "all streams"
                    else "-" + "".join(c if c.isalnum() else "-" for c in variant)
                )
            )
        )
        emu.reset_counters()
        load_before = os.getloadavg()[0]
        self.log(f"{dataset.name}: {tool} ({variant}), load average {load_before:.1f}")
        if variant == "all streams":  # the runs whose state the incremental run starts from
            self.last_run_started = time.time()
        if tool == "connector":
            run = tools.run_connector(
                dataset,
                emu.url,
                work,
                streams or tools.ALL_CONNECTOR_STREAMS,
                state,
                self.args.keep_output,
                overrides,
                env,
            )
        elif tool == "tap":
            if self.tap_python is None:
                return None
            run = tools.run_tap(self.tap_python, dataset, emu.url, work, state, self.args.keep_output)
        else:
            plan = tools.floor_requests(data, dataset, streams, after)
            run = tools.run_floor(emu.url, work, plan, self.args.keep_output)
        offered = streams or self.offered(tool)
        result = evaluate(tool, variant, dataset, run, emu.counters(), expected, everything, offered)
        result["state_in"] = state is not None
        result["loadavg_1m_before"] = load_before
        self.results.append(result)
        self.last_keys = run.output.keys
        if variant == "all streams":
            self.states[(dataset.name, tool)] = run.output.state
        self.log(
            f"  {result['status']}: {result['records_total']} records, {result['data_requests']} requests, "
            f"wall {result['wall']:.1f} s, cpu {result['cpu']:.1f} s, rss {result['max_rss_mb']:.0f} MB"
            + (f"; {result['errors'][:1]}" if result["errors"] else "")
        )
        return result

    def measure_startup(self, emu: EmulatorProcess) -> None:
        if self.startup:
            return
        work = OUT / "startup"
        runs = {
            "connector": ("source-wootric spec", lambda: tools.connector_startup(work / "connector")),
            "tap": (
                "singer_tap.py --discover (imports the tap)",
                lambda: tools.tap_startup(self.tap_python, work / "tap"),
            ),
            "floor": (
                "floor.py with an empty plan (one token request)",
                lambda: tools.floor_startup(emu.url, work / "floor"),
            ),
        }
        for tool, (command, measure) in runs.items():
            if tool in self.args.tools and (tool != "tap" or self.tap_python):
                m = measure()
                self.startup[tool] = {
                    "command": command,
                    "cpu": m.cpu,
                    "wall": m.wall,
                    "max_rss_mb": m.max_rss_mb,
                }

    def run_dataset(
        self,
        dataset: Dataset,
        incremental: Dataset | None,
        report_full: bool = True,
        backdated: Dataset | None = None,
    ) -> None:
        self.log(f"{dataset.name}: starting the emulator ({dataset.description})")
        with EmulatorProcess(dataset) as emu:
            self.log(f"{dataset.name}: emulator up in {emu.startup_seconds:.1f} s at {emu.url}")
            data = emu.data()
            everything = Expected(data)
            self.measure_startup(emu)
            for tool in self.args.tools:
                result = self.run_tool(tool, "all streams", dataset, emu, data, everything.full(), everything)
                if result is not None and not report_full:
                    result["setup_only"] = True
            if dataset.name in ("sparse", "dense") and report_full and not self.args.no_slope:
                for tool in ("connector", "floor"):
                    if tool in self.args.tools:
                        self.run_tool(
                            tool,
                            "end_users+responses",
                            dataset,
                            emu,
                            data,
                            everything.full(),
                            everything,
                            streams=tools.SLOPE_STREAMS,
                        )
            if incremental is not None:
                self.run_incremental(incremental, emu, data, everything)
            if backdated is not None:
                self.run_backdated(backdated, emu)

    def run_incremental(
        self, dataset: Dataset, emu: EmulatorProcess, data: dict[str, Any], everything: Expected
    ) -> None:
        users = len(data["end_users"])
        batches = 50  # changes spread over 50 seconds, 1/50 of them in each
        per_batch = max(1, round(users * dataset.incremental_changed / batches))
        # every change after the start of every tool's last sync (the tap's bookmark is its start time)
        first_at = max(int(time.time()) - batches - CONNECTOR_CLOCK_MARGIN, int(self.last_run_started) + 2)
        changed: set[int] = set()
        for i in range(batches):
            changed |= set(emu.update_users(per_batch, seed=100 + i, at=first_at + i))
        after = first_at - 1
        self.log(f"incremental: {len(changed)} users changed ({per_batch} in each of {batches} seconds)")
        # source-wootric reads up to `now - 10 s`: let the changes age past that margin first
        wait = first_at + batches + CONNECTOR_CLOCK_MARGIN + 2 - time.time()
        if wait > 0:
            time.sleep(wait)
        changed_data = emu.data()
        everything = Expected(changed_data)  # changed users may carry new property keys
        changed_data["end_users"] = [u for u in changed_data["end_users"] if u["id"] in changed]
        expected = everything.changed(changed)
        for tool in self.args.tools:
            state = self.states.get(("dense", tool))
            if tool != "floor" and state is None:
                self.notes.append(f"incremental: {tool} had no state from its dense run; not run")
                continue
            result = self.run_tool(
                tool,
                "all streams",
                dataset,
                emu,
                changed_data,
                expected,
                everything,
                state=state,
                after=after,
            )
            if result is not None:
                result["changed_users"] = len(changed)
            if tool == "connector":  # the same, without the 30-day look-back that catches edited responses
                result = self.run_tool(
                    tool,
                    LOOKBACK_0,
                    dataset,
                    emu,
                    changed_data,
                    expected,
                    everything,
                    state=state,
                    overrides={"lookback_window_days": 0},
                )
                if result is not None:
                    result["changed_users"] = len(changed)

    def run_backdated(self, dataset: Dataset, emu: EmulatorProcess) -> None:
        """Responses and declines written after dense's sync with a past created_at, then two syncs from
        dense's state on the clock the emulator shares with them, moved on: an hour later, the sweep's hourly
        share; a week (the default bound) later, the whole sweep pass, which must bring every back-dated record."""
        state = self.states.get(("dense", "connector"))
        if "connector" not in self.args.tools or state is None:
            self.notes.append("backdated: source-wootric had no state from its dense run; not run")
            return
        synced_at = next(
            s["stream"]["stream_state"]["synced_at"]
            for s in state
            if s["stream"]["stream_descriptor"]["name"] == "responses"
        )
        written = int(time.time())
        look_back_start = synced_at - 31 * DAY
        backdated: dict[str, set[int]] = {}
        for kind in ("responses", "declines"):
            ids: set[int] = set()
            for i in range(dataset.backdated):
                spread = dataset.start + (i * 7919 * 3600) % (look_back_start - dataset.start)
                created_at = written - 200 * DAY if i % 2 else spread
                ids |= set(emu.add_backdated(kind, 1, created_at, seed=i, at=written))
            backdated[kind] = ids
        everything = Expected(emu.data())
        self.log(f"backdated: {dataset.backdated} responses and {dataset.backdated} declines written")
        for variant, later, due in (("an hour later", 3600, False), ("a week later", 7 * DAY, True)):
            emu.clock.sleep(synced_at + later - emu.clock.time())
            expected = everything.changed(set())
            if due:
                expected.update(backdated)
            result = self.run_tool(
                "connector",
                f"all streams, {variant}",
                dataset,
                emu,
                {},
                expected,
                everything,
                state=state,
                env=emu.clock.env(),
            )
            if result is not None:
                result["backdated_written"] = sum(len(ids) for ids in backdated.values())
                result["backdated_arrived"] = sum(
                    len(ids & set(self.last_keys.get(kind, []))) for kind, ids in backdated.items()
                )

    def main(self) -> int:
        wanted = self.args.datasets
        order = [
            name
            for name in ("sparse", "dense", "bulk")
            if name in wanted or (name == "dense" and {"incremental", "backdated"} & set(wanted))
        ]
        started = time.monotonic()
        if self.args.clean and OUT.exists():
            shutil.rmtree(OUT)
        for name in order:
            incremental = (
                self.all_datasets["incremental"] if name == "dense" and "incremental" in wanted else None
            )
            backdated = self.all_datasets["backdated"] if name == "dense" and "backdated" in wanted else None
            self.run_dataset(self.all_datasets[name], incremental, name in wanted, backdated)
        total = time.monotonic() - started
        document = {
            "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "command": "python -m bench " + " ".join(sys.argv[1:]),
            "quick": self.args.quick,
            "machine": {
                "python": platform.python_version(),
                "platform": platform.platform(),
                "cpus": _cpus(),
                "loadavg_1m_at_end": os.getloadavg()[0],
            },
            "connector_source": _source_version(),
            "total_seconds": total,
            "datasets": {
                name: {**asdict(d), "start": d.start, "start_date": d.start_date}
                for name, d in self.all_datasets.items()
                if name in wanted
            },
            "startup": self.startup,
            "results": [r for r in self.results if not r.get("setup_only")],
            "notes": self.notes,
        }
        publish(document, self.args)
        self.log(f"done in {total:.0f} s; results in {results_dir(self.args.quick).relative_to(ROOT)}/")
        return 0


def results_dir(quick: bool) -> Path:
    """bench/results/ (kept in git) for full runs; bench/out/quick/ (ignored) for --quick smoke runs."""
    return OUT / "quick" if quick else RESULTS


def publish(document: dict[str, Any], args: argparse.Namespace) -> None:
    """results.json, results.md and chart.png, in bench/results/ (bench/out/quick/ for --quick)."""
    document["slope"] = report.slopes(document)
    document["aims"] = report.aims(document)
    where = results_dir(document["quick"])
    where.mkdir(parents=True, exist_ok=True)
    stages = RESULTS / "stages.json"
    markdown = report.markdown(document, json.loads(stages.read_text()) if stages.exists() else None)
    (where / "results.json").write_text(json.dumps(document, indent=1, default=str) + "\n")
    written = report.write_results(where / "results.md", markdown)
    report.chart(document, where / "chart.png")
    print(report.text_table(document))
    print(f"bench: tables written to {written.relative_to(ROOT)}", file=sys.stderr)


def _cpus() -> int:
    return len(os.sched_getaffinity(0))


def _source_version() -> dict[str, Any]:
    """The commit measured, and whether source_wootric/ had uncommitted changes (others work in this tree)."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
        return done.stdout.strip()

    return {
        "commit": git("rev-parse", "--short", "HEAD"),
        "uncommitted_in_source_wootric": git("status", "--porcelain", "source_wootric").splitlines(),
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    p.add_argument(
        "--datasets",
        default="sparse,dense,bulk,incremental,backdated",
        help="comma-separated: sparse,dense,bulk,incremental,backdated",
    )
    p.add_argument("--tools", default="connector,tap,floor", help="comma-separated: connector,tap,floor")
    p.add_argument(
        "--quick",
        action="store_true",
        help="smaller datasets (dense 5,000 users, bulk 2,000): a smoke run; results go to bench/out/quick/",
    )
    p.add_argument(
        "--no-slope",
        action="store_true",
        help="skip the end_users+responses runs that measure CPU per record",
    )
    p.add_argument("--keep-output", action="store_true", help="keep each tool's stdout under bench/out/")
    p.add_argument("--clean", action="store_true", help="remove bench/out/ first")
    p.add_argument(
        "--report-only",
        action="store_true",
        help="re-render tables and chart from the last results.json",
    )
    args = p.parse_args(argv)
    args.datasets = [d for d in args.datasets.split(",") if d]
    args.tools = [t for t in args.tools.split(",") if t]
    for d in args.datasets:
        if d not in ("sparse", "dense", "bulk", "incremental", "backdated"):
            p.error(f"unknown dataset {d}")
    for t in args.tools:
        if t not in ("connector", "tap", "floor"):
            p.error(f"unknown tool {t}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.report_only:  # re-render the last results (e.g. after a change to the report)
        path = results_dir(args.quick) / "results.json"
        publish(json.loads(path.read_text()), args)
        return 0
    return Bench(args).main()
