"""The account's HTTP, once for all streams: the session, the authenticator, the rate-limit budget and the retry
state, and the CDK HttpClients that send through them.

One per sync, because Wootric's rate limit is per account. Requests are sent, retried and slept on by the CDK's
`HttpClient`: what an answer means is retries.WootricErrorHandler, how long to wait retries.WootricBackoff, the
pacing rate_limit.AccountBudget, the token auth.WootricAuthenticator. Streams send through HttpStream's own page
loop; `get` serves the few requests made outside a stream's loop (check, the zone probe, segments).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping
from typing import Any

import requests
from airbyte_cdk.sources.streams.call_rate import LimiterSession
from airbyte_cdk.sources.streams.http.http_client import HttpClient
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_wootric.auth import WootricAuthenticator
from source_wootric.config import Tuning, WootricConfig, config_error
from source_wootric.hosts import REGION_HOSTS, Host, HostUnreachable
from source_wootric.rate_limit import TOKEN_PATH, AccountBudget, OnWait
from source_wootric.retries import Retries, WootricBackoff, WootricErrorHandler, decoded

USER_AGENT = "source-wootric (Airbyte)"


class WootricClient:
    def __init__(self, config: WootricConfig, logger: logging.Logger, clock: Callable[[], float] = time.time):
        self.setting = config.hosts.setting  # the config field to name when the host is wrong
        self.tuning: Tuning = config.tuning
        self.logger = logger
        self.budget = AccountBudget(
            config.tuning.rate_limit_reserve, config.tuning.rate_limit_fallback_wait, logger, clock
        )
        self.retries = Retries(config.tuning, logger, clock)
        self.backoff = WootricBackoff(self)
        self._proxies: dict[str, dict[str, str]] = {}  # by host: the environment's proxies, read once
        self._answered: set[str] = set()  # hosts that have answered: their name resolves, their TLS works
        self.authenticator = WootricAuthenticator(
            config.credentials, config.hosts, self._post_form, logger, clock
        )
        self.authenticator.waited = self.budget.waited  # one tally of the sync's waits
        self._session = _session(self.budget)  # for data: the authenticator signs each request
        self._token_client = HttpClient(
            "oauth_token",
            logger,
            error_handler=WootricErrorHandler(self, dict, token=True),
            session=_session(self.budget),
            backoff_strategy=self.backoff,
        )
        self._clients: dict[type, HttpClient] = {}

    @property
    def requests(self) -> Mapping[str, int]:
        """Attempts by the path asked (`oauth/token` for tokens)."""
        return self.budget.requests

    @property
    def total_requests(self) -> int:
        return self.budget.data_requests

    def describe_sync(self, records: int, seconds: float) -> str:
        """The sync's closing line: what came out, what it cost, and where the time went waiting."""
        waited = self.budget.waited
        return (
            f"Sync done: {records} records, {self.total_requests} data requests and "
            f"{self.requests[TOKEN_PATH]} token requests in {seconds / 60:.1f} min; waited "
            f"{waited['rate limit'] / 60:.1f} min for the rate limit, {waited['retries'] / 60:.1f} min before "
            f"retries and {waited['token'] / 60:.1f} min for tokens."
        )

    @property
    def host(self) -> Host:
        """The account's API host; with `region: auto`, found by the first token request."""
        return self.authenticator.host

    @property
    def on_wait(self) -> OnWait | None:
        return self.budget.on_wait

    @on_wait.setter
    def on_wait(self, callback: OnWait | None) -> None:
        self.budget.on_wait = callback

    def http_client(self, name: str, error_handler: WootricErrorHandler) -> HttpClient:
        """A CDK HttpClient on the account's session, budget, authenticator and retries."""
        return HttpClient(
            name,
            self.logger,
            error_handler=error_handler,
            api_budget=self.budget,
            session=self._session,
            authenticator=self.authenticator,
            backoff_strategy=self.backoff,
        )

    def request_kwargs(self, url: str) -> dict[str, Any]:
        """Timeouts on every request, and the environment's proxies for its host, read once per host rather than
        on every request as requests does by default (a tenth of the CPU a record costs)."""
        host = _host_name(url)
        if host not in self._proxies:
            self._proxies[host] = requests.utils.get_environ_proxies(url)
        return {
            "timeout": (self.tuning.connect_timeout, self.tuning.read_timeout),
            "proxies": self._proxies[host],
        }

    def get(
        self, path: str, params: Mapping[str, Any] | None = None, *, expect: type = list, version: str = "v1"
    ) -> Any:
        """GETs `{host}/{version}/{path}` outside a stream's page loop; returns the decoded JSON of type `expect`."""
        url = self.host.url(path, version)
        if expect not in self._clients:
            self._clients[expect] = self.http_client("wootric", WootricErrorHandler(self, expect))
        _, response = self._clients[expect].send_request(
            "GET", url, request_kwargs=self.request_kwargs(url), params=dict(params or {})
        )
        return decoded(response)

    def _post_form(self, url: str, query: dict[str, str], form: dict[str, str]) -> requests.Response:
        """The token request, with the same timeouts, retries and budget as every other request."""
        return self._token_client.send_request(
            "POST", url, request_kwargs=self.request_kwargs(url), params=query, data=form
        )[1]

    # -- the address ---------------------------------------------------------------------------------------
    def answered(self, url: str) -> None:
        self._answered.add(_host_name(url))

    def has_answered(self, url: str) -> bool:
        return _host_name(url) in self._answered

    def _where(self) -> str:
        if self.setting == "base_url":
            return "`base_url`"
        hosts = ", ".join(host.name for hosts in REGION_HOSTS.values() for host in hosts)
        return f"`region` (Wootric's hosts are {hosts})"

    def unreachable(self, url: str, reason: str) -> HostUnreachable:
        return HostUnreachable(_host_name(url), reason, self.setting)

    def tls_failure(self, url: str, error: requests.exceptions.SSLError) -> AirbyteTracedException:
        reason = str(error.args[0] if error.args else error)[-300:]
        return config_error(
            f"A secure (TLS) connection to {_host_name(url)} failed ({reason}): check {self._where()}; behind a "
            "proxy that inspects TLS, set REQUESTS_CA_BUNDLE to its CA certificates."
        )

    def unusable_url(self, url: str, error: Exception) -> AirbyteTracedException:
        if isinstance(error, requests.exceptions.InvalidProxyURL):
            return config_error(
                f"The proxy set in the environment (HTTPS_PROXY / HTTP_PROXY) is not a usable URL "
                f"({type(error).__name__}): fix or unset it."
            )
        return config_error(f"{url} is not a usable URL ({type(error).__name__}): check {self._where()}.")


def _session(budget: AccountBudget) -> requests.Session:
    """A CDK LimiterSession (every request through the account's budget) that reads the CA settings once and the
    proxies per host (see `request_kwargs`), not the environment on every request."""
    session = LimiterSession(api_budget=budget)
    session.headers["User-Agent"] = USER_AGENT
    session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    session.trust_env = False
    return session


def _host_name(url: str) -> str:
    """`host[:port]` of an absolute URL, without parsing all of it (it runs on every request)."""
    return url.split("/", 3)[2] if "://" in url else url
