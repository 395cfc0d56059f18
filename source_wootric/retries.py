"""What each answer means, and how long to wait before trying again: the CDK `ErrorHandler` and
`BackoffStrategy` of every Wootric request (the CDK's HttpClient sends, sleeps and retries).

Each cause of retry has its own budget, per request: transient failures (5xx, dropped connections, timeouts,
bodies that are not whole JSON) a count and a time with exponential backoff; 429s only a time, however many
there are. After a request exhausted its budget, later ones are tried once until one succeeds, so that an outage
fails the sync's remaining streams in seconds, not minutes each. The CDK's own counts (`max_retries`,
`max_time`) are set out of reach: they would share one count between the causes.
"""

from __future__ import annotations

import logging
import re
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
import requests
from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.streams.http.error_handlers import BackoffStrategy, ErrorHandler
from airbyte_cdk.sources.streams.http.error_handlers.response_models import ErrorResolution, ResponseAction
from airbyte_cdk.utils.airbyte_secrets_utils import add_to_secrets
from airbyte_cdk.utils.traced_exception import AirbyteTracedException
from urllib3.exceptions import NameResolutionError

from source_wootric.config import Tuning, config_error, transient_error
from source_wootric.errors import NOT_JSON, error_detail, json_body
from source_wootric.rate_limit import path_asked

if TYPE_CHECKING:
    from source_wootric.client import WootricClient

# Failures of the address itself, which no retry cures.
UNUSABLE_URL = (
    requests.exceptions.InvalidURL,
    requests.exceptions.InvalidSchema,
    requests.exceptions.MissingSchema,
)
# HttpClient's retry handler (rate_limiting.user_defined_backoff_handler) sleeps the backoff plus this; we ask
# for that much less. Its floor: a backoff of 0 would leave the retry to the CDK's own exponential handler.
CDK_EXTRA_SECOND = 1.0
CDK_LEAST_BACKOFF = 1e-6
OUT_OF_REACH = 10**9  # the CDK's max_retries / max_time: our per-cause budgets end retries first
REFUSED = "refused the connection"
REFUSED_RETRIES = 2  # before a host answered: a refusal is retried this often, within about 5 s
_BODY = "wootric_body"  # where the body decoded by the error handler waits for the stream's parse_response
_TOKENS = re.compile(
    r'"(?:access|refresh)_token"\s*:\s*"([^"]+)'
)  # a token, or what a cut answer holds of it


def decoded(response: requests.Response) -> Any:
    """The answer's JSON body, decoded once: by the error handler, which must see it whole before the
    stream does (a 200 cut short is retried), or here."""
    if _BODY not in response.__dict__:
        response.__dict__[_BODY] = orjson.loads(response.content)
    return response.__dict__[_BODY]


@dataclass
class Tries:
    """One request's failed attempts, by cause."""

    first_failure_at: float | None = None
    transient: int = 0
    rate_limited_for: float = 0.0
    rate_limited_answers: int = 0


class Retries:
    """The retry state of the account: the tries of the request in flight, and whether Wootric is out."""

    def __init__(self, tuning: Tuning, logger: logging.Logger, clock: Callable[[], float] = time.time):
        self.tuning = tuning
        self.logger = logger
        self.clock = clock
        self.outage_since: float | None = None
        self._tries: dict[requests.PreparedRequest | None, Tries] = {}  # by request, until it is done

    def of(self, request: requests.PreparedRequest | None) -> Tries:
        return self._tries.setdefault(request, Tries())

    def done(self, request: requests.PreparedRequest | None, succeeded: bool) -> None:
        self._tries.pop(request, None)
        if succeeded:  # only a success ends an outage: a 401 does not prove that the token endpoint is back
            self.outage_since = None

    def gave_up(self, request: requests.PreparedRequest | None) -> None:
        self.done(request, succeeded=False)
        self.outage_since = self.outage_since or self.clock()


