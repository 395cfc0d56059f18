"""``python -m wootric_emulator``: serve an emulated Wootric account until SIGTERM/SIGINT.

The first line of stdout is the base URL.  Credentials default to the demo ones (see README.md).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from .clock import SharedClock
from .data import ALL_PROPERTY_KINDS, DatasetSpec
from .emulator import Emulator
from .faults import Fault


def _rate(text: str) -> tuple[int, float]:
    limit, _, window = text.partition("/")
    return int(limit), float(window or 60)


def _cluster(text: str) -> tuple:
    second, _, rest = text.partition(":")
    count, _, same = rest.partition(":")
    return (
        None if second.lower() in ("", "none") else second,
        int(count),
        same.lower() in ("same", "1", "true"),
    )


def _busy(text: str) -> tuple:
    day, _, count = text.rpartition(":")
    return (day, int(count))


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m wootric_emulator", description=__doc__.splitlines()[0])
    a = p.add_argument
    a("--host", default="127.0.0.1")
    a("--port", type=int, default=0, help="0 = a free port")
    a("--users", type=int, default=200)
    a("--responses", type=int, default=None, help="default: 1.5 per user")
    a("--declines", type=int, default=None, help="default: 0.5 per user")
    a("--seed", type=int, default=1)
    a("--start", default="2019-01-01", help="first created_at (epoch or ISO)")
    a("--end", default=None, help="last datetime of the data (default: start of yesterday, UTC)")
    a("--bulk-import", type=int, default=0, help="users updated in one second, created over the year before")
    a("--bulk-created-same-second", type=int, default=0, help="users sharing updated AND created second")
    a("--cluster", action="append", default=[], metavar="SECOND|none:COUNT[:same]")
    a("--busy-day", action="append", default=[], metavar="YYYY-MM-DD:COUNT")
    a("--sparse-years", type=float, default=0)
    a("--legacy-fraction", type=float, default=0.05)
    a("--iso-fraction", type=float, default=0.02)
    a("--property-kinds", default=",".join(ALL_PROPERTY_KINDS))
    a("--rate-limit", type=_rate, default=None, metavar="LIMIT/SECONDS", help="e.g. 100/60")
    a("--token-ttl", type=int, default=7200)
    a("--compat", choices=["singer-tap"], default=None)
    a("--timezone", default="America/Los_Angeles")
    a("--client-id", default="demo-client-id")
    a("--client-secret", default="demo-client-secret")
    a("--username", default="demo@example.com")
    a("--password", default="demo-password")
    a("--account-token", default=None, help="default NPS-demo0001 (NPS-EU-/NPS-AU-demo0001 in those regions)")
    a("--fault", action="append", default=[], metavar="KIND[:key=value...]", help="e.g. 500:after=3:times=2")
    a("--fault-seed", type=int, default=0)
    # behaviours of the real API that depart from its reference (all off by default)
    a("--legacy-at-folds", action="store_true", help="offset-less times also inside a DST fold")
    a("--offsetless-mix", action="store_true", help="a random half of all records without an offset")
    a("--shared-email-fraction", type=float, default=0.0, help='share of users e-mailed "Unknown" or null')
    a("--page-cap", type=int, default=None, help="list answers hold at most this many rows")
    a("--ignore-sort-key", action="store_true")
    a("--ignore-sort-order", action="store_true")
    a("--ignore-filters", action="store_true", help="created[..] and updated[..] are not read")
    a("--real-errors", action="store_true", help="404 and 400 bodies as the real API sends them")
    a("--ties-shuffled", action="store_true", help="ties on the sort key in a new order every request")
    a("--region", choices=["us", "eu", "au"], default=None, help="the account's region among the three hosts")
    a("--proxy", action="store_true", help="serve the regional hosts through an HTTPS proxy (needs --region)")
    a("--api-prefix", choices=["/v1", "/api/v1"], default=None, help="also serve this prefix on loopback")
    a(
        "--clock",
        default=None,
        help="read the time from this shared clock file (see clock.py), as a connector can",
    )
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    spec = DatasetSpec(
        users=args.users,
        responses=args.responses,
        declines=args.declines,
        seed=args.seed,
        start=args.start,
        end=args.end,
        clusters=tuple(_cluster(c) for c in args.cluster),
        bulk_import_users=args.bulk_import,
        bulk_created_same_second=args.bulk_created_same_second,
        busy_days=tuple(_busy(b) for b in args.busy_day),
        sparse_years=args.sparse_years,
        legacy_fraction=args.legacy_fraction,
        iso_fraction=args.iso_fraction,
        property_kinds=tuple(k for k in args.property_kinds.split(",") if k),
        legacy_at_folds=args.legacy_at_folds,
        offsetless_mix=args.offsetless_mix,
        shared_email_fraction=args.shared_email_fraction,
    )
    emu = Emulator(
        spec,
        port=args.port,
        host=args.host,
        token_ttl=args.token_ttl,
        rate_limit=args.rate_limit,
        client_id=args.client_id,
        client_secret=args.client_secret,
        username=args.username,
        password=args.password,
        account_token=args.account_token,
        account_timezone=args.timezone,
        compat=args.compat,
        faults=[Fault.parse(f) for f in args.fault],
        fault_seed=args.fault_seed,
        page_cap=args.page_cap,
        ignore_sort_key=args.ignore_sort_key,
        ignore_sort_order=args.ignore_sort_order,
        ignore_filters=args.ignore_filters,
        real_errors=args.real_errors,
        ties_shuffled=args.ties_shuffled,
        region=args.region,
        proxy=args.proxy,
        api_prefix=args.api_prefix,
        clock=SharedClock(args.clock) if args.clock else None,
    )
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    url = emu.start()
    print(url, flush=True)
    if args.proxy:  # as lines a shell can export
        for name, value in emu.proxy_env().items():
            print(f"{name}={value}", flush=True)
    d = emu.data
    print(
        f"wootric emulator: {len(d.users)} end users, {len(d.responses)} responses, {len(d.declines)} declines",
        file=sys.stderr,
        flush=True,
    )
    try:
        while not stop.wait(0.5):
            pass
    finally:
        emu.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
