"""HTTP behaviour, once for all streams: timeouts, retries, body checks, the account's rate-limit budget,
and request counts for the stream summaries.

One client is shared by every stream of a sync, because Wootric's rate limit is per account.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import orjson
import requests
from airbyte_cdk.models import FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException
from urllib3.exceptions import NameResolutionError

from source_wootric.auth import WootricAuthenticator
from source_wootric.config import Tuning, WootricConfig, config_error
from source_wootric.errors import NOT_JSON, error_detail, json_body
from source_wootric.hosts import REGION_HOSTS, Host

USER_AGENT = "source-wootric (Airbyte)"
TOKEN_PATH = "oauth/token"
LOW_BUDGET = 2  # requests left in the window at which we wait for the reset rather than risk a 429
# Failures of the address itself, which no retry cures.
UNUSABLE_URL = (
    requests.exceptions.InvalidURL,
    requests.exceptions.InvalidSchema,
    requests.exceptions.MissingSchema,
)


class TransientError(Exception):
    """A failure worth retrying: 5xx, a dropped connection, a timeout, a body that is not whole JSON."""


class NotFound(AirbyteTracedException):
    """HTTP 404 for a data path: the account or its region does not serve that path (Wootric's v2 API)."""


def transient_error(message: str) -> AirbyteTracedException:
    return AirbyteTracedException(
        message=message, internal_message=message, failure_type=FailureType.transient_error
    )


@dataclass
class RateLimitBudget:
    """What the last answer said of the account's rate limit, shared by all streams. The limit is the
    account's, shared with its other clients (SDKs, integrations): `reserve` of it is left to them."""

    reserve: float = 0.0
    limit: int | None = None
    remaining: int | None = None
    reset_at: float | None = None

    def observe(self, headers: Mapping[str, str]) -> None:
        try:
            if "X-Rate-Limit-Remaining" in headers:
                self.remaining = int(headers["X-Rate-Limit-Remaining"])
                self.limit = int(headers.get("X-Rate-Limit-Limit", self.limit or 0)) or None
                self.reset_at = (
                    float(headers["X-Rate-Limit-Reset"]) if "X-Rate-Limit-Reset" in headers else None
                )
        except ValueError:
            pass  # a header we cannot read tells us nothing; the 429 handling still protects us

    @property
    def kept_for_others(self) -> int:
        """Requests of each window left to the account's other clients: the reserve's share of the limit
        (rounded up), and never fewer than LOW_BUDGET, which keeps our own next request from a 429."""
        share = math.ceil(round(self.limit * self.reserve, 6)) if self.limit else 0
        return max(LOW_BUDGET, share)

    def wait_before_next(self, now: float, fallback: float) -> float:
        """Seconds to wait before the next request: until the reported reset once only the reserve is left,
        but never longer than `fallback` (the documented window), so that a clock skewed against the API's
        cannot stall the sync."""
        if self.remaining is None or self.remaining > self.kept_for_others:
            return 0.0
        return min(fallback, max(0.0, (self.reset_at - now) if self.reset_at else fallback))

    def describe(self) -> str:
        if self.remaining is None:
            return "no rate limit reported"
        return f"rate limit {self.remaining}/{self.limit or '?'} left, {self.kept_for_others} kept for other clients"


class WootricClient:
    def __init__(
        self,
        config: WootricConfig,
        logger: logging.Logger,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ):
        self.setting = config.hosts.setting  # the config field to name when the host is wrong
        self.tuning: Tuning = config.tuning
        self.logger = logger
        self.sleep = sleep
        self.clock = clock
        self.session = _session()
        self._proxies: dict[str, dict[str, str]] = {}  # by host: the environment's proxies, read once
        self._answered: set[str] = set()  # hosts that have answered: their name resolves, their TLS works
        self.budget = RateLimitBudget(reserve=config.tuning.rate_limit_reserve)
        self.requests: Counter[str] = Counter()  # by the path asked, for the stream summaries
        # Set when a request exhausted its retries; until a request succeeds, later requests are tried once, so
        # that an outage fails the remaining streams of the sync in seconds instead of minutes each.
        self._outage_since: float | None = None
        self.auth = WootricAuthenticator(config.credentials, config.hosts, self._post_form, logger, clock)

    @property
    def total_requests(self) -> int:
        """Requests for data, the token requests left out: what the stream summaries and floors count."""
        return sum(count for path, count in self.requests.items() if path != TOKEN_PATH)

    @property
    def host(self) -> Host:
        """The account's API host; with `region: auto`, found by the first token request."""
        return self.auth.host

    # -- the API -----------------------------------------------------------------------------------
    def get(
        self, path: str, params: Mapping[str, Any] | None = None, *, expect: type = list, version: str = "v1"
    ) -> Any:
        """GETs `{host}/{version}/{path}` (the e-mail statistics live under v2) and returns its decoded JSON,
        which must be of the type `expect`."""
        url = self.host.url(path, version)
        query = urlencode(params or {})  # encoded once, as requests would, rather than on every attempt
        renewed = False
        while True:
            response, body = self._send(
                "GET", url, path, params=query, headers_fn=self.auth.headers, expect=expect
            )
            if response.status_code == 401 and not renewed:
                renewed = True  # the token expired or was revoked: one fresh token, then give up
                self.auth.renew()
                continue
            if response.status_code != 200:
                raise self._failure(response, url)
            return body

    def _post_form(self, url: str, query: dict[str, str], form: dict[str, str]) -> requests.Response:
        # expect=dict: a token answer cut short or not JSON is a transient failure, retried like any other.
        return self._send("POST", url, TOKEN_PATH, params=query, data=form, expect=dict)[0]

    def _failure(self, response: requests.Response, url: str) -> AirbyteTracedException:
        detail = error_detail(response)
        if response.status_code == 404 and json_body(response) is NOT_JSON:
            return config_error(
                f"{url} answered HTTP 404 with a page that is not Wootric's API (not JSON): check "
                + (
                    "`base_url` (scheme://host[/prefix], without /v1)."
                    if self.setting == "base_url"
                    else "`region`, or set `base_url`."
                )
            )
        if response.status_code == 401:
            return config_error(
                f"Wootric refused a fresh token for {url} (HTTP 401{detail}): the API user may have lost "
                "access; check `credentials` and `region`."
            )
        if response.status_code == 403:
            return config_error(
                f"Wootric denied access to {url} (HTTP 403{detail}): check the account's plan."
            )
        failure = NotFound if response.status_code == 404 else AirbyteTracedException
        return failure(
            message=f"Wootric answered HTTP {response.status_code} for {url}{detail}.",
            internal_message=f"HTTP {response.status_code} for {url}{detail}",
            failure_type=FailureType.system_error,
        )

    # -- one request, with retries -----------------------------------------------------------------
    def _send(
        self,
        method: str,
        url: str,
        counter_key: str,
        *,
        params: Mapping[str, Any] | str | None = None,
        data: Mapping[str, str] | None = None,
        headers_fn: Callable[[], dict[str, str]] | None = None,
        expect: type | None = None,
    ) -> tuple[requests.Response, Any]:
        """Sends until the answer is final: waits out 429s (up to `max_rate_limit_seconds` in all), retries
        transient failures with exponential backoff within a bounded time, then raises a transient error."""
        tuning = self.tuning
        first_failure_at: float | None = None
        attempt = 0
        rate_limited_for, rate_limited_answers = 0.0, 0
        while True:
            wait = self.budget.wait_before_next(self.clock(), tuning.rate_limit_fallback_wait)
            if wait:
                self.logger.info(
                    f"Rate limit nearly used up ({self.budget.describe()}); waiting {wait:.0f} s"
                )
                self.sleep(wait)
                self.budget.remaining = None
            try:
                response, body = self._once(method, url, counter_key, params, data, headers_fn, expect)
            except TransientError as error:
                now = self.clock()
                first_failure_at = first_failure_at or now
                attempt += 1
                delay = tuning.backoff_base * 2 ** (attempt - 1)
                retries = tuning.max_transient_retries if self._outage_since is None else 0
                if attempt > retries or now + delay - first_failure_at > tuning.max_transient_seconds:
                    earlier = (
                        " Wootric had already failed earlier in this sync, so this request was tried once."
                        if self._outage_since is not None
                        else ""
                    )
                    self._outage_since = self._outage_since or now
                    raise transient_error(
                        f"Wootric could not be reached or kept failing for {url}: {_count(attempt, 'attempt')} over "
                        f"{now - first_failure_at:.0f} s, the last one {error}.{earlier} This is usually "
                        "temporary; a sync resumes from its last state. If it persists, check `base_url` or "
                        "`region`."
                    ) from None
                self.logger.warning(f"{error}; retry {attempt} in {delay:.1f} s")
                self.sleep(delay)
                continue
            if response.status_code == 429:
                reset = _header_number(response, "X-Rate-Limit-Reset")
                fallback = tuning.rate_limit_fallback_wait
                wait = min(fallback, max(1.0, reset - self.clock())) if reset else fallback
                rate_limited_answers += 1
                allowed = tuning.max_rate_limit_seconds if self._outage_since is None else 0.0
                if rate_limited_for + wait > allowed:
                    self._outage_since = self._outage_since or self.clock()
                    raise transient_error(
                        f"Wootric kept answering HTTP 429 (rate limited) for {url}: {_count(rate_limited_answers, 'answer')} "
                        f"over {rate_limited_for:.0f} s of waiting. Another client may be using up the "
                        "account's rate limit; the next sync resumes from the last state."
                    )
                rate_limited_for += wait
                self.logger.info(f"Rate limited (HTTP 429) on {counter_key}; waiting {wait:.0f} s")
                self.sleep(wait)
                continue
            # Only a success ends an outage: a 401 does not prove that the token endpoint is back.
            if response.status_code < 400:
                self._outage_since = None
            return response, body

    def _once(
        self,
        method: str,
        url: str,
        counter_key: str,
        params: Mapping[str, Any] | str | None,
        data: Mapping[str, str] | None,
        headers_fn: Callable[[], dict[str, str]] | None,
        expect: type | None,
    ) -> tuple[requests.Response, Any]:
        headers = headers_fn() if headers_fn else None
        host = _host_name(url)
        self.requests[counter_key] += 1
        try:
            response = self.session.request(
                method,
                url,
                params=params,
                data=data,
                headers=headers,
                timeout=(self.tuning.connect_timeout, self.tuning.read_timeout),
                proxies=self._proxies_for(host, url),
            )
        except UNUSABLE_URL as error:
            raise self._unusable_url(url, error) from None
        except requests.ConnectionError as error:
            if host not in self._answered:  # before the host ever answered: the address may be wrong
                if isinstance(error, requests.exceptions.SSLError):
                    raise self._tls_failure(host, error) from None
                if not isinstance(error, requests.exceptions.ProxyError) and _unresolved_name(error):
                    raise self._unresolved_host(host) from None
            raise TransientError(f"{type(error).__name__} on {counter_key}") from None
        except requests.RequestException as error:  # e.g. a timeout, a body cut off mid-transfer
            raise TransientError(f"{type(error).__name__} on {counter_key}") from None
        self._answered.add(host)
        self.budget.observe(response.headers)
        if response.status_code >= 500:
            raise TransientError(f"HTTP {response.status_code}{error_detail(response)} on {counter_key}")
        if expect is None or response.status_code != 200:
            return response, None
        try:
            body = orjson.loads(response.content)
        except ValueError:
            raise TransientError(f"an answer on {counter_key} that is not whole JSON") from None
        if not isinstance(body, expect):
            raise TransientError(f"an answer on {counter_key} that is not a JSON {expect.__name__}")
        return response, body

    # -- the environment and the address ------------------------------------------------------------
    def _proxies_for(self, host: str, url: str) -> dict[str, str]:
        """The environment's proxies for `host` (HTTPS_PROXY, NO_PROXY...), read once per host rather than
        on every request as requests does by default (a tenth of the CPU a record costs)."""
        if host not in self._proxies:
            self._proxies[host] = requests.utils.get_environ_proxies(url)
        return self._proxies[host]

    def _where(self) -> str:
        if self.setting == "base_url":
            return "`base_url`"
        hosts = ", ".join(region_host.name for region_host in REGION_HOSTS.values())
        return f"`region` (Wootric's hosts are {hosts})"

    def _unresolved_host(self, host: str) -> AirbyteTracedException:
        return config_error(
            f"The host {host} does not resolve (its name is unknown to DNS): check {self._where()}, and that "
            "this machine can resolve Internet names."
        )

    def _tls_failure(self, host: str, error: requests.exceptions.SSLError) -> AirbyteTracedException:
        reason = str(error.args[0] if error.args else error)[-300:]
        return config_error(
            f"A secure (TLS) connection to {host} failed ({reason}): check {self._where()}; behind a proxy "
            "that inspects TLS, set REQUESTS_CA_BUNDLE to its CA certificates."
        )

    def _unusable_url(self, url: str, error: requests.RequestException) -> AirbyteTracedException:
        if isinstance(error, requests.exceptions.InvalidProxyURL):
            return config_error(
                f"The proxy set in the environment (HTTPS_PROXY / HTTP_PROXY) is not a usable URL "
                f"({type(error).__name__}): fix or unset it."
            )
        return config_error(f"{url} is not a usable URL ({type(error).__name__}): check {self._where()}.")


def _session() -> requests.Session:
    """A session that reads the CA settings once; proxies are read per host (see `_proxies_for`)."""
    session = requests.Session()
    session.headers["User-Agent"] = USER_AGENT
    session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    session.trust_env = False
    return session


def _host_name(url: str) -> str:
    """`host[:port]` of an absolute URL, without parsing all of it (it runs on every request)."""
    return url.split("/", 3)[2] if "://" in url else url


def _unresolved_name(error: BaseException) -> bool:
    """Whether a connection failed because the host's name did not resolve, somewhere in its causes."""
    pending, seen = [error], set()
    while pending:
        cause = pending.pop()
        if id(cause) in seen:
            continue
        seen.add(id(cause))
        if isinstance(cause, (NameResolutionError, socket.gaierror)):
            return True
        linked = (*cause.args, getattr(cause, "reason", None), cause.__cause__, cause.__context__)
        pending.extend(link for link in linked if isinstance(link, BaseException))
    return False


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _header_number(response: requests.Response, name: str) -> float | None:
    try:
        return float(response.headers[name])
    except (KeyError, ValueError):
        return None
