"""CPU per record of each stage a record goes through in `source-wootric read`, measured apart in one process
on the emulator's real pages (a profile by construction, without a profiler's overhead or its sampling bias).

    .venv/bin/python -m bench.stages [--users 20000]

Stages: the HTTP request (`requests`, as the floor loop and the connector send it), JSON decoding, the paging
planner's reading of each record's seconds (`KeysetReader.row`), shaping into columns (`records.end_user`,
`records.response`), and the CDK's part: record -> AirbyteMessage, message -> JSON line (serpyco + orjson),
record counts, and the write to stdout. The sum is compared with the slope measured by the benchmark.
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import logging
import sys
import time
from collections import defaultdict
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import requests

from bench import tools
from bench.datasets import Dataset, start_of_yesterday
from bench.emulator_proc import EmulatorProcess

ROOT = Path(__file__).resolve().parents[1]


def cpu(fn, repeat: int = 3) -> float:
    """The least process CPU time of `repeat` runs of fn() (the least is the least disturbed). The inputs
    are frozen out of the garbage collector first and fn keeps none of its outputs, so that, as in the
    connector, a collection never walks a heap of records held only for this measurement."""
    gc.collect()
    gc.freeze()
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        fn()
        best = min(best, time.process_time() - started)
    gc.unfreeze()
    return best


def cdk_path(shaped: list[tuple[str, dict[str, Any]]]) -> None:
    """Ready records through the CDK as `source-wootric read` sends them: a stream's read_records yields
    them, AbstractSource.read and the entrypoint turn them into messages, counts and JSON lines."""
    from airbyte_cdk.entrypoint import AirbyteEntrypoint
    from airbyte_cdk.models import AirbyteStream as Described
    from airbyte_cdk.models import (
        ConfiguredAirbyteCatalog,
        ConfiguredAirbyteStream,
        ConnectorSpecification,
        DestinationSyncMode,
        SyncMode,
    )
    from airbyte_cdk.sources import AbstractSource
    from airbyte_cdk.sources.streams import Stream

    by_stream: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for stream, record in shaped:
        by_stream[stream].append(record)

    class Ready(Stream):
        primary_key = "id"

        def __init__(self, name: str):
            self._name = name
            super().__init__()

        @property
        def name(self) -> str:
            return self._name

        def get_json_schema(self) -> dict[str, Any]:
            return {"type": "object", "properties": {}}

        def read_records(
            self, sync_mode: Any, cursor_field: Any = None, stream_slice: Any = None, stream_state: Any = None
        ) -> Any:
            yield from by_stream[self._name]

    class ReadySource(AbstractSource):
        check_config_against_spec = False

        def check_connection(self, logger: Any, config: Any) -> tuple[bool, Any]:
            return True, None

        def streams(self, config: Any) -> list[Stream]:
            return [Ready(name) for name in by_stream]

    catalog = ConfiguredAirbyteCatalog(
        streams=[
            ConfiguredAirbyteStream(
                stream=Described(name=name, json_schema={}, supported_sync_modes=[SyncMode.full_refresh]),
                sync_mode=SyncMode.full_refresh,
                destination_sync_mode=DestinationSyncMode.overwrite,
            )
            for name in by_stream
        ]
    )
    entrypoint = AirbyteEntrypoint(ReadySource())
    sink = io.StringIO()
    for message in entrypoint.read(ConnectorSpecification(connectionSpecification={}), {}, catalog, []):
        print(f"{entrypoint.airbyte_message_to_string(message)}\n", end="", file=sink)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.stages", description=__doc__.splitlines()[0])
    p.add_argument("--users", type=int, default=20_000)
    args = p.parse_args(argv)

    from airbyte_cdk.entrypoint import AirbyteEntrypoint
    from airbyte_cdk.models import Type
    from airbyte_cdk.sources.utils.record_helper import stream_data_to_airbyte_message

    from source_wootric import records
    from source_wootric.answers import Dimension
    from source_wootric.streams.keyset import Endpoint

    dataset = Dataset("stages", args.users, 2, "").at_end(start_of_yesterday())
    timezone = ZoneInfo(tools.TIMEZONE)
    logger = logging.getLogger("stages")
    with EmulatorProcess(dataset) as emu:
        data = emu.data()
        plan = tools.floor_requests(data, dataset, ("end_users", "responses"))
        session = requests.Session()
        token = session.post(
            emu.url + "/oauth/token", data={"grant_type": "client_credentials", **tools.CLIENT}
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        urls = [(r["stream"], emu.url + "/" + r["path"], r["params"]) for r in plan]

        bodies: list[tuple[str, bytes]] = []

        def http(trust_env: bool = True) -> None:
            bodies.clear()
            s = requests.Session()
            s.trust_env = trust_env
            s.headers.update(headers)
            for stream, url, params in urls:
                bodies.append((stream, s.get(url, params=params, timeout=60).content))

        t_http = cpu(http)
        t_http_no_env = cpu(lambda: http(False))
        del data
        t_decode = cpu(lambda: [json.loads(body) for _, body in bodies] and None)
        pages = [(stream, json.loads(body)) for stream, body in bodies]
    n = sum(len(items) for _, items in pages)
    items = [(stream, item) for stream, page in pages for item in page]

    context = SimpleNamespace(account_zone=SimpleNamespace(paging_zone=timezone))
    readers = {
        "end_users": Endpoint(
            context,
            "end_users",
            "end_users",
            [Dimension("updated", "updated_at"), Dimension("created", "created_at")],
            "email",
        ),
        "responses": Endpoint(
            context, "responses", "responses", [Dimension("created", "created_at")], "created_at"
        ),
    }
    t_rows = cpu(lambda: [None for stream, item in items if readers[stream].row(item) is None])
    shapers = {s: records.Shaper(s, lambda: timezone, logger) for s in ("end_users", "responses")}
    shape = {"end_users": records.end_user, "responses": records.response}
    t_shape = cpu(lambda: [None for stream, item in items if shape[stream](item, shapers[stream]) is None])
    shaped = [(stream, shape[stream](item, shapers[stream])) for stream, item in items]
    t_message = cpu(
        lambda: [None for stream, record in shaped if stream_data_to_airbyte_message(stream, record) is None]
    )
    messages = [stream_data_to_airbyte_message(stream, record) for stream, record in shaped]
    t_serialize = cpu(
        lambda: [None for m in messages if AirbyteEntrypoint.airbyte_message_to_string(m) is None]
    )
    lines = [AirbyteEntrypoint.airbyte_message_to_string(m) for m in messages]
    counts: defaultdict = defaultdict(float)
    t_counts = cpu(lambda: [AirbyteEntrypoint.handle_record_counts(m, counts) for m in messages])
    sink = io.StringIO()

    def write() -> None:
        sink.seek(0)
        sink.truncate()
        for line in lines:
            print(f"{line}\n", end="", file=sink)

    t_write = cpu(write)
    assert all(m.type == Type.RECORD for m in messages)
    t_cdk_path = cpu(lambda: cdk_path(shaped))

    # What cheaper ways of doing the same would save (sketches, not the connector's code).
    import orjson

    t_orjson = cpu(lambda: [orjson.loads(body) for _, body in bodies] and None)
    stamps = [
        value
        for _, item in items
        for key in ("created_at", "updated_at", "last_surveyed", "last_seen_at")
        if isinstance(value := item.get(key), str)
    ]
    shaper = shapers["end_users"]
    t_stamps = cpu(lambda: [None for v in stamps if shaper.timestamp("x", v) is None])

    def fast_rfc3339(text: str) -> str | None:
        # "2018-01-02 23:03:41 -0800" -> "2018-01-02T23:03:41-08:00" by slicing; other forms: the full parser
        if (
            len(text) == 25
            and text[10] == " "
            and text[19] == " "
            and text[20] in "+-"
            and text[:4].isdigit()
        ):
            return f"{text[:10]}T{text[11:19]}{text[20:23]}:{text[23:]}"
        return shaper.timestamp("x", text)

    assert all(fast_rfc3339(v) == shaper.timestamp("x", v) for v in stamps[:5000])
    t_fast = cpu(lambda: [None for v in stamps if fast_rfc3339(v) is None])
    savings = [
        ("orjson.loads instead of json.loads (orjson ships with the CDK)", t_decode - t_orjson),
        (
            f"datetimes to RFC 3339 by slicing the served form ({len(stamps) / n:.1f} per record)",
            t_stamps - t_fast,
        ),
        ("the planner's seconds from the shaped record instead of a second parse (_row)", t_rows),
        ("requests' Session.trust_env = False (proxies resolved once at start)", t_http - t_http_no_env),
    ]

    rows = [
        ("HTTP: requests per page (trust_env, as both send it)", t_http, True),
        (
            "  of which proxy/netrc look-ups in os.environ (trust_env=False saves)",
            t_http - t_http_no_env,
            False,
        ),
        ("JSON decode (json.loads)", t_decode, True),
        ("  = the floor loop's per-record cost", t_http + t_decode, False),
        ("paging: Endpoint.row (datetime of each record's seconds)", t_rows, True),
        ("shaping: records.end_user / records.response", t_shape, True),
        ("CDK: stream_data_to_airbyte_message", t_message, True),
        ("CDK: airbyte_message_to_string (serpyco dump + orjson)", t_serialize, True),
        ("CDK: handle_record_counts", t_counts, True),
        ("print to a buffer (the CDK's print loop)", t_write, True),
    ]
    total = sum(t for _, t, counted in rows if counted)
    cdk_parts = t_message + t_serialize + t_counts + t_write
    rows.append(("CDK: the whole path of a ready record (stream loop + the 4 rows above)", t_cdk_path, False))
    rows.append(
        ("  of which the CDK's stream loop itself (generators, checks, state)", t_cdk_path - cdk_parts, False)
    )
    print(
        f"{n:,} records (end users + responses) from {len(urls):,} pages; CPU per record by stage (least of 3 runs):"
    )
    for label, t, _ in rows:
        print(f"  {label:<72} {t / n * 1e6:6.1f} us")
    print(f"  {'sum of the stages':<72} {total / n * 1e6:6.1f} us")
    print(
        "  (the benchmark's slope, end_users+responses, is in bench/results/results.json: slope.connector/end_users+responses)"
    )
    print("What cheaper ways of doing the same would save, per record:")
    for label, t in savings:
        print(f"  {label:<84} {t / n * 1e6:5.1f} us")
    result = {
        "records": n,
        "pages": len(urls),
        "us_per_record": {label.strip(): t / n * 1e6 for label, t, _ in rows},
        "sum_us_per_record": total / n * 1e6,
        "possible_savings_us_per_record": {label: t / n * 1e6 for label, t in savings},
    }
    (ROOT / "bench" / "results" / "stages.json").write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
