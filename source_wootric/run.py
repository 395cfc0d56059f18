import sys
from collections.abc import Mapping
from typing import Any

from airbyte_cdk.entrypoint import PRINT_BUFFER, AirbyteEntrypoint
from airbyte_cdk.models import ConnectorSpecification

from source_wootric.config import parse_config
from source_wootric.source import SourceWootric


class WootricEntrypoint(AirbyteEntrypoint):
    @staticmethod
    def validate_connection(source_spec: ConnectorSpecification, config: Mapping[str, Any]) -> None:
        # Our own checks first: they name the field to fix, where the spec's JSON-schema check would say
        # only that the config "is not valid under any of the given schemas".
        parse_config(config)
        AirbyteEntrypoint.validate_connection(source_spec, config)


def run() -> None:
    """`airbyte_cdk.entrypoint.launch`, with the entrypoint above."""
    entrypoint = WootricEntrypoint(SourceWootric())
    parsed_args = entrypoint.parse_args(sys.argv[1:])
    with PRINT_BUFFER:
        for message in entrypoint.run(parsed_args):
            print(f"{message}\n", end="")
