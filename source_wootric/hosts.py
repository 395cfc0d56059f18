"""Where an account's API lives: the regions' hosts, as Wootric's own SDKs call them, and which to try.

Pure logic, no HTTP. US accounts use the reference's `https://api.wootric.com/v1/...`; EU and AU accounts
(account tokens `NPS-EU-...` / `NPS-AU-...`) use `https://app.wootric.eu/api/v1/...` and the same on
`app.wootric.au` (Wootric/WootricSDK-Android `Constants.java`, WootricSDK-iOS `WTRApiClient.m`).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

REGIONS = ("us", "eu", "au")
AUTO = "auto"


@dataclass(frozen=True)
class Host:
    """One API host: data URLs are `{api_root}/{version}/{path}`; tokens come from `token_url`."""

    api_root: str  # scheme://host[/prefix], no trailing slash
    token_url: str
    region: str | None  # us, eu or au when known (a base_url on another host has none)

    @property
    def name(self) -> str:
        return urlsplit(self.api_root).netloc

    def url(self, path: str, version: str = "v1") -> str:
        return f"{self.api_root}/{version}/{path}"


REGION_HOSTS = {
    "us": Host("https://api.wootric.com", "https://api.wootric.com/oauth/token", "us"),
    "eu": Host("https://app.wootric.eu/api", "https://app.wootric.eu/oauth/token", "eu"),
    "au": Host("https://app.wootric.au/api", "https://app.wootric.au/oauth/token", "au"),
}
_REGION_OF_HOST_NAME = {"api.wootric.com": "us", "app.wootric.eu": "eu", "app.wootric.au": "au"}


def base_url_host(base_url: str) -> Host:
    """A `base_url` keeps its meaning: scheme://host[/prefix], with `/v1/...` and `/oauth/token` appended."""
    root = base_url.strip().rstrip("/")
    return Host(root, f"{root}/oauth/token", _REGION_OF_HOST_NAME.get(urlsplit(root).netloc.lower()))


def token_region(account_token: str | None) -> str | None:
    """The region an account token's prefix names (`NPS-EU-`, `NPS-AU-`); None for any other token. The dash
    is not required: US tokens are `NPS-` and hex digits, which never start `EU` or `AU`."""
    prefix = (account_token or "").strip().upper()
    for region in ("eu", "au"):
        if prefix.startswith(f"NPS-{region.upper()}"):
            return region
    return None


@dataclass(frozen=True)
class HostPlan:
    """The hosts to ask for a token, in order: the first that accepts the credentials is the account's."""

    hosts: tuple[Host, ...]
    setting: str  # the config field that decides the host, named when the host is wrong: region or base_url
    chosen_by_token: bool = False  # `auto` read the region from the account token's prefix

    @property
    def probes(self) -> bool:
        return len(self.hosts) > 1


def plan_hosts(region: str, base_url: str | None, account_token: str | None) -> HostPlan:
    """An explicit `base_url` or region is used alone. `auto` takes the account token's region if its
    prefix names one, and otherwise tries US, then EU, then AU."""
    if base_url:
        return HostPlan((base_url_host(base_url),), "base_url")
    if region != AUTO:
        return HostPlan((REGION_HOSTS[region],), "region")
    from_token = token_region(account_token)
    if from_token:
        return HostPlan((REGION_HOSTS[from_token],), "region", chosen_by_token=True)
    return HostPlan(tuple(REGION_HOSTS[name] for name in REGIONS), "region")
