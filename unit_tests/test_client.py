"""HTTP edge cases of the shared client and the authenticator, against requests-mock."""

from __future__ import annotations

import logging
from urllib.parse import parse_qs

import pytest
import requests
from airbyte_cdk.models import FailureType
from airbyte_cdk.utils.airbyte_secrets_utils import filter_secrets
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_wootric.client import WootricClient
from source_wootric.config import Tuning, parse_config

API = "http://wootric.test/prefix"
TOKEN_URL = f"{API}/oauth/token"
USERS_URL = f"{API}/v1/end_users"


class FakeTime:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


def make_client(credentials: dict | None = None, **tuning) -> tuple[WootricClient, FakeTime]:
    config = parse_config(
        {
            "credentials": credentials
            or {"auth_type": "client_credentials", "client_id": "the-id", "client_secret": "the-secret"},
            "start_date": "2020-01-01T00:00:00Z",
            "base_url": API,
        }
    )
    config = type(config)(**{**config.__dict__, "tuning": Tuning(**tuning)})
    fake = FakeTime()
    return WootricClient(config, logging.getLogger("test"), sleep=fake.sleep, clock=fake.clock), fake


def token(value: str = "tok-1", **extra) -> dict:
    return {"json": {"access_token": value, "token_type": "bearer", "expires_in": 7200, **extra}}


def test_token_is_requested_with_a_form_body_and_sent_as_bearer(requests_mock):
    requests_mock.post(TOKEN_URL, **token())
    requests_mock.get(USERS_URL, json=[{"id": 1}])
    client, _ = make_client()
    assert client.get("end_users") == [{"id": 1}]
    token_request, users_request = requests_mock.request_history
    assert parse_qs(token_request.text) == {
        "grant_type": ["client_credentials"],
        "client_id": ["the-id"],
        "client_secret": ["the-secret"],
    }
    assert token_request.qs == {} and users_request.headers["Authorization"] == "Bearer tok-1"
    assert "tok-1" not in filter_secrets("token tok-1")  # registered as a secret


def test_password_grant_sends_the_account_token_in_the_query_and_uses_the_refresh_token(requests_mock):
    requests_mock.post(TOKEN_URL, [token("tok-1", refresh_token="ref-1"), token("tok-2")])
    requests_mock.get(USERS_URL, json=[])
    credentials = {
        "auth_type": "password",
        "username": "a@b.c",
        "password": "pw",
        "account_token": "NPS-1234",
    }
    client, fake = make_client(credentials)
    client.get("end_users")
    fake.now += 7200  # the token expires: renewed with the refresh token, not the password
    client.get("end_users")
    first, _, second, _ = requests_mock.request_history
    assert first.url == f"{TOKEN_URL}?account_token=NPS-1234"
    assert parse_qs(first.text)["grant_type"] == ["password"]
    assert parse_qs(second.text) == {"grant_type": ["refresh_token"], "refresh_token": ["ref-1"]}


def test_token_is_renewed_before_it_expires(requests_mock):
    requests_mock.post(TOKEN_URL, [token("tok-1"), token("tok-2")])
    users = requests_mock.get(USERS_URL, json=[])
    client, fake = make_client()
    client.get("end_users")
    fake.now += 7200 - 200  # within the renewal margin
    client.get("end_users")
    assert [r.headers["Authorization"] for r in users.request_history] == ["Bearer tok-1", "Bearer tok-2"]


def test_a_401_renews_the_token_once_then_fails_as_a_config_error(requests_mock):
    requests_mock.post(TOKEN_URL, [token("tok-1"), token("tok-2"), token("tok-3")])
    requests_mock.get(USERS_URL, [{"status_code": 401, "json": {}}, {"json": [{"id": 1}]}])
    client, _ = make_client()
    assert client.get("end_users") == [{"id": 1}]
    requests_mock.get(USERS_URL, status_code=401, json={"error": "revoked"})
    with pytest.raises(AirbyteTracedException) as error:
        client.get("end_users")
    assert error.value.failure_type == FailureType.config_error and "credentials" in error.value.message


@pytest.mark.parametrize(
    ("credentials", "fields"),
    [
        (None, "`credentials.client_id` and `credentials.client_secret`"),
        ({"auth_type": "password", "username": "a@b.c", "password": "pw"}, "`credentials.password`"),
    ],
)
def test_refused_credentials_name_the_fields_to_fix(requests_mock, credentials, fields):
    requests_mock.post(TOKEN_URL, status_code=401, json={"error": "invalid_client"})
    client, _ = make_client(credentials)
    with pytest.raises(AirbyteTracedException) as error:
        client.get("end_users")
    assert error.value.failure_type == FailureType.config_error
    assert fields in error.value.message and "the-secret" not in error.value.message


