"""Tables (text and Markdown), the aims and the chart, from the results document."""

from __future__ import annotations

from pathlib import Path
from typing import Any

START, END = "<!-- bench:start -->", "<!-- bench:end -->"
TOOLS = {"connector": "source-wootric", "tap": "tap-wootric 0.5.3", "floor": "floor loop"}
DATASET_ORDER = ("sparse", "dense", "bulk", "incremental", "backdated")


def _main_rows(doc: dict[str, Any], variants: bool = True) -> list[dict[str, Any]]:
    """The all-streams runs (and, with `variants`, their config variants), by dataset and tool."""
    rows = [
        r
        for r in doc["results"]
        if r["variant"] == "all streams" or (variants and r["variant"].startswith("all streams,"))
    ]
    order = {name: i for i, name in enumerate(DATASET_ORDER)}
    tools = list(TOOLS)
    return sorted(rows, key=lambda r: (order.get(r["dataset"], 9), tools.index(r["tool"]), r["variant"]))


def _tool_label(r: dict[str, Any]) -> str:
    extra = r["variant"].partition(", ")[2]
    return TOOLS[r["tool"]] + (f" ({extra})" if extra else "")


def _find(
    doc: dict[str, Any], dataset: str, tool: str, variant: str = "all streams"
) -> dict[str, Any] | None:
    return next(
        (r for r in doc["results"] if (r["dataset"], r["tool"], r["variant"]) == (dataset, tool, variant)),
        None,
    )


def _duration(seconds: float) -> str:
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _status(r: dict[str, Any]) -> str:
    if r["status"] == "ok":
        return "ok"
    if r["status"].startswith("failed"):
        error = (
            r["errors"] or [r["stderr_tail"].strip().splitlines()[-1] if r["stderr_tail"].strip() else "?"]
        )[0]
        return f"**{r['status']}**: {error[:90]}"
    lost = {s: n for s, n in r["lost"].items() if n}
    dup = {s: n for s, n in r["duplicated"].items() if n}
    parts = [f"lost {n:,} {s}" for s, n in lost.items()] + [f"{n:,} duplicate {s}" for s, n in dup.items()]
    return "**" + ", ".join(parts) + "**"


def cells(r: dict[str, Any]) -> list[str]:
    properties = r["records"].get("end_users_properties")
    lost, dup = sum(r["lost"].values()), sum(r["duplicated"].values())
    ratio = f"{r['ratio']:.2f}x" if r["ratio"] is not None else "-"
    return [
        r["dataset"],
        _tool_label(r),
        _status(r),
        f"{r['api_records']:,}",
        f"{properties:,}" if properties is not None else "-",
        f"{lost:,}",
        f"{dup:,}",
        f"{r['list_requests']:,} + {r['account_requests']:,}",
        f"{r['floor_list']:,}",
        ratio,
        _duration(r["modelled_seconds"]),
        f"{r['wall']:.1f}",
        f"{r['cpu']:.1f}",
        f"{r['api_records_per_cpu_second']:,.0f}" if r["api_records_per_cpu_second"] else "-",
        f"{r['max_rss_mb']:.0f}",
    ]


HEADER = [
    "dataset",
    "tool",
    "result",
    "records out",
    "+ property rows",
    "lost",
    "dup",
    "requests (lists + account)",
    "floor ceil(N/50)",
    "lists / floor",
    "time at 100 req/min",
    "wall s",
    "CPU s",
    "records / CPU s",
    "peak RSS MB",
]


