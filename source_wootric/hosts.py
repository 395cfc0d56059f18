"""Where an account's API lives: the regions' hosts in both shapes seen in public, and which to try.

Pure logic, no HTTP. Wootric's API reference serves `https://api.wootric.com/v1/...` and tells EU and AU
accounts (account tokens `NPS-EU-...` / `NPS-AU-...`) to replace `.com` with `.eu` / `.au`; Wootric's own
SDKs call `https://app.wootric.eu/api/v1/...`, `app.wootric.au` and, since 2023, `app.wootric.com`
(WootricSDK-Android `Constants.java`, WootricSDK-iOS `WTRApiClient.m`). No public artifact shows which serves
the list endpoints, so each region's reference host is tried first, then its SDK host.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from airbyte_cdk.models import FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

REGIONS = ("us", "eu", "au")


class HostUnreachable(AirbyteTracedException):
    """A host that cannot be reached at all before it ever answered: its name does not resolve, it refuses
    connections, or the proxy cannot reach it. The host search tries the next host; alone, it is the config
    error that names the setting to fix."""

    def __init__(self, name: str, reason: str, setting: str):
        self.reason = reason
        message = f"The host {name} {reason}: check `{setting}`."
        super().__init__(message=message, internal_message=message, failure_type=FailureType.config_error)


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


_TLD = {"us": "com", "eu": "eu", "au": "au"}
# Each region's hosts, in the order they are tried: the reference's, then the SDKs'.
REGION_HOSTS = {
    region: (
        Host(f"https://api.wootric.{tld}", f"https://api.wootric.{tld}/oauth/token", region),
        Host(f"https://app.wootric.{tld}/api", f"https://app.wootric.{tld}/oauth/token", region),
    )
    for region, tld in _TLD.items()
}
_REGION_OF_HOST_NAME = {host.name: host.region for hosts in REGION_HOSTS.values() for host in hosts}


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

    @property
    def regions(self) -> set[str | None]:
        return {host.region for host in self.hosts}


def plan_hosts(region: str, base_url: str | None, account_token: str | None) -> HostPlan:
    """An explicit `base_url` is used alone, an explicit region's two hosts in turn. `auto` takes the account
    token's region if its prefix names one, and otherwise tries US, then EU, then AU."""
    if base_url:
        return HostPlan((base_url_host(base_url),), "base_url")
    if region != AUTO:
        return HostPlan(REGION_HOSTS[region], "region")
    from_token = token_region(account_token)
    if from_token:
        return HostPlan(REGION_HOSTS[from_token], "region", chosen_by_token=True)
    return HostPlan(tuple(host for name in REGIONS for host in REGION_HOSTS[name]), "region")
