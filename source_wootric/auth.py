"""OAuth 2 tokens for Wootric, as the CDK's `AbstractOauth2Authenticator`: client credentials or an account
e-mail and password, renewed with the refresh token Wootric gives the password grant. With `region: auto` the
first token also finds the account's region: US, then EU, then AU, unless the account token names it.

The CDK decides when to renew (before expiry; HttpClient after a 401) and builds the form; the token request
itself goes through our `post_form` (client.WootricClient), because the CDK's own (`_make_handled_request`) has
no timeout and retries only with its own fixed backoff. Every token obtained is registered as a secret.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from datetime import timezone

import requests
from airbyte_cdk.sources.streams.http.requests_native_auth.abstract_oauth import AbstractOauth2Authenticator
from airbyte_cdk.utils.airbyte_secrets_utils import add_to_secrets
from airbyte_cdk.utils.datetime_helpers import AirbyteDateTime
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_wootric.config import Credentials, config_error, transient_error
from source_wootric.errors import NOT_JSON, error_detail, json_body
from source_wootric.hosts import Host, HostPlan, HostUnreachable, token_region

# Seconds: a token this close to expiring is renewed before it is used; a tenth of its life for short-lived
# tokens, which would otherwise be renewed before every request.
RENEW_BEFORE_EXPIRY = 300
DEFAULT_LIFETIME = 7200
RENEWALS_PER_ANSWERS = 10  # a token refused after it served is renewed, at most once per this many answers

# Sends the token request: (url, query, form) -> response, with the client's timeouts and retries.
PostForm = Callable[[str, dict[str, str], dict[str, str]], requests.Response]
# Answers of a region's token endpoint that mean "not this region's account": try the next region.
NOT_THIS_REGION = (401, 404)


def _names(hosts: list[Host]) -> str:
    return " and ".join(host.name for host in hosts)


class WootricAuthenticator(AbstractOauth2Authenticator):
    """Holds the current bearer token, renewing it before it expires and on demand after a 401. The first
    token also settles the host: the first of the plan's hosts that accepts the credentials."""

    def __init__(
        self,
        credentials: Credentials,
        plan: HostPlan,
        post_form: PostForm,
        logger: logging.Logger,
        clock: Callable[[], float] = time.time,
    ):
        self.credentials = credentials
        self.plan = plan
        self.post_form = post_form
        self.logger = logger
        self.clock = clock
        self._host: Host | None = None
        self._token: str | None = None
        self._refresh_token: str | None = None
        self._renew_at = 0.0
        self._expires_at = 0.0
        self._grant: dict[str, str] = dict(credentials.form)  # the form of the next token request
        self.served = 0  # data answers the current token was accepted for
        self.answers = 0  # data answers any token was accepted for in this sync
        self.revocations = 0
        self.waited: Counter[str] = Counter()  # seconds spent obtaining tokens, under "token"
        super().__init__()

    # -- what the CDK asks -----------------------------------------------------------------------------
    def token_has_expired(self) -> bool:
        """Due for renewal: at RENEW_BEFORE_EXPIRY (or a tenth of a short life) before it expires, on our clock."""
        return self._token is None or self.clock() >= self._renew_at

    def refresh_access_token(self) -> tuple[str, AirbyteDateTime]:
        """A fresh token and when to renew it (what `get_token_expiry_date` then reports)."""
        started = self.clock()
        try:
            self._renew()
        finally:
            self.waited["token"] += self.clock() - started
        assert self._token is not None
        return self._token, self.get_token_expiry_date()

    # -- tokens that stop working early ----------------------------------------------------------------
    def accepted(self) -> None:
        """A data request got an answer other than 401: the token in use works."""
        self.served += 1
        self.answers += 1

    def rejected(self) -> AirbyteTracedException | None:
        """After a 401 on a data request: None when a new token is due (the current one is dropped, so the
        retry signs with a new one), else the error that ends the stream.

        Doorkeeper revokes a token when the same credentials obtain another, and tokens may expire before
        `expires_in`: a token refused after it served is renewed, as often as that happens, up to one renewal
        per RENEWALS_PER_ANSWERS data answers. A token refused on its first use means the credentials no longer
        reach the data."""
        if self.clock() >= self._expires_at:  # it lived as long as Wootric said: not a revocation
            self.logger.info("The access token expired while a request was on its way; renewing it.")
            self._token = None
            return None
        if self.served == 0:
            return config_error(
                "Wootric refused a freshly issued access token (HTTP 401): the API user may have lost access "
                "to the account; check `credentials` and `region`."
            )
        self.revocations += 1
        if self.revocations > 1 + self.answers / RENEWALS_PER_ANSWERS:
            return transient_error(
                f"Wootric revoked {self.revocations} access tokens in {self.answers} data requests (one every "
                f"{self.answers / self.revocations:.1f}), more often than one in {RENEWALS_PER_ANSWERS}: another "
                "client is probably obtaining tokens with the same credentials. Give each integration its own "
                "API credentials; the next sync resumes from the last state."
            )
        self.logger.info(
            f"Wootric refused the access token after it served {self.served} requests (revoked or expired "
            f"early); renewing it ({self.revocations} renewal(s) in {self.answers} data requests)."
        )
        self._token = None
        return None

    @property
    def access_token(self) -> str:
        return self._token or ""

    @access_token.setter
    def access_token(self, value: str) -> None:
        self._token = value

    def get_token_expiry_date(self) -> AirbyteDateTime:
        return AirbyteDateTime.fromtimestamp(self._renew_at, tz=timezone.utc)

    def set_token_expiry_date(self, value: AirbyteDateTime) -> None:
        self._renew_at = value.timestamp()

    def get_token_refresh_endpoint(self) -> str:
        return (self._host or self.plan.hosts[0]).token_url

    # The form, as the CDK builds it (build_refresh_request_body) from the grant about to be sent; requests
    # leaves out the fields that are None (the client id of a password grant, the refresh token of the others).
    def get_grant_type_name(self) -> str:
        return "grant_type"

    def get_grant_type(self) -> str:
        return self._grant["grant_type"]

    def get_client_id_name(self) -> str:
        return "client_id"

    def get_client_id(self) -> str:
        return self._grant.get("client_id")  # type: ignore[return-value]

    def get_client_secret_name(self) -> str:
        return "client_secret"

    def get_client_secret(self) -> str:
        return self._grant.get("client_secret")  # type: ignore[return-value]

    def get_refresh_token_name(self) -> str:
        return "refresh_token"

    def get_refresh_token(self) -> str | None:
        return self._grant.get("refresh_token")

    def get_refresh_request_body(self) -> dict[str, str]:
        standard = ("grant_type", "client_id", "client_secret", "refresh_token")
        return {key: value for key, value in self._grant.items() if key not in standard}

    def get_refresh_request_headers(self) -> dict[str, str]:
        return {}

    def get_scopes(self) -> list[str]:
        return []

    # Abstract in the CDK, read only by its own token request (`_make_handled_request`), which ours replaces.
    def get_access_token_name(self) -> str:
        return "access_token"

    def get_expires_in_name(self) -> str:
        return "expires_in"

    # -- Wootric's grants and regions ---------------------------------------------------------------------
    @property
    def host(self) -> Host:
        """The account's host, found with the first token."""
        if self._host is None:
            self.refresh_and_set_access_token()
        assert self._host is not None
        return self._host

    def _renew(self) -> None:
        if self._host is None:
            self._find_host()
            return
        if self._refresh_token is not None:
            refresh = {"grant_type": "refresh_token", "refresh_token": self._refresh_token}
            self._refresh_token = None
            # A refresh token that no longer works: fall back to the password grant.
            if self._post(self._host, refresh).status_code == 200:
                return
        response = self._post(self._host, dict(self.credentials.form))
        if response.status_code != 200:
            raise self._rejection(self._host, response, [])

    def _find_host(self) -> None:
        """The first host of the plan that accepts the credentials. A host that cannot be reached, or answers
        with a web page rather than Wootric's API, or says the account is not there (401, 404), is passed over
        for the next; any other refusal ends the search."""
        refused: list[tuple[Host, requests.Response]] = []  # by Wootric's API
        passed: list[str] = []  # every host passed over, and why
        for host in self.plan.hosts:
            try:
                response = self._post(host, dict(self.credentials.form))
            except HostUnreachable as unreachable:
                passed.append(f"{host.name} {unreachable.reason}")
                continue
            if response.status_code == 200:
                self._host = host
                self._log_region(host, [refused_host for refused_host, _ in refused], passed)
                return
            if response.status_code == 404 and json_body(response) is NOT_JSON:
                passed.append(f"{host.name} answered HTTP 404 with a web page, not Wootric's API")
                continue
            refused.append((host, response))
            passed.append(f"{host.name} refused the credentials (HTTP {response.status_code})")
            if response.status_code not in NOT_THIS_REGION:
                break
        if not refused:
            where = (
                "`base_url` (scheme://host[/prefix], without /v1)"
                if self.plan.setting == "base_url"
                else "`region`, and this machine's network"
            )
            raise config_error(f"No Wootric API answered: {'; '.join(passed)}: check {where}.")
        first_host, first_answer = refused[0]
        raise self._rejection(first_host, first_answer, passed)

    def _log_region(self, host: Host, refused: list[Host], passed: list[str]) -> None:
        if not self.plan.probes:
            return
        before = f" ({'; '.join(passed)})" if passed else ""
        if self.plan.chosen_by_token:
            why = "the account token's prefix names it"
        elif refused:
            why = f"{_names(refused)} refused the credentials"
        else:
            why = "its host accepted the credentials"
        self.logger.info(
            f"Region {host.region}: {why}; this sync uses {host.api_root}{before}."
            + ("" if len(self.plan.regions) == 1 else f" Set `region` to {host.region} to skip this search.")
        )

    def _post(self, host: Host, grant: dict[str, str]) -> requests.Response:
        """Asks `host` for a token; keeps it and returns the answer. A 200 without a token is a config error."""
        query = {"account_token": self.credentials.account_token} if self.credentials.account_token else {}
        requested_at = self.clock()
        self._grant = grant
        response = self.post_form(host.token_url, query, dict(self.build_refresh_request_body()))
        if response.status_code != 200:
            return response
        try:
            body = response.json()
            token = body["access_token"]
        except (ValueError, KeyError, TypeError) as error:
            raise config_error(
                f"Wootric's token endpoint {host.token_url} answered without an access token; "
                f"check `{self.plan.setting}`."
            ) from error
        add_to_secrets(token)
        self.served = 0
        if body.get("refresh_token"):
            add_to_secrets(body["refresh_token"])
            self._refresh_token = body["refresh_token"]
        self._token = token
        lifetime = body.get("expires_in")
        lifetime = lifetime if isinstance(lifetime, (int, float)) and lifetime > 0 else DEFAULT_LIFETIME
        self._expires_at = requested_at + lifetime
        self._renew_at = self._expires_at - min(RENEW_BEFORE_EXPIRY, lifetime / 10)
        return response

    def _rejection(self, host: Host, response: requests.Response, asked: list[str]) -> Exception:
        """The config error for a token request Wootric refused; `asked`: each host the search asked, and
        what it answered."""
        status, detail = response.status_code, error_detail(response)
        account_token = self.credentials.account_token
        token_home = self._token_home(host)
        if status == 405 or (status == 404 and (account_token is None or json_body(response) is NOT_JSON)):
            where = (
                "`base_url` (scheme://host[/prefix], without /v1)"
                if self.plan.setting == "base_url"
                else "`region`"
            )
            return config_error(
                f"{host.token_url} is not Wootric's token endpoint (HTTP {status}{detail}): check {where}."
            )
        if status == 404 and token_home is None:
            return config_error(
                f"Wootric does not know the account token {account_token} (HTTP 404{detail} from "
                f"{host.token_url}): check `credentials.account_token` (Wootric app: Settings; it starts NPS-)."
            )
        if status == 404:
            return config_error(
                f"{host.name} does not know the account token {account_token} (HTTP 404{detail}): "
                + self._region_advice(token_home)
            )
        if self.credentials.grant_type == "client_credentials":
            what = "`credentials.client_id` and `credentials.client_secret` (Wootric app: Settings -> API)"
        else:
            what = "`credentials.username`, `credentials.password` and `credentials.account_token`"
        if token_home:
            hint = f" {self._region_advice(token_home)}"
        else:
            hint = f" Every host asked: {'; '.join(asked)}." if len(asked) > 1 else ""
            if len(self.plan.regions) == 1:
                hint += (
                    " If the account is in another Wootric region, set `region` to auto or to that region."
                )
        return config_error(
            f"Wootric refused the credentials (HTTP {status}{detail} from {host.token_url}): check {what}."
            + hint
        )

    def _token_home(self, host: Host) -> str | None:
        """The account token's region when it is not the region of `host`: the host asked is the wrong one."""
        if self.credentials.account_token is None:
            return None
        home = token_region(self.credentials.account_token) or "us"
        if host.region == home or (host.region is None and home == "us"):
            return None
        return home

    def _region_advice(self, home: str) -> str:
        advice = f"the account token belongs to the {home.upper()} region: set `region` to {home} or auto"
        return advice + (" and clear `base_url`." if self.plan.setting == "base_url" else ".")
