"""OAuth 2 tokens as Wootric's (Doorkeeper-like) server hands them out, and the per-holder rate limit."""

from __future__ import annotations

import math
import secrets
import threading
import time
from dataclasses import dataclass

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
    """Random bearer tokens that expire after ``ttl`` seconds and can be revoked all at once."""

    def __init__(self, creds: Credentials, ttl: int = 7200, real_errors: bool = False):
        self.creds, self.ttl = creds, ttl
        self.real_errors = real_errors  # a wrong account_token is 404 "Not found", as the real API says
        self._lock = threading.Lock()
        self._access: dict[str, tuple[str, float]] = {}  # token -> (holder, expires_at)
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
        now = time.time()
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
        """The holder of a valid access token, None for unknown, expired or revoked tokens."""
        with self._lock:
            entry = self._access.get(token)
            if entry is None:
                return None
            if time.time() >= entry[1]:
                del self._access[token]
                return None
            return entry[0]

    def revoke_all(self) -> None:
        with self._lock:
            self._access.clear()
            self._refresh.clear()


class RateLimiter:
    """``limit`` requests per ``window`` seconds per token holder, in fixed windows that start at the
    holder's first request after the previous window ended."""

    def __init__(self, limit: int, window: float):
        if limit < 1 or window <= 0:
            raise ValueError("rate_limit must be (limit >= 1, window_seconds > 0)")
        self.limit, self.window = int(limit), float(window)
        self._lock = threading.Lock()
        self._windows: dict[str, list[float]] = {}  # holder -> [window_start, count]

    def hit(self, holder: str) -> tuple[bool, dict[str, str]]:
        """Count one request; returns (allowed, X-Rate-Limit-* headers)."""
        now = time.time()
        with self._lock:
            w = self._windows.get(holder)
            if w is None or now >= w[0] + self.window:
                w = self._windows[holder] = [now, 0]
            w[1] += 1
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
