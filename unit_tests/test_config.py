"""Config errors name the field to fix and never echo a secret."""

from __future__ import annotations

import pytest
from airbyte_cdk.models import FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_wootric.config import REGION_HOSTS, base_url_host, parse_config

SECRET = "s3cr3t-value-that-must-not-leak"
VALID = {
    "credentials": {"auth_type": "client_credentials", "client_id": "id", "client_secret": SECRET},
    "start_date": "2020-01-01T00:00:00Z",
}


def with_changes(**changes):
    config = {**VALID, **changes}
    return {key: value for key, value in config.items() if value is not ...}


def test_a_valid_config_reads_with_defaults():
    config = parse_config(VALID)
    assert (
        config.hosts.hosts == tuple(host for r in ("us", "eu", "au") for host in REGION_HOSTS[r])
        and config.start == 1577836800
    )
    assert config.account_timezone is None and config.lookback_window_days == 30  # None: auto
    assert config.nps_summary_period == "month" and SECRET in config.credentials.form.values()


@pytest.mark.parametrize(
    ("base_url", "api_root"),
    [
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("https://proxy.example.com/wootric/", "https://proxy.example.com/wootric"),
    ],
)
def test_base_url_replaces_the_region_and_keeps_a_path_prefix(base_url, api_root):
    plan = parse_config(with_changes(base_url=base_url, region="eu")).hosts
    assert plan.hosts == (base_url_host(base_url),) and plan.setting == "base_url" and not plan.probes
    assert plan.hosts[0].url("end_users") == f"{api_root}/v1/end_users"
    assert plan.hosts[0].token_url == f"{api_root}/oauth/token"


@pytest.mark.parametrize("region", ["us", "eu", "au"])
def test_an_explicit_region_is_used_alone(region):
    plan = parse_config(with_changes(region=region)).hosts
    assert plan.hosts == REGION_HOSTS[region] and plan.setting == "region" and plan.regions == {region}


def test_a_0_1_0_config_still_reads():
    """0.1.0 wrote `region: us` (its default) or none, `account_timezone: UTC`, and credentials that may
    lack auth_type."""
    old = {
        "credentials": {"client_id": "id", "client_secret": SECRET},
        "start_date": "2020-01-01T00:00:00Z",
        "account_timezone": "UTC",
        "lookback_window_days": 30,
        "nps_summary_period": "month",
    }
    assert parse_config({**old, "region": "us"}).hosts.hosts == REGION_HOSTS["us"]
    assert parse_config(old).hosts.hosts[0] == REGION_HOSTS["us"][0]  # auto: US is asked first
    assert parse_config(old).credentials.grant_type == "client_credentials"


@pytest.mark.parametrize(
    ("changes", "names"),
    [
        ({"credentials": ...}, "`credentials`"),
        (
            {"credentials": {"auth_type": "client_credentials", "client_id": "id"}},
            "`credentials.client_secret`",
        ),
        (
            {"credentials": {"auth_type": "client_credentials", "client_id": "", "client_secret": SECRET}},
            "client_id",
        ),
        (
            {"credentials": {"auth_type": "password", "username": "a@b.c", "password": " "}},
            "`credentials.password`",
        ),
        ({"credentials": {"auth_type": "token", "client_secret": SECRET}}, "`credentials.auth_type`"),
        ({"start_date": ...}, "`start_date`"),
        ({"start_date": "01/02/2020"}, "`start_date`"),
        (
            {"start_date": "2020-01-01"},
            "`start_date` (Start date) '2020-01-01' is not an RFC 3339 UTC date-time",
        ),
        ({"start_date": 20200101}, "`start_date`"),
        ({"start_date": "2999-01-01T00:00:00Z"}, "in the future"),
        ({"region": "mars"}, "`region`"),
        ({"region": "api.wootric.eu"}, "auto, us, eu, au"),
        ({"base_url": "api.wootric.com"}, "`base_url`"),
        ({"base_url": "ftp://api.wootric.com"}, "`base_url`"),
        ({"account_timezone": "Mars/Olympus"}, "`account_timezone`"),
        ({"account_timezone": 10}, "`account_timezone`"),
        ({"lookback_window_days": -1}, "`lookback_window_days`"),
        ({"lookback_window_days": "30"}, "`lookback_window_days`"),
        ({"nps_summary_period": "year"}, "`nps_summary_period`"),
    ],
)
def test_bad_input_is_a_config_error_naming_the_field(changes, names):
    with pytest.raises(AirbyteTracedException) as error:
        parse_config(with_changes(**changes))
    assert error.value.failure_type == FailureType.config_error
    assert names in error.value.message and SECRET not in error.value.message