def slopes(doc: dict[str, Any]) -> dict[str, Any]:
    """CPU per record between the 1,000-user (sparse) and the large (dense) dataset: start-up cancels out."""
    out: dict[str, Any] = {}
    for tool, variant in (
        ("connector", "end_users+responses"),
        ("floor", "end_users+responses"),
        ("tap", "all streams"),
        ("connector", "all streams"),
    ):
        small, large = _find(doc, "sparse", tool, variant), _find(doc, "dense", tool, variant)
        if not small or not large or large["api_records"] == small["api_records"]:
            continue
        if small["returncode"] or large["returncode"]:
            continue
        records = large["api_records"] - small["api_records"]
        slope = (large["cpu"] - small["cpu"]) / records
        out[f"{tool}/{variant}"] = {
            "tool": tool,
            "variant": variant,
            "records": [small["api_records"], large["api_records"]],
            "property_rows": [
                small["records"].get("end_users_properties", 0),
                large["records"].get("end_users_properties", 0),
            ],
            "cpu": [small["cpu"], large["cpu"]],
            "max_rss_mb": [small["max_rss_mb"], large["max_rss_mb"]],
            "cpu_us_per_record": slope * 1e6,
            "records_per_cpu_second": 1 / slope if slope > 0 else None,
            "intercept_cpu": small["cpu"] - slope * small["api_records"],
        }
    return out


