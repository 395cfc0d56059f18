"""Record shaping: datetimes in Wootric's three forms, flattening, property values, unreadable values."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from source_wootric import records
from source_wootric.records import Shaper, property_text, to_rfc3339

LA = ZoneInfo("America/Los_Angeles")


def shaper(stream: str = "end_users") -> Shaper:
    return Shaper(stream, lambda: LA, logging.getLogger("test"))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2018-01-02 23:03:41 -0800", "2018-01-02T23:03:41-08:00"),
        ("2018-07-02 23:03:41 +0530", "2018-07-02T23:03:41+05:30"),
        ("2015-02-12T06:29:27.000-08:00", "2015-02-12T06:29:27-08:00"),
        ("2015-02-12T06:29:27.250-08:00", "2015-02-12T06:29:27.250000-08:00"),
        ("2014-12-01 18:36:59", "2014-12-01T18:36:59-08:00"),  # no offset: the account's zone, winter
        ("2014-07-01 18:36:59", "2014-07-01T18:36:59-07:00"),  # and summer time
        ("2020-01-01T00:00:00Z", "2020-01-01T00:00:00+00:00"),
    ],
)
def test_three_datetime_forms_become_rfc3339_with_their_offset(raw, expected):
    assert shaper().timestamp("updated_at", raw) == expected


@settings(max_examples=200, derandomize=True)
@given(
    moment=st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1)),
    offset_minutes=st.integers(-12 * 60, 14 * 60).map(lambda m: m - m % 15),
)
def test_every_form_reads_back_the_same_instant(moment, offset_minutes):
    zone = timezone(timedelta(minutes=offset_minutes))
    aware = moment.replace(microsecond=0, tzinfo=zone)
    sign = "+" if offset_minutes >= 0 else "-"
    hours, minutes = divmod(abs(offset_minutes), 60)
    wootric_form = aware.strftime("%Y-%m-%d %H:%M:%S ") + f"{sign}{hours:02d}{minutes:02d}"
    for text in (wootric_form, aware.isoformat(timespec="milliseconds")):
        parsed = shaper().datetime("updated_at", text)
        assert parsed == aware and parsed.utcoffset() == aware.utcoffset()
        assert datetime.fromisoformat(to_rfc3339(parsed)) == aware


def test_end_user_is_flattened_to_the_documented_columns():
    raw = {
        "id": 2,
        "created_at": "2018-01-02 23:03:41 -0800",
        "updated_at": "2018-01-16 23:07:03 -0800",
        "email": "nps2@example.com",
        "last_surveyed": "2018-01-07 15:30:44 -0800",
        "external_created_at": 1515940485,
        "last_seen_at": None,
        "properties": {"country": "UK"},
        "phone_number": None,
        "external_id": "e9a12f9aa245cfd5",
        "last_response": {"id": 505550023, "score": 9, "text": "Great.", "survey": {"channel": "mobile:ios"}},
        "settings": {"email_nps": True, "mobile_nps": True, "web_nps": False, "force_mobile_survey": None},
        "page_views_count": 12,
        "user_id": 7,
    }
    record = records.end_user(raw, shaper())
    assert record == {
        "id": 2,
        "created_at": "2018-01-02T23:03:41-08:00",
        "updated_at": "2018-01-16T23:07:03-08:00",
        "email": "nps2@example.com",
        "last_surveyed": "2018-01-07T15:30:44-08:00",
        "external_created_at": "2018-01-14T14:34:45+00:00",
        "last_seen_at": None,
        "phone_number": None,
        "external_id": "e9a12f9aa245cfd5",
        "last_response__id": 505550023,
        "last_response__score": 9,
        "last_response__text": "Great.",
        "last_response__survey__channel": "mobile:ios",
        "settings_email_nps": True,
        "settings_mobile_nps": True,
        "settings_web_nps": False,
        "settings_force_mobile_survey": None,
        "settings_force_web_survey": None,
        "settings_surveys_disabled_by_end_user": None,
        "user_id": "7",  # old accounts' columns: user_id as text, page_views_count an integer
        "page_views_count": 12,
    }


def test_a_null_last_response_gives_null_columns():
    record = records.end_user({"id": 1, "last_response": None, "settings": None}, shaper())
    assert record["last_response__id"] is None and record["last_response__survey__channel"] is None
    assert record["settings_email_nps"] is None


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("Plan A", "Plan A"),
        ("日本語 🎉", "日本語 🎉"),
        (10000, "10000"),
        (1.5, "1.5"),
        (True, "true"),
        ([1, "a", None], '[1,"a",null]'),
        ({"b": 1, "a": [2]}, '{"b":1,"a":[2]}'),
        (None, None),
    ],
)
def test_property_values_become_text(value, text):
    assert property_text(value) == text


@given(
    value=st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(), lambda c: st.lists(c, max_size=3)
    )
)
def test_non_text_property_values_are_their_compact_json(value):
    text = property_text(value)
    if value is None or isinstance(value, str):
        assert text == value
    else:
        # compact: no space after separators (a string inside may hold ", " itself)
        assert (
            json.loads(text) == value and json.dumps(value, separators=(",", ":"), ensure_ascii=False) == text
        )


def test_property_rows_carry_the_user_id_cursor_and_segment_type():
    raw = {
        "id": 7,
        "updated_at": "2020-01-01 00:00:00 +0000",
        "properties": {"plan": "A", "purchase_date": 1},
    }
    shape = shaper("end_users_properties")
    rows = list(records.end_user_properties(raw, shape, {"plan": "string"}.get))
    assert rows == [
        {
            "end_user_id": 7,
            "property_key": "plan",
            "property_value": "A",
            "property_data_type": "string",
            "updated_at": "2020-01-01T00:00:00+00:00",
        },
        {
            "end_user_id": 7,
            "property_key": "purchase_date",
            "property_value": "1",
            "property_data_type": None,
            "updated_at": "2020-01-01T00:00:00+00:00",
        },
    ]


def test_response_columns_and_snapshot_of_properties():
    raw = {
        "id": 1,
        "end_user_id": 1,
        "survey_id": 1,
        "score": 0,
        "text": "Slow.",
        "completed": False,
        "excluded_from_calculations": False,
        "ip_address": "127.0.0.1",
        "origin_url": "https://wootric.com",
        "created_at": "2016-12-16 09:05:00 -0800",
        "updated_at": "2016-12-16 09:05:13 -0800",
        "tags": ["PERFORMANCE"],
        "notes": [],
        "end_user": {
            "id": 7,
            "email": "nps7@example.com",
            "external_id": "e9a1",
            "phone_number": None,
            "settings": {"email_nps": True},
            "properties": {"persona": "Individual"},
        },
    }
    record = records.response(raw, shaper("responses"))
    assert record["end_user__properties"] == {"persona": "Individual"} and "end_user" not in record
    # Who answered, as typed columns; another plain value passed through; nested ones left to properties'.
    assert (record["end_user__id"], record["end_user__email"], record["end_user__external_id"]) == (
        7,
        "nps7@example.com",
        "e9a1",
    )
    assert "end_user__phone_number" in record and record["end_user__phone_number"] is None
    assert "end_user__settings" not in record
    assert record["created_at"] == "2016-12-16T09:05:00-08:00" and record["tags"] == ["PERFORMANCE"]
    decline = records.decline(
        {k: raw[k] for k in ("id", "end_user_id", "created_at", "end_user")}, shaper("declines")
    )
    assert decline["end_user__properties"] == {"persona": "Individual"} and "score" not in decline


def test_unreadable_values_become_null_and_are_logged_once_per_column(caplog):
    shape = shaper()
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            record = records.end_user(
                {"id": 1, "updated_at": "yesterday", "settings": {"web_nps": "maybe"}}, shape
            )
    assert record["updated_at"] is None and record["settings_web_nps"] is None
    assert shape.unreadable == {"updated_at": 3, "settings_web_nps": 3}
    assert len(caplog.records) == 2 and "yesterday" not in caplog.text  # the type is named, never the value


@settings(max_examples=300, derandomize=True)
@given(
    raw=st.dictionaries(
        st.sampled_from(
            ["id", "created_at", "updated_at", "email", "external_created_at", "last_response", "settings"]
        )
        | st.text(max_size=8),
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats()
        | st.text(max_size=30)
        | st.lists(st.integers()),
    )
)
def test_any_wrongly_typed_end_user_is_shaped_without_crashing(raw):
    record = records.end_user(raw, shaper())
    assert set(records.end_user({}, shaper())) <= set(record)
    for column in ("created_at", "updated_at", "external_created_at"):
        assert record[column] is None or datetime.fromisoformat(record[column]).tzinfo is not None


REFERENCE_EMAIL_STATS = {  # Wootric's reference (Wootric/slate, source/includes/_email_stats.md)
    "email_stats": {
        "send_date": "Aug  3, 2023-Sep  3, 2024",
        "send_requests": 7,
        "emails_sent": 5,
        "delivered": 5,
        "delivered_percentage": "100.0%",
        "bounce_rate": 0,
        "bounce_rate_percentage": "0.0%",
        "open_rate": "60%",
        "response_rate": "0%",
        "not_eligible": "2 (29%)",
        "raw_results": {
            "processed": 5,
            "bounce": 0,
            "dropped": 0,
            "delivered": 5,
            "opted_out": 2,
            "not_delivered": 0,
            "open": 3,
            "spamreport": 0,
            "not_eligible": 0,
            "total_surveys": 5,
            "total_responses": 0,
            "sart_date": "2023-08-03T00:00:00-07:00",
            "end_date": "2024-09-03T23:59:59-07:00",
        },
    },
    "initial_send": None,
    "reminder_send": None,
}


def test_email_stats_of_the_reference_answer_are_typed_and_flattened():
    shape = shaper("email_stats")
    assert records.email_stats(REFERENCE_EMAIL_STATS, shape) == {
        "send_date": "Aug  3, 2023-Sep  3, 2024",
        "send_requests": 7,
        "emails_sent": 5,
        "delivered": 5,
        "bounce_rate": 0,
        "delivered_percentage": 100.0,
        "bounce_rate_percentage": 0.0,
        "open_rate": 60.0,
        "response_rate": 0.0,
        "not_eligible": 2,
        "not_eligible_percentage": 29.0,
        "raw_results__processed": 5,
        "raw_results__bounce": 0,
        "raw_results__dropped": 0,
        "raw_results__delivered": 5,
        "raw_results__opted_out": 2,
        "raw_results__not_delivered": 0,
        "raw_results__open": 3,
        "raw_results__spamreport": 0,
        "raw_results__not_eligible": 0,
        "raw_results__total_surveys": 5,
        "raw_results__total_responses": 0,
        "raw_results__start_date": "2023-08-03T00:00:00-07:00",
        "raw_results__end_date": "2024-09-03T23:59:59-07:00",
        "initial_send": None,
        "reminder_send": None,
    }
    assert shape.unreadable == {}


def test_email_stats_keep_what_this_version_does_not_model():
    answer = json.loads(json.dumps(REFERENCE_EMAIL_STATS))
    answer["email_stats"]["clicks"] = 4
    answer["email_stats"]["raw_results"]["click"] = 4
    answer["email_stats"]["raw_results"]["start_date"] = answer["email_stats"]["raw_results"].pop("sart_date")
    answer["initial_send"] = {"sent": 3}
    answer["sms_stats"] = {"sent": 1}
    record = records.email_stats(answer, shaper("email_stats"))
    assert record["clicks"] == 4 and record["raw_results__click"] == 4 and record["sms_stats"] == {"sent": 1}
    assert record["initial_send"] == {"sent": 3}
    assert record["raw_results__start_date"] == "2023-08-03T00:00:00-07:00"  # the typo corrected is read too


@settings(max_examples=200, derandomize=True)
@given(
    count=st.integers(0, 10**6),
    share=st.floats(0, 100, allow_nan=False).map(lambda x: round(x, 1)),
    decimals=st.sampled_from(["{:.0f}", "{:.1f}", "{}"]),
    spaces=st.sampled_from(["", " "]),
)
def test_percentages_and_counts_with_a_percentage_read_back_their_numbers(count, share, decimals, spaces):
    shape = shaper("email_stats")
    shown = decimals.format(share)
    assert records.percentage(shape, "open_rate", f"{shown}{spaces}%") == float(shown)
    assert records.count_and_percentage(shape, "not_eligible", f"{count} ({shown}%)") == (count, float(shown))
    assert records.count_and_percentage(shape, "not_eligible", count) == (count, None)
    assert shape.unreadable == {}


@pytest.mark.parametrize("value", ["sixty", "60", "%", "2 29%", [60]])
def test_a_percentage_in_another_form_is_null_and_logged(value, caplog):
    shape = shaper("email_stats")
    with caplog.at_level(logging.WARNING):
        got = records.percentage(shape, "open_rate", value)
        pair = records.count_and_percentage(shape, "not_eligible", value)
    if value == "60":  # a bare number as text is still a number
        assert got == 60.0 and pair == (60, None)
    else:
        assert got is None and shape.unreadable["open_rate"] == 1
        assert pair == (None, None) and shape.unreadable["not_eligible"] == 1


@pytest.mark.parametrize(
    ("served", "expected"),
    [
        ("Jan 11, 2024  9:01AM", "2024-01-11T09:01:00-08:00"),  # winter in the account's zone
        ("Jul 09, 2024  10:04AM", "2024-07-09T10:04:00-07:00"),  # summer
        ("Apr 14, 2024 9:04PM", "2024-04-14T21:04:00-07:00"),
        ("Dec  1, 2023  12:00AM", "2023-12-01T00:00:00-08:00"),
        ("2024-01-11 09:01:00 -0500", "2024-01-11T09:01:00-05:00"),  # Wootric's usual form, should it change
        (None, None),
    ],
)
def test_a_send_date_is_read_in_the_account_time_zone(served, expected):
    shape = shaper("email_send_sources")
    record = records.email_send_source({"id": 1, "name": "Q1_file.csv", "date": served}, "sends", shape)
    assert record == {"source_type": "sends", "id": "1", "name": "Q1_file.csv", "sent_at": expected}
    assert shape.unreadable == {}


def test_an_ongoing_source_has_a_text_id_and_no_date():
    record = records.email_send_source({"id": "email_api", "name": "Email API *"}, "ongoing", shaper())
    assert record == {"source_type": "ongoing", "id": "email_api", "name": "Email API *", "sent_at": None}
