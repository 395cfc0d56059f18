"""The user's config, read and checked once into a typed object.

Every problem is reported as a config error that names the field to fix; secrets are never echoed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pendulum
from airbyte_cdk.models import FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_wootric.hosts import AUTO, REGIONS, HostPlan, plan_hosts

NPS_PERIODS = ("day", "week", "month")
AUTO_TIMEZONE = "auto"
MAX_LOOKBACK_WINDOW_DAYS = 3650  # spec.yaml's maximum: ten years, a full re-read of any account on every sync
# spec.yaml's maximum: a sweep spread over more than a year would hardly be one
MAX_BACKDATED_BOUND_DAYS = 365


def config_error(message: str) -> AirbyteTracedException:
    return AirbyteTracedException(
        message=message, internal_message=message, failure_type=FailureType.config_error
    )


def transient_error(message: str) -> AirbyteTracedException:
    return AirbyteTracedException(
        message=message, internal_message=message, failure_type=FailureType.transient_error
    )


@dataclass(frozen=True)
class Tuning:
    """Timing knobs, settable from the environment so that tests never wait a real minute."""

    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    backoff_base: float = 2.0  # seconds before the first retry of a transient failure; doubles each time
    max_transient_retries: int = 8
    max_transient_seconds: float = 600.0
    # A 429 without X-Rate-Limit-Reset waits this long, and no rate-limit wait is longer (the documented window).
    rate_limit_fallback_wait: float = 60.0
    max_rate_limit_seconds: float = 1800.0  # one request rate limited this long in all: a transient error
    clock_margin: int = 10  # the newest seconds are left to the next sync, in case the API's clock lags ours
    # The share of the account's per-minute rate limit left to its other clients (SDKs, integrations).
    rate_limit_reserve: float = 0.10
    # Disk the end-user spool may use (about 0.8 kB per end user); past it the second stream reads the API.
    spool_max_bytes: int = 2 * 1024**3
    now: int = 0  # the sync's "now" in epoch seconds, for tests that replay days of syncs; 0: the clock

    @classmethod
    def from_env(cls) -> Tuning:
        env = {
            "connect_timeout": "WOOTRIC_CONNECT_TIMEOUT",
            "read_timeout": "WOOTRIC_READ_TIMEOUT",
            "backoff_base": "WOOTRIC_BACKOFF_BASE",
            "max_transient_retries": "WOOTRIC_MAX_RETRIES",
            "max_transient_seconds": "WOOTRIC_MAX_RETRY_SECONDS",
            "rate_limit_fallback_wait": "WOOTRIC_RATE_LIMIT_WAIT",
            "max_rate_limit_seconds": "WOOTRIC_MAX_RATE_LIMIT_SECONDS",
            "clock_margin": "WOOTRIC_CLOCK_MARGIN",
            "rate_limit_reserve": "WOOTRIC_RATE_LIMIT_RESERVE",
            "spool_max_bytes": "WOOTRIC_SPOOL_MAX_BYTES",
            "now": "WOOTRIC_NOW",
        }
        values: dict[str, Any] = {}
        for field, name in env.items():
            if name in os.environ:
                try:
                    number = float(os.environ[name])
                except ValueError:
                    number = -1.0
                least = 0.001 if field.endswith("timeout") else 0.0
                # The reserve is a share of the budget, and some of it must be ours.
                most = 0.9 if field == "rate_limit_reserve" else float("inf")
                if not least <= number < float("inf") or number > most:
                    below = f" and at most {most}" if most < float("inf") else ""
                    raise config_error(
                        f"The environment variable {name} must be a number, {'above' if least else 'at least'} 0"
                        f"{below}, not {os.environ[name]!r}."
                    )
                values[field] = int(number) if isinstance(getattr(cls, field), int) else number
        return cls(**values)


@dataclass(frozen=True)
class Credentials:
    grant_type: str  # "client_credentials" or "password"
    form: Mapping[str, str]  # the token request's form body (holds the secrets)
    account_token: str | None = None  # goes in the token URL's query, as Wootric asks

    @property
    def secrets(self) -> list[str]:
        return [v for k, v in self.form.items() if k in ("client_secret", "password")]


@dataclass(frozen=True)
class WootricConfig:
    credentials: Credentials
    start: int  # epoch seconds
    hosts: HostPlan  # where the API is: one host, or the regions to probe for the account
    account_timezone: ZoneInfo | None  # None: `auto`, learnt from the data (see zone_probe.py)
    lookback_window_days: int = 30
    backdated_bound_days: int = 7  # 0: no sweep
    nps_summary_period: str = "month"
    tuning: Tuning = Tuning()

    @property
    def start_date(self) -> datetime:
        return datetime.fromtimestamp(self.start, tz=timezone.utc)


def _required_text(mapping: Mapping[str, Any], key: str, where: str) -> str:
    value = mapping.get(key)
    if value is not None and not isinstance(value, str):
        raise config_error(
            f"`{where}{key}` must be text, not {_kind(value)}: copy it from Wootric's Settings -> API page."
        )
    if not isinstance(value, str) or not value.strip():
        raise config_error(
            f"`{where}{key}` is missing or empty: copy it from Wootric's Settings -> API page."
        )
    return value.strip()


def _kind(value: Any) -> str:
    """The JSON kind of a value, for messages that must not echo it (it may be a secret)."""
    for kind, name in (
        (bool, "true/false"),
        (int, "a number"),
        (float, "a number"),
        (str, "text"),
        (list, "a list"),
    ):
        if isinstance(value, kind):
            return name
    return "an object" if isinstance(value, Mapping) else "null"


def _credentials(raw: Any) -> Credentials:
    if not isinstance(raw, Mapping):
        problem = "is missing" if raw is None else f"must be an object, not {_kind(raw)}"
        raise config_error(
            f"`credentials` {problem}: choose OAuth client credentials (client_id, client_secret) or e-mail and "
            "password (username, password)."
        )
    auth_type = raw.get("auth_type", "client_credentials")
    if auth_type == "client_credentials":
        form = {
            "grant_type": "client_credentials",
            "client_id": _required_text(raw, "client_id", "credentials."),
            "client_secret": _required_text(raw, "client_secret", "credentials."),
        }
        return Credentials("client_credentials", form)
    if auth_type == "password":
        form = {
            "grant_type": "password",
            "username": _required_text(raw, "username", "credentials."),
            "password": _required_text(raw, "password", "credentials."),
        }
        token = raw.get("account_token")
        if token is not None and not isinstance(token, str):
            raise config_error("`credentials.account_token` must be text like NPS-xxxxxxxx.")
        return Credentials("password", form, (token or "").strip() or None)
    raise config_error(f"`credentials.auth_type` must be client_credentials or password, not {auth_type!r}.")


def parse_start_date(value: Any) -> int:
    if value is not None and not isinstance(value, str):
        raise config_error(
            f"`start_date` must be text, not {_kind(value)}: an RFC 3339 UTC date-time such as 2020-01-01T00:00:00Z."
        )
    if not isinstance(value, str) or not value.strip():
        raise config_error(
            "`start_date` is required: an RFC 3339 UTC date-time such as 2020-01-01T00:00:00Z."
        )
    try:
        parsed = pendulum.parse(value.strip(), strict=True)
    except (ValueError, pendulum.parsing.exceptions.ParserError) as error:
        raise config_error(
            f"`start_date` {value!r} is not an RFC 3339 date-time; use e.g. 2020-01-01T00:00:00Z."
        ) from error
    if not isinstance(parsed, pendulum.DateTime):
        parsed = pendulum.datetime(parsed.year, parsed.month, parsed.day, tz="UTC")
    if parsed > pendulum.now("UTC"):
        raise config_error(f"`start_date` {value!r} is in the future; choose a date in the past.")
    return int(parsed.timestamp())


def _host_plan(config: Mapping[str, Any], credentials: Credentials) -> HostPlan:
    base_url = config.get("base_url")
    if base_url not in (None, ""):
        if not isinstance(base_url, str):
            raise config_error("`base_url` must be text such as https://api.wootric.com.")
        parts = urlsplit(base_url.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise config_error(
                f"`base_url` {base_url!r} needs a scheme and a host, such as https://api.wootric.com "
                "or http://localhost:8080."
            )
        if parts.scheme != "https" and os.environ.get("DEPLOYMENT_MODE", "").lower() == "cloud":
            # Plain http would carry the client secret or password, and every token, in clear text.
            raise config_error(
                f"`base_url` {base_url!r} must use https on Airbyte Cloud: plain http would send the credentials "
                "in clear text."
            )
    region = config.get("region") or AUTO  # a 0.1.0 config may have none
    if region not in (AUTO, *REGIONS):
        raise config_error(f"`region` must be one of {', '.join((AUTO, *REGIONS))}, not {region!r}.")
    return plan_hosts(region, base_url or None, credentials.account_token)


def _int_setting(config: Mapping[str, Any], key: str, default: int, maximum: int) -> int:
    value = config.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        raise config_error(f"`{key}` must be a whole number of days from 0 to {maximum}, not {value!r}.")
    return value


def parse_account_timezone(value: Any) -> ZoneInfo | None:
    """An IANA zone name, or None for `auto` (also when missing: the spec's default). An explicit zone is
    still checked against the data's UTC offsets at the start of each sync."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", AUTO_TIMEZONE)):
        return None
    if not isinstance(value, str):
        raise config_error(
            f"`account_timezone` must be text, not {_kind(value)}: `auto` or an IANA name such as America/Los_Angeles."
        )
    try:
        return ZoneInfo(value.strip())
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise config_error(
            f"`account_timezone` {value!r} is not an IANA time zone name such as America/Los_Angeles; "
            "`auto` learns it from the data."
        ) from error


def parse_config(config: Mapping[str, Any]) -> WootricConfig:
    if not isinstance(config, Mapping):
        raise config_error("The config must be a JSON object.")
    account_timezone = parse_account_timezone(config.get("account_timezone"))
    period = config.get("nps_summary_period", "month")
    if period not in NPS_PERIODS:
        raise config_error(f"`nps_summary_period` must be one of day, week, month, not {period!r}.")
    credentials = _credentials(config.get("credentials"))
    return WootricConfig(
        credentials=credentials,
        start=parse_start_date(config.get("start_date")),
        hosts=_host_plan(config, credentials),
        account_timezone=account_timezone,
        lookback_window_days=_int_setting(config, "lookback_window_days", 30, MAX_LOOKBACK_WINDOW_DAYS),
        backdated_bound_days=_int_setting(config, "backdated_bound_days", 7, MAX_BACKDATED_BOUND_DAYS),
        nps_summary_period=period,
        tuning=Tuning.from_env(),
    )