def aims(doc: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    dense, sparse = _find(doc, "dense", "connector"), _find(doc, "sparse", "connector")
    if dense:
        found.append(
            {
                "aim": "dense: list requests within 1.05x of ceil(N/50)",
                "met": dense["ratio"] is not None and dense["ratio"] <= 1.05,
                "detail": f"{dense['list_requests']:,} requests for a floor of {dense['floor_list']:,}: {dense['ratio']:.3f}x",
            }
        )
    if sparse:
        found.append(
            {
                "aim": "sparse: list requests within ceil(N/50) + 10",
                "met": sparse["list_requests"] <= sparse["floor_list"] + 10,
                "detail": f"{sparse['list_requests']:,} requests for a floor of {sparse['floor_list']:,} "
                f"(+{sparse['list_requests'] - sparse['floor_list']})",
            }
        )
    connector_runs = [r for r in doc["results"] if r["tool"] == "connector"]
    if connector_runs:
        lost = {
            f"{r['dataset']}/{r['variant']}": sum(r["lost"].values()) + sum(r["duplicated"].values())
            for r in connector_runs
        }
        failed = [f"{r['dataset']}/{r['variant']}" for r in connector_runs if r["returncode"]]
        found.append(
            {
                "aim": "no record lost (or duplicated) in any dataset",
                "met": not any(lost.values()) and not failed,
                "detail": ", ".join(f"{k}: {v}" for k, v in lost.items())
                + (f"; failed: {failed}" if failed else ""),
            }
        )
    slope = doc.get("slope", {})
    mine, floor = slope.get("connector/end_users+responses"), slope.get("floor/end_users+responses")
    if mine and floor:
        ratio = mine["cpu_us_per_record"] / floor["cpu_us_per_record"]
        found.append(
            {
                "aim": "CPU per record (end_users + responses, slope 1k -> large) within 2x of the floor loop",
                "met": ratio <= 2,
                "detail": f"{mine['cpu_us_per_record']:.0f} us vs {floor['cpu_us_per_record']:.0f} us per record: {ratio:.2f}x",
            }
        )
    for variant in ("all streams", "end_users+responses"):
        small, large = _find(doc, "sparse", "connector", variant), _find(doc, "dense", "connector", variant)
        if small and large:
            ratio = large["max_rss_mb"] / small["max_rss_mb"]
            found.append(
                {
                    "aim": f"peak RSS at the large dataset within 1.2x of that at 1,000 users ({variant})",
                    "met": ratio <= 1.2,
                    "detail": f"{large['max_rss_mb']:.0f} MB vs {small['max_rss_mb']:.0f} MB: {ratio:.2f}x",
                }
            )
    return found


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def slope_table(doc: dict[str, Any]) -> str:
    rows = []
    for s in doc.get("slope", {}).values():
        startup = doc["startup"].get(s["tool"], {})
        rows.append(
            [
                TOOLS[s["tool"]],
                s["variant"] + (" (users, responses, declines)" if s["tool"] == "tap" else ""),
                f"{s['records'][0]:,} -> {s['records'][1]:,}"
                + (
                    f" (+{s['property_rows'][0]:,} -> {s['property_rows'][1]:,} property rows)"
                    if s["property_rows"][1]
                    else ""
                ),
                f"{s['cpu'][0]:.2f} -> {s['cpu'][1]:.1f}",
                f"{s['cpu_us_per_record']:.1f}",
                f"{s['records_per_cpu_second']:,.0f}" if s["records_per_cpu_second"] else "-",
                f"{s['intercept_cpu']:.2f}",
                f"{startup['cpu']:.2f}" if startup else "-",
                f"{s['max_rss_mb'][0]:.0f} -> {s['max_rss_mb'][1]:.0f}",
            ]
        )
    header = [
        "tool",
        "streams",
        "records (1k -> large)",
        "CPU s",
        "CPU us / record (slope)",
        "records / CPU s (slope)",
        "start-up CPU s (intercept)",
        "start-up CPU s (bare)",
        "peak RSS MB",
    ]
    return _table(header, rows)


def _source(doc: dict[str, Any]) -> str:
    source = doc.get("connector_source") or {}
    dirty = source.get("uncommitted_in_source_wootric") or []
    return f"`{source.get('commit', '?')}`" + (
        f" (+ uncommitted changes in {len(dirty)} files)" if dirty else ""
    )


def _loads(doc: dict[str, Any]) -> str:
    loads = [r.get("loadavg_1m_before") for r in doc["results"] if r.get("loadavg_1m_before") is not None]
    return f"{min(loads):.1f} to {max(loads):.1f}" if loads else "?"


def stages_table(stages: dict[str, Any] | None) -> str:
    if not stages:
        return "(run `.venv/bin/python -m bench.stages` for the CPU per record of each stage)"
    rows = [[label, f"{us:.1f}"] for label, us in stages["us_per_record"].items()]
    rows.append(["sum of the stages", f"{stages['sum_us_per_record']:.1f}"])
    saving_rows = [[label, f"{us:.1f}"] for label, us in stages["possible_savings_us_per_record"].items()]
    return (
        f"CPU per record of each stage, measured apart in one process on the emulator's pages "
        f"({stages['records']:,} end users and responses; `.venv/bin/python -m bench.stages`):\n\n"
        + _table(["stage", "CPU us / record"], rows)
        + "\n\nWhat cheaper ways of doing the same would save (measured the same way):\n\n"
        + _table(["change", "CPU us / record saved"], saving_rows)
    )


def notes(doc: dict[str, Any]) -> list[str]:
    out = list(doc["notes"])
    tap_losses = [r for r in doc["results"] if r["tool"] == "tap" and any(r["lost"].values())]
    for r in tap_losses:
        lost = ", ".join(f"{n:,} {s}" for s, n in r["lost"].items() if n)
        out.append(
            f"tap-wootric on {r['dataset']}: lost {lost}. When a window fills page 30 it restarts from the last "
            "record's second with `[gt]`, so the records of that second not yet read are skipped (wootric-api.md)."
        )
    inc = _find(doc, "incremental", "connector")
    inc0 = _find(doc, "incremental", "connector", "all streams, lookback_window_days=0")
    if inc and inc0:
        out.append(
            f"incremental: source-wootric re-reads the responses and declines created in the last 30 days "
            f"(`lookback_window_days`, default 30) to catch edits made after creation, which Wootric cannot filter on: "
            f"{inc['list_requests']:,} list requests; with `lookback_window_days=0`, {inc0['list_requests']:,}. "
            "tap-wootric re-reads every response and decline from `start_date` on every run."
        )
    hour = _find(doc, "backdated", "connector", "all streams, an hour later")
    week = _find(doc, "backdated", "connector", "all streams, a week later")
    if hour and week:
        out.append(
            "backdated: responses and declines written with a past `created_at` reach the destination within "
            "`backdated_bound_days` (default 7): a sweep re-reads those older than the look-back once per 7 days, "
            f"spread over the syncs. From dense's state, a sync an hour later made {hour['list_requests']:,} list "
            f"requests (the look-back and its hourly share of the sweep: ceil(R / 168) + 2, R the last full "
            f"pass's requests) and brought {hour['backdated_arrived']} of the {hour['backdated_written']} "
            f"back-dated records; a sync a week later, {week['list_requests']:,} (the whole pass), and "
            f"{week['backdated_arrived']} of {week['backdated_written']}."
        )
    out.append(
        "Above the floor, source-wootric's keyset paging asks each next page from the newest second it has seen "
        "(`[gte]`), so that records sharing that second are never skipped: each page re-reads at least one record, "
        "about N/49 pages instead of N/50 (+2%); a second shared by more than 50 records is cut by created second, "
        "a few requests more (bulk)."
    )
    out.append(
        "Account endpoints: one `segments` and one `email_stats/sources` request, and per month since `start_date` "
        "one `nps_summary` and one `email_stats` request (6 years: 146); the floor loop reads them too, "
        "tap-wootric offers none of them."
    )
    return out


def markdown(doc: dict[str, Any], stages: dict[str, Any] | None = None) -> str:
    rows = [cells(r) for r in _main_rows(doc)]
    datasets = "\n".join(f"- **{name}**: {d['description']}." for name, d in doc["datasets"].items())
    aims_md = "\n".join(
        f"- {'met' if a['met'] else '**not met**'}: {a['aim']} ({a['detail']})" for a in doc["aims"]
    )
    notes_md = "\n".join(f"- {n}" for n in notes(doc))
    quick = "**`--quick` smoke run: smaller datasets.**\n\n" if doc["quick"] else ""
    return f"""{quick}`.venv/bin/python -m bench` (options `--datasets sparse,dense,bulk,incremental,backdated`, `--tools connector,tap,floor`,
`--quick`); not part of the test suite. On loopback, against the emulator in its own process, each tool runs as a
child process: our connector (`source-wootric read`, all eight streams), the Singer `tap-wootric` 0.5.3 (its own
venv, host pointed at the emulator by `scripts/singer_tap.py`) and a floor loop (`bench/floor.py`: `requests` +
`json.loads` over the pages an ideal client needs, cut from the emulator's data: `bench/oracle.py`). Requests come
from the emulator's counters; wall, CPU and peak RSS from `os.wait4`. Raw results: `bench/results/results.json`.
Measured {doc["generated_at"]} on {doc["machine"]["cpus"]} CPUs, Python {doc["machine"]["python"]}, source-wootric at {_source(doc)}; the whole run took {doc["total_seconds"] / 60:.1f} min.
Wall times depend on what else the machine runs (1-minute load average {_loads(doc)} before the runs); CPU seconds and
request counts hardly do.

{datasets}

{_table(HEADER, rows)}

*records out*: end users + responses + declines (what every tool delivers); *+ property rows*: our
`end_users_properties` substream, read from the same pages (no extra request). *lost* / *dup*: against the
emulator's data, over every stream the tool offers (on the incremental run, what must come out is the changed
users and their properties). *requests*: data requests (`/v1/...`, `/v2/...`, the token request left out) to the
list endpoints + to the account endpoints (`segments`, `email_stats/sources`, one `nps_summary` and one
`email_stats` per month). *floor*: the sum over end users,
responses and declines of ceil(N/50) (at least 1 each). *time at 100 req/min*: every full window of 100 requests but
the last waits its minute out. *records / CPU s*: records out per CPU second of the whole run, start-up included.

CPU per record, as the slope between the 1,000-user and the large dataset (start-up cancels out):

{slope_table(doc)}

{stages_table(stages)}

To see where the time goes: `.venv/bin/python -m bench.stages` (the table above), `.venv/bin/python -m bench.profile
--py-spy | --cprofile` (pyinstrument by default; both profilers come with the dev dependencies).

Aims:

{aims_md}

Notes:

{notes_md}

![requests and modelled sync time](chart.png)
"""


def text_table(doc: dict[str, Any]) -> str:
    rows = [[c.replace("**", "") for c in cells(r)] for r in _main_rows(doc)]
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h) for i, h in enumerate(HEADER)]
    line = lambda row: "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True))  # noqa: E731
    out = [line(HEADER), line(["-" * w for w in widths])] + [line(r) for r in rows]
    out.append("")
    for a in doc["aims"]:
        out.append(f"{'MET    ' if a['met'] else 'NOT MET'}  {a['aim']}: {a['detail']}")
    return "\n".join(out)


