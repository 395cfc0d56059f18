"""The `source-wootric` command: the CDK's `launch`, with two departures, each for a guarantee: the config is
checked by our own rules first (their errors name the field to fix, where the spec's JSON-schema check says
only that the config "is not valid under any of the given schemas"; a key that is no setting gets a WARN naming
the nearest), and log lines carry no traceback (a failure reaches the user as a TRACE message, whose
stack_trace already holds it)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from typing import Any

from airbyte_cdk.entrypoint import PRINT_BUFFER, AirbyteEntrypoint
from airbyte_cdk.models import ConnectorSpecification

from source_wootric.config import parse_config, unknown_keys
from source_wootric.source import SourceWootric


class WootricEntrypoint(AirbyteEntrypoint):
    @staticmethod
    def validate_connection(source_spec: ConnectorSpecification, config: Mapping[str, Any]) -> None:
        for line in unknown_keys(config, source_spec.connectionSpecification.get("properties", {})):
            logging.getLogger("airbyte").warning(line)
        parse_config(config)
        AirbyteEntrypoint.validate_connection(source_spec, config)


def no_tracebacks(record: logging.LogRecord) -> bool:
    record.exc_info, record.exc_text, record.stack_info = None, None, None
    return True


def run() -> None:
    entrypoint = WootricEntrypoint(SourceWootric())
    for handler in logging.getLogger().handlers:
        handler.addFilter(no_tracebacks)
    with PRINT_BUFFER:
        for message in entrypoint.run(entrypoint.parse_args(sys.argv[1:])):
            print(f"{message}\n", end="")
