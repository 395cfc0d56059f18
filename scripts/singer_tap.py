"""Run the Singer tap ``tap-wootric`` (0.5.3) against another base URL, e.g. the Wootric emulator.

Run it with the tap's own venv (scripts/tap_venv.sh), not the project's:

    .cache/tap-wootric-venv/bin/python scripts/singer_tap.py --base-url http://localhost:PORT \
        --config config.json [--state state.json]
    .cache/tap-wootric-venv/bin/python scripts/singer_tap.py --discover

The tap hard-codes ``https://api.wootric.com``: its data URL lives in the module constant ``BASE_URL``
and its token URL is a literal in ``get_access_token`` (``requests.post("https://api.wootric.com/oauth/
token", ...)``).  This wrapper sets ``BASE_URL`` and gives the tap module a ``requests`` whose ``post``
rewrites that host, then calls the tap's own ``main()``.

tap-wootric 0.5.3 has no discovery mode (it ignores ``--discover`` and syncs).  ``--discover`` here
prints a Singer catalog made from the tap's bundled schemas (``load_schema``) and does not touch the
network; every other argument goes to the tap unchanged.
"""

from __future__ import annotations

import json
import os
import sys
import types

REAL_HOST = "https://api.wootric.com"
STREAMS = ("responses", "declines", "end_users")  # the tap's sync order


def discover(tap) -> dict:
    return {
        "streams": [
            {
                "tap_stream_id": name,
                "stream": name,
                "key_properties": ["id"],
                "schema": tap.load_schema(name),
                "metadata": [{"breadcrumb": [], "metadata": {"table-key-properties": ["id"]}}],
            }
            for name in STREAMS
        ]
    }


def patch(tap, base_url: str) -> None:
    base = base_url.rstrip("/")
    tap.BASE_URL = base + "/v1/"
    real = tap.requests

    def post(url, *args, **kwargs):
        if url.startswith(REAL_HOST):
            url = base + url[len(REAL_HOST) :]
        return real.post(url, *args, **kwargs)

    shim = types.ModuleType("requests")
    shim.__dict__.update(real.__dict__)
    shim.post = post
    tap.requests = shim


def main(argv: list[str]) -> int:
    import tap_wootric

    base_url = os.environ.get("WOOTRIC_BASE_URL")
    rest: list[str] = []
    it = iter(argv)
    for arg in it:
        if arg == "--base-url":
            base_url = next(it)
        elif arg.startswith("--base-url="):
            base_url = arg.split("=", 1)[1]
        else:
            rest.append(arg)
    if "--discover" in rest or "-d" in rest:
        json.dump(discover(tap_wootric), sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    if not base_url:
        print("singer_tap.py: --base-url (or WOOTRIC_BASE_URL) is required", file=sys.stderr)
        return 2
    patch(tap_wootric, base_url)
    sys.argv = ["tap-wootric", *rest]
    tap_wootric.main()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
