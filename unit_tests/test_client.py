"""HTTP edge cases of the account's requests (http.py) and of the authenticator (auth.py), against
requests-mock, on a fake clock."""

from __future__ import annotations

import logging
import re
import socket
import time
from datetime import timezone
from urllib.parse import parse_qs

import pytest
import requests
from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.streams.http.requests_native_auth import abstract_oauth, oauth
from airbyte_cdk.utils.airbyte_secrets_utils import filter_secrets
from airbyte_cdk.utils.datetime_helpers import AirbyteDateTime
from airbyte_cdk.utils.traced_exception import AirbyteTracedException
from hypothesis import given
from hypothesis import strategies as st
from urllib3.exceptions import MaxRetryError, NameResolutionError

from source_wootric import auth, http, ratelimit
from source_wootric.config import REGION_HOSTS, parse_config
from source_wootric.http import Account
from source_wootric.ratelimit import ReservePolicy
from source_wootric.source import account_for

API = "http://wootric.test/prefix"
TOKEN_URL = f"{API}/oauth/token"
USERS_URL = f"{API}/v1/end_users"


class FakeTime:
    """The process's clock as the connector and the CDK read it: `time.time`, `time.monotonic`, the CDK's
    `ab_datetime_now` (token expiry) and `time.sleep`, which records the waits and moves the clock on."""

    current: FakeTime

    def __init__(self) -> None:
        self.now = 1_700_000_000.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        if seconds:  # the CDK's nested retry handlers sleep 0 s between them: not a wait
            self.slept.append(round(seconds, 3))
            self.now += seconds

    def clock(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def fake_time(monkeypatch) -> FakeTime:
    fake = FakeTime.current = FakeTime()
    for name, function in (("time", fake.clock), ("monotonic", fake.clock), ("sleep", fake.sleep)):
        monkeypatch.setattr(time, name, function)
    for module in (abstract_oauth, oauth, auth):  # where the CDK's ab_datetime_now is read, token expiry
        monkeypatch.setattr(
            module, "ab_datetime_now", lambda: AirbyteDateTime.fromtimestamp(fake.now, timezone.utc)
        )
    return fake


def make_client(
    credentials: dict | None = None, *, where: dict | None = None, **patience
) -> tuple[Account, FakeTime]:
    """The account of `where` (the config's host settings: base_url API unless told), on the fake clock."""
    config = parse_config(
        {
            "credentials": credentials
            or {"auth_type": "client_credentials", "client_id": "the-id", "client_secret": "the-secret"},
            "start_date": "2020-01-01T00:00:00Z",
            **({"base_url": API} if where is None else where),
        }
    )
    return account_for(config, logging.getLogger("test"), **patience), FakeTime.current


def get(client: Account, path: str = "end_users") -> object:
    return client.get(path, {})


def token(value: str = "tok-1", **extra) -> dict:
    return {"json": {"access_token": value, "token_type": "bearer", "expires_in": 7200, **extra}}


def test_token_is_requested_with_a_form_body_and_sent_as_bearer(requests_mock):
    requests_mock.post(TOKEN_URL, **token())
    requests_mock.get(USERS_URL, json=[{"id": 1}])
    client, _ = make_client()
    assert get(client) == [{"id": 1}]
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
    get(client)
    fake.now += 7200  # the token expires: renewed with the refresh token, not the password
    get(client)
    first, _, second, _ = requests_mock.request_history
    assert first.url == f"{TOKEN_URL}?account_token=NPS-1234"
    assert parse_qs(first.text)["grant_type"] == ["password"]
    assert parse_qs(second.text) == {"grant_type": ["refresh_token"], "refresh_token": ["ref-1"]}


def test_token_is_renewed_before_it_expires(requests_mock):
    requests_mock.post(TOKEN_URL, [token("tok-1"), token("tok-2")])
    users = requests_mock.get(USERS_URL, json=[])
    client, fake = make_client()
    get(client)
    fake.now += 7200 - 200  # within the renewal margin
    get(client)
    assert [r.headers["Authorization"] for r in users.request_history] == ["Bearer tok-1", "Bearer tok-2"]


def test_a_token_refused_after_it_served_is_renewed_but_one_refused_on_first_use_is_a_config_error(
    requests_mock,
):
    requests_mock.post(TOKEN_URL, [token("tok-1"), token("tok-2"), token("tok-3")])
    answers = [{"json": [{"id": 1}]}, {"status_code": 401, "json": {}}, {"json": [{"id": 2}]}]
    requests_mock.get(USERS_URL, answers)
    client, _ = make_client()
    assert get(client) == [{"id": 1}]
    assert get(client) == [{"id": 2}]  # tok-1 served, then was refused: renewed
    assert requests_mock.request_history[-1].headers["Authorization"] == "Bearer tok-2"
    requests_mock.post(TOKEN_URL, [token("tok-3")])
    requests_mock.get(USERS_URL, [{"status_code": 401, "json": {}}, {"status_code": 401, "json": {}}])
    client, _ = make_client()
    with pytest.raises(AirbyteTracedException) as error:
        get(client)  # tok-3 refused on its first use
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
        get(client)
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
        get(client)


def test_429_waits_until_the_reset_however_many_answers_the_storm_lasts(requests_mock):
    requests_mock.post(TOKEN_URL, **token())
    client, fake = make_client(retries=2)
    storm = [
        {"status_code": 429, "headers": {"X-Rate-Limit-Reset": str(int(fake.now) + 30)}, "json": {}}
    ] * 20 + [{"json": [{"id": 1}]}]
    requests_mock.get(USERS_URL, storm)
    assert get(client) == [{"id": 1}]
    assert len(fake.slept) == 20 and fake.slept[0] == 31  # until the reset, and the CDK's second


def test_429_without_reset_waits_the_documented_window(requests_mock):
    requests_mock.post(TOKEN_URL, **token())
    requests_mock.get(USERS_URL, [{"status_code": 429, "json": {}}, {"json": []}])
    client, fake = make_client()
    get(client)
    assert fake.slept == [61.0]


def test_slows_down_before_a_429_when_little_is_left(requests_mock):
    requests_mock.post(TOKEN_URL, **token())
    client, fake = make_client()
    reset = int(fake.now) + 40
    headers = {"X-Rate-Limit-Limit": "100", "X-Rate-Limit-Remaining": "1", "X-Rate-Limit-Reset": str(reset)}
    requests_mock.get(USERS_URL, json=[], headers=headers)
    get(client)
    assert fake.slept == []
    get(client)
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
    client, fake = make_client()
    assert get(client) == [{"id": 1}]
    assert fake.slept == [3.0, 5.0]  # 2 s doubling, and the CDK's second


def test_transient_failures_that_do_not_end_become_a_transient_error(requests_mock):
    requests_mock.post(TOKEN_URL, **token())
    requests_mock.get(USERS_URL, status_code=502, text="bad gateway")
    client, fake = make_client(retries=4)
    with pytest.raises(AirbyteTracedException) as error:
        get(client)
    assert error.value.failure_type == FailureType.transient_error
    assert fake.slept == [3.0, 5.0, 9.0, 17.0] and client.requests["end_users"] == 5


def test_a_server_error_s_messages_are_in_the_transient_error(requests_mock):
    requests_mock.post(TOKEN_URL, **token())
    body = {
        "type": "error_list",
        "errors": [{"status": 500, "message": "database busy"}, {"message": "try later"}],
    }
    requests_mock.get(USERS_URL, status_code=500, json=body)
    client, _ = make_client(retries=1)
    with pytest.raises(AirbyteTracedException) as error:
        get(client)
    assert error.value.failure_type == FailureType.transient_error
    assert "HTTP 500: database busy; try later on end_users" in error.value.message


def test_the_token_endpoint_failing_is_retried_too(requests_mock):
    requests_mock.post(TOKEN_URL, [{"status_code": 500, "text": "oops"}, token()])
    requests_mock.get(USERS_URL, json=[])
    client, fake = make_client()
    get(client)
    assert fake.slept == [3.0] and client.requests["oauth/token"] == 2


def test_every_request_has_connect_and_read_timeouts(requests_mock):
    requests_mock.post(TOKEN_URL, **token())
    requests_mock.get(USERS_URL, json=[])
    client, _ = make_client()
    get(client)
    assert [r.timeout for r in requests_mock.request_history] == [(10, 60), (10, 60)]


# -- regions -------------------------------------------------------------------------------------------
US, EU, AU = (REGION_HOSTS[region] for region in ("us", "eu", "au"))  # each: (reference host, SDK host)
PASSWORD = {"auth_type": "password", "username": "a@b.c", "password": "pw"}
REFUSED = {"status_code": 401, "json": {"error": "invalid_client", "error_description": "unknown client"}}
UNKNOWN_ACCOUNT = {"status_code": 404, "json": {"error": "Not found", "status": 404}}
ANY_TOKEN_URL = re.compile(r".*/oauth/token")


def asked(requests_mock) -> list[str]:
    return [f"{r.method} {r.scheme}://{r.netloc}{r.path}" for r in requests_mock.request_history]


@pytest.mark.parametrize(
    ("us_answer", "eu_answer", "found"),
    [(REFUSED, {**token()}, EU[0]), (UNKNOWN_ACCOUNT, REFUSED, AU[0])],
)
def test_auto_asks_us_then_eu_then_au_each_reference_host_first_and_logs_the_region(
    requests_mock, caplog, us_answer, eu_answer, found
):
    for host in US:
        requests_mock.post(host.token_url, **us_answer)
    for host in EU:
        requests_mock.post(host.token_url, **eu_answer)
    requests_mock.post(AU[0].token_url, **token())
    requests_mock.get(found.url("end_users"), json=[{"id": 1}])
    client, _ = make_client(where={})
    with caplog.at_level(logging.INFO):
        assert get(client) == [{"id": 1}]
        get(client)  # the region is found once
    order = [*US, *EU, *AU]
    tried = order[: order.index(found) + 1]
    assert (
        asked(requests_mock)
        == [f"POST {host.token_url}" for host in tried] + [f"GET {found.url('end_users')}"] * 2
    )
    [line] = [r.message for r in caplog.records if r.message.startswith("Region")]
    assert line.startswith(f"Region {found.region}: ") and f"this sync uses {found.api_root}" in line
    assert all(host.name in line for host in tried[:-1]) and f"Set `region` to {found.region}" in line


def test_auto_asks_only_us_when_us_accepts(requests_mock, caplog):
    requests_mock.post(US[0].token_url, **token())
    requests_mock.get(US[0].url("end_users"), json=[])
    client, _ = make_client(where={"region": "auto"})
    with caplog.at_level(logging.INFO):
        get(client)
    assert asked(requests_mock) == [f"POST {US[0].token_url}", f"GET {US[0].url('end_users')}"]
    assert any(m.startswith("Region us: ") and "https://api.wootric.com." in m for m in caplog.messages)


def test_auto_refused_everywhere_is_the_credentials_error_naming_every_host(requests_mock):
    for host in (*US, *EU, *AU):
        requests_mock.post(host.token_url, **REFUSED)
    client, _ = make_client(where={})
    with pytest.raises(AirbyteTracedException) as error:
        get(client)
    assert error.value.failure_type == FailureType.config_error
    message = error.value.message
    assert (
        "`credentials.client_id` and `credentials.client_secret`" in message and "unknown client" in message
    )
    assert all(f"{host.name} refused the credentials (HTTP 401)" in message for host in (*US, *EU, *AU))
    assert asked(requests_mock) == [f"POST {host.token_url}" for host in (*US, *EU, *AU)]


def test_auto_stops_probing_at_an_answer_that_is_not_a_refusal(requests_mock):
    requests_mock.post(
        US[0].token_url, status_code=400, json={"type": "error_list", "errors": [{"message": "bad"}]}
    )
    client, _ = make_client(where={})
    with pytest.raises(AirbyteTracedException, match="HTTP 400: bad"):
        get(client)
    assert asked(requests_mock) == [f"POST {US[0].token_url}"]


@pytest.mark.parametrize(("prefix", "hosts"), [("NPS-EU-", EU), ("NPS-AU-", AU)])
def test_auto_takes_the_account_token_s_region_and_asks_only_its_hosts(requests_mock, caplog, prefix, hosts):
    requests_mock.post(hosts[0].token_url, status_code=404, text="<html>a web site</html>")
    requests_mock.post(hosts[1].token_url, **token())
    requests_mock.get(hosts[1].url("end_users"), json=[])
    client, _ = make_client({**PASSWORD, "account_token": f"{prefix}1a2b3c4d"}, where={})
    with caplog.at_level(logging.INFO):
        get(client)
    assert asked(requests_mock) == [
        f"POST {hosts[0].token_url}",
        f"POST {hosts[1].token_url}",
        f"GET {hosts[1].url('end_users')}",
    ]
    assert requests_mock.request_history[0].qs == {"account_token": [f"{prefix}1a2b3c4d".lower()]}
    region = hosts[0].region
    assert any(r.message.startswith(f"Region {region}: the account token") for r in caplog.records)


@pytest.mark.parametrize(
    ("where", "hosts"), [({"region": "us"}, US), ({"base_url": "https://api.wootric.com"}, US[:1])]
)
def test_an_explicit_region_or_base_url_asks_only_its_hosts(requests_mock, where, hosts):
    requests_mock.post(ANY_TOKEN_URL, **REFUSED)
    client, _ = make_client(where=where)
    with pytest.raises(AirbyteTracedException, match="set `region` to auto or to that region"):
        get(client)
    assert asked(requests_mock) == [f"POST {host.token_url}" for host in hosts]


# -- error bodies as the real API sends them ------------------------------------------------------------
def test_a_json_404_to_an_account_token_names_the_account_token(requests_mock):
    requests_mock.post(TOKEN_URL, **UNKNOWN_ACCOUNT)
    client, _ = make_client({**PASSWORD, "account_token": "NPS-0badc0de"})
    with pytest.raises(AirbyteTracedException) as error:
        get(client)
    assert error.value.failure_type == FailureType.config_error
    assert "`credentials.account_token`" in error.value.message and "Not found" in error.value.message


@pytest.mark.parametrize(
    ("where", "account_token", "advice"),
    [
        ({"region": "us"}, "NPS-EU-1a2b3c4d", "EU region: set `region` to eu or auto."),
        ({"region": "eu"}, "NPS-1a2b3c4d", "US region: set `region` to us or auto."),
        (
            {"base_url": "https://app.wootric.au/api"},
            "NPS-EU-1",
            "set `region` to eu or auto and clear `base_url`",
        ),
    ],
)
def test_a_json_404_to_another_region_s_account_token_names_region(
    requests_mock, where, account_token, advice
):
    requests_mock.post(ANY_TOKEN_URL, **UNKNOWN_ACCOUNT)
    client, _ = make_client({**PASSWORD, "account_token": account_token}, where=where)
    with pytest.raises(AirbyteTracedException) as error:
        get(client)
    assert error.value.failure_type == FailureType.config_error
    assert advice in error.value.message and "`credentials.account_token`" not in error.value.message


@pytest.mark.parametrize("credentials", [None, {**PASSWORD, "account_token": "NPS-1a2b3c4d"}])
def test_a_404_that_is_not_json_names_base_url(requests_mock, credentials):
    requests_mock.post(TOKEN_URL, status_code=404, text="<html>Not Found</html>")
    client, _ = make_client(credentials)
    with pytest.raises(AirbyteTracedException) as error:
        get(client)
    assert error.value.failure_type == FailureType.config_error
    assert "HTTP 404 with a web page, not Wootric's API" in error.value.message
    assert "check `base_url` (scheme://host[/prefix], without /v1)" in error.value.message


def test_a_data_404_that_is_not_json_names_base_url(requests_mock):
    requests_mock.post(TOKEN_URL, **token())
    requests_mock.get(USERS_URL, status_code=404, text="<html>Not Found</html>")
    client, _ = make_client()
    with pytest.raises(AirbyteTracedException) as error:
        get(client)
    assert error.value.failure_type == FailureType.config_error and "check `base_url`" in error.value.message


def test_every_message_of_an_error_list_is_read(requests_mock):
    requests_mock.post(TOKEN_URL, **token())
    body = {
        "type": "error_list",
        "errors": [
            {"status": 400, "message": "page does not have a valid value", "field": "page"},
            {"status": 400, "message": "per_page is too large", "field": "per_page"},
        ],
    }
    requests_mock.get(USERS_URL, status_code=400, json=body)
    client, _ = make_client()
    with pytest.raises(AirbyteTracedException) as error:
        get(client)
    assert "HTTP 400 for" in error.value.message
    assert error.value.message.endswith(": page does not have a valid value; per_page is too large.")


# -- addresses that cannot work -----------------------------------------------------------------------
def unresolved(host: str) -> requests.exceptions.ConnectionError:
    """What requests raises when a host's name does not resolve."""
    reason = NameResolutionError(host, None, socket.gaierror(-2, "Name or service not known"))  # type: ignore[arg-type]
    return requests.exceptions.ConnectionError(MaxRetryError(None, "/oauth/token", reason))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("where", "field", "hosts"), [({}, "`region`", 6), ({"base_url": API}, "`base_url`", 1)]
)
def test_a_host_that_does_not_resolve_is_passed_over_then_a_config_error(requests_mock, where, field, hosts):
    requests_mock.post(ANY_TOKEN_URL, exc=unresolved("wootric.test"))
    client, fake = make_client(where=where)
    with pytest.raises(AirbyteTracedException) as error:
        get(client)
    assert error.value.failure_type == FailureType.config_error
    assert "does not resolve" in error.value.message and field in error.value.message
    assert fake.slept == [] and len(requests_mock.request_history) == hosts  # each asked once


