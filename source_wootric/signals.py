"""Stream statuses the platform shows while a sync waits on Wootric's rate limit.

The client waits inside the CDK's request loop, where a stream cannot yield: before each wait it calls
`RateLimitSignals.waited` (`WootricClient.on_wait`), which prints one RUNNING status with reason RATE_LIMITED
for the stream being read (`quota_reset`: when the limit resets, epoch milliseconds) at once, as the CDK's
HttpClient prints its own, so that the platform shows the wait while it lasts; a plain RUNNING follows before
the stream's next record. The CDK emits STARTED, COMPLETE, INCOMPLETE and the RUNNING before a stream's first
record itself; none of them is repeated here.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from airbyte_cdk.entrypoint import AirbyteEntrypoint
from airbyte_cdk.models import (
    AirbyteStreamStatus,
    AirbyteStreamStatusReason,
    AirbyteStreamStatusReasonType,
    StreamDescriptor,
    Type,
)
from airbyte_cdk.models.airbyte_protocol import AirbyteStreamStatusRateLimitedReason  # not re-exported
from airbyte_cdk.utils.stream_status_utils import as_airbyte_message


class RateLimitSignals:
    def __init__(self) -> None:
        self.stream: str | None = None  # the stream being read
        self._told = False  # a RATE_LIMITED status went out since the stream's last record

    def waited(self, seconds: float, reset_at: float | None) -> None:
        """The client's `on_wait`: called before it sleeps `seconds`. Without X-Rate-Limit-Reset, the limit is
        taken to reset when the client tries again."""
        if self.stream is None:  # not within a stream (check): nobody to tell
            return
        reset = reset_at if reset_at is not None else time.time() + seconds
        reason = AirbyteStreamStatusReason(
            type=AirbyteStreamStatusReasonType.RATE_LIMITED,
            rate_limited=AirbyteStreamStatusRateLimitedReason(quota_reset=int(reset * 1000)),
        )
        message = as_airbyte_message(
            StreamDescriptor(name=self.stream), AirbyteStreamStatus.RUNNING, [reason]
        )
        print(f"{AirbyteEntrypoint.airbyte_message_to_string(message)}\n", end="", flush=True)
        self._told = True

    def around(self, stream: str, messages: Iterable[Any]) -> Iterator[Any]:
        """`messages` (what a stream's `read` yields: records and AirbyteMessages), with a plain RUNNING before
        the first record after a rate-limited wait."""
        self.stream, self._told = stream, False
        descriptor = StreamDescriptor(name=stream)
        for message in messages:  # kept cheap: it runs once per record
            if self._told and is_record(message):
                self._told = False
                yield as_airbyte_message(descriptor, AirbyteStreamStatus.RUNNING)
            yield message
        self.stream = None


def is_record(message: Any) -> bool:
    return isinstance(message, dict | Mapping) or getattr(message, "type", None) == Type.RECORD
