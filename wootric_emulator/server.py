"""The HTTP side: routing, parameters, auth, rate limit, faults and counters."""

from __future__ import annotations

import base64
import contextlib
import json
import random
import re
import socket
import struct
import threading
from collections import defaultdict
from collections.abc import Callable
from datetime import date
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from operator import attrgetter
from urllib.parse import parse_qsl, unquote, urlsplit

from .auth import INVALID_CLIENT, INVALID_GRANT, OAuthError, RateLimiter, TokenStore
from .behaviours import Behaviours
from .data import Dataset
from .faults import Fault, FaultPlan
from .regions import REGION_OF_HOST, SHAPES, canonical_path
from .store import dumps, page_of, shuffle_ties

MAX_PAGE = 30
MAX_PER_PAGE = 50
DEFAULT_PER_PAGE = 25
JSON = "application/json; charset=utf-8"
HTML = "text/html; charset=utf-8"

_FILTER = re.compile(r"^(created|updated)\[(gt|gte|lt|lte|eq)\]$")
_ID_PATH = re.compile(
    r"^((?:/api)?/v1)/end_users/([^/]+)(?:/(responses|declines)(?:/(promoters|passives|detractors))?)?$"
)
_SORT_KEYS = {
    "end_users": {"email": "email", "updated_at": "updated", "created_at": "created"},
    "events": {"created_at": "created"},
}
# Wootric's v2 API (e-mail delivery): path -> its one method. bounce_report e-mails a person a report.
_V2_ROUTES = {
    "/v2/email_stats": "GET",
    "/v2/email_stats/sources": "GET",
    "/v2/email_stats/bounce_report": "POST",
}
_SCORE_RANGES = {"promoters": (9, 10), "passives": (7, 8), "detractors": (0, 6)}
_GATEWAY_HTML = (
    "<html>\r\n<head><title>{code} {reason}</title></head>\r\n<body>\r\n<center><h1>{code} {reason}</h1>"
    "</center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
_UNAUTHORIZED = {"error": "You are not authorized to access this resource (invalid token)"}
LOOPBACK = "loopback"  # the host name counters use for requests to the plain loopback URL
_NOT_JSON_HTML = (
    "<!DOCTYPE html><html><head><title>Wootric - Maintenance</title></head><body><h1>We'll be back soon"
    "</h1><p>Wootric is down for scheduled maintenance.</p></body></html>"
)


class Latency:
    """How long Wootric takes to answer: a time drawn evenly from ``low``..``high`` seconds per request, in
    the order requests arrive (deterministic for a seed when they come one at a time)."""

    def __init__(self, low: float, high: float, seed: int = 0):
        if not 0 <= low <= high:
            raise ValueError("latency must be (low, high) seconds with 0 <= low <= high")
        self.low, self.high = low, high
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def next(self) -> float:
        with self._lock:
            return self._rng.uniform(self.low, self.high)


_WEB_PAGE_HTML = "<!DOCTYPE html><html><head><title>Page not found</title></head><body></body></html>"


class ApiError(Exception):
    def __init__(self, status: int, message: str, field: str = "base"):
        super().__init__(message)
        self.status, self.message, self.field = status, message, field


class Answer:
    __slots__ = ("body", "content_type", "headers", "reset", "status")

    def __init__(self, status: int, body: bytes = b"", content_type: str = JSON, headers=None):
        self.status, self.body, self.content_type = status, body, content_type
        self.headers = dict(headers or {})
        self.reset = False


def json_answer(status: int, obj, headers=None) -> Answer:
    return Answer(status, dumps(obj), JSON, headers)


def errors_answer(status: int, message: str, headers=None) -> Answer:
    return json_answer(status, {"errors": [{"message": message}]}, headers)


def template_of(path: str) -> str:
    """``/v1/end_users/123/responses`` -> ``/v1/end_users/{id}/responses`` (``/api/v1`` likewise)."""
    m = _ID_PATH.match(path)
    if m:
        tail = "".join(f"/{p}" for p in m.groups()[2:] if p)
        return m.group(1) + "/end_users/{id}" + tail
    return path


def _int_param(query: dict, name: str, default: int | None = None) -> int | None:
    value = query.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ApiError(400, f"{name} does not have a valid value", name) from None


class App:
    """Turns a request (method, path, query, headers, body, and the host asked) into an :class:`Answer`.

    ``host`` is None for the plain loopback URL, which serves the account under ``/v1`` (and
    ``api_prefix``); through the proxy it is one of the regional hosts, which serves the account only
    if it is the account's ``region``.
    """

    def __init__(
        self,
        ds: Dataset,
        tokens: TokenStore,
        limiter: RateLimiter | None,
        plan: FaultPlan,
        behaviours: Behaviours | None = None,
        region: str | None = None,
        api_prefix: str | None = None,
        latency: Latency | None = None,
        shapes: tuple[str, ...] = SHAPES,
        absent_host: str = "unresolved",
    ):
        self.ds, self.tokens, self.limiter, self.plan = ds, tokens, limiter, plan
        self.clock = ds.clock
        self.latency = latency
        self.on_down: Callable[[], None] | None = None  # stops the server: the "down" fault
        self.behaviours = behaviours or Behaviours()
        self.region = region
        self.shapes, self.absent_host = shapes, absent_host
        self.loopback_prefixes = ("/v1",) if api_prefix in (None, "/v1") else ("/v1", api_prefix)
        self._counts_lock = threading.Lock()
        self.counts: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
        self.host_counts: dict[str, dict[str, dict[int, int]]] = defaultdict(
            lambda: defaultdict(lambda: defaultdict(int))
        )
        self._list_requests = 0  # seeds the order of ties when ``ties_shuffled``

    # ------------------------------------------------------------------------ counters
    def count(self, template: str, status: int, host: str | None = None) -> None:
        with self._counts_lock:
            self.counts[template][status] += 1
            self.host_counts[host or LOOPBACK][template][status] += 1

    def count_connect(self, target: str, status: int) -> None:
        """A proxy CONNECT (200 accepted, 502 refused), counted only per host, as template ``CONNECT``."""
        with self._counts_lock:
            self.host_counts[target]["CONNECT"][status] += 1

    def counters(self) -> dict[str, dict[int, int]]:
        with self._counts_lock:
            return {t: dict(c) for t, c in self.counts.items()}

    def counters_by_host(self) -> dict[str, dict[str, dict[int, int]]]:
        with self._counts_lock:
            return {h: {t: dict(c) for t, c in ts.items()} for h, ts in self.host_counts.items()}

    def reset_counters(self) -> None:
        with self._counts_lock:
            self.counts.clear()
            self.host_counts.clear()

    # ------------------------------------------------------------------------ error bodies
    def error(self, status: int, message: str, field: str = "base") -> Answer:
        """A 400 or 404 as the reference describes it, or as the real API sends it (``real_errors``)."""
        if self.behaviours.real_errors and status in (400, 404):
            body = {"type": "error_list", "errors": [{"status": status, "message": message, "field": field}]}
            return json_answer(status, body)
        return errors_answer(status, message)

    # ------------------------------------------------------------------------ entry point
    def handle(
        self, method: str, target: str, headers, body: bytes, host: str | None = None
    ) -> tuple[Answer, Fault | None]:
        parts = urlsplit(target)
        path = parts.path
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        if host is None and path.startswith("/_emulator/"):
            try:
                return self.control(method, path, query, body), None
            except ApiError as exc:
                return errors_answer(exc.status, exc.message), None
        if self.latency is not None:
            self.clock.sleep(self.latency.next())
        fault = self.plan.pick(path)
        answer = self._with_fault(fault, method, path, query, headers, body, host)
        return answer, fault

    def _with_fault(self, fault, method, path, query, headers, body, host) -> Answer:
        kind = fault.kind if fault else None
        if kind in ("500", "token_500"):
            return errors_answer(500, "Internal server error, try again later")
        if kind in ("502", "503"):
            code = int(kind)
            html = _GATEWAY_HTML.format(code=code, reason=HTTPStatus(code).phrase)
            return Answer(code, html.encode(), HTML)
        if kind == "429":
            hdrs = {}
            if fault.reset_header:
                limit = self.limiter.limit if self.limiter else 100
                hdrs = {
                    "X-Rate-Limit-Limit": str(limit),
                    "X-Rate-Limit-Remaining": "0",
                    "X-Rate-Limit-Reset": str(int(self.clock.time()) + 1),
                }
            return errors_answer(429, "rate limit exceeded", hdrs)
        if kind in ("reset", "down"):
            answer = Answer(0)
            answer.reset = True
            if kind == "down" and self.on_down is not None:
                self.on_down()
            return answer
        if kind == "not_json":
            return Answer(200, _NOT_JSON_HTML.encode(), HTML)
        if kind == "revoke":
            self.tokens.revoke_all()
            return json_answer(401, {"error": "The access token was revoked"})
        if kind == "slow":
            self.clock.sleep(2.0 if fault.seconds is None else fault.seconds)
        if kind == "update_users":
            self.ds.update_users(fault.users, seed=fault.seen)
        answer = self.route(method, path, query, headers, body, host)
        if kind == "truncated":
            answer.body = answer.body[: max(1, len(answer.body) // 2)]
        return answer

    # ------------------------------------------------------------------------ routing
    def absent(self, host: str) -> bool:
        """A host of the account's region whose shape does not serve the account."""
        region = REGION_OF_HOST[host]
        return region.name == self.region and region.shape not in self.shapes

    def resolves(self, host: str) -> bool:
        return host in REGION_OF_HOST and not (self.absent(host) and self.absent_host == "unresolved")

    def route(self, method, path, query, headers, body, host=None) -> Answer:
        region = REGION_OF_HOST.get(host) if host is not None else None
        if region is not None and self.absent(region.host):  # a web site, not the API
            return Answer(404, _WEB_PAGE_HTML.encode(), HTML)
        foreign = region is not None and region.name != self.region
        if path == "/oauth/token":
            if method != "POST":
                return self.error(404, "Not found", "path")
            return self.foreign_token(query, body) if foreign else self.token(headers, query, body)
        api_path = canonical_path(path, region.api_prefixes if region else self.loopback_prefixes)
        v2 = api_path is not None and self.ds.spec.email_stats and _V2_ROUTES.get(api_path) == method
        if api_path is None or (not v2 and (method != "GET" or not self._known(api_path))):
            return self.error(404, "Not found", "path")
        holder = None if foreign else self._holder(headers)
        if holder is None:
            return json_answer(401, _UNAUTHORIZED)
        limit_headers = {}
        if self.limiter is not None:
            allowed, limit_headers = self.limiter.hit(holder)
            if not allowed:
                return errors_answer(429, "rate limit exceeded", limit_headers)
        try:
            answer = self.v2(api_path, query) if v2 else self.v1(api_path, query)
        except ApiError as exc:
            answer = self.error(exc.status, exc.message, exc.field)
        answer.headers.update(limit_headers)
        return answer

    @staticmethod
    def _known(path: str) -> bool:
        return path in (
            "/v1/end_users",
            "/v1/responses",
            "/v1/declines",
            "/v1/segments",
            "/v1/survey_templates",
            "/v1/nps_summary",
        ) or bool(_ID_PATH.match(path))

    def _holder(self, headers) -> str | None:
        auth = headers.get("Authorization") or ""
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return self.tokens.holder(token.strip())

    def token(self, headers, query, body) -> Answer:
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        basic = None
        auth = headers.get("Authorization") or ""
        if auth.lower().startswith("basic "):
            try:
                user, _, pw = base64.b64decode(auth[6:].strip()).decode().partition(":")
                basic = (user, pw)
            except (ValueError, UnicodeDecodeError):
                basic = None
        try:
            return json_answer(200, self.tokens.grant(form, query, basic), {"Cache-Control": "no-store"})
        except OAuthError as exc:
            return json_answer(exc.status, exc.body())

    @staticmethod
    def foreign_token(query, body) -> Answer:
        """The token endpoint of a region where the account does not live: no account, no client."""
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        if "account_token" in query:
            exc = OAuthError(404, "Not found", "No account with this account_token.")
        elif form.get("grant_type") == "client_credentials":
            exc = OAuthError(401, "invalid_client", INVALID_CLIENT)
        else:
            exc = OAuthError(400, "invalid_grant", INVALID_GRANT)
        return json_answer(exc.status, exc.body())

    def v1(self, path: str, query: dict) -> Answer:
        ds = self.ds
        if path == "/v1/end_users":
            return self.listing(ds.users, "end_users", query)
        if path == "/v1/responses":
            return self.listing(ds.responses, "events", query)
        if path == "/v1/declines":
            return self.listing(ds.declines, "events", query)
        if path == "/v1/segments":
            return json_answer(200, ds.segments)
        if path == "/v1/survey_templates":
            if ds.spec.survey_templates_status != 200:
                raise ApiError(
                    ds.spec.survey_templates_status, "Survey templates are not available on this plan"
                )
            return json_answer(200, ds.survey_templates())
        if path == "/v1/nps_summary":
            return json_answer(200, ds.nps(*self._date_range(query, "date[start]", "date[end]")))
        m = _ID_PATH.match(path)
        user = self._find_user(unquote(m.group(2)), query)
        if user is None:
            raise ApiError(404, "End user not found", "id")
        if m.group(3) is None:
            with ds.lock:
                return Answer(200, user.json())
        recs = ds.user_responses(user.id) if m.group(3) == "responses" else ds.user_declines(user.id)
        if m.group(4):
            lo, hi = _SCORE_RANGES[m.group(4)]
            recs = [r for r in recs if lo <= r.score <= hi]
        return self.small_listing(recs, query)

    def v2(self, path: str, query: dict) -> Answer:
        if path == "/v2/email_stats":
            start, end = "date_range[start_date]", "date_range[end_date]"
            return json_answer(200, self.ds.email_stats(*self._date_range(query, start, end)))
        if path == "/v2/email_stats/sources":
            return json_answer(200, self.ds.email_send_sources())
        return Answer(200, b"null")  # bounce_report: Wootric would e-mail the report to a person

    def _find_user(self, key: str, query: dict):
        ds = self.ds
        truthy = ("true", "1", "yes")
        with ds.lock:
            if query.get("lookup_by_email", "").lower() in truthy:
                return ds.user_by_email(key)
            if query.get("lookup_by_external_id", "").lower() in truthy:
                return ds.user_by_external_id(key)
            try:
                return ds.users.by_id.get(int(key))
            except ValueError:
                return None

    # ------------------------------------------------------------------------ lists
    def list_params(self, query: dict, kind: str):
        quirks = self.behaviours
        page = _int_param(query, "page", 1)
        if page < 1 or page > MAX_PAGE:
            raise ApiError(400, "page does not have a valid value", "page")
        per_page = _int_param(query, "per_page", DEFAULT_PER_PAGE)
        if per_page < 1:
            raise ApiError(400, "per_page does not have a valid value", "per_page")
        per_page = min(per_page, MAX_PER_PAGE, quirks.page_cap or MAX_PER_PAGE)
        default_order = "asc" if kind == "end_users" else "desc"
        order = (
            default_order
            if quirks.ignore_sort_order
            else query.get("sort_order", "").lower() or default_order
        )
        if order not in ("asc", "desc"):
            raise ApiError(400, "sort_order does not have a valid value", "sort_order")
        default_key = "email" if kind == "end_users" else "created_at"
        sort_name = default_key if quirks.ignore_sort_key else query.get("sort_key", "") or default_key
        sort_field = _SORT_KEYS[kind].get(sort_name)
        if sort_field is None:
            raise ApiError(400, "sort_key does not have a valid value", "sort_key")
        filters = {} if quirks.ignore_filters else _filters(query, kind)
        return filters, sort_field, order == "desc", (page - 1) * per_page, per_page

    def listing(self, table, kind: str, query: dict) -> Answer:
        filters, sort_field, desc, offset, limit = self.list_params(query, kind)
        ds = self.ds
        email = query.get("email")
        with ds.lock:
            if kind == "end_users" and email is not None:
                found = sorted(
                    (u for u in ds.users_by_email(email) if _passes(u, filters)),
                    key=table.indexes[sort_field].sort_key,
                )
                recs = self._page(
                    lambda o, n: page_of(found, 0, len(found), desc, o, n), offset, limit, sort_field
                )
            elif any(lo is not None and hi is not None and lo > hi for lo, hi in filters.values()):
                recs = []
            else:
                recs = self._page(
                    lambda o, n: table.query(filters, sort_field, desc, o, n), offset, limit, sort_field
                )
            body = b"[" + b",".join(r.json() for r in recs) + b"]"
        return Answer(200, body)

    def small_listing(self, recs, query: dict) -> Answer:
        filters, _, desc, offset, limit = self.list_params(query, "events")
        with self.ds.lock:
            chosen = [r for r in recs if _passes(r, filters)]
            page = self._page(
                lambda o, n: page_of(chosen, 0, len(chosen), desc, o, n), offset, limit, "created"
            )
            body = b"[" + b",".join(r.json() for r in page) + b"]"
        return Answer(200, body)

    def _page(self, fetch, offset: int, limit: int, sort_field: str) -> list:
        """``fetch(offset, limit)``, with the ties of the sort key reordered per request if asked."""
        if not self.behaviours.ties_shuffled:
            return fetch(offset, limit)
        with self._counts_lock:
            self._list_requests += 1
            salt = self._list_requests
        return shuffle_ties(fetch, offset, limit, attrgetter(sort_field), salt)

    def _date_range(self, query: dict, start_key: str, end_key: str) -> tuple[date, date]:
        start, end = query.get(start_key), query.get(end_key)
        if start is None and end is None:
            return self.ds.fmt.last_month(self.clock.time())
        if start is None or end is None:
            missing = start_key if start is None else end_key
            raise ApiError(400, f"{missing} does not have a valid value", missing)
        try:
            d0, d1 = date.fromisoformat(start), date.fromisoformat(end)
        except ValueError:
            raise ApiError(400, "date does not have a valid value", "date") from None
        if d1 < d0:
            raise ApiError(400, f"{end_key} does not have a valid value", end_key)
        return d0, d1

    # ------------------------------------------------------------------------ control
    def control(self, method: str, path: str, query: dict, body: bytes) -> Answer:
        ds, name = self.ds, path[len("/_emulator/") :]
        n = _int_param(query, "n", 1)
        seed = _int_param(query, "seed", 0)
        at = _int_param(query, "at", None)
        if name == "counters" and method == "GET":
            return json_answer(
                200, {t: {str(s): c for s, c in v.items()} for t, v in self.counters().items()}
            )
        if name == "counters_by_host" and method == "GET":
            by_host = self.counters_by_host()
            return json_answer(
                200,
                {
                    h: {t: {str(s): c for s, c in v.items()} for t, v in ts.items()}
                    for h, ts in by_host.items()
                },
            )
        if name == "data" and method == "GET":
            return Answer(200, ds.dump())
        if name == "faults" and method == "GET":
            return json_answer(200, [_fault_dict(f) for f in self.plan.faults])
        if method != "POST":
            return errors_answer(404, "Not found")
        if name == "reset_counters":
            self.reset_counters()
            return json_answer(200, {"ok": True})
        if name == "update_users":
            return json_answer(200, {"ids": ds.update_users(n, seed=seed, at=at)})
        if name == "add_users":
            return json_answer(200, {"ids": ds.add_users(n, at=at)})
        if name == "edit_responses":
            return json_answer(200, {"ids": ds.edit_responses(n, seed=seed, at=at)})
        if name == "add_backdated":
            created_at = _int_param(query, "created_at", None)
            if query.get("kind") not in ("responses", "declines") or created_at is None:
                return errors_answer(
                    400, "add_backdated needs kind=responses|declines and created_at=<epoch>"
                )
            return json_answer(200, {"ids": ds.add_backdated(query["kind"], n, created_at, seed, at=at)})
        if name == "revoke_tokens":
            self.tokens.revoke_all()
            return json_answer(200, {"ok": True})
        if name == "faults":
            try:
                faults = [Fault.from_dict(d) for d in json.loads(body or b"[]")]
            except (ValueError, TypeError) as exc:
                return errors_answer(400, str(exc))
            self.plan.set(faults)
            return json_answer(200, [_fault_dict(f) for f in faults])
        return errors_answer(404, "Not found")


def _fault_dict(f: Fault) -> dict:
    keys = (
        "kind",
        "path_prefix",
        "after",
        "times",
        "probability",
        "seconds",
        "reset_header",
        "users",
        "seen",
    )
    return {k: getattr(f, k) for k in (*keys, "hits")}


def _filters(query: dict, kind: str) -> dict[str, tuple[int | None, int | None]]:
    """``created[..]`` / ``updated[..]`` parameters -> inclusive bounds per field (None = open)."""
    bounds: dict[str, list] = {}
    for key, value in query.items():
        m = _FILTER.match(key)
        if m is None:
            if key.startswith(("created[", "updated[")):
                raise ApiError(400, f"{key} is not a valid filter", key)
            continue
        field, op = m.groups()
        if field == "updated" and kind != "end_users":
            continue  # not supported on responses and declines: ignored, as an unknown parameter
        try:
            v = int(value)
        except ValueError:
            raise ApiError(400, f"{key} does not have a valid value", key) from None
        lo, hi = bounds.setdefault(field, [None, None])
        if op in ("gt", "gte", "eq"):
            v_lo = v + 1 if op == "gt" else v
            lo = v_lo if lo is None else max(lo, v_lo)
        if op in ("lt", "lte", "eq"):
            v_hi = v - 1 if op == "lt" else v
            hi = v_hi if hi is None else min(hi, v_hi)
        bounds[field] = [lo, hi]
    return {f: (lo, hi) for f, (lo, hi) in bounds.items()}


def _passes(rec, filters: dict) -> bool:
    for field, (lo, hi) in filters.items():
        v = getattr(rec, field)
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            return False
    return True


# ---------------------------------------------------------------------------------------------- HTTP
class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "WootricEmulator/1.0"
    sys_version = ""
    api_host: str | None = None  # the regional host a proxied connection asked for; None on loopback

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection, True)

    def finish(self):
        try:
            super().finish()
        finally:
            self.server.track(self.connection, False)

    def log_message(self, format, *args):  # quiet
        pass

    def _serve(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        app: App = self.server.app
        try:
            answer, _ = app.handle(self.command, self.path, self.headers, body, self.api_host)
        except Exception as exc:  # keep serving; report as a server error
            answer = errors_answer(500, f"emulator error: {type(exc).__name__}: {exc}")
        path = urlsplit(self.path).path
        if self.api_host is not None or not path.startswith("/_emulator/"):
            app.count(template_of(path), 0 if answer.reset else answer.status, self.api_host)
        if answer.reset:
            self.close_connection = True
            # SO_LINGER 0: closing sends an RST instead of an orderly FIN.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            return
        self._write(answer)

    def _write(self, a: Answer):
        reason = HTTPStatus(a.status).phrase if a.status in HTTPStatus._value2member_map_ else ""
        lines = [
            f"HTTP/1.1 {a.status} {reason}",
            f"Content-Type: {a.content_type}",
            f"Content-Length: {len(a.body)}",
            f"Date: {formatdate(usegmt=True)}",
            f"Server: {self.server_version}",
        ]
        lines.extend(f"{k}: {v}" for k, v in a.headers.items())
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.wfile.write(head + a.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve


_HOST_HANDLERS: dict[str, type[_Handler]] = {}


def handler_for_host(host: str) -> type[_Handler]:
    """The request handler for connections the proxy opened to ``host``."""
    handler = _HOST_HANDLERS.get(host)
    if handler is None:
        handler = _HOST_HANDLERS[host] = type(f"_Handler[{host}]", (_Handler,), {"api_host": host})
    return handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr, app: App):
        self.app = app
        self._conns: set = set()
        self._conns_lock = threading.Lock()
        super().__init__(addr, _Handler)

    def track(self, conn, alive: bool) -> None:
        with self._conns_lock:
            (self._conns.add if alive else self._conns.discard)(conn)

    def close_all(self) -> None:
        with self._conns_lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class HttpServer:
    """Runs :class:`App` on a background thread."""

    def __init__(self, app: App, host: str, port: int):
        self.server = _Server((host, port), app)
        self.thread = threading.Thread(
            target=self.server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="wootric-emulator",
            daemon=True,
        )

    @property
    def address(self) -> tuple[str, int]:
        return self.server.server_address[:2]

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.close_all()
        self.server.server_close()
        self.thread.join(timeout=5)
