"""The user's config, read and checked once into a typed object: the credentials, where the account's API
lives, the start date and the settings. Every problem is a config error that names the field to fix; secrets
are never echoed. A config written for an earlier version is migrated first (`migrate_config`)."""

from __future__ import annotations

import difflib
import json
import logging
import os
import re
from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pendulum
import yaml
from airbyte_cdk.config_observation import emit_configuration_as_airbyte_control_message
from airbyte_cdk.models import FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

AUTO = "auto"
REGIONS = ("us", "eu", "au")
NPS_PERIODS = ("day", "week", "month")
# spec.yaml's settings: their titles, defaults, bounds and patterns are checked here as the spec states them.
SETTINGS = yaml.safe_load((Path(__file__).parent / "spec.yaml").read_text())["connectionSpecification"][
    "properties"
]
START_DATE_PATTERN = re.compile(SETTINGS["start_date"]["pattern"])


def named(key: str) -> str:
    """A setting as errors name it: its key, and in words the title the Airbyte UI shows for it."""
    return f"`{key}` ({SETTINGS[key]['title']})"


def config_error(message: str) -> AirbyteTracedException:
    return AirbyteTracedException(
        message=message, internal_message=message, failure_type=FailureType.config_error
    )


def transient_error(message: str) -> AirbyteTracedException:
    return AirbyteTracedException(
        message=message, internal_message=message, failure_type=FailureType.transient_error
    )


# -- where the API lives ------------------------------------------------------------------------------
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


# Each region's hosts in the order they are tried: the API reference's (`api.wootric.com`, and `.eu` / `.au`
# for the EU and AU instances), then Wootric's SDKs' (`app.wootric.*/api`, WootricSDK-Android `Constants.java`,
# WootricSDK-iOS `WTRApiClient.m`); no public artifact shows which of the two serves the list endpoints.
REGION_HOSTS = {
    region: (
        Host(f"https://api.wootric.{tld}", f"https://api.wootric.{tld}/oauth/token", region),
        Host(f"https://app.wootric.{tld}/api", f"https://app.wootric.{tld}/oauth/token", region),
    )
    for region, tld in (("us", "com"), ("eu", "eu"), ("au", "au"))
}
_REGION_OF_HOST_NAME = {host.name: host.region for hosts in REGION_HOSTS.values() for host in hosts}


def base_url_host(base_url: str) -> Host:
    """A `base_url` keeps its meaning: scheme://host[/prefix], with `/v1/...` and `/oauth/token` appended."""
    root = base_url.strip().rstrip("/")
    return Host(root, f"{root}/oauth/token", _REGION_OF_HOST_NAME.get(urlsplit(root).netloc.lower()))


def token_region(account_token: str | None) -> str | None:
    """The region an account token's prefix names (`NPS-EU-`, `NPS-AU-`); None for any other token. US tokens
    are `NPS-` and hex digits, which never start `EU` or `AU`."""
    prefix = (account_token or "").strip().upper()
    return next((region for region in ("eu", "au") if prefix.startswith(f"NPS-{region.upper()}")), None)


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
    if from_token := token_region(account_token):
        return HostPlan(REGION_HOSTS[from_token], "region", chosen_by_token=True)
    return HostPlan(tuple(host for name in REGIONS for host in REGION_HOSTS[name]), "region")


# -- the config -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Credentials:
    grant_type: str  # "client_credentials" or "password"
    form: Mapping[str, str]  # the token request's form body (holds the secrets)
    account_token: str | None = None  # goes in the token URL's query, as Wootric asks


@dataclass(frozen=True)
class WootricConfig:
    credentials: Credentials
    start: int  # epoch seconds
    hosts: HostPlan
    account_timezone: ZoneInfo | None  # None: `auto`, learnt from the data (see timezone.py)
    lookback_window_days: int = 30
    backdated_bound_days: int = 7  # 0: no sweep
    edits_bound_hours: int = 24  # 0: the whole look-back at every sync
    nps_summary_period: str = "month"


