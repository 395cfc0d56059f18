"""The account's own lists, one request each: its custom property definitions (segments), its survey templates,
and the sources of its survey e-mails (Wootric's v2 API: `POST /v2/email_stats/bounce_report` e-mails a person a report, so it
is never called)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

import requests
from airbyte_cdk.models import SyncMode

from source_wootric import records
from source_wootric.http import json_body
from source_wootric.streams.base import WootricStream

KNOWN_SOURCE_LISTS = ("ongoing", "sends")


class Segments(WootricStream):
    """The custom property definitions, shared with end_users_properties, which needs the properties' data
    types (SyncContext.segments_read): whichever comes first asks, once per sync."""

    primary_key = "name"
    endpoint = "segments"
    replayed = False

    def read_records(
        self,
        sync_mode: SyncMode,
        cursor_field: Any = None,
        stream_slice: Any = None,
        stream_state: Any = None,
    ) -> Iterable[Mapping[str, Any]]:
        self.replayed = self.context.segments_read is not None
        if not self.replayed:
            yield from super().read_records(sync_mode, cursor_field, stream_slice, stream_state)
            return
        for segment in self.context.segments_read or []:  # asked earlier in this sync: not asked again
            yield records.segment(segment, self.shape)

    def read_note(self) -> str:
        return " (the definitions end_users_properties read earlier in this sync)" if self.replayed else ""

    def parse_response(self, response: requests.Response, **kwargs: Any) -> Iterable[Mapping[str, Any]]:
        for segment in self.context.keep_segments(json_body(response)):
            yield records.segment(segment, self.shape)


class SurveyTemplates(WootricStream):
    """The account's survey templates, with `is_default` from the answer's `default_survey_template_id`. An
    account whose plan lacks them (403) or whose region does not serve them (404) gets an empty stream and one
    WARN."""

    endpoint = "survey_templates"
    expect = dict
    absent = (403, 404)

    def parse_response(self, response: requests.Response, **kwargs: Any) -> Iterable[Mapping[str, Any]]:
        answer = self.served_answer(response)
        if answer is None:
            return
        default_id = records.whole_number(answer.get("default_survey_template_id"))
        for raw in self.objects("survey_templates", answer.get("survey_templates")):
            yield records.survey_template(raw, default_id, self.shape)


class EmailSendSources(WootricStream):
    """The ongoing sources of survey e-mails (`email_api`, `webhook_trigger`) and the sends (CSV uploads), one
    record each; a send's date is read in the account's time zone. Accounts or regions without the v2 API
    answer 404: the stream is then empty, with one WARN."""

    primary_key: ClassVar[list[str]] = ["source_type", "id"]
    endpoint = "email_stats/sources"
    api_version = "v2"
    expect = dict
    absent = (404,)

    def parse_response(self, response: requests.Response, **kwargs: Any) -> Iterable[Mapping[str, Any]]:
        answer = self.served_answer(response)
        if answer is None:
            return
        for source_type, items in answer.items():
            if source_type not in KNOWN_SOURCE_LISTS:
                self.logger.warning(
                    f"{self.name}: Wootric's answer holds a list `{source_type}` this version does not know; "
                    "its items are emitted with that source_type."
                )
            for raw in self.objects(source_type, items):
                yield records.email_send_source(raw, source_type, self.shape)
