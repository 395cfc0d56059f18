"""OAuth 2 tokens as Wootric's (Doorkeeper-like) server hands them out, and the per-holder rate limit."""

from __future__ import annotations

import math
import random
import secrets
import threading
from dataclasses import dataclass

from .clock import SystemClock

INVALID_CLIENT = (
    "Client authentication failed due to unknown client, no client authentication included, or "
    "unsupported authentication method."
)
INVALID_GRANT = (
    "The provided authorization grant is invalid, expired, revoked, does not match the redirection URI "
    "used in the authorization request, or was issued to another client."
)


@dataclass
class Credentials:
    client_id: str = "demo-client-id"
    client_secret: str = "demo-client-secret"
    username: str = "demo@example.com"
    password: str = "demo-password"
    account_token: str = "NPS-demo0001"


class OAuthError(Exception):
    def __init__(self, status: int, error: str, description: str):
        super().__init__(description)
        self.status, self.error, self.description = status, error, description

    def body(self) -> dict:
        if self.status == 404:  # as the real API answers a token request for an unknown account
            return {"error": self.error, "status": 404}
        return {"error": self.error, "error_description": self.description}


class TokenStore:
    """Random bearer tokens that expire after ``ttl`` seconds and can be revoked all at once.

    Tokens can also stop working before ``expires_in`` says, as Doorkeeper's do: ``revoke_every`` seconds the
    account's other integration obtains a token with the same credentials, which revokes every earlier one;
    ``token_uses``: each token stops working after serving that many data requests."""

    def __init__(
        self,
        creds: Credentials,
        ttl: int = 7200,
        real_errors: bool = False,
        *,
        clock=None,
        revoke_every: float | None = None,
        token_uses: int | None = None,
    ):
        self.creds, self.ttl = creds, ttl
        self.real_errors = real_errors  # a wrong account_token is 404 "Not found", as the real API says
        self.clock = clock or SystemClock()
        self.revoke_every, self.token_uses = revoke_every, token_uses
        self._revoked_at = self.clock.time()  # tokens issued before then were replaced by the other client's
        self._lock = threading.Lock()
        self._access: dict[str, tuple[str, float]] = {}  # token -> (holder, expires_at)
        self._issued_at: dict[str, float] = {}
        self._uses: dict[str, int] = {}  # data requests each token has served
        self._refresh: dict[str, str] = {}  # refresh token -> holder
        self._issued: list[str] = []  # every access and refresh token ever handed out, revoked ones too

    def grant(self, form: dict, query: dict, basic: tuple[str, str] | None) -> dict:
        """Answer of ``POST /oauth/token`` for a form body; raises :class:`OAuthError`."""
        for secret in ("client_secret", "password", "refresh_token"):
            if secret in query:
                raise OAuthError(400, "invalid_request", f"{secret} must not be sent in the query string")
        grant_type = form.get("grant_type")
        c = self.creds
        if grant_type == "client_credentials":
            client_id, client_secret = form.get("client_id"), form.get("client_secret")
            if basic and not client_id:
                client_id, client_secret = basic
            if not client_id or not client_secret:
                raise OAuthError(400, "invalid_request", "client_id and client_secret are required")
            if not (
                secrets.compare_digest(client_id, c.client_id)
                and secrets.compare_digest(client_secret, c.client_secret)
            ):
                raise OAuthError(401, "invalid_client", INVALID_CLIENT)
            return self._issue(f"client:{client_id}", refresh=False)
        if grant_type == "password":
            username, password = form.get("username"), form.get("password")
            if not username or not password:
                raise OAuthError(400, "invalid_request", "username and password are required")
            ok = secrets.compare_digest(username, c.username) and secrets.compare_digest(password, c.password)
            if not ok:
                raise OAuthError(400, "invalid_grant", INVALID_GRANT)
            account = query.get("account_token")
            if account is not None and account != c.account_token:
                if self.real_errors:
                    raise OAuthError(404, "Not found", "No account with this account_token.")
                raise OAuthError(401, "invalid_grant", "The account token does not belong to this user.")
            return self._issue(f"user:{username}", refresh=True)
        if grant_type == "refresh_token":
            token = form.get("refresh_token") or ""
            with self._lock:
                holder = self._refresh.pop(token, None)
            if holder is None:
                raise OAuthError(400, "invalid_grant", "The refresh token is invalid, expired or revoked.")
            return self._issue(holder, refresh=True)
        if not grant_type:
            raise OAuthError(400, "invalid_request", "grant_type is required")
        raise OAuthError(400, "unsupported_grant_type", f"The grant type {grant_type!r} is not supported.")

    def _issue(self, holder: str, refresh: bool) -> dict:
        now = self.clock.time()
        token = secrets.token_hex(32)
        answer = {
            "access_token": token,
            "token_type": "bearer",
            "expires_in": self.ttl,
            "scope": "public",
            "created_at": int(now),
        }
        with self._lock:
            self._access[token] = (holder, now + self.ttl)
            self._issued_at[token] = now
            self._issued.append(token)
            if refresh:
                rt = secrets.token_hex(32)
                self._refresh[rt] = holder
                self._issued.append(rt)
                answer["refresh_token"] = rt
        return answer

    def issued(self) -> list[str]:
        """Every access and refresh token handed out so far, expired and revoked ones included."""
        with self._lock:
            return list(self._issued)

    def holder(self, token: str) -> str | None:
        """The holder of a valid access token, None for unknown, expired or revoked tokens. Each call is a data
        request the token serves."""
        now = self.clock.time()
        with self._lock:
            if self.revoke_every:
                replaced = now - (now - self._revoked_at) % self.revoke_every  # the other client's last token
                for old in [t for t, issued in self._issued_at.items() if issued < replaced]:
                    self._forget(old)
            entry = self._access.get(token)
            if entry is None:
                return None
            if now >= entry[1] or (
                self.token_uses is not None and self._uses.get(token, 0) >= self.token_uses
            ):
                self._forget(token)
                return None
            self._uses[token] = self._uses.get(token, 0) + 1
            return entry[0]

    def _forget(self, token: str) -> None:
        self._access.pop(token, None)
        self._issued_at.pop(token, None)
        self._uses.pop(token, None)

    def revoke_all(self) -> None:
        with self._lock:
            self._access.clear()
            self._issued_at.clear()
            self._uses.clear()
            self._refresh.clear()


