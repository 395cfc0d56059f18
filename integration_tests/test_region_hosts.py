"""Regional accounts as in production: `source-wootric` talks to Wootric's hosts (no `base_url`): each region's
reference host (api.wootric.com, .eu, .au) and SDK host (app.wootric.com, .eu, .au), which the emulator plays
behind an HTTPS proxy on loopback with its own CA. Which of a region's two hosts serves the account is not
known from public sources: the emulator serves it on both, or on one, the other not resolving or answering
with a web page."""

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


@pytest.mark.parametrize(
    ("region", "shapes", "absent_host", "passed_over"),
    [
        ("eu", ("reference", "sdk"), "unresolved", []),
        ("eu", ("sdk",), "unresolved", ["api.wootric.eu"]),
        ("au", ("sdk",), "html404", ["api.wootric.au"]),
        ("au", ("reference",), "html404", []),
    ],
)
def test_client_credentials_find_the_account_s_host_by_asking_us_first(
    make_emulator, tmp_path, region, shapes, absent_host, passed_over
):
    emulator = make_emulator(dataset=SPEC, region=region, shapes=shapes, absent_host=absent_host, proxy=True)
    out = read(
        tmp_path, production_config(emulator), catalog(end_users="full_refresh"), env=emulator.proxy_env()
    )
    assert out.returncode == 0, out.errors
    assert {u["id"] for u in out.records["end_users"]} == {u["id"] for u in emulator.end_users}
    refused = ["api.wootric.com", "app.wootric.com"] + (
        ["api.wootric.eu", "app.wootric.eu"] if region == "au" else []
    )
    serving = f"api.wootric.{region}" if "reference" in shapes else f"app.wootric.{region}"
    expected = {host: {401: 1} for host in refused}
    if absent_host == "html404":
        expected.update({host: {404: 1} for host in passed_over})
    assert token_requests(emulator) == {**expected, serving: {200: 1}}
    if absent_host == "unresolved":  # the proxy could not reach it, as for a name that does not resolve
        assert all(
            emulator.counters_by_host()[f"{host}:443"] == {"CONNECT": {502: 1}} for host in passed_over
        )
    assert any(line.startswith(f"Region {region}:") and serving in line for line in out.logs)
    prefix = "/v1/end_users" if serving.startswith("api.") else "/api/v1/end_users"
    data_hosts = {h for h, counts in emulator.counters_by_host().items() if prefix in counts}
    assert data_hosts == {serving}


def test_when_no_host_accepts_the_credentials_the_error_names_every_host_asked(make_emulator, tmp_path):
    emulator = make_emulator(dataset=SPEC, region="eu", shapes=("sdk",), proxy=True)
    config = production_config(emulator)
    config["credentials"]["client_secret"] = "not-the-secret"
    out = run(["check", "--config", "config"], tmp_path, env=emulator.proxy_env(), config=config)
    status = out.of_type("CONNECTION_STATUS")[0]["connectionStatus"]
    assert out.returncode == 0 and status["status"] == "FAILED"
    assert "credentials.client_secret" in status["message"]
    asked = ["api.wootric.com", "app.wootric.com", "app.wootric.eu", "api.wootric.au", "app.wootric.au"]
    assert set(token_requests(emulator)) == set(asked)
    assert all(host in status["message"] for host in [*asked, "api.wootric.eu"]), status["message"]


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
    assert token_requests(emulator) == {"api.wootric.eu": {200: 1}}
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
    assert token_requests(emulator) == {"api.wootric.au": {200: 1}}


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
    assert token_requests(emulator) == {"api.wootric.com": {404: 1}, "app.wootric.com": {404: 1}}


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