def test_a_host_that_stops_resolving_mid_sync_is_transient(requests_mock):
    requests_mock.post(TOKEN_URL, **token())
    requests_mock.get(USERS_URL, [{"json": []}, {"exc": unresolved("wootric.test")}, {"json": [{"id": 2}]}])
    client, fake = make_client()
    get(client)
    assert get(client) == [{"id": 2}] and fake.slept == [3.0]


def test_a_tls_failure_is_a_config_error_before_the_host_answered_and_transient_after(requests_mock):
    failure = requests.exceptions.SSLError("certificate verify failed: self-signed certificate")
    requests_mock.post(TOKEN_URL, exc=failure)
    client, fake = make_client()
    with pytest.raises(AirbyteTracedException) as error:
        get(client)
    assert error.value.failure_type == FailureType.config_error
    assert "TLS" in error.value.message and "REQUESTS_CA_BUNDLE" in error.value.message
    assert "`base_url`" in error.value.message and fake.slept == []
    requests_mock.post(TOKEN_URL, **token())
    requests_mock.get(USERS_URL, [{"json": []}, {"exc": failure}, {"json": [{"id": 3}]}])
    get(client)
    assert get(client) == [{"id": 3}] and len(fake.slept) == 1


@pytest.mark.parametrize(
    "failure",
    [
        requests.exceptions.InvalidURL("Failed to parse"),
        requests.exceptions.InvalidSchema("No connection adapters"),
        requests.exceptions.MissingSchema("No scheme supplied"),
    ],
)
def test_an_unusable_url_is_a_config_error_without_retries(requests_mock, failure):
    requests_mock.post(TOKEN_URL, exc=failure)
    client, fake = make_client()
    with pytest.raises(AirbyteTracedException) as error:
        get(client)
    assert error.value.failure_type == FailureType.config_error
    assert type(failure).__name__ in error.value.message and "`base_url`" in error.value.message
    assert fake.slept == [] and len(requests_mock.request_history) == 1


