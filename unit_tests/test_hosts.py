"""The host table and the region choice: pure logic."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from source_wootric.config import REGION_HOSTS, base_url_host, plan_hosts, token_region


@pytest.mark.parametrize(
    ("region", "reference", "sdk"),
    [
        ("us", "https://api.wootric.com", "https://app.wootric.com"),
        ("eu", "https://api.wootric.eu", "https://app.wootric.eu"),
        ("au", "https://api.wootric.au", "https://app.wootric.au"),
    ],
)
def test_each_region_has_the_reference_s_host_then_the_sdks_host(region, reference, sdk):
    first, second = REGION_HOSTS[region]
    assert (first.url("end_users"), first.token_url) == (
        f"{reference}/v1/end_users",
        f"{reference}/oauth/token",
    )
    assert (second.url("end_users"), second.token_url) == (f"{sdk}/api/v1/end_users", f"{sdk}/oauth/token")
    assert first.region == second.region == region


def test_other_api_versions_hang_under_the_same_root():
    assert REGION_HOSTS["eu"][1].url("email_stats", "v2") == "https://app.wootric.eu/api/v2/email_stats"
    assert REGION_HOSTS["eu"][0].url("email_stats", "v2") == "https://api.wootric.eu/v2/email_stats"


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
    assert plan.hosts == (*REGION_HOSTS["us"], *REGION_HOSTS["eu"], *REGION_HOSTS["au"]) and plan.probes
    assert not plan.chosen_by_token and plan.setting == "region"


def test_auto_takes_the_region_of_an_eu_account_token_and_asks_only_its_hosts():
    plan = plan_hosts("auto", None, "NPS-EU-12345678")
    assert plan.hosts == REGION_HOSTS["eu"] and plan.chosen_by_token and plan.regions == {"eu"}


@given(
    region=st.sampled_from(["us", "eu", "au"]),
    token=st.one_of(st.none(), st.text(max_size=20), st.sampled_from(["NPS-EU-1", "NPS-AU-1", "NPS-1"])),
)
def test_an_explicit_region_asks_only_its_own_two_hosts(region, token):
    plan = plan_hosts(region, None, token)
    assert plan.hosts == REGION_HOSTS[region] and plan.regions == {region} and not plan.chosen_by_token


@given(
    region=st.sampled_from(["auto", "us", "eu", "au"]),
    token=st.one_of(st.none(), st.text(max_size=20), st.sampled_from(["NPS-EU-1", "NPS-AU-1"])),
)
def test_a_base_url_turns_probing_and_regions_off(region, token):
    plan = plan_hosts(region, "http://127.0.0.1:1", token)
    assert plan.hosts == (base_url_host("http://127.0.0.1:1"),) and plan.setting == "base_url"
    assert not plan.probes and not plan.chosen_by_token
