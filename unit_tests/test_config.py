"""Config errors name the field to fix and never echo a secret."""

from __future__ import annotations

import pytest
from airbyte_cdk.models import FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_wootric.config import REGION_HOSTS, parse_config

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
    assert config.api_url == REGION_HOSTS["us"] and config.start == 1577836800
    assert config.account_timezone is None and config.lookback_window_days == 30  # None: auto
    assert config.nps_summary_period == "month" and config.credentials.secrets == [SECRET]


@pytest.mark.parametrize(
    ("base_url", "api_url"),
    [
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("https://proxy.example.com/wootric/", "https://proxy.example.com/wootric"),
    ],
)
def test_base_url_replaces_the_region_and_keeps_a_path_prefix(base_url, api_url):
    assert parse_config(with_changes(base_url=base_url, region="eu")).api_url == api_url


@pytest.mark.parametrize("region", ["us", "eu", "au"])
def test_regions_choose_their_host(region):
    assert (
        parse_config(with_changes(region=region)).api_url
        == f"https://api.wootric.{'com' if region == 'us' else region}"
    )


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
        ({"start_date": 20200101}, "`start_date`"),
        ({"start_date": "2999-01-01T00:00:00Z"}, "in the future"),
        ({"region": "mars"}, "`region`"),
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
