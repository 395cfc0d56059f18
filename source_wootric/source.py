"""SourceWootric: the config becomes one account (its OAuth2 authenticator, rate-limit budget and tallies) and
one sync context, which every stream receives; `check` proves the credentials; `read` checks the catalog and
the saved state before any stream starts, reads `nps_summary` after the survey streams, and closes the sync
with one line."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from typing import Any

from airbyte_cdk.models import (
    AirbyteConnectionStatus,
    AirbyteMessage,
    AirbyteStateMessage,
    ConfiguredAirbyteCatalog,
    FailureType,
    Status,
    SyncMode,
    TraceType,
    Type,
)
from airbyte_cdk.sources import AbstractSource
from airbyte_cdk.sources.streams import Stream
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_wootric.auth import WootricAuthenticator
from source_wootric.config import WootricConfig, config_error, migrate_config_file, parse_config
from source_wootric.http import TOKEN_PATH, Account
from source_wootric.streams.account import EmailSendSources, Segments, SurveyTemplates
from source_wootric.streams.base import SyncContext, WootricStream
from source_wootric.streams.end_users import EndUserPages, EndUsers, EndUsersProperties
from source_wootric.streams.periods import EmailStats, NpsSummary
from source_wootric.streams.survey import Declines, Responses

# The CDK's closing error when streams failed: always typed config_error, whatever the streams' errors.
CDK_FAILED_STREAMS = "During the sync, the following streams did not sync successfully"
# nps_summary re-reads the periods of the back-dated records that the survey streams' sweep finds in the same
# sync (SyncContext.changed_seconds): it is read after them, whatever order the catalog lists.
READ_LAST = ("nps_summary",)
# The closing error takes the most telling of the streams' own: config (the user must act), system, transient.
FAILURE_ORDER = [FailureType.config_error, FailureType.system_error, FailureType.transient_error]
FILES = {  # what each file the command reads must be, and what to do when it is not
    "config": ("a JSON object", "Write the config as a JSON object; `spec` describes its fields."),
    "catalog": ("a configured Airbyte catalog", "Run `discover` and select streams from its output."),
    "state": (
        "a list of Airbyte STATE messages",
        "Pass the STATE messages of the last sync, or no state to start afresh.",
    ),
}


def account_for(config: WootricConfig, logger: logging.Logger, **patience: Any) -> Account:
    account = Account(logger, config.hosts.setting, **patience)
    account.authenticator = WootricAuthenticator(config.credentials, config.hosts, account.post_form, logger)
    return account


class SourceWootric(AbstractSource):
    def __init__(self) -> None:
        super().__init__()
        self._streams: list[WootricStream] | None = None  # the sync's, built once per source
        self._context: SyncContext | None = None

    def check(self, logger: logging.Logger, config: Mapping[str, Any]) -> AirbyteConnectionStatus:
        """One CONNECTION_STATUS for any problem, and exit 0: a config error also as the CDK's TRACE message,
        any other (an outage, the rate limit) as a FAILED status with its message."""
        try:
            return super().check(logger, config)
        except AirbyteTracedException as error:
            if error.failure_type == FailureType.config_error:
                raise
            return AirbyteConnectionStatus(status=Status.FAILED, message=error.message)

    def check_connection(self, logger: logging.Logger, config: Mapping[str, Any]) -> tuple[bool, Any]:
        """The token request and one small read, retried less than a sync, so that someone waiting on the
        set-up page hears of an outage in seconds, not minutes."""
        account = account_for(parse_config(config), logger, retries=2, rate_limit_seconds=120)
        account.get("end_users", {"per_page": 1, "page": 1})
        return True, None

    def streams(self, config: Mapping[str, Any]) -> list[Stream]:
        if self._streams is None:
            parsed = parse_config(config)
            logger = logging.getLogger("airbyte")
            context = self._context = SyncContext(parsed, account_for(parsed, logger), logger)
            pages = EndUserPages(context)
            self._streams = [
                EndUsers(context, pages),
                EndUsersProperties(context, pages),
                Responses(context),
                Declines(context),
                Segments(context),
                NpsSummary(context),
                EmailStats(context),
                EmailSendSources(context),
                SurveyTemplates(context),
            ]
        return list(self._streams)

    def read(
        self,
        logger: logging.Logger,
        config: Mapping[str, Any],
        catalog: ConfiguredAirbyteCatalog,
        state: list[AirbyteStateMessage] | None = None,
    ) -> Iterator[AirbyteMessage]:
        streams = {stream.name: stream for stream in self.streams(config)}
        # A state for a stream not in the catalog is ignored.
        configured = {stream.stream.name for stream in catalog.streams}
        given = {
            message.stream.stream_descriptor.name: (
                message.stream.stream_state.__dict__ if message.stream.stream_state else {}
            )
            for message in state or []
            if message.stream and message.stream.stream_descriptor.name in configured
        }
        self._check_catalog(logger, catalog, streams, given)
        catalog.streams.sort(key=lambda configured: configured.stream.name in READ_LAST)
        failures: list[FailureType] = []
        started = time.monotonic()
        try:
            for message in super().read(logger, config, catalog, state):
                if (
                    message.type == Type.TRACE
                    and message.trace.type == TraceType.ERROR
                    and message.trace.error
                ):
                    failures.append(message.trace.error.failure_type or FailureType.system_error)
                yield message
        except AirbyteTracedException as error:
            if failures and (error.message or "").startswith(CDK_FAILED_STREAMS):
                error.failure_type = min(failures, key=FAILURE_ORDER.index)
            raise
        finally:
            assert self._context is not None
            logger.info(self._describe_sync(self._context, time.monotonic() - started))

    def _check_catalog(
        self,
        logger: logging.Logger,
        catalog: ConfiguredAirbyteCatalog,
        streams: dict[str, Any],
        given: dict[str, Any],
    ) -> None:
        """One clear error before any stream starts: a stream this source lacks, or a saved state this version
        did not write. A stream asked for incrementally that has only full refresh is read in full."""
        for configured in catalog.streams:
            name = configured.stream.name
            if name not in streams:
                raise config_error(
                    f"The catalog names a stream `{name}` that this source does not have; it has "
                    f"{', '.join(streams)}. Refresh the source schema."
                )
            if configured.sync_mode == SyncMode.incremental and not streams[name].supports_incremental:
                logger.warning(
                    f"The stream `{name}` supports only full_refresh; reading it in full."
                )  # as PyAirbyte asks
                configured.sync_mode = SyncMode.full_refresh
        for name, stream_state in given.items():
            streams[name].check_state(stream_state)
        end_user_starts = [
            streams[c.stream.name].start_for(c.sync_mode, given.get(c.stream.name))
            for c in catalog.streams
            if c.stream.name in ("end_users", "end_users_properties")
        ]
        if len(end_user_starts) == 2:  # both end-user streams: one read from the earlier start serves the two
            streams["end_users"].pages.shared_start = min(end_user_starts)

    @staticmethod
    def _describe_sync(context: SyncContext, seconds: float) -> str:
        account, waited = context.account, context.account.waited
        return (
            f"Sync done: {context.records} records, {account.data_requests} data requests and "
            f"{account.requests[TOKEN_PATH]} token requests in {seconds / 60:.1f} min; waited "
            f"{waited['rate limit'] / 60:.1f} min for the rate limit, {waited['retries'] / 60:.1f} min before "
            f"retries and {account.authenticator.renewing_seconds / 60:.1f} min for tokens."
        )

    @staticmethod
    def read_config(config_path: str) -> MutableMapping[str, Any]:
        """The config, migrated to this version's spec before anything reads it."""
        config = _read_file("config", config_path, AbstractSource.read_config)
        return migrate_config_file(config, config_path, logging.getLogger("airbyte"))

    @classmethod
    def read_catalog(cls, catalog_path: str) -> ConfiguredAirbyteCatalog:
        return _read_file("catalog", catalog_path, super().read_catalog)

    @classmethod
    def read_state(cls, state_path: str) -> list[AirbyteStateMessage]:
        return _read_file("state", state_path, super().read_state)


def _read_file(kind: str, path: str, read: Callable[[str], Any]) -> Any:
    try:
        return read(path)
    except Exception as error:
        expected, advice = FILES[kind]
        raise config_error(
            f"The {kind} file {path} is not {expected} ({type(error).__name__}: {str(error)[:300]}). {advice}"
        ) from None
