"""The :class:`Emulator` facade: data + tokens + faults + an HTTP server on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date

from .auth import Credentials, RateLimiter, TokenStore
from .data import COMPAT_SINGER_TAP, Dataset, DatasetSpec
from .faults import Fault, FaultPlan
from .server import App, HttpServer
from .timefmt import TimeFormatter


class Emulator:
    """A Wootric API stand-in.  ``start()`` serves it and returns the base URL; also a context manager."""

    def __init__(
        self,
        dataset: DatasetSpec | dict | None = None,
        *,
        port: int = 0,
        host: str = "127.0.0.1",
        token_ttl: int = 7200,
        rate_limit: tuple[int, float] | None = None,
        client_id: str = "demo-client-id",
        client_secret: str = "demo-client-secret",
        username: str = "demo@example.com",
        password: str = "demo-password",
        account_token: str = "NPS-demo0001",
        account_timezone: str = "America/Los_Angeles",
        compat: str | None = None,
        faults: Iterable[Fault] = (),
        fault_seed: int = 0,
    ):
        if compat == COMPAT_SINGER_TAP and rate_limit is not None:
            raise ValueError("compat='singer-tap' serves without a rate limit")
        if isinstance(dataset, dict):
            dataset = DatasetSpec(**dataset)
        self.spec = dataset if dataset is not None else DatasetSpec()
        self.compat = compat
        self.account_timezone = account_timezone
        self.fmt = TimeFormatter(account_timezone)
        self.data = Dataset(self.spec, self.fmt, compat)
        self.credentials = Credentials(client_id, client_secret, username, password, account_token)
        self.tokens = TokenStore(self.credentials, token_ttl)
        self.limiter = RateLimiter(*rate_limit) if rate_limit is not None else None
        self._plan = FaultPlan(list(faults), fault_seed)
        self.app = App(self.data, self.tokens, self.limiter, self._plan)
        self.host, self.port = host, port
        self._http: HttpServer | None = None
        self.url: str | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> str:
        if self._http is None:
            self._http = HttpServer(self.app, self.host, self.port)
            host, port = self._http.address
            self.port = port
            shown = f"[{host}]" if ":" in host else host
            self.url = f"http://{shown}:{port}"
            self._http.start()
        return self.url

    def stop(self) -> None:
        if self._http is not None:
            self._http.stop()
            self._http = None

    def __enter__(self) -> Emulator:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------------ data, read back whole
    @property
    def end_users(self) -> list[dict]:
        return self.data.served(self.data.users)

    @property
    def responses(self) -> list[dict]:
        return self.data.served(self.data.responses)

    @property
    def declines(self) -> list[dict]:
        return self.data.served(self.data.declines)

    @property
    def segments(self) -> list[dict]:
        return json.loads(json.dumps(self.data.segments))

    def epoch(self, value) -> int | None:
        return self.fmt.epoch(value)

    def nps(self, start: date, end: date) -> dict:
        return self.data.nps(start, end)

    # ------------------------------------------------------------------ changes
    def update_users(self, n: int, *, seed: int = 0, at: int | None = None) -> list[int]:
        return self.data.update_users(n, seed=seed, at=at)

    def edit_responses(self, n: int, *, seed: int = 0, at: int | None = None) -> list[int]:
        return self.data.edit_responses(n, seed=seed, at=at)

    def add_users(self, n: int, *, at: int | None = None) -> list[int]:
        return self.data.add_users(n, at=at)

    def add_backdated(
        self, kind: str, n: int, created_at: int, seed: int = 0, *, at: int | None = None
    ) -> list[int]:
        return self.data.add_backdated(kind, n, created_at, seed, at=at)

    def revoke_tokens(self) -> None:
        self.tokens.revoke_all()

    def issued_tokens(self) -> list[str]:
        """Every access and refresh token issued so far (for tests that check that none leaks)."""
        return self.tokens.issued()

    # ------------------------------------------------------------------ faults and counters
    @property
    def faults(self) -> list[Fault]:
        return self._plan.faults

    @faults.setter
    def faults(self, faults: Iterable[Fault]) -> None:
        self._plan.set(faults)

    def set_faults(self, faults: Iterable[Fault]) -> None:
        self._plan.set(faults)

    @property
    def counters(self) -> dict[str, dict[int, int]]:
        return self.app.counters()

    def requests(self, path_prefix: str = "/v1/") -> int:
        return sum(sum(c.values()) for t, c in self.app.counters().items() if t.startswith(path_prefix))

    def reset_counters(self) -> None:
        self.app.reset_counters()
