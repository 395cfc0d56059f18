"""The account's rate limit: the CDK budget that leaves a share of it to the account's other clients (its SDKs,
other integrations) and pauses until the reset once only that share is left, and the statuses that tell the
platform of every wait while it lasts."""

from __future__ import annotations

import math
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import requests
from airbyte_cdk.entrypoint import AirbyteEntrypoint
from airbyte_cdk.models import (
    AirbyteStreamStatus,
    AirbyteStreamStatusReason,
    AirbyteStreamStatusReasonType,
    StreamDescriptor,
)
from airbyte_cdk.models.airbyte_protocol import AirbyteStreamStatusRateLimitedReason  # not re-exported
from airbyte_cdk.sources.streams.call_rate import AbstractCallRatePolicy, APIBudget, CallRateLimitHit
from airbyte_cdk.utils.stream_status_utils import as_airbyte_message

if TYPE_CHECKING:
    from source_wootric.http import Account

WINDOW = 60  # seconds: Wootric's documented window, the longest single wait on the rate limit
RESERVE = 0.10  # of the account's limit, left to its other clients


def tell_wait(account: Account, seconds: float, reset_at: float | None) -> None:
    """Before a wait on the rate limit: a RUNNING status with reason RATE_LIMITED for the stream being read
    (`quota_reset`: when the limit resets, epoch ms), printed at once as the CDK's HttpClient prints its own,
    so that the platform shows the wait while it lasts (the stream yields a plain RUNNING after it)."""
    account.waited["rate limit"] += seconds
    if account.stream is None:
        return
    reset = reset_at if reset_at is not None else time.time() + seconds
    reason = AirbyteStreamStatusReason(
        type=AirbyteStreamStatusReasonType.RATE_LIMITED,
        rate_limited=AirbyteStreamStatusRateLimitedReason(quota_reset=int(reset * 1000)),
    )
    message = as_airbyte_message(StreamDescriptor(name=account.stream), AirbyteStreamStatus.RUNNING, [reason])
    print(f"{AirbyteEntrypoint.airbyte_message_to_string(message)}\n", end="", flush=True)
    account.told_wait = True


def header(response: requests.Response, name: str) -> float | None:
    try:
        return float(response.headers[name])
    except (KeyError, ValueError):  # no header, or one that is not a number: it tells nothing
        return None


class WootricBudget(APIBudget):
    """The CDK's budget, fed with Wootric's three rate-limit headers (HttpAPIBudget reads two, and fails on a
    value that is not a number)."""

    def update_from_response(self, request: Any, response: Any) -> None:
        if isinstance(response, requests.Response) and (policy := self.get_matching_policy(request)):
            assert isinstance(policy, ReservePolicy)
            policy.observe(
                *(header(response, f"X-Rate-Limit-{name}") for name in ("Limit", "Remaining", "Reset"))
            )


class ReservePolicy(AbstractCallRatePolicy):
    """Every request goes, unless only the reserve of the account's limit is left: then the CDK's budget
    sleeps until the reset (a window at most, so that a clock skewed against Wootric's cannot stall a sync)."""

    def __init__(self, account: Account):
        self.account = account
        self.limit: float | None = None
        self.remaining: float | None = None
        self.reset_at: float | None = None

    def observe(self, limit: float | None, remaining: float | None, reset_at: float | None) -> None:
        if remaining is not None:
            self.limit, self.remaining, self.reset_at = limit or self.limit, remaining, reset_at

    def matches(self, request: Any) -> bool:
        return True

    def try_acquire(self, request: Any, weight: int) -> None:
        kept = max(2, math.ceil(round((self.limit or 0) * RESERVE, 6)))  # 2: our next request's own 429
        remaining, self.remaining = self.remaining, None  # a wait ends the window: the next try goes
        if remaining is None or remaining > kept:
            self.remaining = remaining
            return
        wait = min(WINDOW, max(0.0, self.reset_at - time.time())) if self.reset_at else WINDOW
        if wait < 1:
            return
        limit = f"{self.limit:.0f}" if self.limit else "?"
        self.account.logger.info(
            f"Rate limit nearly used up (rate limit {remaining:.0f}/{limit} left, {kept} kept for other clients); "
            f"waiting {wait:.0f} s"
        )
        tell_wait(self.account, wait, self.reset_at)
        raise CallRateLimitHit(
            error="rate limit nearly used up",
            item=request,
            weight=weight,
            rate=str(self.limit),
            time_to_wait=timedelta(seconds=wait),
        )

    def update(self, available_calls: int | None, call_reset_ts: Any) -> None:
        """Unused: WootricBudget calls `observe` with the limit too."""