def _kind(value: Any) -> str:
    """The JSON kind of a value, for messages that must not echo it (it may be a secret)."""
    kinds = ((bool, "true/false"), (int, "a number"), (float, "a number"), (str, "text"), (list, "a list"))
    found = next((name for kind, name in kinds if isinstance(value, kind)), None)
    return found or ("an object" if isinstance(value, Mapping) else "null")


def _required_text(mapping: Mapping[str, Any], key: str) -> str:
    value = mapping.get(key)
    if value is not None and not isinstance(value, str):
        problem = f"must be text, not {_kind(value)}"
    elif not isinstance(value, str) or not value.strip():
        problem = "is missing or empty"
    else:
        return value.strip()
    raise config_error(f"`credentials.{key}` {problem}: copy it from Wootric's Settings -> API page.")


def _credentials(raw: Any) -> Credentials:
    if not isinstance(raw, Mapping):
        problem = "is missing" if raw is None else f"must be an object, not {_kind(raw)}"
        raise config_error(
            f"`credentials` {problem}: choose OAuth client credentials (client_id, client_secret) or e-mail and "
            "password (username, password)."
        )
    auth_type = raw.get("auth_type", "client_credentials")
    if auth_type == "client_credentials":
        form = {key: _required_text(raw, key) for key in ("client_id", "client_secret")}
        return Credentials(auth_type, {"grant_type": auth_type, **form})
    if auth_type == "password":
        form = {key: _required_text(raw, key) for key in ("username", "password")}
        token = raw.get("account_token")
        if token is not None and not isinstance(token, str):
            raise config_error("`credentials.account_token` must be text like NPS-xxxxxxxx.")
        return Credentials(auth_type, {"grant_type": auth_type, **form}, (token or "").strip() or None)
    raise config_error(f"`credentials.auth_type` must be client_credentials or password, not {auth_type!r}.")


def parse_start_date(value: Any) -> int:
    example = "an RFC 3339 UTC date-time such as 2020-01-01T00:00:00Z"
    if value is not None and not isinstance(value, str):
        raise config_error(f"{named('start_date')} must be text, not {_kind(value)}: {example}.")
    if not isinstance(value, str) or not value.strip():
        raise config_error(f"{named('start_date')} is required: {example}.")
    try:  # the spec's pattern, checked here first so that the error names the field and shows an example
        if not START_DATE_PATTERN.match(value.strip()):
            raise ValueError(value)
        parsed = pendulum.parse(value.strip(), strict=True)
    except (ValueError, pendulum.parsing.exceptions.ParserError) as error:
        day = re.match(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value.strip())
        hint = f": for the start of {day[0]}, write {day[0]}T00:00:00Z" if day else ""
        raise config_error(
            f"{named('start_date')} {value!r} is not {example}, with the time and the `Z`{hint}."
        ) from error
    if parsed > pendulum.now("UTC"):
        raise config_error(f"{named('start_date')} {value!r} is in the future; choose a date in the past.")
    return int(parsed.timestamp())