class WootricErrorHandler(ErrorHandler):
    """Classifies each attempt of one kind of request: `expect` is the JSON type its 200 answers must have;
    `token` requests hand every 4xx back to the authenticator, which says what it means; `not_found_ok` hands a
    JSON 404 back to the stream (a v2 path the account's region does not serve)."""

    def __init__(
        self, client: WootricClient, expect: type | None, *, token: bool = False, not_found_ok: bool = False
    ):
        self.client = client
        self.expect = expect
        self.token = token
        self.not_found_ok = not_found_ok

    @property
    def max_retries(self) -> int:
        return OUT_OF_REACH

    @property
    def max_time(self) -> int:
        return OUT_OF_REACH

    def interpret_response(
        self, response_or_exception: requests.Response | Exception | None
    ) -> ErrorResolution:
        client = self.client
        request = client.budget.in_flight
        if not isinstance(response_or_exception, requests.Response):
            return self._failed_attempt(request, response_or_exception)
        response = response_or_exception
        client.answered(response.url)
        status = response.status_code
        if status < 500 and status != 401 and not self.token:
            client.authenticator.accepted()  # a 429 too: Wootric checks the token first
        if status >= 500 or status == 429:
            return retry(f"HTTP {status}{error_detail(response)}")
        if status == 401 and not self.token:
            refused = client.authenticator.rejected()
            if refused is None:  # the token was revoked after it served: the retry signs with a new one
                return retry("HTTP 401: the access token was revoked")
            client.retries.done(request, succeeded=False)
            return fail(refused)
        if status == 200 and self.token:
            register_token_secrets(response)
        if status == 200 and self.expect is not None:
            try:
                body = decoded(response)
            except ValueError:
                return retry("an answer that is not whole JSON")
            if not isinstance(body, self.expect):
                return retry(f"an answer that is not a JSON {self.expect.__name__}")
        if status < 400:
            client.retries.done(request, succeeded=True)
            return ErrorResolution(ResponseAction.SUCCESS)
        client.retries.done(request, succeeded=False)
        if self.token or (status == 404 and self.not_found_ok and json_body(response) is not NOT_JSON):
            return ErrorResolution(ResponseAction.IGNORE)
        return fail(self._refusal(response))

    def _failed_attempt(
        self, request: requests.PreparedRequest | None, error: Exception | None
    ) -> ErrorResolution:
        """An attempt that got no answer: a wrong address is a config error, anything else is retried. Before
        the host ever answered, a host that cannot be reached is passed to the host search (HostUnreachable):
        one that refuses connections after REFUSED_RETRIES quick retries."""
        client = self.client
        url = request.url if request is not None else ""
        if isinstance(error, UNUSABLE_URL):
            return fail(client.unusable_url(url, error))
        if isinstance(error, requests.ConnectionError) and not client.has_answered(url):
            if isinstance(error, requests.exceptions.SSLError):
                return fail(client.tls_failure(url, error))
            reason = unreachable_reason(error)
            tries = client.retries.of(request)
            if reason is not None and (reason != REFUSED or tries.transient >= REFUSED_RETRIES):
                client.retries.done(request, succeeded=False)
                raise client.unreachable(url, reason)
        return retry(type(error).__name__)

    def _refusal(self, response: requests.Response) -> AirbyteTracedException:
        url, status, detail = response.url.split("?", 1)[0], response.status_code, error_detail(response)
        if status == 404 and json_body(response) is NOT_JSON:
            return config_error(
                f"{url} answered HTTP 404 with a page that is not Wootric's API (not JSON): check "
                + (
                    "`base_url` (scheme://host[/prefix], without /v1)."
                    if self.client.setting == "base_url"
                    else "`region`, or set `base_url`."
                )
            )
        if status == 401:
            return config_error(
                f"Wootric refused a fresh token for {url} (HTTP 401{detail}): the API user may have lost "
                "access; check `credentials` and `region`."
            )
        if status == 403:
            return config_error(
                f"Wootric denied access to {url} (HTTP 403{detail}): check the account's plan."
            )
        return AirbyteTracedException(
            message=f"Wootric answered HTTP {status} for {url}{detail}.",
            internal_message=f"HTTP {status} for {url}{detail}",
            failure_type=FailureType.system_error,
        )


def register_token_secrets(response: requests.Response) -> None:
    """Registers the tokens of a token answer as secrets before the CDK logs its body (with --debug), even in
    an answer cut short, which is retried but may hold a whole token."""
    for token in _TOKENS.findall(response.text):
        add_to_secrets(token)


def retry(cause: str) -> ErrorResolution:
    return ErrorResolution(ResponseAction.RETRY, FailureType.transient_error, cause)


def fail(error: AirbyteTracedException) -> ErrorResolution:
    """The CDK raises a FAIL as AirbyteTracedException(message=error_message, failure_type=...)."""
    return ErrorResolution(ResponseAction.FAIL, error.failure_type, error.message)


