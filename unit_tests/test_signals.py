"""RateLimitSignals: the statuses a stream yields for the client's rate-limit waits, checked against the
CDK's own statuses (STARTED, RUNNING before the first record, COMPLETE) over any mix of waits and messages."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from airbyte_cdk.models import AirbyteMessage, AirbyteStreamStatus, TraceType, Type
from hypothesis import given
from hypothesis import strategies as st

from source_wootric.signals import RateLimitSignals

STREAM = "end_users"
# A stream's read, step by step: a record, a STATE checkpoint, or a rate-limit wait (its reset, or None).
steps = st.lists(
    st.one_of(
        st.just(("record",)),
        st.just(("state",)),
        st.tuples(st.just("wait"), st.one_of(st.none(), st.integers(1_700_000_000, 1_800_000_000))),
    ),
    max_size=30,
)


def stream_read(signals: RateLimitSignals, script: list[tuple]) -> Iterator[Any]:
    """What a stream's `read` yields, with the client's waits happening while the next item is produced."""
    for number, step in enumerate(script):
        if step[0] == "wait":
            signals.waited(1.5, step[1])
        elif step[0] == "record":
            yield {"id": number}
        else:
            yield AirbyteMessage(type=Type.STATE)


def as_the_cdk_emits(messages: Iterator[Any]) -> list[tuple]:
    """AbstractSource: STARTED, RUNNING before the stream's first record, COMPLETE; the rest as given."""
    out: list[tuple] = [("status", "STARTED", None)]
    first = True
    for message in messages:
        if isinstance(message, dict):
            if first:
                out.append(("status", "RUNNING", None))
                first = False
            out.append(("record", message["id"]))
        elif message.type == Type.TRACE:
            assert message.trace.type == TraceType.STREAM_STATUS
            status = message.trace.stream_status
            assert status.stream_descriptor.name == STREAM and status.status == AirbyteStreamStatus.RUNNING
            reset = status.reasons[0].rate_limited.quota_reset if status.reasons else None
            out.append(("status", "RATE_LIMITED" if status.reasons else "RUNNING", reset))
        else:
            out.append(("state",))
    out.append(("status", "COMPLETE", None))
    return out


@given(script=steps)
def test_one_rate_limited_status_per_wait_and_a_running_before_the_next_record(script):
    signals = RateLimitSignals()
    out = as_the_cdk_emits(signals.around(STREAM, stream_read(signals, script)))

    waits = [step[1] for step in script if step[0] == "wait"]
    limited = [item[2] for item in out if item[:2] == ("status", "RATE_LIMITED")]
    assert len(limited) == len(waits)
    for told, reset in zip(limited, waits, strict=True):
        assert reset is None or told == reset * 1000  # X-Rate-Limit-Reset in epoch ms
    # Records and checkpoints pass unchanged and in order.
    data = [item for item in out if item[0] != "status"]
    assert data == [
        ("record", n) if s[0] == "record" else ("state",) for n, s in enumerate(script) if s[0] != "wait"
    ]

    last = None
    for item in out:
        if item[0] == "record":
            assert last == "RUNNING"  # never a record while the platform thinks the stream is rate limited
        elif item[0] == "status":
            if item[1] == "RUNNING":
                assert last in ("STARTED", "RATE_LIMITED")  # never a duplicate of a RUNNING
            last = item[1]


def test_waits_before_the_first_record_leave_the_running_to_the_cdk():
    signals = RateLimitSignals()
    out = as_the_cdk_emits(
        signals.around(STREAM, stream_read(signals, [("wait", 1_750_000_000), ("record",), ("record",)]))
    )
    assert out == [
        ("status", "STARTED", None),
        ("status", "RATE_LIMITED", 1_750_000_000_000),
        ("status", "RUNNING", None),
        ("record", 1),
        ("record", 2),
        ("status", "COMPLETE", None),
    ]


def test_a_wait_between_records_is_followed_by_our_running():
    signals = RateLimitSignals()
    script = [("record",), ("state",), ("wait", 1_750_000_000), ("wait", 1_750_000_060), ("record",)]
    out = as_the_cdk_emits(signals.around(STREAM, stream_read(signals, script)))
    assert out == [
        ("status", "STARTED", None),
        ("status", "RUNNING", None),
        ("record", 0),
        ("state",),
        ("status", "RATE_LIMITED", 1_750_000_000_000),
        ("status", "RATE_LIMITED", 1_750_000_060_000),
        ("status", "RUNNING", None),
        ("record", 4),
        ("status", "COMPLETE", None),
    ]
