"""The account's rate limit, as one CDK `HttpAPIBudget` that every request of the sync goes through.

Wootric's answers carry `X-Rate-Limit-Limit`, `-Remaining` and `-Reset` (epoch seconds). Before each request the
budget waits for the reset once only the share of the limit left to the account's other clients remains, so that
the sync seldom meets a 429 (those are waited out by retries.WootricBackoff). The budget also counts every attempt
by path, for the stream summaries and the sweep's request budget.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import requests
from airbyte_cdk.sources.streams.call_rate import AbstractCallRatePolicy, CallRateLimitHit, HttpAPIBudget

LOW_BUDGET = 2  # requests left in the window at which we wait for the reset rather than risk a 429
ANNOUNCED_PAUSE = 1.0  # seconds: a pause at least this long is told to `on_wait` (a RATE_LIMITED status)
TOKEN_PATH = "oauth/token"
_DATA_PATH = re.compile(r".*/v\d+/(.*)")

# Told of each wait on the rate limit: (seconds, X-Rate-Limit-Reset as epoch seconds or None).
OnWait = Callable[[float, float | None], None]


@dataclass
class RateLimitBudget:
    """What the last answer said of the account's rate limit. The limit is the account's, shared with its other
    clients (SDKs, integrations): `reserve` of it is left to them."""

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


class ReservePolicy(AbstractCallRatePolicy):
    """The CDK call-rate policy of every Wootric request: go, unless only the reserve is left; then the CDK's
    budget sleeps until the reset (APIBudget._do_acquire) and asks again."""

    def __init__(self, budget: AccountBudget):
        self.budget = budget

    def matches(self, request: Any) -> bool:
        return True

    def try_acquire(self, request: Any, weight: int) -> None:
        budget = self.budget
        wait = budget.state.wait_before_next(budget.clock(), budget.fallback_wait)
        if not wait:
            return
        budget.logger.info(f"Rate limit nearly used up ({budget.state.describe()}); waiting {wait:.0f} s")
        budget.waited["rate limit"] += wait
        if budget.on_wait and wait >= ANNOUNCED_PAUSE:
            budget.on_wait(wait, budget.state.reset_at)
        budget.state.remaining = None  # the wait ends the window: the next try goes
        raise CallRateLimitHit(
            error=f"waiting {wait:.0f} s for the rate limit to reset",
            item=request,
            weight=weight,
            rate=budget.state.describe(),
            time_to_wait=timedelta(seconds=wait),
        )

    def update(self, available_calls: int | None, call_reset_ts: Any) -> None:
        """Unused: AccountBudget reads the headers itself (see update_from_response)."""


class AccountBudget(HttpAPIBudget):
    """One per sync, shared by every HTTP client of the account (data, token). Also says which request is in
    flight: requests-mock and some transports raise failures without the request they belong to."""

    def __init__(
        self,
        reserve: float,
        fallback_wait: float,
        logger: logging.Logger,
        clock: Callable[[], float] = time.time,
    ):
        self.state = RateLimitBudget(reserve=reserve)
        self.fallback_wait = fallback_wait
        self.logger = logger
        self.clock = clock
        self.on_wait: OnWait | None = None
        self.requests: Counter[str] = Counter()  # attempts by the path asked
        self.waited: Counter[str] = Counter()  # seconds spent waiting, by cause: rate limit, retries, token
        self.in_flight: requests.PreparedRequest | None = None
        super().__init__(
            ratelimit_reset_header="X-Rate-Limit-Reset",
            ratelimit_remaining_header="X-Rate-Limit-Remaining",
            status_codes_for_ratelimit_hit=[],  # a 429 is waited out by the backoff strategy, once
            policies=[ReservePolicy(self)],
        )

    @property
    def data_requests(self) -> int:
        """Requests for data, the token requests left out: what the stream summaries and floors count."""
        return sum(count for path, count in self.requests.items() if path != TOKEN_PATH)

    def acquire_call(self, request: Any, block: bool = True, timeout: float | None = None) -> None:
        self.in_flight = request
        self.requests[path_asked(request.url)] += 1
        super().acquire_call(request, block, timeout)

    def update_from_response(self, request: Any, response: Any) -> None:
        # Not HttpAPIBudget's own reading: it raises on a header that is not an integer, and it has no limit
        # header, which the reserve is a share of.
        if isinstance(response, requests.Response):
            self.state.observe(response.headers)


def path_asked(url: str) -> str:
    """What an attempt is counted under: `oauth/token`, or the data path after the API version."""
    path = url.split("?", 1)[0]
    if path.endswith("/" + TOKEN_PATH):
        return TOKEN_PATH
    found = _DATA_PATH.match(path)
    return found.group(1) if found else path
