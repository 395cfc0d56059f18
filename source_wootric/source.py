"""SourceWootric: the config becomes one client (its OAuth2 authenticator, rate-limit budget and retry state) and
one context, which every stream receives; each stream sends on HttpStream's loop with that authenticator."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping, MutableMapping
from dataclasses import replace
from typing import Any

from airbyte_cdk.models import (
    AirbyteConnectionStatus,
    AirbyteMessage,
    AirbyteStateMessage,
    ConfiguredAirbyteCatalog,
    FailureType,
    Status,
    SyncMode,
)
from airbyte_cdk.sources import AbstractSource
from airbyte_cdk.sources.streams import Stream
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_wootric.client import WootricClient
from source_wootric.config import config_error, parse_config
from source_wootric.migrations import migrate_config_file
from source_wootric.streams.account import NpsSummary, Segments
from source_wootric.streams.base import SyncContext
from source_wootric.streams.email import EmailSendSources, EmailStats
from source_wootric.streams.end_users import EndUserPages, EndUsers, EndUsersProperties
from source_wootric.streams.survey import Declines, Responses

END_USER_STREAMS = ("end_users", "end_users_properties")
CHECK_RETRIES = 2
CHECK_RATE_LIMIT_SECONDS = 120.0


class SourceWootric(AbstractSource):
    def __init__(self) -> None:
        super().__init__()
        # Where each end-user stream of the catalog being read starts, so that the two share one read.
        self._end_user_starts: dict[str, int] = {}
        self._context: SyncContext | None = (
            None  # of the streams last built: the sync's, for its closing line
        )

    def check(self, logger: logging.Logger, config: Mapping[str, Any]) -> AirbyteConnectionStatus:
        """One CONNECTION_STATUS for any problem, and exit 0: a config error also as the CDK's TRACE message;
        any other (an outage, the rate limit) as a FAILED status with its message."""
        try:
            return super().check(logger, config)
        except AirbyteTracedException as error:
            if error.failure_type == FailureType.config_error:
                raise
            return AirbyteConnectionStatus(status=Status.FAILED, message=error.message)

    def check_connection(self, logger: logging.Logger, config: Mapping[str, Any]) -> tuple[bool, Any]:
        """Proves the credentials with the token request and one small read. It retries less than a sync,
        so that someone waiting on the set-up page hears of an outage in seconds, not minutes."""
        parsed = parse_config(config)
        tuning = replace(
            parsed.tuning,
            max_transient_retries=min(CHECK_RETRIES, parsed.tuning.max_transient_retries),
            max_rate_limit_seconds=min(CHECK_RATE_LIMIT_SECONDS, parsed.tuning.max_rate_limit_seconds),
        )
        WootricClient(replace(parsed, tuning=tuning), logger).get("end_users", {"per_page": 1, "page": 1})
        return True, None

    def read(
        self,
        logger: logging.Logger,
        config: Mapping[str, Any],
        catalog: ConfiguredAirbyteCatalog,
        state: list[AirbyteStateMessage] | None = None,
    ) -> Iterator[AirbyteMessage]:
        streams = {stream.name: stream for stream in self.streams(config)}
        for configured in catalog.streams:
            name = configured.stream.name
            if name not in streams:
                raise config_error(
                    f"The catalog names a stream `{name}` that this source does not have; it has "
                    f"{', '.join(streams)}. Refresh the source schema."
                )
            if configured.sync_mode == SyncMode.incremental and not streams[name].supports_incremental:
                # PyAirbyte asks every stream for incremental; a full refresh is what such a stream can give.
                logger.warning(f"The stream `{name}` supports only full_refresh; reading it in full.")
                configured.sync_mode = SyncMode.full_refresh
        # Checked here, for one clear error before any stream starts; applied by the CDK, once, as each starts.
        given = {
            message.stream.stream_descriptor.name: (
                message.stream.stream_state.__dict__ if message.stream.stream_state else {}
            )
            for message in state or []
            if message.stream and message.stream.stream_descriptor.name in streams
        }
        for name, stream_state in given.items():
            streams[name].check_state(stream_state)
        # nps_summary re-reads the periods of back-dated records that the survey streams found earlier in
        # the same sync (SyncContext.backdated_seconds): it goes last, whatever order the catalog lists.
        catalog.streams.sort(key=lambda configured: configured.stream.name == "nps_summary")
        self._end_user_starts = {
            name: streams[name].start_for(configured.sync_mode, given.get(name))
            for configured in catalog.streams
            if (name := configured.stream.name) in END_USER_STREAMS
        }
        started = time.monotonic()
        try:
            yield from super().read(logger, config, catalog, state)
        finally:
            if self._context is not None:
                context = self._context
                logger.info(context.client.describe_sync(context.records, time.monotonic() - started))

    @staticmethod
    def read_config(config_path: str) -> MutableMapping[str, Any]:
        """The config, migrated to this version's spec (see migrations.py) before anything reads it."""
        try:
            config = AbstractSource.read_config(config_path)
        except Exception as error:
            advice = "Write the config as a JSON object; `spec` describes its fields."
            raise _unreadable_file("config", config_path, "a JSON object", error, advice) from None
        return migrate_config_file(config, config_path, logging.getLogger("airbyte"))

    @classmethod
    def read_catalog(cls, catalog_path: str) -> ConfiguredAirbyteCatalog:
        try:
            return super().read_catalog(catalog_path)
        except Exception as error:
            advice = "Run `discover` and select streams from its output."
            raise _unreadable_file(
                "catalog", catalog_path, "a configured Airbyte catalog", error, advice
            ) from None

    @classmethod
    def read_state(cls, state_path: str) -> list[AirbyteStateMessage]:
        try:
            return super().read_state(state_path)
        except Exception as error:
            advice = "Pass the STATE messages of the last sync, or no state to start afresh."
            raise _unreadable_file(
                "state", state_path, "a list of Airbyte STATE messages", error, advice
            ) from None

    def streams(self, config: Mapping[str, Any]) -> list[Stream]:
        parsed = parse_config(config)
        logger = logging.getLogger("airbyte")
        # The config's OAuth2 authenticator is the client's (client.authenticator), every stream's HttpStream one.
        context = self._context = SyncContext(parsed, WootricClient(parsed, logger), logger)
        # Both end-user streams in the catalog: one read from the earlier start serves the two.
        both = len(self._end_user_starts) == len(END_USER_STREAMS)
        end_user_pages = EndUserPages(
            context, shared_start=min(self._end_user_starts.values()) if both else None
        )
        return [
            EndUsers(context, end_user_pages),
            EndUsersProperties(context, end_user_pages),
            Responses(context),
            Declines(context),
            Segments(context),
            NpsSummary(context),
            EmailStats(context),
            EmailSendSources(context),
        ]


def _unreadable_file(kind: str, path: str, expected: str, error: Exception, advice: str) -> Exception:
    return config_error(
        f"The {kind} file {path} is not {expected} ({type(error).__name__}: {str(error)[:300]}). {advice}"
    )