def test_a_proxy_that_is_not_a_usable_url_is_a_config_error_naming_it(requests_mock):
    requests_mock.post(TOKEN_URL, exc=requests.exceptions.InvalidProxyURL("Please check proxy URL"))
    client, fake = make_client()
    with pytest.raises(AirbyteTracedException) as error:
        get(client)
    assert error.value.failure_type == FailureType.config_error and "HTTPS_PROXY" in error.value.message
    assert fake.slept == []


def test_the_environment_s_proxy_is_used_for_every_region_probed(requests_mock, monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.test:3128")
    monkeypatch.setenv("NO_PROXY", "api.wootric.au")
    for host in (*US, *EU):
        requests_mock.post(host.token_url, **REFUSED)
    requests_mock.post(AU[0].token_url, **token())
    requests_mock.get(AU[0].url("end_users"), json=[])
    client, _ = make_client(where={})
    get(client)
    proxies = [r.proxies.get("https") for r in requests_mock.request_history]
    assert proxies == ["http://proxy.test:3128"] * 4 + [None, None]


# -- a fair share of the rate limit --------------------------------------------------------------------
@pytest.mark.parametrize(("remaining", "waits"), [("11", False), ("10", True)])
def test_a_tenth_of_the_limit_is_left_to_the_account_s_other_clients(requests_mock, remaining, waits):
    requests_mock.post(TOKEN_URL, **token())
    client, fake = make_client()  # the default reserve: 10 %
    reset = int(fake.now) + 25
    headers = {
        "X-Rate-Limit-Limit": "100",
        "X-Rate-Limit-Remaining": remaining,
        "X-Rate-Limit-Reset": str(reset),
    }
    requests_mock.get(USERS_URL, json=[], headers=headers)
    get(client)
    get(client)
    assert fake.slept == ([25] if waits else [])


@given(limit=st.integers(1, 10_000), remaining=st.integers(0, 10_000))
def test_the_budget_waits_exactly_when_only_a_tenth_of_the_limit_is_left(limit, remaining):
    policy = ReservePolicy(make_client()[0])
    policy.observe(float(limit), float(remaining), FakeTime.current.now + 30)
    kept = max(2, -(-limit // 10))  # exact: a float 0.1 x 100 must not round up to 11
    waited = []
    try:
        policy.try_acquire(None, 1)
    except Exception as hit:
        waited.append(hit.time_to_wait.total_seconds())  # type: ignore[attr-defined]
    assert waited == ([30.0] if remaining <= kept else [])


# -- where the CDK's defaults are replaced --------------------------------------------------------------
def test_rate_limit_headers_that_are_not_numbers_are_ignored(requests_mock):
    """HttpAPIBudget.update_from_response would raise on them (int() of each header): WootricBudget's reads what
    it can."""
    requests_mock.post(TOKEN_URL, **token())
    garbage = {"X-Rate-Limit-Limit": "many", "X-Rate-Limit-Remaining": "lots", "X-Rate-Limit-Reset": "soon"}
    requests_mock.get(USERS_URL, json=[{"id": 1}], headers=garbage)
    client, fake = make_client()
    assert get(client) == [{"id": 1}] and get(client) == [{"id": 1}]
    assert fake.slept == []


@pytest.mark.parametrize(
    ("remaining", "reset_in", "told"),
    # The account pauses once the 10% of the limit kept for other clients is reached: 10 of 100 left.
    [(2, 0.5, False), (2, 1.0, True), (10, 20.0, True), (11, 20.0, False)],
)
def test_the_account_tells_of_429s_and_of_pauses_of_a_second_or_more(
    requests_mock, monkeypatch, remaining, reset_in, told
):
    client, fake = make_client()
    waits: list[tuple[float, float | None]] = []
    for module in (http, ratelimit):  # where a wait is told: a 429 (http), a pause (ratelimit)
        monkeypatch.setattr(
            module, "tell_wait", lambda _, seconds, reset_at: waits.append((seconds, reset_at))
        )
    reset = fake.now + reset_in
    limit_headers = {"X-Rate-Limit-Limit": "100", "X-Rate-Limit-Reset": str(reset)}
    requests_mock.post(TOKEN_URL, json={"access_token": "t", "expires_in": 7200})
    requests_mock.get(
        USERS_URL,
        [
            {"status_code": 429, "json": {}, "headers": {**limit_headers, "X-Rate-Limit-Remaining": "0"}},
            {"json": [], "headers": {**limit_headers, "X-Rate-Limit-Remaining": "90"}},
        ],
    )
    get(client)  # a 429, waited out until its reset (and the CDK's second)
    assert waits == [(max(1.0, reset_in) + 1, reset)]
    reset = fake.now + reset_in  # the next answer says: `remaining` left until `reset_in` from now
    headers = {**limit_headers, "X-Rate-Limit-Reset": str(reset), "X-Rate-Limit-Remaining": str(remaining)}
    requests_mock.get(
        USERS_URL,
        [
            {"json": [], "headers": headers},
            {"json": [], "headers": {**limit_headers, "X-Rate-Limit-Remaining": "90"}},
        ],
    )
    get(client)
    waits.clear()
    get(client)  # paused before it when the budget was nearly spent
    assert waits == ([(reset_in, reset)] if told else [])
