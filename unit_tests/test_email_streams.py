"""The e-mail streams when Wootric answers other than its reference says, against requests-mock."""

from __future__ import annotations

import copy
import logging
from zoneinfo import ZoneInfo

import pytest
from airbyte_cdk.models import SyncMode
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_wootric.config import parse_config
from source_wootric.source import account_for
from source_wootric.streams.account import EmailSendSources
from source_wootric.streams.base import SyncContext, WootricStream
from source_wootric.streams.periods import EmailStats
from source_wootric.timezone import AccountZone
from unit_tests.test_client import API, TOKEN_URL, fake_time, token  # noqa: F401 (fake_time: a fixture)
from unit_tests.test_records import REFERENCE_EMAIL_STATS

STATS_URL = f"{API}/v2/email_stats"
SOURCES_URL = f"{API}/v2/email_stats/sources"


def context(start_date: str = "2024-08-01T12:00:00Z") -> SyncContext:
    config = parse_config(
        {
            "credentials": {"client_id": "the-id", "client_secret": "the-secret"},
            "start_date": start_date,
            "base_url": API,
            "account_timezone": "America/Los_Angeles",
        }
    )
    logger = logging.getLogger("test-email")
    # A sync "started" on 2024-09-15: periods August and September 2024.
    sync = SyncContext(config, account_for(config, logger), logger, started_at=1_726_400_000)
    sync.account_zone = AccountZone(ZoneInfo("America/Los_Angeles"), known=True)  # as if learnt
    return sync


def records_of(stream: WootricStream, sync_mode: SyncMode) -> list:
    """The stream's records, slice by slice, as the CDK's Stream.read asks for them."""
    return [
        record
        for stream_slice in stream.stream_slices(sync_mode=sync_mode)
        for record in stream.read_records(sync_mode, stream_slice=stream_slice)
    ]


def warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_periods_whose_answer_counts_other_days_are_emitted_and_warned_once(requests_mock, caplog):
    requests_mock.post(TOKEN_URL, **token())
    requests_mock.get(
        STATS_URL, json=REFERENCE_EMAIL_STATS
    )  # always Aug 3, 2023 - Sep 3, 2024: range ignored
    with caplog.at_level(logging.WARNING):
        records = records_of(EmailStats(context()), SyncMode.full_refresh)
    assert [r["period_start"] for r in records] == ["2024-08-01", "2024-09-01"]
    assert warnings(caplog) == [
        "email_stats: for 2 periods Wootric did not report counting the days asked (first: asked "
        "2024-08-01..2024-08-31, counted 2023-08-03..2024-09-03); those records may not hold the figures of "
        "the period they name."
    ]
    assert [q.qs for q in requests_mock.request_history[1:]] == [
        {"date_range[start_date]": ["2024-08-01"], "date_range[end_date]": ["2024-08-31"]},
        {"date_range[start_date]": ["2024-09-01"], "date_range[end_date]": ["2024-09-30"]},
    ]


def test_an_answer_that_confirms_the_range_raises_no_warning(requests_mock, caplog):
    requests_mock.post(TOKEN_URL, **token())
    answer = copy.deepcopy(REFERENCE_EMAIL_STATS)
    answer["email_stats"]["raw_results"].update(
        sart_date="2024-09-01T00:00:00-07:00", end_date="2024-09-30T23:59:59-07:00"
    )
    requests_mock.get(STATS_URL, json=answer)
    with caplog.at_level(logging.WARNING):
        records = records_of(EmailStats(context("2024-09-02T00:00:00Z")), SyncMode.full_refresh)
    assert len(records) == 1 and records[0]["open_rate"] == 60.0 and not warnings(caplog)


def test_a_404_after_some_periods_keeps_them_and_warns_once(requests_mock, caplog):
    requests_mock.post(TOKEN_URL, **token())
    requests_mock.get(
        STATS_URL,
        [
            {"json": REFERENCE_EMAIL_STATS},
            {"status_code": 404, "json": {"errors": [{"message": "Not found"}]}},
        ],
    )
    stream = EmailStats(context())
    with caplog.at_level(logging.WARNING):
        records = records_of(stream, SyncMode.incremental)
    assert len(records) == 1 and stream.state["period_start"] == "2024-08-01"
    said = [w for w in warnings(caplog) if "404" in w]
    assert len(said) == 1 and "after 1 records" in said[0]


@pytest.mark.parametrize("status", [400, 500])
def test_other_failures_still_fail_the_stream(requests_mock, status):
    requests_mock.post(TOKEN_URL, **token())
    requests_mock.get(SOURCES_URL, status_code=status, json={"errors": [{"message": "no"}]})
    with pytest.raises(AirbyteTracedException):
        records_of(EmailSendSources(context()), SyncMode.full_refresh)


def test_a_source_list_this_version_does_not_know_is_emitted_and_warned(requests_mock, caplog):
    requests_mock.post(TOKEN_URL, **token())
    requests_mock.get(
        SOURCES_URL,
        json={
            "ongoing": [{"id": "email_api", "name": "Email API *"}],
            "sends": [{"id": 1, "name": "Q1_file.csv", "date": "Jan 11, 2024  9:01AM"}, "not an object"],
            "scheduled": [{"id": 9, "name": "Weekly"}],
        },
    )
    stream = EmailSendSources(context())
    with caplog.at_level(logging.WARNING):
        records = records_of(stream, SyncMode.full_refresh)
    assert [(r["source_type"], r["id"]) for r in records] == [
        ("ongoing", "email_api"),
        ("sends", "1"),
        ("scheduled", "9"),
    ]
    assert records[1]["sent_at"] == "2024-01-11T09:01:00-08:00"
    assert any("`scheduled`" in w for w in warnings(caplog)) and stream.shape.unreadable == {"sends": 1}