def test_an_account_token_of_another_region_hints_at_region(requests_mock):
    requests_mock.post(TOKEN_URL, status_code=401, json={"error": "invalid_grant"})
    credentials = {
        "auth_type": "password",
        "username": "a@b.c",
        "password": "pw",
        "account_token": "NPS-EU123",
    }
    client, _ = make_client(credentials)
    with pytest.raises(AirbyteTracedException, match="set `region` to eu"):
        client.get("end_users")


def test_429_waits_until_the_reset_however_long_the_storm_lasts(requests_mock):
    requests_mock.post(TOKEN_URL, **token())
    client, fake = make_client(max_transient_retries=2)
    storm = [
        {"status_code": 429, "headers": {"X-Rate-Limit-Reset": str(int(fake.now) + 30)}, "json": {}}
    ] * 20 + [{"json": [{"id": 1}]}]
    requests_mock.get(USERS_URL, storm)
    assert client.get("end_users") == [{"id": 1}]
    assert len(fake.slept) == 20 and fake.slept[0] == 30


def test_429_without_reset_waits_the_fallback(requests_mock):
    requests_mock.post(TOKEN_URL, **token())
    requests_mock.get(USERS_URL, [{"status_code": 429, "json": {}}, {"json": []}])
    client, fake = make_client(rate_limit_fallback_wait=7.0)
    client.get("end_users")
    assert fake.slept == [7.0]


def test_slows_down_before_a_429_when_little_is_left(requests_mock):
    requests_mock.post(TOKEN_URL, **token())
    client, fake = make_client()
    reset = int(fake.now) + 40
    headers = {"X-Rate-Limit-Limit": "100", "X-Rate-Limit-Remaining": "1", "X-Rate-Limit-Reset": str(reset)}
    requests_mock.get(USERS_URL, json=[], headers=headers)
    client.get("end_users")
    assert fake.slept == []
    client.get("end_users")
    assert fake.slept == [40]


@pytest.mark.parametrize(
    "failure",
    [
        {"status_code": 503, "text": "busy"},
        {"status_code": 200, "text": '[{"id": 1}, {"id'},  # truncated
        {"status_code": 200, "text": "<html>maintenance</html>"},
        {"status_code": 200, "json": {"not": "a list"}},
        {"exc": requests.exceptions.ConnectionError("reset by peer")},
        {"exc": requests.exceptions.ReadTimeout("slow")},
    ],
)
def test_transient_failures_are_retried_with_backoff(requests_mock, failure):
    requests_mock.post(TOKEN_URL, **token())
    requests_mock.get(USERS_URL, [failure, failure, {"json": [{"id": 1}]}])
    client, fake = make_client(backoff_base=0.5)
    assert client.get("end_users") == [{"id": 1}]
    assert fake.slept == [0.5, 1.0]


def test_transient_failures_that_do_not_end_become_a_transient_error(requests_mock):
    requests_mock.post(TOKEN_URL, **token())
    requests_mock.get(USERS_URL, status_code=502, text="bad gateway")
    client, fake = make_client(backoff_base=1.0, max_transient_retries=4)
    with pytest.raises(AirbyteTracedException) as error:
        client.get("end_users")
    assert error.value.failure_type == FailureType.transient_error
    assert fake.slept == [1.0, 2.0, 4.0, 8.0] and client.requests["end_users"] == 5


def test_the_token_endpoint_failing_is_retried_too(requests_mock):
    requests_mock.post(TOKEN_URL, [{"status_code": 500, "text": "oops"}, token()])
    requests_mock.get(USERS_URL, json=[])
    client, fake = make_client(backoff_base=0.1)
    client.get("end_users")
    assert fake.slept == [0.1] and client.requests["oauth/token"] == 2


def test_every_request_has_connect_and_read_timeouts(requests_mock):
    requests_mock.post(TOKEN_URL, **token())
    requests_mock.get(USERS_URL, json=[])
    client, _ = make_client(connect_timeout=3.0, read_timeout=9.0)
    client.get("end_users")
    assert [r.timeout for r in requests_mock.request_history] == [(3.0, 9.0), (3.0, 9.0)]
