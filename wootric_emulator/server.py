"""The HTTP side: routing, parameters, auth, rate limit, faults and counters."""

from __future__ import annotations

import base64
import contextlib
import json
import re
import socket
import struct
import threading
import time
from collections import defaultdict
from datetime import date
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote, urlsplit

from .auth import OAuthError, RateLimiter, TokenStore
from .data import Dataset
from .faults import Fault, FaultPlan
from .store import dumps

MAX_PAGE = 30
MAX_PER_PAGE = 50
DEFAULT_PER_PAGE = 25
JSON = "application/json; charset=utf-8"
HTML = "text/html; charset=utf-8"

_FILTER = re.compile(r"^(created|updated)\[(gt|gte|lt|lte|eq)\]$")
_ID_PATH = re.compile(
    r"^/v1/end_users/([^/]+)(?:/(responses|declines)(?:/(promoters|passives|detractors))?)?$"
)
_SORT_KEYS = {
    "end_users": {"email": "email", "updated_at": "updated", "created_at": "created"},
    "events": {"created_at": "created"},
}
_SCORE_RANGES = {"promoters": (9, 10), "passives": (7, 8), "detractors": (0, 6)}
_GATEWAY_HTML = (
    "<html>\r\n<head><title>{code} {reason}</title></head>\r\n<body>\r\n<center><h1>{code} {reason}</h1>"
    "</center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
_NOT_JSON_HTML = (
    "<!DOCTYPE html><html><head><title>Wootric - Maintenance</title></head><body><h1>We'll be back soon"
    "</h1><p>Wootric is down for scheduled maintenance.</p></body></html>"
)


class ApiError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


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
    """``/v1/end_users/123/responses`` -> ``/v1/end_users/{id}/responses``."""
    m = _ID_PATH.match(path)
    if m:
        tail = "".join(f"/{p}" for p in m.groups()[1:] if p)
        return "/v1/end_users/{id}" + tail
    return path


def _int_param(query: dict, name: str, default: int | None = None) -> int | None:
    value = query.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ApiError(400, f"{name} does not have a valid value") from None


class App:
    """Turns a request (method, path, query, headers, body) into an :class:`Answer`."""

    def __init__(self, ds: Dataset, tokens: TokenStore, limiter: RateLimiter | None, plan: FaultPlan):
        self.ds, self.tokens, self.limiter, self.plan = ds, tokens, limiter, plan
        self._counts_lock = threading.Lock()
        self.counts: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))

    # ------------------------------------------------------------------------ counters
    def count(self, template: str, status: int) -> None:
        with self._counts_lock:
            self.counts[template][status] += 1

    def counters(self) -> dict[str, dict[int, int]]:
        with self._counts_lock:
            return {t: dict(c) for t, c in self.counts.items()}

    def reset_counters(self) -> None:
        with self._counts_lock:
            self.counts.clear()

    # ------------------------------------------------------------------------ entry point
    def handle(self, method: str, target: str, headers, body: bytes) -> tuple[Answer, Fault | None]:
        parts = urlsplit(target)
        path = parts.path
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        if path.startswith("/_emulator/"):
            try:
                return self.control(method, path, query, body), None
            except ApiError as exc:
                return errors_answer(exc.status, exc.message), None
        fault = self.plan.pick(path)
        answer = self._with_fault(fault, method, path, query, headers, body)
        return answer, fault

    def _with_fault(self, fault, method, path, query, headers, body) -> Answer:
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
                    "X-Rate-Limit-Reset": str(int(time.time()) + 1),
                }
            return errors_answer(429, "rate limit exceeded", hdrs)
        if kind == "reset":
            answer = Answer(0)
            answer.reset = True
            return answer
        if kind == "not_json":
            return Answer(200, _NOT_JSON_HTML.encode(), HTML)
        if kind == "revoke":
            self.tokens.revoke_all()
            return json_answer(401, {"error": "The access token was revoked"})
        if kind == "slow":
            time.sleep(2.0 if fault.seconds is None else fault.seconds)
        if kind == "update_users":
            self.ds.update_users(fault.users, seed=fault.seen)
        answer = self.route(method, path, query, headers, body)
        if kind == "truncated":
            answer.body = answer.body[: max(1, len(answer.body) // 2)]
        return answer

    # ------------------------------------------------------------------------ routing
    def route(self, method, path, query, headers, body) -> Answer:
        if path == "/oauth/token":
            if method != "POST":
                return errors_answer(404, "Not found")
            return self.token(headers, query, body)
        if not path.startswith("/v1/"):
            return errors_answer(404, "Not found")
        if method != "GET" or not self._known(path):
            return errors_answer(404, "Not found")
        holder = self._holder(headers)
        if holder is None:
            return json_answer(
                401, {"error": "You are not authorized to access this resource (invalid token)"}
            )
        limit_headers = {}
        if self.limiter is not None:
            allowed, limit_headers = self.limiter.hit(holder)
            if not allowed:
                return errors_answer(429, "rate limit exceeded", limit_headers)
        try:
            answer = self.v1(path, query)
        except ApiError as exc:
            answer = errors_answer(exc.status, exc.message)
        answer.headers.update(limit_headers)
        return answer

    @staticmethod
    def _known(path: str) -> bool:
        return path in (
            "/v1/end_users",
            "/v1/responses",
            "/v1/declines",
            "/v1/segments",
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
        if path == "/v1/nps_summary":
            return json_answer(200, ds.nps(*self._nps_range(query)))
        m = _ID_PATH.match(path)
        user = self._find_user(unquote(m.group(1)), query)
        if user is None:
            raise ApiError(404, "End user not found")
        if m.group(2) is None:
            with ds.lock:
                return Answer(200, user.json())
        recs = ds.user_responses(user.id) if m.group(2) == "responses" else ds.user_declines(user.id)
        if m.group(3):
            lo, hi = _SCORE_RANGES[m.group(3)]
            recs = [r for r in recs if lo <= r.score <= hi]
        return self.small_listing(recs, query)

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
        page = _int_param(query, "page", 1)
        if page < 1 or page > MAX_PAGE:
            raise ApiError(400, "page does not have a valid value")
        per_page = _int_param(query, "per_page", DEFAULT_PER_PAGE)
        if per_page < 1:
            raise ApiError(400, "per_page does not have a valid value")
        per_page = min(per_page, MAX_PER_PAGE)
        order = query.get("sort_order", "").lower() or ("asc" if kind == "end_users" else "desc")
        if order not in ("asc", "desc"):
            raise ApiError(400, "sort_order does not have a valid value")
        sort_name = query.get("sort_key", "") or ("email" if kind == "end_users" else "created_at")
        sort_field = _SORT_KEYS[kind].get(sort_name)
        if sort_field is None:
            raise ApiError(400, "sort_key does not have a valid value")
        bounds: dict[str, list] = {}
        for key, value in query.items():
            m = _FILTER.match(key)
            if m is None:
                if key.startswith(("created[", "updated[")):
                    raise ApiError(400, f"{key} is not a valid filter")
                continue
            field, op = m.groups()
            if field == "updated" and kind != "end_users":
                continue  # not supported on responses and declines: ignored, as an unknown parameter
            try:
                v = int(value)
            except ValueError:
                raise ApiError(400, f"{key} does not have a valid value") from None
            lo, hi = bounds.setdefault(field, [None, None])
            if op in ("gt", "gte", "eq"):
                v_lo = v + 1 if op == "gt" else v
                lo = v_lo if lo is None else max(lo, v_lo)
            if op in ("lt", "lte", "eq"):
                v_hi = v - 1 if op == "lt" else v
                hi = v_hi if hi is None else min(hi, v_hi)
            bounds[field] = [lo, hi]
        filters = {f: (lo, hi) for f, (lo, hi) in bounds.items()}
        return filters, sort_field, order == "desc", (page - 1) * per_page, per_page

    def listing(self, table, kind: str, query: dict) -> Answer:
        filters, sort_field, desc, offset, limit = self.list_params(query, kind)
        ds = self.ds
        email = query.get("email")
        with ds.lock:
            if kind == "end_users" and email is not None:
                user = ds.user_by_email(email)
                recs = [user] if user is not None and _passes(user, filters) else []
                recs = recs[offset : offset + limit]
            elif any(lo is not None and hi is not None and lo > hi for lo, hi in filters.values()):
                recs = []
            else:
                recs = table.query(filters, sort_field, desc, offset, limit)
            body = b"[" + b",".join(r.json() for r in recs) + b"]"
        return Answer(200, body)

    def small_listing(self, recs, query: dict) -> Answer:
        filters, _, desc, offset, limit = self.list_params(query, "events")
        with self.ds.lock:
            chosen = [r for r in recs if _passes(r, filters)]
            if desc:
                chosen.reverse()
            page = chosen[offset : offset + limit]
            body = b"[" + b",".join(r.json() for r in page) + b"]"
        return Answer(200, body)

    def _nps_range(self, query: dict) -> tuple[date, date]:
        start, end = query.get("date[start]"), query.get("date[end]")
        if start is None and end is None:
            return self.ds.fmt.last_month()
        if start is None or end is None:
            raise ApiError(400, f"date[{'start' if start is None else 'end'}] does not have a valid value")
        try:
            d0, d1 = date.fromisoformat(start), date.fromisoformat(end)
        except ValueError:
            raise ApiError(400, "date does not have a valid value") from None
        if d1 < d0:
            raise ApiError(400, "date[end] does not have a valid value")
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
            answer, _ = app.handle(self.command, self.path, self.headers, body)
        except Exception as exc:  # keep serving; report as a server error
            answer = errors_answer(500, f"emulator error: {type(exc).__name__}: {exc}")
        path = urlsplit(self.path).path
        if not path.startswith("/_emulator/"):
            app.count(template_of(path), 0 if answer.reset else answer.status)
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
