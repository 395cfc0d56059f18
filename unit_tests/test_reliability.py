"""Bounds on waiting and retrying, the classification of failures, and the timing knobs' environment variables."""

from __future__ import annotations

import pytest
from airbyte_cdk.models import FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_wootric.config import Tuning
from source_wootric.run import CDK_FAILED_STREAMS, WootricEntrypoint
from source_wootric.source import SourceWootric
from unit_tests.test_client import TOKEN_URL, USERS_URL, fake_time, make_client, token  # noqa: F401 (fixture)


def test_a_429_storm_that_does_not_end_becomes_a_transient_error_in_bounded_time(requests_mock):
    requests_mock.post(TOKEN_URL, **token())
    requests_mock.get(USERS_URL, status_code=429, json={})
    client, fake = make_client(rate_limit_fallback_wait=60.0, max_rate_limit_seconds=600.0)
    with pytest.raises(AirbyteTracedException) as error:
        client.get("end_users")
    assert error.value.failure_type == FailureType.transient_error and "429" in error.value.message
    assert sum(fake.slept) <= 600 and fake.slept == [60.0] * 10


def test_a_reset_far_ahead_waits_no_longer_than_the_fallback(requests_mock):
    """A clock skewed against the API's (or a reset in milliseconds) must not stall the sync for hours."""
    requests_mock.post(TOKEN_URL, **token())
    client, fake = make_client(rate_limit_fallback_wait=60.0)
    far = str(int(fake.now) + 7200)
    requests_mock.get(
        USERS_URL,
        [
            {"status_code": 429, "headers": {"X-Rate-Limit-Reset": far}, "json": {}},
            {"json": [], "headers": {"X-Rate-Limit-Remaining": "0", "X-Rate-Limit-Reset": far}},
            {"json": []},
        ],
    )
    client.get("end_users")
    client.get("end_users")
    assert fake.slept == [60.0, 60.0]


def test_after_a_request_gave_up_the_next_ones_are_tried_once_until_one_succeeds(requests_mock):
    requests_mock.post(TOKEN_URL, **token())
    requests_mock.get(USERS_URL, status_code=503, text="down")
    client, fake = make_client(backoff_base=1.0, max_transient_retries=3)
    for _ in range(2):
        with pytest.raises(AirbyteTracedException) as error:
            client.get("end_users")
        assert error.value.failure_type == FailureType.transient_error
    assert client.requests["end_users"] == 4 + 1 and "tried once" in error.value.message
    requests_mock.get(USERS_URL, [{"json": []}, {"status_code": 503, "text": "down"}, {"json": []}])
    client.get("end_users")  # the API is back: full retries again
    client.get("end_users")
    assert fake.slept[-1] == 1.0


def test_a_429_storm_after_an_outage_fails_at_once(requests_mock):
    requests_mock.post(TOKEN_URL, **token())
    requests_mock.get(USERS_URL, status_code=429, json={})
    client, fake = make_client(rate_limit_fallback_wait=10.0, max_rate_limit_seconds=30.0)
    with pytest.raises(AirbyteTracedException):
        client.get("end_users")
    slept = len(fake.slept)
    with pytest.raises(AirbyteTracedException):
        client.get("end_users")
    assert len(fake.slept) == slept


@pytest.mark.parametrize(
    "answer",
    [
        {"text": '{"access_token": "tok'},  # cut short
        {"text": "<html>maintenance</html>"},
        {"json": ["not", "an", "object"]},
    ],
)
def test_a_token_answer_that_is_not_whole_json_is_retried_not_a_config_error(requests_mock, answer):
    requests_mock.post(TOKEN_URL, [answer, token()])
    requests_mock.get(USERS_URL, json=[])
    client, fake = make_client(backoff_base=2.0)
    client.get("end_users")
    assert fake.slept == [2.0] and client.requests["oauth/token"] == 2


def test_no_token_endpoint_at_the_base_url_names_base_url(requests_mock):
    requests_mock.post(TOKEN_URL, status_code=404, text="not here")
    client, _ = make_client()
    with pytest.raises(AirbyteTracedException) as error:
        client.get("end_users")
    assert error.value.failure_type == FailureType.config_error and "`base_url`" in error.value.message


def test_timing_knobs_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("WOOTRIC_MAX_RETRIES", "3.0")
    monkeypatch.setenv("WOOTRIC_RATE_LIMIT_WAIT", "0.25")
    monkeypatch.setenv("WOOTRIC_MAX_RATE_LIMIT_SECONDS", "5")
    tuning = Tuning.from_env()
    assert tuning.max_transient_retries == 3 and isinstance(tuning.max_transient_retries, int)
    assert tuning.rate_limit_fallback_wait == 0.25 and tuning.max_rate_limit_seconds == 5.0


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("WOOTRIC_READ_TIMEOUT", "soon"),
        ("WOOTRIC_READ_TIMEOUT", "0"),
        ("WOOTRIC_BACKOFF_BASE", "-1"),
        ("WOOTRIC_MAX_RETRIES", "nan"),
    ],
)
def test_a_timing_variable_that_is_not_a_usable_number_is_a_config_error_naming_it(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(AirbyteTracedException) as error:
        Tuning.from_env()
    assert error.value.failure_type == FailureType.config_error and name in error.value.message


@pytest.mark.parametrize(
    ("stream_failures", "final"),
    [
        ([FailureType.transient_error, FailureType.transient_error], FailureType.transient_error),
        ([FailureType.transient_error, FailureType.config_error], FailureType.config_error),
        ([FailureType.system_error, FailureType.transient_error], FailureType.system_error),
    ],
)
def test_the_cdks_closing_error_takes_the_type_of_the_streams_errors(stream_failures, final):
    entrypoint = WootricEntrypoint(SourceWootric())
    entrypoint.stream_failures = stream_failures
    closing = AirbyteTracedException(
        message=f"{CDK_FAILED_STREAMS}: end_users: ...", failure_type=FailureType.config_error
    )
    assert entrypoint.final_error(closing).failure_type == final
    other = AirbyteTracedException(message="bad config", failure_type=FailureType.config_error)
    assert entrypoint.final_error(other).failure_type == FailureType.config_error
    assert entrypoint.final_error(ValueError("boom")).failure_type == FailureType.system_error


def test_a_short_lived_token_is_used_for_most_of_its_life(requests_mock):
    requests_mock.post(TOKEN_URL, [token("tok-1", expires_in=120), token("tok-2", expires_in=120)])
    users = requests_mock.get(USERS_URL, json=[])
    client, fake = make_client()
    client.get("end_users")
    fake.now += 100  # not renewed before every request, as a fixed 5-minute margin would
    client.get("end_users")
    fake.now += 10  # within the last tenth of its life
    client.get("end_users")
    assert [r.headers["Authorization"] for r in users.request_history] == ["Bearer tok-1"] * 2 + [
        "Bearer tok-2"
    ]
