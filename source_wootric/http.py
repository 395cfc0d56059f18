"""What every Wootric request goes through, as the CDK's HttpClient is configured for it: what an answer means
(`WootricErrorHandler`), how long to wait before trying again (`WootricBackoff`), how much of the account's
rate limit to leave to its other clients (`ReservePolicy` in an `APIBudget`), and the RATE_LIMITED statuses
the platform shows while a sync waits. One `Account` per sync holds what every stream shares, since Wootric
counts its limit per account: the budget, the authenticator, the tallies of requests and waits, and whether
Wootric is out.

Budgets per request, per cause: transient failures (5xx, dropped connections, timeouts, bodies that are not
whole JSON) RETRIES retries within RETRY_SECONDS, backing off from 2 s; 429s until X-Rate-Limit-Reset, at most
a window at a time and RATE_LIMIT_SECONDS in all. Once a request has used up its budget, the next ones are
tried once until one succeeds, so that an outage fails the remaining streams in seconds, not minutes each.
"""

from __future__ import annotations

import re
import socket
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

import orjson
import requests
from airbyte_cdk.models import (
    FailureType,
)
from airbyte_cdk.sources.streams.http.error_handlers import BackoffStrategy, ErrorHandler
from airbyte_cdk.sources.streams.http.error_handlers.response_models import ErrorResolution, ResponseAction
from airbyte_cdk.sources.streams.http.http_client import HttpClient
from airbyte_cdk.utils.airbyte_secrets_utils import add_to_secrets
from airbyte_cdk.utils.traced_exception import AirbyteTracedException
from urllib3.exceptions import NameResolutionError

from source_wootric.config import config_error, transient_error
from source_wootric.ratelimit import WINDOW, ReservePolicy, WootricBudget, header, tell_wait

if TYPE_CHECKING:
    import logging

    from source_wootric.auth import WootricAuthenticator

TIMEOUTS = {"timeout": (10, 60)}  # connect, read (HttpStream passes no timeout of its own)
RETRIES, RETRY_SECONDS = 8, 600
RATE_LIMIT_SECONDS = 1800
REFUSED_RETRIES = 2  # before any host answered, a refused connection is retried this often (1 s, 2 s)
REFUSED = "refused the connection"
TOKEN_PATH = "oauth/token"
UNUSABLE_URL = (
    requests.exceptions.InvalidURL,
    requests.exceptions.InvalidSchema,
    requests.exceptions.MissingSchema,
)
NOT_JSON = object()  # an answer that is not JSON: it did not come from Wootric's API
_DATA_PATH = re.compile(r".*/v\d+/(.*)")
_TOKENS = re.compile(
    r'"(?:access|refresh)_token"\s*:\s*"([^"]+)'
)  # a token, or what a cut answer holds of it


# -- error bodies, in the forms the real API sends them --------------------------------------------------
def json_body(response: requests.Response) -> Any:
    try:
        return orjson.loads(response.content)
    except ValueError:
        return NOT_JSON


def error_detail(response: requests.Response) -> str:
    """`: message; message` from an error body: an `error_list`'s messages, else `error` and its description
    (Doorkeeper's OAuth errors); nothing when the body says nothing readable."""
    body = json_body(response)
    messages: list[str] = []
    if isinstance(body, dict):
        listed = body.get("errors")
        if isinstance(listed, list):
            messages = [
                str(e["message"])
                for e in listed
                if isinstance(e, dict) and e.get("message") not in (None, "")
            ]
        messages = messages or [
            str(body[k]) for k in ("error", "error_description") if body.get(k) not in (None, "")
        ]
    return f": {'; '.join(messages)[:500]}" if messages else ""


def path_of(url: str) -> str:
    """What an attempt is counted under: `oauth/token`, or the data path after the API version."""
    path = url.split("?", 1)[0]
    found = _DATA_PATH.match(path)
    return TOKEN_PATH if path.endswith("/" + TOKEN_PATH) else (found.group(1) if found else path)