def _host_plan(config: Mapping[str, Any], credentials: Credentials) -> HostPlan:
    base_url = config.get("base_url")
    if base_url not in (None, ""):
        if not isinstance(base_url, str):
            raise config_error(f"{named('base_url')} must be text such as https://api.wootric.com.")
        parts = urlsplit(base_url.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise config_error(
                f"{named('base_url')} {base_url!r} needs a scheme and a host, such as https://api.wootric.com "
                "or http://localhost:8080."
            )
        if parts.scheme != "https" and os.environ.get("DEPLOYMENT_MODE", "").lower() == "cloud":
            # Plain http would carry the client secret or password, and every token, in clear text.
            raise config_error(
                f"{named('base_url')} {base_url!r} must use https on Airbyte Cloud: plain http would send the credentials "
                "in clear text."
            )
    region = config.get("region") or AUTO  # a 0.1.0 config may have none
    if region not in (AUTO, *REGIONS):
        raise config_error(f"{named('region')} must be one of {', '.join((AUTO, *REGIONS))}, not {region!r}.")
    return plan_hosts(region, base_url or None, credentials.account_token)


def _days(config: Mapping[str, Any], key: str, unit: str = "days") -> int:
    """A whole number of `unit` within the spec's bounds, or the spec's default."""
    default, maximum = SETTINGS[key]["default"], SETTINGS[key]["maximum"]
    value = config.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        raise config_error(
            f"{named(key)} must be a whole number of {unit} from 0 to {maximum}, such as {default}, not {value!r}."
        )
    return value


def parse_account_timezone(value: Any) -> ZoneInfo | None:
    """An IANA zone name, or None for `auto` (also when missing: the spec's default). An explicit zone is
    still checked against the data's UTC offsets at the start of each sync."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", AUTO)):
        return None
    if not isinstance(value, str):
        raise config_error(
            f"{named('account_timezone')} must be text, not {_kind(value)}: `auto` or an IANA name such as America/Los_Angeles."
        )
    try:
        return ZoneInfo(value.strip())
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise config_error(
            f"{named('account_timezone')} {value!r} is not an IANA time zone name such as America/Los_Angeles; "
            "`auto` learns it from the data."
        ) from error


def unknown_keys(config: Mapping[str, Any], settings: Iterable[str]) -> list[str]:
    """A line for each top-level key that is not a setting (a misspelt one would otherwise leave its default
    in force without a word), naming the nearest setting. Keys starting `_` are the CDK's own."""
    known = sorted(settings)
    lines = []
    for key in config:
        if key in known or key.startswith("_"):
            continue
        nearest = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        hint = f"did you mean `{nearest[0]}`?" if nearest else f"the settings are {', '.join(known)}."
        lines.append(f"The config key `{key}` is not a setting of this connector and is ignored; {hint}")
    return lines


def parse_config(config: Mapping[str, Any]) -> WootricConfig:
    if not isinstance(config, Mapping):
        raise config_error("The config must be a JSON object.")
    account_timezone = parse_account_timezone(config.get("account_timezone"))
    period = config.get("nps_summary_period", "month")
    if period not in NPS_PERIODS:
        raise config_error(f"{named('nps_summary_period')} must be one of day, week, month, not {period!r}.")
    credentials = _credentials(config.get("credentials"))
    return WootricConfig(
        credentials=credentials,
        start=parse_start_date(config.get("start_date")),
        hosts=_host_plan(config, credentials),
        account_timezone=account_timezone,
        lookback_window_days=_days(config, "lookback_window_days"),
        backdated_bound_days=_days(config, "backdated_bound_days"),
        edits_bound_hours=_days(config, "edits_bound_hours", "hours"),
        nps_summary_period=period,
    )


# -- the migration of configs written for earlier versions ---------------------------------------------------
MIGRATION = "0.1.0 configs without credentials.auth_type get client_credentials"


def migrate_config(config: Mapping[str, Any]) -> tuple[MutableMapping[str, Any], list[str]]:
    """The config as this version reads it, and the migrations that changed it; the given config is left
    unchanged. 0.1.0 left `credentials.auth_type` optional and read a config without it as client credentials."""
    credentials = config.get("credentials")
    if not isinstance(credentials, Mapping) or "auth_type" in credentials:
        return dict(config), []
    return {**config, "credentials": {**credentials, "auth_type": "client_credentials"}}, [MIGRATION]


def migrate_config_file(
    config: MutableMapping[str, Any], config_path: str, logger: logging.Logger
) -> MutableMapping[str, Any]:
    """Migrates `config`, read from `config_path`; a changed config is written back there (when it is a regular
    file: not /dev/stdin) and emitted as a CONNECTOR_CONFIG control message, from which the platform stores it."""
    migrated, applied = migrate_config(config)
    if not applied:
        return config
    if os.path.isfile(config_path):
        try:
            with open(config_path, "w", encoding="utf-8") as file:
                json.dump(migrated, file)
        except OSError as error:  # the CONTROL message still reaches the platform, which stores it
            logger.warning(f"The migrated config could not be written back to {config_path}: {error}")
    emit_configuration_as_airbyte_control_message(migrated)
    logger.info(f"The config was migrated to this version: {'; '.join(applied)}.")
    return migrated
