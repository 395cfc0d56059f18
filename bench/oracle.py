"""The floor's page plan: the requests an ideal client needs, cut from the emulator's own data.

Knowing every record's seconds, it asks for windows `sort field in [first second, last second]` that hold at
most 50 records each (whole seconds only), one request per window; a second that alone holds more than 50
records is cut along the next field (end users updated in one second, by their created second), and only
records that share every field are read by offset pages. So it needs ceil(N/50) requests, plus one per
window that a tie at its edge cut short: nobody can do with fewer without knowing the data in advance.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from bench.datasets import epoch

PER_PAGE = 50
USER_DIMS = (("updated", "updated_at"), ("created", "created_at"))
EVENT_DIMS = (("created", "created_at"),)
TIEBREAK = {"end_users": "email", "responses": "created_at", "declines": "created_at"}


def _pages(
    rows: list[tuple[int, ...]],
    dims: Sequence[tuple[str, str]],
    tiebreak: str,
    fixed: dict[str, int],
    level: int = 0,
) -> list[dict[str, Any]]:
    name, sort_key = dims[level]
    by_second: dict[int, list[tuple[int, ...]]] = defaultdict(list)
    for row in rows:
        by_second[row[level]].append(row)
    base = {f"{k}[eq]": v for k, v in fixed.items()}
    out: list[dict[str, Any]] = []
    window: list[int] = []  # first and last second of the open window
    count = 0

    def flush() -> None:
        nonlocal window, count
        if count:
            out.append(
                {
                    **base,
                    f"{name}[gte]": window[0],
                    f"{name}[lte]": window[-1],
                    "sort_key": sort_key,
                    "sort_order": "asc",
                    "per_page": PER_PAGE,
                    "page": 1,
                }
            )
        window, count = [], 0

    for second in sorted(by_second):
        group = by_second[second]
        if len(group) > PER_PAGE:
            flush()
            if level + 1 < len(dims):
                out += _pages(group, dims, tiebreak, {**fixed, name: second}, level + 1)
            else:
                pages = math.ceil(len(group) / PER_PAGE)
                if pages > 30:
                    raise ValueError(f"{len(group)} records share every field: more than 30 pages")
                params = {
                    **base,
                    f"{name}[eq]": second,
                    "sort_key": tiebreak,
                    "sort_order": "asc",
                    "per_page": PER_PAGE,
                }
                out += [{**params, "page": page} for page in range(1, pages + 1)]
            continue
        if count + len(group) > PER_PAGE:
            flush()
        window.append(second)
        count += len(group)
    flush()
    return out


def stream_plan(stream: str, records: list[dict[str, Any]], after: int | None = None) -> list[dict[str, Any]]:
    """The pages for `records` (those newer than `after` along the first field when given)."""
    dims = USER_DIMS if stream == "end_users" else EVENT_DIMS
    rows = [tuple(epoch(r[sort_key]) for _, sort_key in dims) for r in records]
    if after is not None:
        rows = [row for row in rows if row[0] > after]
    if not rows:  # one request to learn that there is nothing
        name, sort_key = dims[0]
        low = {f"{name}[gt]": after} if after is not None else {}
        return [{**low, "sort_key": sort_key, "sort_order": "asc", "per_page": PER_PAGE, "page": 1}]
    return _pages(rows, dims, TIEBREAK[stream], {})


def months(first: date, last: date) -> list[tuple[date, date]]:
    out = []
    start = first.replace(day=1)
    while start <= last:
        following = (start.replace(day=28) + (date.resolution * 4)).replace(day=1)
        out.append((start, following - date.resolution))
        start = following
    return out


def plan(
    data: dict[str, list[dict[str, Any]]], start: int, timezone: str, after: int | None = None
) -> list[dict[str, Any]]:
    """Every request of a sync of all streams: list pages, the segments, the e-mail send sources, one NPS
    summary and one e-mail statistics per month (the connector's default period; only the open month on an
    incremental run). Paths start with the API version (`v1/...`, `v2/...`)."""
    requests: list[dict[str, Any]] = []
    for stream in ("end_users", "responses", "declines"):
        requests += [
            {"stream": stream, "path": f"v1/{stream}", "params": p}
            for p in stream_plan(stream, data[stream], after)
        ]
    requests.append({"stream": "segments", "path": "v1/segments", "params": {}})
    requests.append({"stream": "email_send_sources", "path": "v2/email_stats/sources", "params": {}})
    tz = ZoneInfo(timezone)
    today = datetime.now(tz).date()
    first = datetime.fromtimestamp(start, tz).date() if after is None else today
    for period_start, period_end in months(first, today):
        params = {"date[start]": period_start.isoformat(), "date[end]": period_end.isoformat()}
        requests.append({"stream": "nps_summary", "path": "v1/nps_summary", "params": params})
        params = {
            "date_range[start_date]": params["date[start]"],
            "date_range[end_date]": params["date[end]"],
        }
        requests.append({"stream": "email_stats", "path": "v2/email_stats", "params": params})
    return requests
