"""A full sync of every stream against the emulator's demo account, through the real `source-wootric`
command, with no credentials needed. Writes the records as JSONL, one file per stream, and shows what came out.

    .venv/bin/python scripts/demo.py [--users N] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the emulator lives beside the connector, not in its package

from wootric_emulator import DatasetSpec, Emulator  # noqa: E402

COMMAND = str(Path(sys.executable).parent / "source-wootric")


def configured_catalog(config_path: Path) -> dict:
    """Every stream the connector discovers, incremental where it can be."""
    discovered = subprocess.run(
        [COMMAND, "discover", "--config", str(config_path)], capture_output=True, check=True
    )
    catalog = next(
        json.loads(line)["catalog"] for line in discovered.stdout.splitlines() if b'"type":"CATALOG"' in line
    )
    streams = []
    for stream in catalog["streams"]:
        incremental = "incremental" in stream["supported_sync_modes"]
        streams.append(
            {
                "stream": stream,
                "sync_mode": "incremental" if incremental else "full_refresh",
                "destination_sync_mode": "append_dedup" if incremental else "overwrite",
                "primary_key": stream.get("source_defined_primary_key", []),
            }
        )
    return {"streams": streams}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=2_000)
    parser.add_argument("--out", type=Path, default=ROOT / "demo-output")
    args = parser.parse_args()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)

    with Emulator(dataset=DatasetSpec(users=args.users, seed=7)) as emulator:
        print(
            f"Emulator serving a demo Wootric account at {emulator.url} (time zone {emulator.account_timezone})"
        )
        config = {
            "credentials": {
                "auth_type": "client_credentials",
                "client_id": "demo-client-id",
                "client_secret": "demo-client-secret",
            },
            "start_date": "2019-01-01T00:00:00Z",
            "base_url": emulator.url,
            "account_timezone": emulator.account_timezone,
        }
        config_path, catalog_path = out / "config.json", out / "catalog.json"
        config_path.write_text(json.dumps(config, indent=2))
        catalog = configured_catalog(config_path)
        catalog_path.write_text(json.dumps(catalog, indent=2))
        emulator.reset_counters()

        started = time.monotonic()
        command = [COMMAND, "read", "--config", str(config_path), "--catalog", str(catalog_path)]
        read = subprocess.run(command, capture_output=True, check=False)
        elapsed = time.monotonic() - started
        requests = emulator.requests("/v1/") + emulator.requests("/v2/")

    files: dict[str, object] = {}
    counts: Counter[str] = Counter()
    samples: dict[str, list[dict]] = {}
    states: dict[str, dict] = {}
    failures: list[str] = []
    try:
        for line in read.stdout.splitlines():
            message = json.loads(line)
            if message["type"] == "RECORD":
                stream, data = message["record"]["stream"], message["record"]["data"]
                if stream not in files:
                    files[stream] = (out / f"{stream}.jsonl").open("w", encoding="utf-8")
                files[stream].write(json.dumps(data, ensure_ascii=False) + "\n")
                counts[stream] += 1
                if len(samples.setdefault(stream, [])) < 2:
                    samples[stream].append(data)
            elif message["type"] == "STATE":
                states[message["state"]["stream"]["stream_descriptor"]["name"]] = message["state"]["stream"][
                    "stream_state"
                ]
            elif message["type"] == "TRACE" and message["trace"]["type"] == "ERROR":
                failures.append(message["trace"]["error"]["message"])
    finally:
        for handle in files.values():
            handle.close()

    print(f"\nsource-wootric read: exit code {read.returncode}, {elapsed:.1f} s, {requests} API requests\n")
    print(f"{'stream':<22} {'records':>9}   state after the sync")
    for stream in (configured["stream"]["name"] for configured in catalog["streams"]):
        print(f"{stream:<22} {counts[stream]:>9}   {json.dumps(states.get(stream))}")
    for stream, rows in samples.items():
        print(f"\n{stream}: first rows")
        for row in rows:
            print("  " + json.dumps(row, ensure_ascii=False)[:300])
    print(f"\nRecords written as JSONL to {out}/<stream>.jsonl; config and catalog beside them.")
    if failures or read.returncode:
        print("\nThe sync failed:", *failures, read.stderr.decode()[-2000:], sep="\n")
        sys.exit(1)


if __name__ == "__main__":
    main()
