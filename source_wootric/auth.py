"""OAuth 2 tokens for Wootric: client credentials or an account e-mail and password.

Every token obtained is registered as a secret with the CDK, so that no log line or message shows it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import requests
from airbyte_cdk.utils.airbyte_secrets_utils import add_to_secrets

from source_wootric.config import Credentials, config_error

# Seconds: a token this close to expiring is renewed before it is used; a tenth of its life for short-lived
# tokens, which would otherwise be renewed before every request.
RENEW_BEFORE_EXPIRY = 300
DEFAULT_LIFETIME = 7200

# Sends the token request: (url, query, form) -> response, with the client's timeouts and retries.
PostForm = Callable[[str, dict[str, str], dict[str, str]], requests.Response]


def _region_hint(account_token: str | None, api_url: str) -> str:
    for tld in ("eu", "au"):
        if (
            account_token
            and account_token.upper().startswith(f"NPS-{tld.upper()}")
            and f".{tld}" not in api_url
        ):
            return f" The account token {account_token} belongs to the {tld.upper()} region: set `region` to {tld}."
    return " If the account is on Wootric's EU or AU instance, set `region` to eu or au."


class WootricAuthenticator:
    """Holds the current bearer token, renewing it before it expires and on demand after a 401."""

    def __init__(
        self,
        credentials: Credentials,
        api_url: str,
        post_form: PostForm,
        clock: Callable[[], float] = time.time,
    ):
        self.credentials = credentials
        self.api_url = api_url
        self.token_url = f"{api_url}/oauth/token"
        self.post_form = post_form
        self.clock = clock
        self._token: str | None = None
        self._refresh_token: str | None = None
        self._renew_at = 0.0

    def bearer(self) -> str:
        if self._token is None or self.clock() >= self._renew_at:
            self.renew()
        assert self._token is not None
        return self._token

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.bearer()}"}

    def renew(self) -> None:
        if self._refresh_token is not None:
            form = {"grant_type": "refresh_token", "refresh_token": self._refresh_token}
            self._refresh_token = None
            if self._request_token(form, quiet=True):
                return
        self._request_token(dict(self.credentials.form), quiet=False)

    def _request_token(self, form: dict[str, str], quiet: bool) -> bool:
        query = {"account_token": self.credentials.account_token} if self.credentials.account_token else {}
        requested_at = self.clock()
        response = self.post_form(self.token_url, query, form)
        if response.status_code != 200:
            if quiet:  # a refresh token that no longer works: fall back to the password grant
                return False
            raise self._rejection(response)
        try:
            body = response.json()
            token = body["access_token"]
        except (ValueError, KeyError, TypeError) as error:
            raise config_error(
                f"Wootric's token endpoint {self.token_url} answered without an access token; "
                "check `base_url` or `region`."
            ) from error
        add_to_secrets(token)
        if body.get("refresh_token"):
            add_to_secrets(body["refresh_token"])
            self._refresh_token = body["refresh_token"]
        self._token = token
        lifetime = body.get("expires_in")
        lifetime = lifetime if isinstance(lifetime, (int, float)) and lifetime > 0 else DEFAULT_LIFETIME
        self._renew_at = requested_at + lifetime - min(RENEW_BEFORE_EXPIRY, lifetime / 10)
        return True

    def _rejection(self, response: requests.Response) -> Exception:
        hint = _region_hint(self.credentials.account_token, self.api_url)
        if response.status_code in (404, 405):
            return config_error(
                f"{self.token_url} is not Wootric's token endpoint (HTTP {response.status_code}): check `base_url`"
                " (scheme://host, without /v1) or `region`."
            )
        if self.credentials.grant_type == "client_credentials":
            what = "`credentials.client_id` and `credentials.client_secret` (Wootric app: Settings -> API)"
        else:
            what = "`credentials.username`, `credentials.password` and `credentials.account_token`"
        return config_error(
            f"Wootric refused the credentials (HTTP {response.status_code} from {self.token_url}): check {what}."
            + hint
        )
