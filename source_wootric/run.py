import sys

from airbyte_cdk.entrypoint import launch

from source_wootric.source import SourceWootric


def run() -> None:
    launch(SourceWootric(), sys.argv[1:])