class RateLimiter:
    """``limit`` requests per ``window`` seconds per token holder, in fixed windows that start at the
    holder's first request after the previous window ended.

    The account's other client (its SDKs, another integration) spends the same limit:
    ``other_client=(burst, every)``: it sends ``burst`` requests at once about every ``every`` seconds (drawn
    from ``seed``); ``busy_spells=(every, length)``: every ``every`` seconds (the first a third of the way in)
    it runs a bulk job for ``length`` seconds that uses up every window. A window it fills answers the
    holder's next request with a 429."""

    def __init__(
        self,
        limit: int,
        window: float,
        *,
        clock=None,
        other_client: tuple[int, float] | None = None,
        busy_spells: tuple[float, float] | None = None,
        seed: int = 0,
    ):
        if limit < 1 or window <= 0:
            raise ValueError("rate_limit must be (limit >= 1, window_seconds > 0)")
        self.limit, self.window = int(limit), float(window)
        self.clock = clock or SystemClock()
        self.other_client, self.busy_spells = other_client, busy_spells
        self._rng = random.Random(seed)
        self._started = self.clock.time()
        self._next_burst = self._burst_after(self._started)
        self.other_requests = 0  # sent by the other client, refused ones included
        self._lock = threading.Lock()
        self._windows: dict[str, list[float]] = {}  # holder -> [window_start, count]

    def _burst_after(self, moment: float) -> float | None:
        if self.other_client is None:
            return None
        return moment + self.other_client[1] * self._rng.uniform(0.5, 1.5)

    def _busy(self, moment: float) -> bool:
        if self.busy_spells is None:
            return False
        every, length = self.busy_spells
        since_first = moment - self._started - every / 3
        return since_first >= 0 and since_first % every < length

    def _count(self, holder: str, moment: float, requests: int) -> list[float]:
        w = self._windows.get(holder)
        if w is None or moment >= w[0] + self.window:
            w = self._windows[holder] = [moment, 0]
        w[1] += requests
        return w

    def hit(self, holder: str) -> tuple[bool, dict[str, str]]:
        """Count one request; returns (allowed, X-Rate-Limit-* headers)."""
        now = self.clock.time()
        with self._lock:
            while self._next_burst is not None and self._next_burst <= now:
                assert self.other_client is not None
                self._count(holder, self._next_burst, self.other_client[0])
                self.other_requests += self.other_client[0]
                self._next_burst = self._burst_after(self._next_burst)
            if self._busy(now):
                w = self._count(holder, now, 0)
                self.other_requests += max(0, self.limit - int(w[1]))
                w[1] = max(w[1], self.limit)
            w = self._count(holder, now, 1)
            count, end = w[1], w[0] + self.window
        headers = {
            "X-Rate-Limit-Limit": str(self.limit),
            "X-Rate-Limit-Remaining": str(max(0, self.limit - int(count))),
            "X-Rate-Limit-Reset": str(math.ceil(end)),
        }
        return count <= self.limit, headers

    def reset_at(self, holder: str) -> int | None:
        with self._lock:
            w = self._windows.get(holder)
            return None if w is None else math.ceil(w[0] + self.window)