def host_of(url: str) -> str:
    return url.split("/", 3)[2] if "://" in url else url


def unreachable_reason(error: BaseException) -> str | None:
    """Why a connection could not be made at all: its name does not resolve, it refused the connection, or
    the proxy could not reach it; None for any other failure."""
    if isinstance(error, requests.exceptions.ProxyError):
        return "could not be reached through the proxy (HTTPS_PROXY)"
    pending, seen = [error], set()
    while pending:
        cause = pending.pop()
        if id(cause) in seen:
            continue
        seen.add(id(cause))
        if isinstance(cause, NameResolutionError | socket.gaierror):
            return "does not resolve (its name is unknown to DNS)"
        if isinstance(cause, ConnectionRefusedError):
            return REFUSED
        linked = (*cause.args, getattr(cause, "reason", None), cause.__cause__, cause.__context__)
        pending.extend(link for link in linked if isinstance(link, BaseException))
    return None


class HostUnreachable(AirbyteTracedException):
    """A host that cannot be reached at all before any host of the sync answered. The host search
    (auth.WootricAuthenticator) passes it over for the next."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(message=f"The host {reason}.", failure_type=FailureType.config_error)


# -- the account ---------------------------------------------------------------------------------------
class Account:
    """One per sync: what every request of the account shares."""

    authenticator: WootricAuthenticator  # set by the source once built (it sends through `post_form`)

    def __init__(
        self,
        logger: logging.Logger,
        setting: str,
        retries: int = RETRIES,
        rate_limit_seconds: float = RATE_LIMIT_SECONDS,
    ):
        self.logger, self.setting = logger, setting  # setting: the config field naming the host
        self.retries, self.rate_limit_seconds = retries, rate_limit_seconds  # per request (check asks less)
        self.policy = ReservePolicy(self)
        self.budget = WootricBudget(policies=[self.policy])
        self.requests: Counter[str] = Counter()  # attempts by the path asked
        self.waited: Counter[str] = Counter()  # seconds spent waiting: rate limit, retries
        self.answered: set[str] = set()  # hosts that have answered: their address is right
        self.refusals = 0  # connections refused in a row before any host answered
        self.outage = False  # a request used up its retries; the next success ends it
        self.stream: str | None = None  # the stream being read: told of rate-limit waits
        self.told_wait = False  # a RATE_LIMITED status went out since the stream's last record
        self._clients: dict[bool, HttpClient] = {}

    def has_answered(self, failure: Any) -> bool:
        """Whether the host a failed attempt went to has answered before (any host, when the failure does not
        say which: some transports raise without the request)."""
        request = getattr(failure, "request", None)
        return host_of(request.url) in self.answered if request is not None else bool(self.answered)

    @property
    def data_requests(self) -> int:
        return sum(count for path, count in self.requests.items() if path != TOKEN_PATH)

    def client(self, token: bool) -> HttpClient:
        """An HttpClient for requests outside a stream's page loop: tokens, or the few data requests of the time
        zone and check."""
        if token not in self._clients:
            self._clients[token] = HttpClient(
                "wootric",
                self.logger,
                WootricErrorHandler(self, dict if token else list, token=token),
                api_budget=self.budget,
                authenticator=None if token else self.authenticator,
                backoff_strategy=WootricBackoff(self),
            )
        return self._clients[token]

    def post_form(self, url: str, query: dict[str, str], form: dict[str, str]) -> requests.Response:
        return self.client(True).send_request("POST", url, request_kwargs=TIMEOUTS, params=query, data=form)[
            1
        ]

    def get(self, path: str, params: dict[str, Any]) -> Any:
        url = self.authenticator.host.url(path)
        response = self.client(False).send_request("GET", url, request_kwargs=TIMEOUTS, params=params)[1]
        return orjson.loads(response.content)


# -- what an answer means, and when to try again ---------------------------------------------------------
def retry(cause: str) -> ErrorResolution:
    return ErrorResolution(ResponseAction.RETRY, FailureType.transient_error, cause)


def fail(error: AirbyteTracedException) -> ErrorResolution:
    return ErrorResolution(ResponseAction.FAIL, error.failure_type, error.message)


class WootricErrorHandler(ErrorHandler):
    """Classifies each attempt of one kind of request: `expect`, the JSON type its 200 answers must have;
    `token` requests hand every 4xx back to the authenticator; a JSON answer with a status of `absent` goes back
    to the stream (a path the account, its plan or its region does not serve)."""

    def __init__(
        self, account: Account, expect: type | None, *, token: bool = False, absent: tuple[int, ...] = ()
    ):
        self.account, self.expect, self.token, self.absent = account, expect, token, absent

    @property
    def max_retries(self) -> int:
        return RETRIES + RATE_LIMIT_SECONDS // 2  # the CDK's outer bound: each 429 costs 2 s at least

    @property
    def max_time(self) -> int:
        return RETRY_SECONDS + RATE_LIMIT_SECONDS + WINDOW  # the CDK's outer bound, above WootricBackoff's

    def interpret_response(
        self, response_or_exception: requests.Response | Exception | None
    ) -> ErrorResolution:
        account = self.account
        request = getattr(response_or_exception, "request", None)
        account.requests[path_of(request.url if request is not None else "?")] += 1
        if not isinstance(response_or_exception, requests.Response):
            return self._no_answer(response_or_exception)
        response, status = response_or_exception, response_or_exception.status_code
        account.answered.add(host_of(response.url))
        account.refusals = 0
        if self.token:
            for token in _TOKENS.findall(response.text):  # before the CDK logs the body (with --debug)
                add_to_secrets(token)
        elif status == 401:
            refused = account.authenticator.rejected()
            return retry("HTTP 401: the access token was refused") if refused is None else fail(refused)
        elif status < 500:
            account.authenticator.accepted()  # a 429 too: Wootric checks the token first
        if status >= 500 or status == 429:
            return retry(f"HTTP {status}{error_detail(response)}")
        if status == 200 and self.expect is not None and not isinstance(json_body(response), self.expect):
            return retry(f"an answer that is not whole JSON {self.expect.__name__}")
        if status < 400:
            account.outage = False
            return ErrorResolution(ResponseAction.SUCCESS)
        if self.token or (status in self.absent and json_body(response) is not NOT_JSON):
            return ErrorResolution(ResponseAction.IGNORE)
        return fail(self._refusal(response))

    def _no_answer(self, error: Exception | None) -> ErrorResolution:
        """A wrong address is a config error, or before any host answered a host to pass over (see
        HostUnreachable); anything else is retried."""
        account, url = self.account, getattr(getattr(error, "request", None), "url", None) or "the address"
        check = f"check `{account.setting}`"
        problem = None
        if isinstance(error, requests.exceptions.InvalidProxyURL):
            problem = "The proxy set in the environment (HTTPS_PROXY) is not a usable URL: fix or unset it."
        elif isinstance(error, UNUSABLE_URL):
            problem = f"{url} is not a usable URL ({type(error).__name__}): {check}."
        elif isinstance(error, requests.exceptions.SSLError) and not account.has_answered(error):
            problem = (
                f"A secure (TLS) connection failed ({str(error.args[0] if error.args else error)[-300:]}): "
                f"{check}; behind a proxy that inspects TLS, set REQUESTS_CA_BUNDLE to its CA certificates."
            )
        elif isinstance(error, requests.ConnectionError) and not account.has_answered(error):
            reason = unreachable_reason(error)
            account.refusals += reason == REFUSED
            if reason is not None and (reason != REFUSED or account.refusals > REFUSED_RETRIES):
                account.refusals = 0
                raise HostUnreachable(reason)
        return retry(type(error).__name__) if problem is None else fail(config_error(problem))

    def _refusal(self, response: requests.Response) -> AirbyteTracedException:
        url, status, detail = response.url.split("?", 1)[0], response.status_code, error_detail(response)
        if status == 404 and json_body(response) is NOT_JSON:
            where = (
                "`base_url` (scheme://host[/prefix], without /v1)."
                if self.account.setting == "base_url"
                else "`region`, or set `base_url`."
            )
            return config_error(
                f"{url} answered HTTP 404 with a page that is not Wootric's API (not JSON): check {where}"
            )
        if status == 403:
            return config_error(
                f"Wootric denied access to {url} (HTTP 403{detail}): check the account's plan."
            )
        message = f"Wootric answered HTTP {status} for {url}{detail}."
        return AirbyteTracedException(
            message=message, internal_message=message, failure_type=FailureType.system_error
        )


class WootricBackoff(BackoffStrategy):
    """How long to wait before the next attempt of a request, by cause; once the cause's budget is spent, the
    transient error that ends the stream. The CDK sleeps what it returns, and a second more."""

    def __init__(self, account: Account):
        self.account = account
        self.first_failure, self.transient, self.rate_limited, self.answers_429 = 0.0, 0, 0.0, 0

    def backoff_time(self, response_or_exception: Any, attempt_count: int) -> float | None:
        account, now = self.account, time.time()
        if attempt_count <= 1:  # a new request: its own budgets
            self.first_failure, self.transient, self.rate_limited, self.answers_429 = now, 0, 0.0, 0
        request = getattr(response_or_exception, "request", None)
        url = request.url.split("?", 1)[0] if request is not None else "Wootric"
        status = getattr(response_or_exception, "status_code", None)
        # A 401: the authenticator dropped the token, and the retry signs with a new one (0 would be no opinion).
        if status == 401:
            return 0.001
        if status == 429:
            return self._rate_limited(response_or_exception, url, now)
        self.transient += 1
        refused = (
            not account.has_answered(response_or_exception)
            and unreachable_reason(response_or_exception) == REFUSED
        )
        delay = float(self.transient) if refused else 2.0**self.transient
        cause = self._cause(response_or_exception, path_of(url))
        if (
            account.outage
            or self.transient > account.retries
            or now + delay - self.first_failure > RETRY_SECONDS
        ):
            earlier = (
                " Wootric had already failed earlier in this sync, so this request was tried once."
                if account.outage
                else ""
            )
            account.outage = True
            raise transient_error(
                f"Wootric could not be reached or kept failing for {url}: {self.transient} attempts over "
                f"{now - self.first_failure:.0f} s, the last one {cause}.{earlier} This is usually temporary; a "
                "sync resumes from its last state. If it persists, check `base_url` or `region`."
            )
        account.logger.warning(f"{cause}; retry {self.transient} in {delay + 1:.0f} s")
        account.waited["retries"] += delay + 1
        return delay

    def _rate_limited(self, response: requests.Response, url: str, now: float) -> float:
        """Until X-Rate-Limit-Reset, a window at most; RATE_LIMIT_SECONDS in all for one request."""
        reset = header(response, "X-Rate-Limit-Reset")
        wait = min(WINDOW, max(1.0, reset - now)) if reset else WINDOW
        self.answers_429 += 1
        if self.account.outage or self.rate_limited + wait + 1 > self.account.rate_limit_seconds:
            self.account.outage = True
            raise transient_error(
                f"Wootric kept answering HTTP 429 (rate limited) for {url}: {self.answers_429} answers over "
                f"{self.rate_limited:.0f} s of waiting. Another client may be using up the account's rate limit; "
                "the next sync resumes from the last state."
            )
        self.rate_limited += wait + 1
        self.account.logger.info(f"Rate limited (HTTP 429) on {path_of(url)}; waiting {wait + 1:.0f} s")
        tell_wait(self.account, wait + 1, reset)
        return wait

    @staticmethod
    def _cause(response_or_exception: Any, path: str) -> str:
        if isinstance(response_or_exception, requests.Response):
            if response_or_exception.status_code >= 500:
                return (
                    f"HTTP {response_or_exception.status_code}{error_detail(response_or_exception)} on {path}"
                )
            return f"an answer on {path} that is not whole JSON of the expected type"
        return f"{type(response_or_exception).__name__} on {path}"
