"""OAuth 2 tokens for Wootric, on the CDK's `Oauth2Authenticator`: client credentials, or an account e-mail and
password renewed with the refresh token Wootric gives that grant. The first token also finds the account's
host: the first of the config's candidate hosts (config.HostPlan) whose token endpoint accepts the credentials.

The CDK decides when to renew: before a request, once the expiry this class reports has passed (five
minutes before Wootric's `expires_in`). Only `refresh_access_token` is overridden: the CDK's own token
request has no timeout, one endpoint and its own fixed retries, where Wootric needs the host search, the
account token in the query, and the same timeouts, retries and rate-limit budget as every other request.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import timedelta

import requests
from airbyte_cdk.sources.streams.http.requests_native_auth import Oauth2Authenticator
from airbyte_cdk.utils.airbyte_secrets_utils import add_to_secrets
from airbyte_cdk.utils.datetime_helpers import AirbyteDateTime, ab_datetime_now
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_wootric.config import Credentials, Host, HostPlan, config_error, token_region, transient_error
from source_wootric.http import NOT_JSON, HostUnreachable, error_detail, json_body

RENEW_BEFORE_EXPIRY = 300  # seconds; a tenth of the life for short-lived tokens
DEFAULT_LIFETIME = 7200
RENEWALS_PER_ANSWERS = 10  # a token refused after it served is renewed, at most once per this many answers
NOT_THIS_REGION = (401, 404)  # a region's token endpoint saying the account is not there: ask the next

PostForm = Callable[[str, dict[str, str], dict[str, str]], requests.Response]  # (url, query, form) -> answer


class WootricAuthenticator(Oauth2Authenticator):
    def __init__(self, credentials: Credentials, plan: HostPlan, post_form: PostForm, logger: logging.Logger):
        form = credentials.form
        super().__init__(
            token_refresh_endpoint=plan.hosts[0].token_url,
            client_id=form.get("client_id", ""),
            client_secret=form.get("client_secret", ""),
            refresh_token="",
            grant_type=form["grant_type"],
        )
        self.credentials, self.plan, self.post_form, self.logger = credentials, plan, post_form, logger
        self._host: Host | None = None
        self._renewal_token: str | None = None  # the password grant's, kept from its last answer
        self._expires_at = 0.0  # as Wootric said, epoch seconds
        self.served = 0  # data answers the current token was accepted for
        self.answers = 0  # data answers any token was accepted for in this sync
        self.revocations = 0
        self.renewing_seconds = 0.0  # time spent obtaining tokens

    @property
    def host(self) -> Host:
        """The account's host, found with the first token."""
        if self._host is None:
            self.get_access_token()
        assert self._host is not None
        return self._host

    def refresh_access_token(self) -> tuple[str, AirbyteDateTime]:
        """A fresh token, and when the CDK is to renew it."""
        started = time.time()
        try:
            body = self._find_host() if self._host is None else self._renew(self._host)
        finally:
            self.renewing_seconds += time.time() - started
        token = body["access_token"]
        lifetime = body.get("expires_in")
        lifetime = lifetime if isinstance(lifetime, int | float) and lifetime > 0 else DEFAULT_LIFETIME
        self._expires_at = started + lifetime
        self.served = 0
        return token, ab_datetime_now() + timedelta(
            seconds=lifetime - min(RENEW_BEFORE_EXPIRY, lifetime / 10)
        )

    # -- tokens that stop working early ------------------------------------------------------------------
    def accepted(self) -> None:
        """A data request got an answer other than 401: the token in use works."""
        self.served += 1
        self.answers += 1

    def rejected(self) -> AirbyteTracedException | None:
        """After a 401 on a data request: None when a new token is due (the current one is dropped, so the
        retry signs with a new one), else the error that ends the stream.

        Doorkeeper revokes a token when the same credentials obtain another, and tokens may expire before
        `expires_in`: a token refused after it served is renewed as often as that happens, up to one renewal
        per RENEWALS_PER_ANSWERS answers. A token refused on its first use means the credentials no longer
        reach the data."""
        expired = time.time() >= self._expires_at  # it lived as long as Wootric said: not a revocation
        if not expired and self.served == 0:
            return config_error(
                "Wootric refused a freshly issued access token (HTTP 401): the API user may have lost access "
                "to the account; check `credentials` and `region`."
            )
        if not expired:
            self.revocations += 1
            if self.revocations > 1 + self.answers / RENEWALS_PER_ANSWERS:
                return transient_error(
                    f"Wootric revoked {self.revocations} access tokens in {self.answers} data requests (one "
                    f"every {self.answers / self.revocations:.1f}), more often than one in {RENEWALS_PER_ANSWERS}: "
                    "another client is probably obtaining tokens with the same credentials. Give each "
                    "integration its own API credentials; the next sync resumes from the last state."
                )
        self.logger.info(
            f"Wootric refused the access token after it served {self.served} requests "
            f"({'expired' if expired else 'revoked'}); renewing it."
        )
        self.set_token_expiry_date(ab_datetime_now() - timedelta(seconds=1))
        return None

    # -- Wootric's grants and hosts ------------------------------------------------------------------------
    def _renew(self, host: Host) -> dict:
        if self._renewal_token is not None:
            refresh = {"grant_type": "refresh_token", "refresh_token": self._renewal_token}
            self._renewal_token = None
            response = self._post(host, refresh)  # one that no longer works: sign in again
            if response.status_code == 200:
                return self._token_body(host, response)
        response = self._post(host, dict(self.credentials.form))
        if response.status_code != 200:
            raise self._rejection(host, response, [])
        return self._token_body(host, response)

    def _find_host(self) -> dict:
        """The first host of the plan that accepts the credentials. A host that cannot be reached, or answers
        with a web page rather than Wootric's API, or says the account is not there (401, 404), is passed over;
        any other refusal ends the search."""
        refused: list[tuple[Host, requests.Response]] = []  # by Wootric's API
        passed: list[str] = []  # every host passed over, and why
        for host in self.plan.hosts:
            try:
                response = self._post(host, dict(self.credentials.form))
            except HostUnreachable as unreachable:
                passed.append(f"{host.name} {unreachable.reason}")
                continue
            if response.status_code == 200:
                body = self._token_body(host, response)
                self._host = host
                self._log_region(host, [refused_host for refused_host, _ in refused], passed)
                return body
            if response.status_code == 404 and json_body(response) is NOT_JSON:
                passed.append(f"{host.name} answered HTTP 404 with a web page, not Wootric's API")
                continue
            refused.append((host, response))
            passed.append(f"{host.name} refused the credentials (HTTP {response.status_code})")
            if response.status_code not in NOT_THIS_REGION:
                break
        if not refused:
            raise config_error(f"No Wootric API answered: {'; '.join(passed)}: check {self._where()}.")
        raise self._rejection(*refused[0], passed)

    def _where(self) -> str:
        if self.plan.setting == "base_url":
            return "`base_url` (scheme://host[/prefix], without /v1)"
        return "`region`, and this machine's network"

    def _log_region(self, host: Host, refused: list[Host], passed: list[str]) -> None:
        if not self.plan.probes:
            return
        if self.plan.chosen_by_token:
            why = "the account token's prefix names it"
        elif refused:
            why = f"{' and '.join(r.name for r in refused)} refused the credentials"
        else:
            why = "its host accepted the credentials"
        self.logger.info(
            f"Region {host.region}: {why}; this sync uses {host.api_root}"
            + (f" ({'; '.join(passed)})." if passed else ".")
            + ("" if len(self.plan.regions) == 1 else f" Set `region` to {host.region} to skip this search.")
        )

    def _post(self, host: Host, form: dict[str, str]) -> requests.Response:
        query = {"account_token": self.credentials.account_token} if self.credentials.account_token else {}
        return self.post_form(host.token_url, query, form)

    def _token_body(self, host: Host, response: requests.Response) -> dict:
        """The token answer; every token in it registered as a secret. One without a token is a config error."""
        body = json_body(response)
        if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
            raise config_error(
                f"Wootric's token endpoint {host.token_url} answered without an access token; "
                f"check `{self.plan.setting}`."
            )
        add_to_secrets(body["access_token"])
        if isinstance(body.get("refresh_token"), str):
            add_to_secrets(body["refresh_token"])
            self._renewal_token = body["refresh_token"]
        return body

    def _rejection(self, host: Host, response: requests.Response, asked: list[str]) -> AirbyteTracedException:
        """The config error for a token request Wootric refused; `asked`: each host asked, and its answer."""
        status, detail = response.status_code, error_detail(response)
        account_token = self.credentials.account_token
        home = self._token_home(host)
        if status == 405 or (status == 404 and (account_token is None or json_body(response) is NOT_JSON)):
            where = self._where() if self.plan.setting == "base_url" else "`region`"
            return config_error(
                f"{host.token_url} is not Wootric's token endpoint (HTTP {status}{detail}): check {where}."
            )
        if status == 404 and home is None:
            return config_error(
                f"Wootric does not know the account token {account_token} (HTTP 404{detail} from "
                f"{host.token_url}): check `credentials.account_token` (Wootric app: Settings; it starts NPS-)."
            )
        if status == 404:
            return config_error(
                f"{host.name} does not know the account token {account_token} (HTTP 404{detail}): {self._region_advice(home)}"
            )
        if self.credentials.grant_type == "client_credentials":
            what = "`credentials.client_id` and `credentials.client_secret` (Wootric app: Settings -> API)"
        else:
            what = "`credentials.username`, `credentials.password` and `credentials.account_token`"
        hint = (
            f" {self._region_advice(home)}"
            if home
            else (f" Every host asked: {'; '.join(asked)}." if len(asked) > 1 else "")
        )
        if not home and len(self.plan.regions) == 1:
            hint += " If the account is in another Wootric region, set `region` to auto or to that region."
        return config_error(
            f"Wootric refused the credentials (HTTP {status}{detail} from {host.token_url}): check {what}.{hint}"
        )

    def _token_home(self, host: Host) -> str | None:
        """The account token's region when it is not the region of `host`: the host asked is the wrong one."""
        if self.credentials.account_token is None:
            return None
        home = token_region(self.credentials.account_token) or "us"
        return None if host.region == home or (host.region is None and home == "us") else home

    def _region_advice(self, home: str) -> str:
        advice = f"the account token belongs to the {home.upper()} region: set `region` to {home} or auto"
        return advice + (" and clear `base_url`." if self.plan.setting == "base_url" else ".")
