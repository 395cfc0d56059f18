"""The :class:`Emulator` facade: data + tokens + faults + an HTTP server on loopback."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from datetime import date
from typing import TYPE_CHECKING

from .auth import Credentials, RateLimiter, TokenStore
from .behaviours import Behaviours
from .clock import SharedClock, SystemClock
from .data import COMPAT_SINGER_TAP, Dataset, DatasetSpec
from .faults import Fault, FaultPlan
from .regions import API_PREFIXES, SHAPES, check_region, default_account_token
from .server import App, HttpServer, Latency
from .timefmt import TimeFormatter

if TYPE_CHECKING:
    from .proxy import ConnectProxy


class Emulator:
    """A Wootric API stand-in.  ``start()`` serves it and returns the base URL; also a context manager.

    The keywords from ``page_cap`` to ``api_prefix`` switch on behaviours of the real API that depart from its
    reference (see README.md); all are off by default.  ``region`` makes the account live in that region among
    Wootric's hosts (see regions.py: ``shapes`` says which of the region's two hosts serve it, and
    ``absent_host`` what the other one does), which ``proxy=True`` serves through an HTTPS proxy on loopback
    (``proxy_url``, ``ca_bundle_path``, ``proxy_env()``).  The keywords from ``clock`` on play Wootric at its
    real pace: ``clock`` (a ``SharedClock`` that connector processes read too), ``latency`` (seconds per
    answer, drawn from ``(low, high)``), ``other_client`` and ``busy_spells`` (see ``RateLimiter``),
    ``revoke_every`` and ``token_uses`` (see ``TokenStore``), all drawn from ``pace_seed``.
    """

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
        account_token: str | None = None,
        account_timezone: str = "America/Los_Angeles",
        compat: str | None = None,
        faults: Iterable[Fault] = (),
        fault_seed: int = 0,
        page_cap: int | None = None,
        ignore_sort_key: bool = False,
        ignore_sort_order: bool = False,
        ignore_filters: bool = False,
        real_errors: bool = False,
        ties_shuffled: bool = False,
        region: str | None = None,
        shapes: tuple[str, ...] = SHAPES,
        absent_host: str = "unresolved",
        proxy: bool = False,
        api_prefix: str | None = None,
        clock: SystemClock | SharedClock | None = None,
        latency: tuple[float, float] | None = None,
        other_client: tuple[int, float] | None = None,
        busy_spells: tuple[float, float] | None = None,
        revoke_every: float | None = None,
        token_uses: int | None = None,
        pace_seed: int = 0,
    ):
        if compat == COMPAT_SINGER_TAP and rate_limit is not None:
            raise ValueError("compat='singer-tap' serves without a rate limit")
        check_region(region, shapes, absent_host)
        if proxy and region is None:
            raise ValueError("proxy=True plays Wootric's regional hosts: give the account a region")
        if api_prefix is not None and api_prefix not in API_PREFIXES:
            raise ValueError(f"api_prefix must be one of {API_PREFIXES} or None, not {api_prefix!r}")
        if isinstance(dataset, dict):
            dataset = DatasetSpec(**dataset)
        self.spec = dataset if dataset is not None else DatasetSpec()
        self.compat = compat
        self.account_timezone = account_timezone
        self.region = region
        self.clock = clock or SystemClock()
        self.fmt = TimeFormatter(account_timezone, legacy_at_folds=self.spec.legacy_at_folds)
        self.data = Dataset(self.spec, self.fmt, compat, self.clock)
        if account_token is None:
            account_token = default_account_token(region)
        self.credentials = Credentials(client_id, client_secret, username, password, account_token)
        self.tokens = TokenStore(
            self.credentials,
            token_ttl,
            real_errors=real_errors,
            clock=self.clock,
            revoke_every=revoke_every,
            token_uses=token_uses,
        )
        if (other_client or busy_spells) and rate_limit is None:
            raise ValueError("the other client spends the account's rate limit: give a rate_limit")
        self.limiter = (
            RateLimiter(
                *rate_limit,
                clock=self.clock,
                other_client=other_client,
                busy_spells=busy_spells,
                seed=pace_seed,
            )
            if rate_limit is not None
            else None
        )
        self._plan = FaultPlan(list(faults), fault_seed)
        self.behaviours = Behaviours(
            page_cap=page_cap,
            ignore_sort_key=ignore_sort_key,
            ignore_sort_order=ignore_sort_order,
            ignore_filters=ignore_filters,
            real_errors=real_errors,
            ties_shuffled=ties_shuffled,
        )
        pace = Latency(*latency, seed=pace_seed) if latency is not None else None
        self.app = App(
            self.data,
            self.tokens,
            self.limiter,
            self._plan,
            self.behaviours,
            region,
            api_prefix,
            pace,
            shapes,
            absent_host,
        )
        # The "down" fault: the server stops from another thread, so that the request that asked it is answered.
        self.app.on_down = lambda: threading.Thread(target=self.stop, daemon=True).start()
        self.host, self.port = host, port
        self.with_proxy = proxy
        self._http: HttpServer | None = None
        self._proxy: ConnectProxy | None = None
        self.url: str | None = None
        self.proxy_url: str | None = None
        self.ca_bundle_path: str | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> str:
        if self._http is None:
            self._http = HttpServer(self.app, self.host, self.port)
            host, port = self._http.address
            self.port = port
            shown = f"[{host}]" if ":" in host else host
            self.url = f"http://{shown}:{port}"  # ignore-https-check: plain HTTP on loopback
            self._http.start()
            if self.with_proxy:
                from .proxy import ConnectProxy  # needs `cryptography`: only imported when asked for

                self._proxy = ConnectProxy(self.app, self._http, self.host)
                self._proxy.start()
                self.proxy_url, self.ca_bundle_path = self._proxy.url, self._proxy.ca.bundle_path
        return self.url

    def stop(self) -> None:
        if self._proxy is not None:
            self._proxy.stop()
            self._proxy = None
        if self._http is not None:
            self._http.stop()
            self._http = None

    def proxy_env(self) -> dict[str, str]:
        """Environment for a client process that should reach the regional hosts through the proxy."""
        if self.proxy_url is None:
            raise RuntimeError("the proxy runs only with proxy=True, after start()")
        return {"HTTPS_PROXY": self.proxy_url, "REQUESTS_CA_BUNDLE": self.ca_bundle_path}

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

    def edit_responses(
        self, n: int, *, seed: int = 0, at: int | None = None, created_from: int | None = None
    ) -> list[int]:
        return self.data.edit_responses(n, seed=seed, at=at, created_from=created_from)

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

    def counters_by_host(self) -> dict[str, dict[str, dict[int, int]]]:
        """``{host: {path_template: {status: count}}}``; ``loopback`` for the plain URL, a regional host
        for requests through the proxy, whose tunnels also count as template ``CONNECT`` (200, or 502
        under the refused ``host:port``)."""
        return self.app.counters_by_host()

    def requests(self, path_prefix: str = "/v1/") -> int:
        return sum(sum(c.values()) for t, c in self.app.counters().items() if t.startswith(path_prefix))

    def reset_counters(self) -> None:
        self.app.reset_counters()
