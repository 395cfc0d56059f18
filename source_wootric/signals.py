"""Stream statuses the platform shows while a sync waits on Wootric's rate limit.

The client sleeps inside its request loop, where nothing can be yielded; it tells `RateLimitSignals.waited`
of each wait (`WootricClient.on_wait`), and the stream being read yields the queued statuses with its next
message: one RUNNING with reason RATE_LIMITED per wait (`quota_reset`: when the limit resets, epoch
milliseconds), then a plain RUNNING before the stream's next record. The CDK emits STARTED, COMPLETE,
INCOMPLETE and the RUNNING before a stream's first record itself; none of them is repeated here.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from airbyte_cdk.models import (
    AirbyteMessage,
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
        self._resets: list[float] = []  # per wait not yet told: when the limit resets, epoch seconds

    def waited(self, seconds: float, reset_at: float | None) -> None:
        """The client's `on_wait`: called before it sleeps `seconds`. Without X-Rate-Limit-Reset, the limit is
        taken to reset when the client tries again."""
        self._resets.append(reset_at if reset_at is not None else time.time() + seconds)

    def around(self, stream: str, messages: Iterable[Any]) -> Iterator[Any]:
        """`messages` (what a stream's `read` yields: records and AirbyteMessages), with the statuses of the
        waits made while each was produced yielded before it."""
        descriptor = StreamDescriptor(name=stream)
        records_out, rate_limited = False, False
        for message in messages:  # kept cheap: it runs once per record
            if self._resets:
                yield from self._statuses(descriptor)
                rate_limited = True
            if (rate_limited or not records_out) and _is_record(message):
                # Before a stream's first record the CDK emits RUNNING itself.
                if rate_limited and records_out:
                    yield as_airbyte_message(descriptor, AirbyteStreamStatus.RUNNING)
                records_out, rate_limited = True, False
            yield message
        yield from self._statuses(descriptor)

    def _statuses(self, descriptor: StreamDescriptor) -> list[AirbyteMessage]:
        resets, self._resets = self._resets, []
        return [
            as_airbyte_message(
                descriptor,
                AirbyteStreamStatus.RUNNING,
                [
                    AirbyteStreamStatusReason(
                        type=AirbyteStreamStatusReasonType.RATE_LIMITED,
                        rate_limited=AirbyteStreamStatusRateLimitedReason(quota_reset=int(reset * 1000)),
                    )
                ],
            )
            for reset in resets
        ]


def _is_record(message: Any) -> bool:
    return isinstance(message, dict | Mapping) or getattr(message, "type", None) == Type.RECORD
