"""The `source-wootric` command: the CDK's entrypoint, with our config checks first, and failures that reach
the user as TRACE messages (which carry the stack trace), never as a traceback in a LOG message or on stderr.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Mapping
from typing import Any

from airbyte_cdk.entrypoint import PRINT_BUFFER, AirbyteEntrypoint
from airbyte_cdk.models import AirbyteMessage, ConnectorSpecification, FailureType, TraceType, Type
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_wootric.config import parse_config
from source_wootric.source import SourceWootric

# The CDK's closing error when streams failed: it is always typed config_error, whatever the streams' errors.
CDK_FAILED_STREAMS = "During the sync, the following streams did not sync successfully"


class NoTracebacks(logging.Filter):
    """Keeps log lines to their message: the CDK logs a stream's failure with its traceback, which the
    TRACE message that follows already carries."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        return True


class WootricEntrypoint(AirbyteEntrypoint):
    def __init__(self, source: SourceWootric):
        super().__init__(source)
        self.stream_failures: list[FailureType] = []  # the failure types of the streams' TRACE errors
        # Set while the message just handed out (and being printed) is a STATE message: a checkpoint.
        self.checkpoint_pending = False

    @staticmethod
    def validate_connection(source_spec: ConnectorSpecification, config: Mapping[str, Any]) -> None:
        # Our own checks first: they name the field to fix, where the spec's JSON-schema check would say
        # only that the config "is not valid under any of the given schemas".
        parse_config(config)
        AirbyteEntrypoint.validate_connection(source_spec, config)

    def read(
        self, source_spec: ConnectorSpecification, config: Any, catalog: Any, state: list[Any]
    ) -> Iterable[AirbyteMessage]:
        for message in super().read(source_spec, config, catalog, state):
            error = message.trace.error if message.type == Type.TRACE and message.trace else None
            if error and message.trace.type == TraceType.ERROR and error.failure_type:
                self.stream_failures.append(error.failure_type)
            self.checkpoint_pending = message.type == Type.STATE
            yield message

    def final_error(self, error: Exception) -> AirbyteTracedException:
        """The error that ends the command. The CDK's summary of failed streams takes the most telling type
        of the streams' own errors: config (the user must act) over system over transient (a retry helps)."""
        traced = (
            error
            if isinstance(error, AirbyteTracedException)
            else AirbyteTracedException.from_exception(error)
        )
        if self.stream_failures and (traced.message or "").startswith(CDK_FAILED_STREAMS):
            for failure_type in (
                FailureType.config_error,
                FailureType.system_error,
                FailureType.transient_error,
            ):
                if failure_type in self.stream_failures:
                    traced.failure_type = failure_type
                    break
        return traced


def run() -> None:
    """`airbyte_cdk.entrypoint.launch`, with the entrypoint above; exits 1 after a TRACE error."""
    entrypoint = WootricEntrypoint(SourceWootric())
    parsed_args = entrypoint.parse_args(sys.argv[1:])
    for handler in logging.getLogger().handlers:
        handler.addFilter(NoTracebacks())
    failed = False
    with PRINT_BUFFER:
        try:
            for message in entrypoint.run(parsed_args):
                print(f"{message}\n", end="")
                if entrypoint.checkpoint_pending:
                    # A checkpoint goes out at once, not within the buffer's 0.1 s: a process killed right
                    # after it resumes from it, instead of re-reading everything since the last flush.
                    entrypoint.checkpoint_pending = False
                    PRINT_BUFFER.flush()
        except Exception as error:  # the CDK's own hook would also log it, traceback and all
            trace = entrypoint.final_error(error).as_sanitized_airbyte_message()
            print(f"{AirbyteEntrypoint.airbyte_message_to_string(trace)}\n", end="")
            failed = True
    if failed:
        sys.exit(1)