class WootricBackoff(BackoffStrategy):
    """How long to wait before the next attempt, or the final transient error once the cause's budget is spent.
    The CDK calls it for every answer the error handler wants retried, and sleeps what it returns (plus a
    second, which is subtracted here)."""

    def __init__(self, client: WootricClient):
        self.client = client

    def backoff_time(
        self, response_or_exception: requests.Response | requests.RequestException | None, attempt_count: int
    ) -> float | None:
        client, retries = self.client, self.client.retries
        request = client.budget.in_flight
        status = (
            response_or_exception.status_code
            if isinstance(response_or_exception, requests.Response)
            else None
        )
        if status == 401:
            return CDK_LEAST_BACKOFF  # a fresh token is in place: try again at once
        tries, tuning, now = retries.of(request), retries.tuning, retries.clock()
        url = request.url.split("?", 1)[0] if request is not None else "Wootric"
        if status == 429:
            assert isinstance(response_or_exception, requests.Response)
            wait = self._rate_limit_wait(response_or_exception, now)
            allowed = tuning.max_rate_limit_seconds if retries.outage_since is None else 0.0
            tries.rate_limited_answers += 1
            if tries.rate_limited_for + wait > allowed:
                retries.gave_up(request)
                raise transient_error(
                    f"Wootric kept answering HTTP 429 (rate limited) for {url}: "
                    f"{_count(tries.rate_limited_answers, 'answer')} over {tries.rate_limited_for:.0f} s of waiting. "
                    "Another client may be using up the account's rate limit; the next sync resumes from the "
                    "last state."
                )
            tries.rate_limited_for += wait
            client.budget.waited["rate limit"] += wait
            retries.logger.info(f"Rate limited (HTTP 429) on {path_asked(url)}; waiting {wait:.0f} s")
            if client.budget.on_wait:
                client.budget.on_wait(wait, _header_number(response_or_exception, "X-Rate-Limit-Reset"))
            return cdk_backoff(wait)
        tries.first_failure_at = tries.first_failure_at or now
        tries.transient += 1
        delay = max(tuning.backoff_base * 2 ** (tries.transient - 1), CDK_EXTRA_SECOND)
        if (
            isinstance(response_or_exception, requests.ConnectionError)
            and not client.has_answered(url)
            and unreachable_reason(response_or_exception) == REFUSED
        ):
            delay = float(tries.transient)  # 1 s, then 2 s: a wrong port is told in seconds
        allowed_retries = tuning.max_transient_retries if retries.outage_since is None else 0
        cause = self._cause(response_or_exception, path_asked(url))
        if (
            tries.transient > allowed_retries
            or now + delay - tries.first_failure_at > tuning.max_transient_seconds
        ):
            earlier = (
                " Wootric had already failed earlier in this sync, so this request was tried once."
                if retries.outage_since is not None
                else ""
            )
            retries.gave_up(request)
            raise transient_error(
                f"Wootric could not be reached or kept failing for {url}: {_count(tries.transient, 'attempt')} over "
                f"{now - tries.first_failure_at:.0f} s, the last one {cause}.{earlier} This is usually temporary; a "
                "sync resumes from its last state. If it persists, check `base_url` or `region`."
            )
        retries.logger.warning(f"{cause}; retry {tries.transient} in {delay:.1f} s")
        client.budget.waited["retries"] += delay
        return cdk_backoff(delay)

    def _rate_limit_wait(self, response: requests.Response, now: float) -> float:
        """Until X-Rate-Limit-Reset, but never longer than the documented window (a clock skewed against the
        API's, or a reset in milliseconds, must not stall the sync)."""
        fallback = self.client.retries.tuning.rate_limit_fallback_wait
        reset = _header_number(response, "X-Rate-Limit-Reset")
        return min(fallback, max(1.0, reset - now)) if reset else fallback

    @staticmethod
    def _cause(response_or_exception: Any, path: str) -> str:
        if isinstance(response_or_exception, requests.Response):
            response = response_or_exception
            if response.status_code >= 500:
                return f"HTTP {response.status_code}{error_detail(response)} on {path}"
            return f"an answer on {path} that is not whole JSON of the expected type"
        return f"{type(response_or_exception).__name__} on {path}"


def cdk_backoff(seconds: float) -> float:
    """What to return to the CDK for a wait of `seconds` (at least a second: the CDK's floor)."""
    return max(seconds - CDK_EXTRA_SECOND, CDK_LEAST_BACKOFF)


def unreachable_reason(error: BaseException) -> str | None:
    """Why a connection could not be made at all, from the error's causes: its name does not resolve, it
    refused the connection, or the proxy could not reach it; None for any other failure."""
    if isinstance(error, requests.exceptions.ProxyError):
        return "could not be reached through the proxy (HTTPS_PROXY)"
    pending, seen = [error], set()
    while pending:
        cause = pending.pop()
        if id(cause) in seen:
            continue
        seen.add(id(cause))
        if isinstance(cause, (NameResolutionError, socket.gaierror)):
            return "does not resolve (its name is unknown to DNS)"
        if isinstance(cause, ConnectionRefusedError):
            return REFUSED
        linked = (*cause.args, getattr(cause, "reason", None), cause.__cause__, cause.__context__)
        pending.extend(link for link in linked if isinstance(link, BaseException))
    return None


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _header_number(response: requests.Response, name: str) -> float | None:
    try:
        return float(response.headers[name])
    except (KeyError, ValueError):
        return None
