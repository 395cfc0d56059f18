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
from source_wootric.records import Shaper, parse_datetime, property_text, to_rfc3339, usual_form_to_rfc3339

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
        parsed = parse_datetime(text, LA)
        assert parsed == aware and parsed.utcoffset() == aware.utcoffset()
        assert datetime.fromisoformat(to_rfc3339(parsed)) == aware


@settings(max_examples=500, derandomize=True)
@given(
    moment=st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2100, 1, 1)),
    offset_minutes=st.integers(-12 * 60, 14 * 60).map(lambda m: m - m % 15),
)
def test_the_usual_form_is_rearranged_exactly_as_the_parser_would_write_it(moment, offset_minutes):
    sign = "+" if offset_minutes >= 0 else "-"
    hours, minutes = divmod(abs(offset_minutes), 60)
    text = moment.strftime("%Y-%m-%d %H:%M:%S ") + f"{sign}{hours:02d}{minutes:02d}"
    slow = to_rfc3339(parse_datetime(text, LA))
    assert usual_form_to_rfc3339(text) in (slow, None)  # None: days 29-31, left to the parser
    assert shaper().timestamp("updated_at", text) == slow


@pytest.mark.parametrize(
    "text",
    [
        "2021-02-30 10:00:00 -0800",
        "2021-13-01 10:00:00 -0800",
        "2021-01-01 24:00:00 -0800",
    ],
)
def test_impossible_dates_in_the_usual_form_are_not_rearranged(text):
    assert usual_form_to_rfc3339(text) is None
    assert shaper().timestamp("updated_at", text) is None


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
        "page_views_count": 12,  # a field we do not model passes through
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
        assert json.loads(text) == value and ", " not in text


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
        "end_user": {"properties": {"persona": "Individual"}},
    }
    record = records.response(raw, shaper("responses"))
    assert record["end_user__properties"] == {"persona": "Individual"} and "end_user" not in record
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
