"""Wootric's regional hosts, as its own SDKs use them, and what a host of another region answers.

The account lives in one region.  A request to another region's host meets no such account: its token
request fails (401 ``invalid_client`` for client credentials, 404 ``Not found`` when an
``account_token`` names the account) and its data requests are 401.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Region:
    name: str
    host: str
    api_prefixes: tuple[str, ...]  # where the data lives on that host; the token is at /oauth/token


REGIONS: dict[str, Region] = {
    # The reference documents /v1 on the US host; Wootric's SDKs reach the same API there as /api/v1.
    "us": Region("us", "api.wootric.com", ("/v1", "/api/v1")),
    "eu": Region("eu", "app.wootric.eu", ("/api/v1",)),
    "au": Region("au", "app.wootric.au", ("/api/v1",)),
}
REGION_OF_HOST: dict[str, Region] = {r.host: r for r in REGIONS.values()}
API_PREFIXES = ("/v1", "/api/v1")


def check_region(name: str | None) -> None:
    if name is not None and name not in REGIONS:
        raise ValueError(f"region must be one of {sorted(REGIONS)} or None, not {name!r}")


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
