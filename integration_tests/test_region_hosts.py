"""Regional accounts as in production: `source-wootric` talks to https://api.wootric.com, app.wootric.eu and
app.wootric.au (no `base_url`), which the emulator plays behind an HTTPS proxy on loopback with its own CA."""

from __future__ import annotations

import pytest

from integration_tests.connector import catalog, config_for, read, run
from wootric_emulator import DatasetSpec

pytestmark = pytest.mark.timeout(300)

SPEC = DatasetSpec(users=120, seed=31)


def production_config(emulator, **overrides) -> dict:
    """The emulator's account as a user configures it in production: no `base_url`, the real hosts."""
    config = config_for(emulator, **overrides)
    del config["base_url"]
    return config


def password_config(emulator, account_token: str, **overrides) -> dict:
    credentials = {
        "auth_type": "password",
        "username": "demo@example.com",
        "password": "demo-password",
        "account_token": account_token,
    }
    return production_config(emulator, credentials=credentials, **overrides)


def token_requests(emulator) -> dict[str, dict[int, int]]:
    return {
        host: counts["/oauth/token"]
        for host, counts in emulator.counters_by_host().items()
        if "/oauth/token" in counts
    }


@pytest.mark.parametrize("region", ["eu", "au"])
def test_client_credentials_find_the_account_s_region_by_asking_us_first(make_emulator, tmp_path, region):
    emulator = make_emulator(dataset=SPEC, region=region, proxy=True)
    out = read(
        tmp_path, production_config(emulator), catalog(end_users="full_refresh"), env=emulator.proxy_env()
    )
    assert out.returncode == 0, out.errors
    assert {u["id"] for u in out.records["end_users"]} == {u["id"] for u in emulator.end_users}
    refused = {"eu": ["api.wootric.com"], "au": ["api.wootric.com", "app.wootric.eu"]}[region]
    assert token_requests(emulator) == {
        **{host: {401: 1} for host in refused},
        f"app.wootric.{region}": {200: 1},
    }
    assert any(line.startswith(f"Region {region}:") for line in out.logs)
    data_hosts = {h for h, counts in emulator.counters_by_host().items() if "/api/v1/end_users" in counts}
    assert data_hosts == {f"app.wootric.{region}"}  # data from /api/v1 on the region's own host


def test_an_eu_account_token_selects_its_region_without_asking_another(make_emulator, tmp_path):
    emulator = make_emulator(dataset=SPEC, region="eu", proxy=True)
    token = emulator.credentials.account_token
    out = run(
        ["check", "--config", "config"],
        tmp_path,
        env=emulator.proxy_env(),
        config=password_config(emulator, token),
    )
    status = out.of_type("CONNECTION_STATUS")
    assert status and status[0]["connectionStatus"]["status"] == "SUCCEEDED", out.stdout[-2000:]
    assert token_requests(emulator) == {"app.wootric.eu": {200: 1}}
    assert any("account token's prefix names it" in line for line in out.logs)


def test_an_explicit_region_asks_only_that_region(make_emulator, tmp_path):
    emulator = make_emulator(dataset=SPEC, region="au", proxy=True)
    out = read(
        tmp_path,
        production_config(emulator, region="au"),
        catalog(segments="full_refresh"),
        env=emulator.proxy_env(),
    )
    assert out.returncode == 0 and len(out.records["segments"]) == len(emulator.segments)
    assert token_requests(emulator) == {"app.wootric.au": {200: 1}}


def test_a_wrong_account_token_is_named_from_wootric_s_404(make_emulator, tmp_path):
    emulator = make_emulator(dataset=SPEC, region="us", proxy=True, real_errors=True)
    out = run(
        ["check", "--config", "config"],
        tmp_path,
        env=emulator.proxy_env(),
        config=password_config(emulator, "NPS-0badc0de", region="us"),
    )
    status = out.of_type("CONNECTION_STATUS")[0]["connectionStatus"]
    assert status["status"] == "FAILED" and "credentials.account_token" in status["message"]
    assert token_requests(emulator) == {"api.wootric.com": {404: 1}}


def test_an_eu_account_token_sent_to_the_us_region_names_region(make_emulator, tmp_path):
    emulator = make_emulator(dataset=SPEC, region="eu", proxy=True, real_errors=True)
    out = run(
        ["check", "--config", "config"],
        tmp_path,
        env=emulator.proxy_env(),
        config=password_config(emulator, emulator.credentials.account_token, region="us"),
    )
    status = out.of_type("CONNECTION_STATUS")[0]["connectionStatus"]
    assert status["status"] == "FAILED" and "`region`" in status["message"]
    assert "EU" in status["message"]