def chart(doc: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    rows = _main_rows(doc, variants=False)
    datasets = [d for d in DATASET_ORDER if any(r["dataset"] == d for r in rows)]
    tools = [t for t in TOOLS if any(r["tool"] == t for r in rows)]
    colors = {"connector": "#1f77b4", "tap": "#d62728", "floor": "#7f7f7f"}
    fig, (left, right) = plt.subplots(1, 2, figsize=(15, 6.2))
    width = 0.8 / max(1, len(tools))

    def place(i: int, j: int) -> float:
        return j + (i - (len(tools) - 1) / 2) * width

    def row(dataset: str, tool: str) -> dict[str, Any] | None:
        return next((r for r in rows if r["dataset"] == dataset and r["tool"] == tool), None)

    def flag(r: dict[str, Any]) -> str:
        return "\nFAILED" if r["returncode"] else "\nLOST" if r["status"] == "lost records" else ""

    for i, tool in enumerate(tools):
        for j, dataset in enumerate(datasets):
            r = row(dataset, tool)
            if r is None:
                continue
            x = place(i, j)
            left.bar(x, max(r["list_requests"], 0.5), width * 0.95, color=colors[tool])
            if r["account_requests"]:
                left.bar(
                    x,
                    r["account_requests"],
                    width * 0.95,
                    bottom=max(r["list_requests"], 0.5),
                    color=colors[tool],
                    alpha=0.35,
                    hatch="//",
                    edgecolor="white",
                )
            label = (
                f"{r['list_requests']:,}"
                + (f"\n+{r['account_requests']:,}" if r["account_requests"] else "")
                + flag(r)
            )
            left.annotate(
                label,
                (x, r["data_requests"]),
                ha="center",
                va="bottom",
                fontsize=6.5,
                xytext=(0, 2),
                textcoords="offset points",
            )
            minutes = max(r["modelled_seconds"] / 60, 0.001)
            right.bar(x, minutes, width * 0.95, color=colors[tool])
            right.annotate(
                _duration(r["modelled_seconds"]) + flag(r),
                (x, minutes),
                ha="center",
                va="bottom",
                fontsize=6.5,
                xytext=(0, 2),
                textcoords="offset points",
            )
    for j, dataset in enumerate(datasets):
        r = row(dataset, "connector") or next(r for r in rows if r["dataset"] == dataset)
        left.hlines(r["floor_list"], j - 0.45, j + 0.45, colors="black", linestyles="dashed", linewidth=1.2)
    left.set_title("HTTP requests per sync: list endpoints + account endpoints (log)", fontsize=10)
    right.set_title("Modelled sync time under 100 requests/minute, minutes (log)", fontsize=10)
    for ax in (left, right):
        ax.set_yscale("log")
        ax.set_xticks(range(len(datasets)))
        ax.set_xticklabels(datasets)
        ax.grid(axis="y", which="major", alpha=0.3)
        _, high = ax.get_ylim()
        ax.set_ylim(1 if ax is left else 0.001, high * 4)
    handles = [Patch(color=colors[t], label=TOOLS[t]) for t in tools]
    handles.append(
        Patch(
            facecolor="#bbbbbb",
            alpha=0.5,
            hatch="//",
            edgecolor="white",
            label="account endpoints (segments, nps_summary, email_stats)",
        )
    )
    handles.append(
        plt.Line2D(
            [],
            [],
            color="black",
            linestyle="dashed",
            label="floor: ceil(N/50) over end users, responses, declines",
        )
    )
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8, frameon=False)
    fig.suptitle(
        "source-wootric vs tap-wootric 0.5.3 vs a bare requests loop, on the Wootric emulator"
        + (" (--quick)" if doc["quick"] else ""),
        fontsize=12,
    )
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_results(path: Path, section: str) -> Path:
    """The generated section, between the markers of `path` when it has them (the text around them, written by
    hand, is kept), else as the whole file."""
    if path.exists():
        text = path.read_text()
        if START in text and END in text and text.index(START) < text.index(END):
            head, rest = text.split(START, 1)
            _, tail = rest.split(END, 1)
            path.write_text(f"{head}{START}\n{section.strip()}\n{END}{tail}")
            return path
    path.write_text(section)
    return path
