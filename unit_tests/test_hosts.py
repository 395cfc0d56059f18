"""The host table and the region choice: pure logic."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from source_wootric.hosts import REGION_HOSTS, base_url_host, plan_hosts, token_region


@pytest.mark.parametrize(
    ("region", "data_url", "token_url"),
    [
        ("us", "https://api.wootric.com/v1/end_users", "https://api.wootric.com/oauth/token"),
        ("eu", "https://app.wootric.eu/api/v1/end_users", "https://app.wootric.eu/oauth/token"),
        ("au", "https://app.wootric.au/api/v1/end_users", "https://app.wootric.au/oauth/token"),
    ],
)
def test_each_region_has_the_urls_wootric_s_own_clients_call(region, data_url, token_url):
    host = REGION_HOSTS[region]
    assert host.url("end_users") == data_url and host.token_url == token_url and host.region == region


def test_other_api_versions_hang_under_the_same_root():
    assert REGION_HOSTS["eu"].url("email_stats", "v2") == "https://app.wootric.eu/api/v2/email_stats"


@pytest.mark.parametrize(
    ("base_url", "data_url", "token_url", "region"),
    [
        ("http://127.0.0.1:8080/", "http://127.0.0.1:8080/v1/x", "http://127.0.0.1:8080/oauth/token", None),
        (
            "https://p.example/wootric",
            "https://p.example/wootric/v1/x",
            "https://p.example/wootric/oauth/token",
            None,
        ),
        (
            "https://app.wootric.eu/api",
            "https://app.wootric.eu/api/v1/x",
            "https://app.wootric.eu/api/oauth/token",
            "eu",
        ),
    ],
)
def test_a_base_url_keeps_its_meaning(base_url, data_url, token_url, region):
    host = base_url_host(base_url)
    assert (host.url("x"), host.token_url, host.region) == (data_url, token_url, region)


@pytest.mark.parametrize(
    ("token", "region"),
    [
        ("NPS-EU-1a2b3c4d", "eu"),
        ("nps-au-1a2b3c4d", "au"),
        ("NPS-EU123", "eu"),
        ("NPS-1a2b3c4d", None),
        (None, None),
    ],
)
def test_the_account_token_s_prefix_names_its_region(token, region):
    assert token_region(token) == region


def test_auto_probes_us_then_eu_then_au_without_a_regional_token():
    plan = plan_hosts("auto", None, None)
    assert [host.region for host in plan.hosts] == ["us", "eu", "au"] and plan.probes
    assert not plan.chosen_by_token and plan.setting == "region"


def test_auto_takes_the_region_of_an_eu_account_token_without_probing():
    plan = plan_hosts("auto", None, "NPS-EU-12345678")
    assert plan.hosts == (REGION_HOSTS["eu"],) and plan.chosen_by_token and not plan.probes


@given(
    region=st.sampled_from(["us", "eu", "au"]),
    token=st.one_of(st.none(), st.text(max_size=20), st.sampled_from(["NPS-EU-1", "NPS-AU-1", "NPS-1"])),
)
def test_an_explicit_region_turns_probing_off(region, token):
    plan = plan_hosts(region, None, token)
    assert plan.hosts == (REGION_HOSTS[region],) and not plan.probes and not plan.chosen_by_token


@given(
    region=st.sampled_from(["auto", "us", "eu", "au"]),
    token=st.one_of(st.none(), st.text(max_size=20), st.sampled_from(["NPS-EU-1", "NPS-AU-1"])),
)
def test_a_base_url_turns_probing_and_regions_off(region, token):
    plan = plan_hosts(region, "http://127.0.0.1:1", token)
    assert plan.hosts == (base_url_host("http://127.0.0.1:1"),) and plan.setting == "base_url"
    assert not plan.probes and not plan.chosen_by_token
