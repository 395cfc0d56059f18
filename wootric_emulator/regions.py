"""Wootric's regional hosts, in both shapes seen in public, and what a host answers for an account that does
not live there.

Each region has two hosts: the API reference's (`api.wootric.com`, and `.eu` / `.au` for the EU and AU
instances, data under `/v1`) and its SDKs' (`app.wootric.com`, `.eu`, `.au`, data under `/api/v1`). No public
artifact shows which of the two serves an EU or AU account's list endpoints, so the account's region serves
the data on both, or on one shape only (``shapes``); the other host of its region then does not resolve, or
answers every path with a web page (HTTP 404, not JSON). The account lives in one region: a host of another
region meets no such account: its token request fails (401 ``invalid_client`` for client credentials, 404
``Not found`` when an ``account_token`` names the account) and its data requests are 401.
"""

from __future__ import annotations

from dataclasses import dataclass

SHAPES = ("reference", "sdk")
ABSENT_HOST = ("unresolved", "html404")


@dataclass(frozen=True)
class Region:
    name: str
    host: str
    shape: str  # reference or sdk
    api_prefixes: tuple[str, ...]  # where the data lives on that host; the token is at /oauth/token


REGIONS: dict[str, tuple[Region, Region]] = {
    name: (
        Region(name, f"api.wootric.{tld}", "reference", ("/v1",)),
        Region(name, f"app.wootric.{tld}", "sdk", ("/api/v1",)),
    )
    for name, tld in (("us", "com"), ("eu", "eu"), ("au", "au"))
}
REGION_OF_HOST: dict[str, Region] = {r.host: r for pair in REGIONS.values() for r in pair}
API_PREFIXES = ("/v1", "/api/v1")


def check_region(name: str | None, shapes: tuple[str, ...], absent_host: str) -> None:
    if name is not None and name not in REGIONS:
        raise ValueError(f"region must be one of {sorted(REGIONS)} or None, not {name!r}")
    if not shapes or set(shapes) - set(SHAPES):
        raise ValueError(f"shapes must name one or both of {SHAPES}, not {shapes!r}")
    if absent_host not in ABSENT_HOST:
        raise ValueError(f"absent_host must be one of {ABSENT_HOST}, not {absent_host!r}")


def default_account_token(region: str | None) -> str:
    """The demo account token; EU and AU tokens carry their region's prefix, as real ones do."""
    if region in ("eu", "au"):
        return f"NPS-{region.upper()}-demo0001"
    return "NPS-demo0001"


def canonical_path(path: str, prefixes: tuple[str, ...]) -> str | None:
    """``/api/v1/end_users`` -> ``/v1/end_users`` when ``/api/v1`` is served here, and the v2 API beside it
    (``/api/v2/email_stats`` -> ``/v2/email_stats``); None otherwise."""
    for prefix in prefixes:
        root = prefix.removesuffix("/v1")
        for version in ("/v1", "/v2"):
            if path.startswith(root + version + "/"):
                return version + path[len(root + version) :]
    return None
