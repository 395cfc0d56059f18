"""Bounds on waiting and retrying, and the classification of failures (production settings, fake clock)."""

from __future__ import annotations

import pytest
from airbyte_cdk.models import FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from unit_tests.test_client import TOKEN_URL, USERS_URL, fake_time, get, make_client, token  # noqa: F401 (fixture)


def test_a_429_storm_that_does_not_end_becomes_a_transient_error_in_bounded_time(requests_mock):
    requests_mock.post(TOKEN_URL, **token())
    requests_mock.get(USERS_URL, status_code=429, json={})
    client, fake = make_client(rate_limit_seconds=600.0)
    with pytest.raises(AirbyteTracedException) as error:
        get(client)
    assert error.value.failure_type == FailureType.transient_error and "429" in error.value.message
    assert sum(fake.slept) <= 600 and fake.slept == [61.0] * 9  # the window, and the CDK's second


def test_a_reset_far_ahead_waits_no_longer_than_the_window(requests_mock):
    """A clock skewed against the API's (or a reset in milliseconds) must not stall the sync for hours."""
    requests_mock.post(TOKEN_URL, **token())
    client, fake = make_client()
    far = str(int(fake.now) + 7200)
    requests_mock.get(
        USERS_URL,
        [
            {"status_code": 429, "headers": {"X-Rate-Limit-Reset": far}, "json": {}},
            {"json": [], "headers": {"X-Rate-Limit-Remaining": "0", "X-Rate-Limit-Reset": far}},
            {"json": []},
        ],
    )
    get(client)
    get(client)
    assert fake.slept == [61.0, 60.0]  # a 429 (the CDK adds its second), then a pause before the request


def test_after_a_request_gave_up_the_next_ones_are_tried_once_until_one_succeeds(requests_mock):
    requests_mock.post(TOKEN_URL, **token())
    requests_mock.get(USERS_URL, status_code=503, text="down")
    client, fake = make_client(retries=3)
    for _ in range(2):
        with pytest.raises(AirbyteTracedException) as error:
            get(client)
        assert error.value.failure_type == FailureType.transient_error
    assert client.requests["end_users"] == 4 + 1 and "tried once" in error.value.message
    requests_mock.get(USERS_URL, [{"json": []}, {"status_code": 503, "text": "down"}, {"json": []}])
    get(client)  # the API is back: full retries again
    get(client)
    assert fake.slept[-1] == 3.0


def test_a_429_storm_after_an_outage_fails_at_once(requests_mock):
    requests_mock.post(TOKEN_URL, **token())
    requests_mock.get(USERS_URL, status_code=429, json={})
    client, fake = make_client(rate_limit_seconds=130.0)
    with pytest.raises(AirbyteTracedException):
        get(client)
    slept = len(fake.slept)
    with pytest.raises(AirbyteTracedException):
        get(client)
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
    client, fake = make_client()
    get(client)
    assert fake.slept == [3.0] and client.requests["oauth/token"] == 2


def test_no_token_endpoint_at_the_base_url_names_base_url(requests_mock):
    requests_mock.post(TOKEN_URL, status_code=404, text="not here")
    client, _ = make_client()
    with pytest.raises(AirbyteTracedException) as error:
        get(client)
    assert error.value.failure_type == FailureType.config_error and "`base_url`" in error.value.message


def test_a_short_lived_token_is_used_for_most_of_its_life(requests_mock):
    requests_mock.post(TOKEN_URL, [token("tok-1", expires_in=120), token("tok-2", expires_in=120)])
    users = requests_mock.get(USERS_URL, json=[])
    client, fake = make_client()
    get(client)
    fake.now += 100  # not renewed before every request, as a fixed 5-minute margin would
    get(client)
    fake.now += 10  # within the last tenth of its life
    get(client)
    assert [r.headers["Authorization"] for r in users.request_history] == ["Bearer tok-1"] * 2 + [
        "Bearer tok-2"
    ]
