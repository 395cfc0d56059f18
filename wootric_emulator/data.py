"""The synthetic Wootric account: generation, mutation and NPS arithmetic.

Everything is drawn from ``random.Random(seed)``, so a :class:`DatasetSpec` (with a fixed ``end``) always
gives the same account.  With ``end=None`` the data ends at the start of yesterday (UTC), so it is the
same all day long and moves on one day at a time.
"""

from __future__ import annotations

import gc
import hashlib
import json
import random
import threading
from collections import Counter, defaultdict
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from .clock import SystemClock
from .store import Rec, Table, dumps
from .timefmt import ISO, LEGACY, OFFSET, TimeFormatter, parse_when, utc_day_start

DAY = 86400
YEAR = 365 * DAY
COMPAT_SINGER_TAP = "singer-tap"
COMPAT_CAP = 1500  # records per tap window that the Singer tap reads without loss

ALL_PROPERTY_KINDS = (
    "string",  # country, pricing_plan, persona
    "unicode",  # city, nickname: accents, emoji, CJK
    "integer",  # seats
    "date",  # purchase_date, renewal_date: epoch ints
    "amount",  # revenue_amount, mrr_amount: ints
    "array",  # features_array: list of strings
    "null",  # referrer: present with a null value for some users
    "long_text",  # bio: > 5 kB for a few users
    "varying",  # custom_* keys that differ per user and are NOT defined as segments
)


@dataclass
class DatasetSpec:
    """What the emulated account holds.  The defaults make a small demo account.

    ``clusters``: ``(updated_second_or_None, count, same_created)`` groups of users that share one
    ``updated_at`` second (None: a second picked from the data range).  With ``same_created`` they also
    share one ``created_at`` second; otherwise their ``created_at`` spreads over the year before.
    ``bulk_import_users=N`` adds ``(None, N, False)``, ``bulk_created_same_second=N`` adds ``(None, N, True)``.
    ``busy_days``: ``(day, count)``: ``count`` users whose ``updated_at`` falls on that UTC day (spread over
    it); no other user is updated that day.  Users of clusters and busy days are part of ``users``.
    """

    users: int = 200
    responses: int | None = None  # default: 1.5 per user
    declines: int | None = None  # default: 0.5 per user
    seed: int = 1
    start: int | str = "2019-01-01"
    end: int | str | None = None  # default: start of yesterday (UTC)
    clusters: tuple = ()
    bulk_import_users: int = 0
    bulk_created_same_second: int = 0
    busy_days: tuple = ()
    sparse_years: float = 0  # a silent gap of this many years, 90 days after start
    legacy_fraction: float = 0.05  # oldest share of records served without a UTC offset
    iso_fraction: float = 0.02  # share of the other records served in ISO 8601 with millis
    property_kinds: tuple = ALL_PROPERTY_KINDS
    long_text_fraction: float = 0.005
    email_stats: bool = True  # serves /v2/email_stats; False: 404, as an account or region without it
    survey_templates_status: int = 200  # 403 or 404: /v1/survey_templates refused, as a plan without them
    legacy_at_folds: bool = False  # also serve offset-less local times that a DST fold makes ambiguous
    offsetless_mix: bool = False  # a random half of the other records also served without an offset
    shared_email_fraction: float = 0.0  # share of end users whose e-mail is "Unknown" or null (half each)

    def n_responses(self) -> int:
        return self.users * 3 // 2 if self.responses is None else self.responses

    def n_declines(self) -> int:
        return self.users // 2 if self.declines is None else self.declines

    def all_clusters(self) -> list[tuple[int | None, int, bool]]:
        out = [(None if s is None else parse_when(s), int(n), bool(same)) for s, n, same in self.clusters]
        if self.bulk_import_users:
            out.append((None, self.bulk_import_users, False))
        if self.bulk_created_same_second:
            out.append((None, self.bulk_created_same_second, True))
        return out


@contextmanager
def no_gc():
    """Pause the cyclic garbage collector while building many objects that form no cycles."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


# ----------------------------------------------------------------------------------------------- pools
FIRST = "ann bob carla dmitri emma farid gina hiro ines jon kemal lena marco nadia omar paula quinn rosa "
FIRST += "sven tara uma victor wen xavier yuki zoe"
LAST = "lee smith garcia novak okafor tanaka muller rossi silva kowalski nguyen haddad berg moreau "
LAST += "schmidt costa ivanova jensen patel reyes"
FIRST, LAST = FIRST.split(), LAST.split()
DOMAINS = ["example.com", "example.org", "example.net", "mail.example.com", "corp.example"]
COUNTRIES = ["US", "UK", "DE", "BR", "JP", "FR", "IN", "CA", "AU", "MX"]
PLANS = ["Lite", "Pro", "Business", "Enterprise"]
PERSONAS = ["Individual", "Team lead", "Admin", "Developer"]
CITIES = [
    "São Paulo",
    "Zürich",
    "東京",
    "Kraków",
    "Montréal",
    "Reykjavík",
    "Düsseldorf",
    "Seoul 서울",
    "Austin",
]
NICKNAMES = ["🚀 rocket", "café ☕", "北京用户", "naïve façade", "Ωmega", "emoji 😀👍🏽", "plain"]
FEATURES = ["reports", "api", "sso", "exports", "mobile", "alerts"]
FEATURE_SETS = [
    (),
    *((f,) for f in FEATURES),
    ("api", "sso"),
    ("reports", "exports", "alerts"),
    tuple(FEATURES),
]
REFERRERS = ["google", "newsletter", "partner"]
CUSTOM_KEYS = [f"custom_{w}" for w in ("alpha", "beta", "gamma", "delta", "kappa", "lambda", "sigma", "tau")]
CUSTOM_KEY_SETS = [(k,) for k in CUSTOM_KEYS] + [
    (a, b) for a, b in zip(CUSTOM_KEYS[:5], CUSTOM_KEYS[3:], strict=True)
]
TEXTS = [
    "It's a great service.",
    "Site is often slow.",
    "Love the new dashboard!",
    "Pricing is too high for small teams.",
    "Support answered within minutes 👍",
    "Très bien, merci.",
    "とても使いやすいです。",
    "Needs an export to CSV.",
    "Could not log in on mobile.",
    "ok",
]
TAGS = ["PERFORMANCE", "PRICING", "SUPPORT", "UX", "BUGS", "MOBILE"]
TAG_SETS = [
    (),
    (),
    (),
    *((t,) for t in TAGS),
    ("PRICING", "SUPPORT"),
    ("BUGS", "MOBILE"),
    ("UX", "PERFORMANCE"),
]
SURVEYS = [1, 2, 3, 17, 42]
SCORES = [0, 2, 4, 5, 6, 6, 7, 7, 8, 8, 8, 9, 9, 9, 9, 10, 10, 10, 10, 10, 10, 10]
MAYBE_BOOL = [None, None, None, True, False]
MAYBE_TRUE = [None, None, None, None, True]
NOTES = ["Followed up by e-mail.", "Escalated to product.", "Customer churned.", "Called back."]
ORIGINS = ["https://wootric.com", "https://app.example.com/dashboard", "https://example.com/pricing"]
CHANNELS = ["web", "web", "email", "email", "mobile:ios", "mobile:android", "sms"]
LONG_PARAGRAPH = (
    "Long free text with accents (àéîõü), CJK (漢字かなカナ) and emoji (🎉🔥). "
    "This paragraph repeats to make a value larger than five kilobytes. "
)

SEGMENT_TYPES = [  # (property name, data_type, kind)
    ("country", "string", "string"),
    ("pricing_plan", "string", "string"),
    ("persona", "string", "string"),
    ("city", "string", "unicode"),
    ("nickname", "string", "unicode"),
    ("seats", "integer", "integer"),
    ("purchase_date", "date", "date"),
    ("renewal_date", "date", "date"),
    ("revenue_amount", "integer", "amount"),
    ("mrr_amount", "integer", "amount"),
    ("features_array", "string", "array"),
    ("referrer", "string", "null"),
    ("bio", "string", "long_text"),
]  # not defined: custom_* (varying) and legacy_score (integer)


def long_text(rng: random.Random) -> str:
    return (LONG_PARAGRAPH * (40 + rng.randint(0, 20)))[: 5200 + rng.randint(0, 3000)]


# ----------------------------------------------------------------------------------------------- timeline
class Timeline:
    """Uniform instants in [lo, hi] that avoid an optional silent gap (``sparse_years``)."""

    def __init__(self, rng: random.Random, start: int, end: int, sparse_years: float):
        self.rng, self.start, self.end = rng, start, end
        self.hole = None
        if sparse_years:
            lo = start + 90 * DAY
            hi = lo + int(sparse_years * 365.25 * DAY)
            if hi >= end - 30 * DAY:
                raise ValueError("sparse_years leaves no room: move start back or end forward")
            self.hole = (lo, hi)

    def pick(self, lo: int, hi: int) -> int:
        if hi <= lo:
            return lo
        rnd = self.rng.random
        if self.hole is None or hi < self.hole[0] or lo > self.hole[1]:
            return lo + int(rnd() * (hi - lo + 1))
        a = max(0, self.hole[0] - lo)  # seconds available before the gap
        b = max(0, hi - self.hole[1])  # seconds available after it
        if a + b == 0:
            return hi
        x = int(rnd() * (a + b))
        return lo + x if x < a else self.hole[1] + 1 + (x - a)

    def in_hole(self, ts: int) -> bool:
        return self.hole is not None and self.hole[0] <= ts <= self.hole[1]


class UniqueSeconds:
    """Makes picked seconds unique (the Singer tap loses records that share a second at its page 30)."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.used: set[int] = set()

    def take(self, ts: int, repick) -> int:
        if not self.enabled:
            return ts
        tries = 0
        while ts in self.used and tries < 20:
            ts = repick()
            tries += 1
        while ts in self.used:
            ts += 1
        self.used.add(ts)
        return ts


# ----------------------------------------------------------------------------------------------- dataset
class Dataset:
    """The account's data with its indexes.  All access from the server goes through ``lock``."""

    def __init__(self, spec: DatasetSpec, fmt: TimeFormatter, compat: str | None, clock=None):
        if compat not in (None, COMPAT_SINGER_TAP):
            raise ValueError(f"unknown compat mode {compat!r}")
        self.spec, self.fmt, self.compat = spec, fmt, compat
        self.clock = clock or SystemClock()
        self.lock = threading.RLock()
        self.version = 0
        now = self.clock.time()
        self.start = parse_when(spec.start)
        self.end = utc_day_start(int(now)) - DAY if spec.end is None else parse_when(spec.end)
        if self.end <= self.start:
            raise ValueError("DatasetSpec.end must be after start")
        self.kinds = set(spec.property_kinds)
        unknown = self.kinds - set(ALL_PROPERTY_KINDS)
        if unknown:
            raise ValueError(f"unknown property kinds {sorted(unknown)}")
        self.legacy = spec.legacy_fraction
        self.iso = spec.iso_fraction
        self.offsetless_mix = spec.offsetless_mix
        if compat:
            self.legacy = self.iso = 0.0
            self.offsetless_mix = False
        if not 0.0 <= spec.shared_email_fraction <= 1.0:
            raise ValueError("shared_email_fraction must be within [0, 1]")
        with no_gc():  # hundreds of thousands of small dicts: the cyclic GC would cost a third of the time
            _Generator(self).run()

    # -------------------------------------------------------------------------------- reading
    def served(self, table: Table) -> list[dict]:
        """Fresh copies of a table's records, exactly as served (parsed back from the served JSON)."""
        with self.lock:
            body = b"[" + b",".join(r.json() for r in table.all()) + b"]"
        with no_gc():
            return json.loads(body)

    def dump(self) -> bytes:
        """The whole account as one JSON object (``/_emulator/data``)."""
        with self.lock:
            parts = []
            for name, table in (("end_users", self.users), ("responses", self.responses)):
                parts.append(b'"%s":[' % name.encode() + b",".join(r.json() for r in table.all()) + b"]")
            parts.append(b'"declines":[' + b",".join(r.json() for r in self.declines.all()) + b"]")
            parts.append(b'"segments":' + dumps(self.segments))
        return b"{" + b",".join(parts) + b"}"

    def user_by_email(self, email: str) -> Rec | None:
        found = self._by_email.get(email.strip().lower())
        return found[0] if found else None

    def users_by_email(self, email: str) -> list[Rec]:
        """Every user with this address (case-insensitive): several share ``Unknown``."""
        return self._by_email.get(email.strip().lower(), [])

    def user_by_external_id(self, external_id: str) -> Rec | None:
        return self._by_external.get(external_id)

    def _index_lookups(self) -> None:
        self._by_email: dict[str, list[Rec]] = defaultdict(list)
        for r in self.users.by_id.values():
            if r.email:  # a null e-mail is indexed as "" and cannot be looked up
                self._by_email[r.email.lower()].append(r)
        self._by_external = {
            r.data["external_id"]: r for r in self.users.by_id.values() if r.data.get("external_id")
        }

    def user_responses(self, user_id: int) -> list[Rec]:
        return self._by_user_responses.get(user_id, [])

    def user_declines(self, user_id: int) -> list[Rec]:
        return self._by_user_declines.get(user_id, [])

    # -------------------------------------------------------------------------------- NPS
    def nps(self, start: date | str, end: date | str) -> dict:
        """NPS over responses created from local midnight of ``start`` through the end of ``end``."""
        start = date.fromisoformat(start) if isinstance(start, str) else start
        end = date.fromisoformat(end) if isinstance(end, str) else end
        lo = self.fmt.day_start(start)
        hi = self.fmt.day_start(end + timedelta(days=1)) - 1
        promoters = passives = detractors = email_responses = 0
        with self.lock:
            for r in self.responses.scan("created", lo, hi):
                if r.excluded:
                    continue
                if r.score >= 9:
                    promoters += 1
                elif r.score >= 7:
                    passives += 1
                else:
                    detractors += 1
                email_responses += r.channel == "email"
            declines = self.declines.scan("created", lo, hi)
            email_declines = sum(1 for d in declines if d.channel == "email")
        n = promoters + passives + detractors
        return {
            "nps": round(100 * (promoters - detractors) / n) if n else 0,
            "responses": n,
            "detractors": detractors,
            "passives": passives,
            "promoters": promoters,
            "response_rate": rate(n, len(declines)),
            "email_response_rate": rate(email_responses, email_declines),
        }

    # -------------------------------------------------------------------------------- e-mail delivery
    def email_stats(self, start: date | str, end: date | str) -> dict:
        """What ``/v2/email_stats`` serves for the days ``start``..``end`` (account time zone): the sums of
        each day's e-mail sends (:func:`email_day`), whose answered and declined surveys are that day's
        e-mail responses and declines; days outside the data range sent nothing."""
        start = date.fromisoformat(start) if isinstance(start, str) else start
        end = date.fromisoformat(end) if isinstance(end, str) else end
        lo = self.fmt.day_start(start)
        hi = self.fmt.day_start(end + timedelta(days=1)) - 1
        with self.lock:
            answered = Counter(
                self._local_day(r.created)
                for r in self.responses.scan("created", lo, hi)
                if r.channel == "email"
            )
            declined = Counter(
                self._local_day(d.created)
                for d in self.declines.scan("created", lo, hi)
                if d.channel == "email"
            )
        first, last = self._local_day(self.start), self._local_day(self.end)
        raw = dict.fromkeys(EMAIL_RAW_COUNTS, 0)
        day = max(start, first)
        while day <= min(end, last):
            for key, value in email_day(self.spec.seed, day, answered[day], declined[day]).items():
                raw[key] += value
            day += timedelta(days=1)
        unsent = raw["opted_out"] + raw["not_eligible"]
        requests = raw["processed"] + unsent
        return {
            "email_stats": {
                "send_date": f"{_send_day(start)}-{_send_day(end)}",
                "send_requests": requests,
                "emails_sent": raw["processed"],
                "delivered": raw["delivered"],
                "delivered_percentage": f"{percent(raw['delivered'], raw['processed']):.1f}%",
                "bounce_rate": raw["bounce"],
                "bounce_rate_percentage": f"{percent(raw['bounce'], raw['processed']):.1f}%",
                "open_rate": f"{round(percent(raw['open'], raw['delivered']))}%",
                "response_rate": f"{round(percent(raw['total_responses'], raw['delivered']))}%",
                "not_eligible": f"{unsent} ({round(percent(unsent, requests))}%)",
                "raw_results": {
                    **raw,
                    "sart_date": datetime.fromtimestamp(
                        lo, self.fmt.zone
                    ).isoformat(),  # sic, as Wootric spells it
                    "end_date": datetime.fromtimestamp(hi, self.fmt.zone).isoformat(),
                },
            },
            "initial_send": None,
            "reminder_send": None,
        }

    def email_sends(self) -> list[tuple[int, str, int]]:
        """The account's CSV sends (id, file name, epoch second): one in each quarter of the data range,
        on a working hour, so that its local time is never ambiguous."""
        sends, quarter = [], date(self._local_day(self.start).year, 1, 1)
        while (when := self.fmt.day_start(quarter)) <= self.end:
            digest = hashlib.blake2b(f"send:{self.spec.seed}:{quarter}".encode(), digest_size=4).digest()
            when += (digest[0] % 28) * DAY + (8 + digest[1] % 10) * 3600 + (digest[2] % 60) * 60
            if self.start <= when <= self.end:
                name = f"Q{(quarter.month + 2) // 3}_{quarter.year}_file.csv"
                sends.append((len(sends) + 1, name, when))
            month = quarter.month + 3
            quarter = date(quarter.year + (month > 12), (month - 1) % 12 + 1, 1)
        return sends

    def survey_templates(self) -> dict:
        """What ``/v1/survey_templates`` serves (the shape of Wootric's reference): three templates, the second
        the default."""
        names = ("NPS", "Onboarding CSAT", "Support CES")
        templates = [
            {
                "id": 11 + i,
                "name": name,
                "default_language": "EN",
                "languages": list(("EN", "ES", "FR")[: i + 1]),
                "non_configured_language_count": 2 - i,
                "custom_samplings": [{"id": 100 + i, "name": f"{name} sampling"}] if i else [],
            }
            for i, name in enumerate(names)
        ]
        return {"default_survey_template_id": 12, "survey_templates": templates}

    def email_send_sources(self) -> dict:
        """What ``/v2/email_stats/sources`` serves; a send's date as Wootric writes it, `Jan 11, 2024  9:01AM`."""
        sends = []
        for send_id, name, when in self.email_sends():
            local = datetime.fromtimestamp(when, self.fmt.zone)
            clock = f"{local.hour % 12 or 12}:{local.minute:02d}{'AM' if local.hour < 12 else 'PM'}"
            sends.append({"id": send_id, "name": name, "date": f"{local:%b %d, %Y}  {clock}"})
        return {"ongoing": list(EMAIL_ONGOING_SOURCES), "sends": sends}

    def _local_day(self, ts: int) -> date:
        return date.fromordinal(date(1970, 1, 1).toordinal() + (ts + self.fmt.offset(ts)) // DAY)

    # -------------------------------------------------------------------------------- changes
    def update_users(self, n: int, *, seed: int = 0, at: int | None = None) -> list[int]:
        """``n`` existing users get ``updated_at = at`` (default now) and changed properties."""
        at = int(self.clock.time()) if at is None else int(at)
        with self.lock:
            rng = random.Random(f"update:{seed}:{self.version}")
            ids = sorted(self.users.by_id)
            chosen = sorted(rng.sample(ids, min(n, len(ids))))
            for uid in chosen:
                r = self.users.by_id[uid]
                r.updated = max(at, r.created)
                r.data["updated_at"] = self.fmt.format(r.updated, r.form)
                props = r.data["properties"]
                if "string" in self.kinds:
                    props["pricing_plan"] = rng.choice([p for p in PLANS if p != props.get("pricing_plan")])
                if "integer" in self.kinds:
                    props["seats"] = int(props.get("seats") or 0) + 1
                if "date" in self.kinds:
                    props["renewal_date"] = at + YEAR
                r.raw = None
            self.users.changed(("updated",))
            self.version += 1
        return chosen

    def add_users(self, n: int, *, at: int | None = None) -> list[int]:
        at = int(self.clock.time()) if at is None else int(at)
        with self.lock:
            rng = random.Random(f"add:{self.version}")
            next_id = max(self.users.by_id, default=1000) + 1
            added = []
            for i in range(n):
                uid = next_id + i
                email = f"new.user{uid}@example.org"
                rec = Rec(uid, at, at, OFFSET, {})
                rec.email = email
                rec.data = self._user_dict(rng, rec, email, _make_props(rng, self.kinds, at, False, 0.0))
                rec.data["last_surveyed"] = None
                added.append(rec)
            self.users.changed(added=added)
            self._index_lookups()
            self.version += 1
        return [r.id for r in added]

    def edit_responses(
        self, n: int, *, seed: int = 0, at: int | None = None, created_from: int | None = None
    ) -> list[int]:
        """``n`` responses (created at or after ``created_from``, if given) get new tags and notes and
        ``updated_at = at``; ``created_at`` stays."""
        at = int(self.clock.time()) if at is None else int(at)
        with self.lock:
            rng = random.Random(f"edit:{seed}:{self.version}")
            ids = sorted(
                i
                for i, r in self.responses.by_id.items()
                if created_from is None or r.created >= created_from
            )
            chosen = sorted(rng.sample(ids, min(n, len(ids))))
            for rid in chosen:
                r = self.responses.by_id[rid]
                r.updated = max(at, r.created)
                d = r.data
                d["updated_at"] = self.fmt.format(r.updated, r.form)
                d["tags"] = sorted(set(d["tags"]) | {rng.choice(TAGS)})
                d["notes"] = [*d["notes"], rng.choice(NOTES)]
                d["completed"] = True
                r.raw = None
            self.responses.changed()
            self.version += 1
        return chosen

    def add_backdated(
        self, kind: str, n: int, created_at: int, seed: int = 0, *, at: int | None = None
    ) -> list[int]:
        """``n`` new ``kind`` ("responses" or "declines") written at ``at`` (default now) with a past
        ``created_at``, as the API lets clients do: each copies an existing record's content (its end user
        too) under a new id, ``created_at`` as given and ``updated_at`` the time of writing."""
        if kind not in ("responses", "declines"):
            raise ValueError(f"add_backdated: kind must be responses or declines, not {kind!r}")
        at = int(self.clock.time()) if at is None else int(at)
        created_at = int(created_at)
        with self.lock:
            table = self.responses if kind == "responses" else self.declines
            by_user = self._by_user_responses if kind == "responses" else self._by_user_declines
            rng = random.Random(f"backdated:{seed}:{self.version}")
            templates = sorted(table.by_id)
            if not templates:
                raise ValueError(f"add_backdated: the account has no {kind} to copy")
            next_id = max(templates) + 1
            added = []
            for i in range(n):
                template = table.by_id[rng.choice(templates)]
                rec = Rec(
                    next_id + i, created_at, max(at, created_at), OFFSET, json.loads(dumps(template.data))
                )
                for name in ("end_user_id", "channel", "score", "excluded"):
                    setattr(rec, name, getattr(template, name))
                rec.data.update(
                    id=rec.id,
                    created_at=self.fmt.format(rec.created, OFFSET),
                    updated_at=self.fmt.format(rec.updated, OFFSET),
                )
                by_user.setdefault(rec.end_user_id, []).append(rec)
                added.append(rec)
            table.changed(added=added)
            self.version += 1
        return [r.id for r in added]

    # -------------------------------------------------------------------------------- helpers
    def _user_dict(self, rng: random.Random, rec: Rec, email: str, props: dict) -> dict:
        fmt, form, rnd = self.fmt, rec.form, rng.random
        seen = None if rnd() < 0.4 else rec.created + int(rnd() * (rec.updated - rec.created + 1))
        ext_created = None if rnd() < 0.3 else rec.created - int(rnd() * 2 * YEAR)
        return {
            "id": rec.id,
            "created_at": fmt.format(rec.created, form),
            "updated_at": fmt.format(rec.updated, form),
            "email": email,
            "last_surveyed": None,
            "external_created_at": ext_created,
            "last_seen_at": fmt.format(seen, form),
            "properties": props,
            "phone_number": None if rnd() < 0.85 else f"+1-555-01{int(rnd() * 100):02d}",
            "external_id": None if rnd() < 0.2 else f"{rng.getrandbits(64):016x}",
            "last_response": None,
            "settings": {
                "email_nps": rnd() < 0.9,
                "mobile_nps": rnd() < 0.7,
                "web_nps": rnd() < 0.95,
                "force_mobile_survey": _pick(rnd, MAYBE_BOOL),
                "force_web_survey": _pick(rnd, MAYBE_BOOL),
                "surveys_disabled_by_end_user": _pick(rnd, MAYBE_TRUE),
            },
        }


EMAIL_RAW_COUNTS = (
    "processed",
    "bounce",
    "dropped",
    "delivered",
    "opted_out",
    "not_delivered",
    "open",
    "spamreport",
    "not_eligible",
    "total_surveys",
    "total_responses",
)
EMAIL_ONGOING_SOURCES = (
    {"id": "email_api", "name": "Email API *"},
    {"id": "webhook_trigger", "name": "Webhook Trigger *"},
)


def email_day(seed: int, day: date, answered: int, declined: int) -> dict[str, int]:
    """One day's e-mail sends: every e-mail response (``answered``) and decline was an e-mail delivered
    and opened; a few more were opened and left, not opened, bounced, dropped, or never sent (opted out,
    not eligible), drawn from a hash of the day so that any range sums the same days the same way."""
    h = hashlib.blake2b(f"email:{seed}:{day}".encode(), digest_size=8).digest()
    bounce, dropped = int(h[2] < 20), int(h[3] < 8)
    opened = answered + declined + h[0] % 3
    delivered = opened + h[1] % 4
    processed = delivered + bounce + dropped
    return {
        "processed": processed,
        "bounce": bounce,
        "dropped": dropped,
        "delivered": delivered,
        "opted_out": int(h[4] < 25),
        "not_delivered": bounce + dropped,
        "open": opened,
        "spamreport": int(h[6] < 3 and opened > 0),
        "not_eligible": int(h[5] < 15),
        "total_surveys": processed,
        "total_responses": answered,
    }


def percent(part: int, whole: int) -> float:
    return 100 * part / whole if whole else 0.0


def _send_day(day: date) -> str:
    return f"{day:%b} {day.day:>2}, {day.year}"  # `Aug  3, 2023`, as Wootric writes it


def _pick(rnd, seq):
    return seq[int(rnd() * len(seq))]


def rate(hits: int, misses: int) -> float:
    """Percentage ``100 * hits / (hits + misses)`` rounded to one decimal, 0.0 when both are zero."""
    total = hits + misses
    return round(100.0 * hits / total, 1) if total else 0.0


def _make_props(rng: random.Random, kinds: set, ts: int, showcase: bool, long_fraction: float) -> dict:
    """Custom properties of one user (``showcase``: every kind, incl. long text)."""
    p: dict = {}
    r = rng.random

    def want(share):
        return showcase or r() < share

    if "string" in kinds:
        if want(0.95):
            p["country"] = _pick(r, COUNTRIES)
        if want(0.9):
            p["pricing_plan"] = _pick(r, PLANS)
        if want(0.7):
            p["persona"] = _pick(r, PERSONAS)
    if "unicode" in kinds:
        if want(0.8):
            p["city"] = _pick(r, CITIES)
        if want(0.3):
            p["nickname"] = _pick(r, NICKNAMES)
    if "integer" in kinds and want(0.6):
        p["seats"] = 1 + int(r() * 500)
    if "date" in kinds:
        if want(0.6):
            p["purchase_date"] = ts - int(r() * 3 * YEAR)
        if want(0.4):
            p["renewal_date"] = ts + int(r() * YEAR)
    if "amount" in kinds:
        if want(0.7):
            p["revenue_amount"] = int(r() * 101) * 100
        if want(0.5):
            p["mrr_amount"] = int(r() * 50_001)
    if "array" in kinds and want(0.4):
        p["features_array"] = list(_pick(r, FEATURE_SETS[1:] if showcase else FEATURE_SETS))
    if "null" in kinds:
        x = r()
        if showcase or x < 0.2:
            p["referrer"] = None
        elif x < 0.4:
            p["referrer"] = _pick(r, REFERRERS)
    if "long_text" in kinds:
        if showcase or r() < long_fraction:
            p["bio"] = long_text(rng)
        elif r() < 0.1:
            p["bio"] = _pick(r, TEXTS)
    if "varying" in kinds and want(0.3):
        for key in _pick(r, CUSTOM_KEY_SETS):
            x = r()
            p[key] = int(x * 30) if x < 0.33 else (_pick(r, TEXTS) if x < 0.66 else x < 0.83)
        if showcase or r() < 0.2:
            p["legacy_score"] = int(r() * 101)
    return p


def _snapshot(rng: random.Random, props: dict) -> dict:
    """The properties as they were when a survey was answered: mostly the same, sometimes older."""
    snap = dict(props)
    x = rng.random()
    if x < 0.1 and "pricing_plan" in snap:
        snap["pricing_plan"] = rng.choice(PLANS)
    elif x < 0.15 and snap:
        snap.pop(rng.choice(sorted(snap)))
    return snap


# ----------------------------------------------------------------------------------------------- generator
class _Generator:
    def __init__(self, ds: Dataset):
        self.ds = ds
        self.spec = ds.spec
        self.rng = random.Random(self.spec.seed)
        self.time = Timeline(self.rng, ds.start, ds.end, self.spec.sparse_years)
        self.compat = ds.compat == COMPAT_SINGER_TAP
        # Own random streams, so that these options change only what they are about.
        self.mix_rng = random.Random(f"offsetless:{self.spec.seed}") if ds.offsetless_mix else None
        self.email_rng = random.Random(f"shared-email:{self.spec.seed}")

    def run(self) -> None:
        ds, spec = self.ds, self.spec
        if spec.users < 0 or spec.n_responses() < 0 or spec.n_declines() < 0:
            raise ValueError("counts must not be negative")
        times = self._user_times()
        users = self._users(times)
        self._share_emails(users)
        responses = self._events(users, spec.n_responses(), 500_000_000, is_response=True)
        declines = self._events(users, spec.n_declines(), 70_000_000, is_response=False)
        self._link(users, responses, declines)
        if self.compat:
            self._check_caps(users, responses, declines)
        ds.users = Table("end_users", users, ("email", "created", "updated"))
        ds.responses = Table("responses", responses, ("created",))
        ds.declines = Table("declines", declines, ("created",))
        ds.segments = self._segments()
        ds._by_user_responses = _group(responses)
        ds._by_user_declines = _group(declines)
        ds._index_lookups()

    # ---- users
    def _user_times(self) -> list[tuple[int, int]]:
        """(created, updated) of every user; clusters and busy days first."""
        spec, tl, rng, ds = self.spec, self.time, self.rng, self.ds
        start, end = ds.start, ds.end
        clusters = spec.all_clusters()
        busy = [(utc_day_start(parse_when(d)), int(n)) for d, n in spec.busy_days]
        special = sum(n for _, n, _ in clusters) + sum(n for _, n in busy)
        if special > spec.users:
            raise ValueError(f"clusters and busy days hold {special} users, more than users={spec.users}")
        if self.compat and clusters:
            raise ValueError("compat='singer-tap' data cannot have same-second clusters")
        out: list[tuple[int, int]] = []
        for second, count, same_created in clusters:
            if second is None:
                lo = start + min(YEAR, (end - start) // 2)
                second = tl.pick(lo, end)
            if second <= start:
                raise ValueError("a cluster's second must be after the dataset start")
            if same_created:
                c = tl.pick(max(start, second - 180 * DAY), second - 1)
                out.extend((c, second) for _ in range(count))
            else:
                lo = max(start, second - YEAR)
                out.extend((tl.pick(lo, second - 1), second) for _ in range(count))
        uniq = UniqueSeconds(self.compat)
        busy_days = {d for d, _ in busy}
        for day, count in busy:
            for _ in range(count):
                u = uniq.take(tl.pick(day, day + DAY - 1), lambda d=day: tl.pick(d, d + DAY - 1))
                out.append((tl.pick(max(start, u - YEAR), u), u))
        for _ in range(spec.users - special):
            c = tl.pick(start, end)

            def repick(c=c):
                """An updated_at for a user created at ``c``, not on a busy day."""
                for _ in range(50):
                    u = min(end, c + rng.randint(0, 120)) if rng.random() < 0.35 else tl.pick(c, end)
                    if utc_day_start(u) not in busy_days:
                        return u
                day = utc_day_start(c) + DAY  # c's day and the ones after it are busy: the next free day
                while day in busy_days:
                    day += DAY
                return day

            u = repick()
            out.append((min(c, u), uniq.take(u, repick)))
        return out

    def _users(self, times: list[tuple[int, int]]) -> list[Rec]:
        ds, rng = self.ds, self.rng
        n = len(times)
        order = sorted(range(n), key=lambda i: (times[i][0], rng.random()))
        legacy_cut = None
        if ds.legacy > 0 and n:
            oldest = int(n * ds.legacy)  # legacy_fraction=1: every record, so the cut is after the end
            legacy_cut = times[order[oldest]][0] if oldest < n else ds.end + 1
        numbers = list(range(1, n + 1))
        rng.shuffle(numbers)
        showcase = set(rng.sample(range(n), min(3, n))) if n >= 20 else set()
        old_ones = max(1, n // 100) if n >= 20 else 0
        next_id = 1000 + rng.randint(0, 500)
        users, emails = [], set()
        for rank, i in enumerate(order):
            created, updated = times[i]
            next_id += rng.randint(1, 3)
            form = self._form(created, legacy_cut)
            rec = Rec(next_id, created, updated, form, {})
            email = f"{rng.choice(FIRST)}.{rng.choice(LAST)}{numbers[rank]}@{rng.choice(DOMAINS)}"
            if email in emails:  # cannot happen with unique numbers, but keep the invariant explicit
                email = f"dup{next_id}.{email}"
            emails.add(email)
            rec.email = email
            props = _make_props(rng, ds.kinds, created, rank in showcase, self.spec.long_text_fraction)
            rec.data = ds._user_dict(rng, rec, email, props)
            if rank < old_ones:
                rec.data["user_id"] = 100 + rank
                rec.data["page_views_count"] = rng.randint(0, 5000)
            users.append(rec)
        self.legacy_cut = legacy_cut
        return users

    def _share_emails(self, users: list[Rec]) -> None:
        """``shared_email_fraction`` of users get the e-mail ``Unknown`` or null (indexed as ``""``)."""
        share, rnd = self.spec.shared_email_fraction, self.email_rng.random
        if share <= 0:
            return
        for rec in users:
            if rnd() < share:
                unknown = rnd() < 0.5
                rec.email = "Unknown" if unknown else ""
                rec.data["email"] = "Unknown" if unknown else None

    def _form(self, created: int, legacy_cut: int | None) -> int:
        if legacy_cut is not None and created < legacy_cut:
            return LEGACY
        form = ISO if self.ds.iso > 0 and self.rng.random() < self.ds.iso else OFFSET
        if self.mix_rng is not None and self.mix_rng.random() < 0.5:
            return LEGACY
        return form

    # ---- responses and declines
    def _events(self, users: list[Rec], count: int, id_base: int, is_response: bool) -> list[Rec]:
        if not users:
            if count:
                raise ValueError("responses and declines need users")
            return []
        ds, rng, tl = self.ds, self.rng, self.time
        rnd = rng.random
        uniq = UniqueSeconds(self.compat)
        picks = []
        n_users = len(users)
        for _ in range(count):
            u = users[int(rnd() * n_users)]
            t = uniq.take(tl.pick(u.created, u.updated), lambda u=u: tl.pick(u.created, u.updated))
            picks.append((t, rnd(), u))
        picks.sort(key=lambda p: (p[0], p[1]))
        fmt = ds.fmt
        out = []
        next_id = id_base + rng.randint(0, 10_000)
        for created, _, user in picks:
            next_id += 1 + int(rnd() * 4)
            updated = created + int(rnd() * 31) if rnd() < 0.85 else tl.pick(created, ds.end)
            form = self._form(created, self.legacy_cut)
            rec = Rec(next_id, created, updated, form, {})
            rec.end_user_id = user.id
            rec.channel = _pick(rnd, CHANNELS)
            d = {"id": next_id, "end_user_id": user.id, "survey_id": _pick(rnd, SURVEYS)}
            if is_response:
                score = _pick(rnd, SCORES)
                rec.score = score
                rec.excluded = rnd() < 0.05
                d["score"] = score
                d["text"] = None if rnd() < 0.3 else _pick(rnd, TEXTS)
                d["completed"] = rnd() < 0.8
                d["excluded_from_calculations"] = rec.excluded
            ip = rng.getrandbits(32)
            d["ip_address"] = (
                f"{1 + (ip >> 24) % 223}.{(ip >> 16) & 255}.{(ip >> 8) & 255}.{1 + (ip & 255) % 254}"
            )
            d["origin_url"] = _pick(rnd, ORIGINS)
            d["created_at"] = fmt.format(created, form)
            d["updated_at"] = fmt.format(updated, form)
            if is_response:
                d["tags"] = list(_pick(rnd, TAG_SETS))
                d["notes"] = [] if rnd() < 0.9 else [_pick(rnd, NOTES)]
            d["end_user"] = {  # who answered, as Wootric's snapshot names them
                **{key: user.data.get(key) for key in ("id", "email", "external_id")},
                "properties": _snapshot(rng, user.data["properties"]),
            }
            rec.data = d
            out.append(rec)
        return out

    def _link(self, users: list[Rec], responses: list[Rec], declines: list[Rec]) -> None:
        """last_response and last_surveyed of each user from its responses and declines."""
        fmt, rng = self.ds.fmt, self.rng
        last_resp: dict[int, Rec] = {}
        last_seen: dict[int, int] = {}
        for r in responses:  # sorted by created, then id
            last_resp[r.end_user_id] = r
        for r in (*responses, *declines):
            if r.created > last_seen.get(r.end_user_id, -(2**62)):
                last_seen[r.end_user_id] = r.created
        for u in users:
            d = u.data
            r = last_resp.get(u.id)
            if r is not None:
                d["last_response"] = {
                    "id": r.id,
                    "score": r.score,
                    "text": r.data["text"],
                    "survey": {"channel": r.channel},
                }
            surveyed = last_seen.get(u.id)
            if surveyed is None and rng.random() < 0.1:  # shown a survey, ignored it
                surveyed = rng.randint(u.created, u.updated)
            d["last_surveyed"] = fmt.format(surveyed, u.form)

    def _check_caps(self, users, responses, declines) -> None:
        per_day = defaultdict(int)
        for u in users:
            per_day[utc_day_start(u.updated)] += 1
        worst = max(per_day.values(), default=0)
        if worst > COMPAT_CAP:
            raise ValueError(f"singer-tap compat: {worst} users updated on one UTC day (cap {COMPAT_CAP})")
        for name, recs in (("responses", responses), ("declines", declines)):
            blocks = defaultdict(int)
            for r in recs:
                blocks[(r.created - self.ds.start) // (30 * DAY)] += 1
            worst = max(blocks.values(), default=0)
            if worst > COMPAT_CAP:
                raise ValueError(f"singer-tap compat: {worst} {name} in 30 days (cap {COMPAT_CAP})")

    def _segments(self) -> list[dict]:
        fmt = self.ds.fmt
        out = []
        for i, (name, data_type, kind) in enumerate(SEGMENT_TYPES):
            if kind in self.ds.kinds:
                created = self.ds.start + 3600 * (i + 1)
                out.append({"name": name, "data_type": data_type, "created_at": fmt.format(created)})
        return out


def _group(recs: list[Rec]) -> dict[int, list[Rec]]:
    out: dict[int, list[Rec]] = defaultdict(list)
    for r in recs:
        out[r.end_user_id].append(r)
    for lst in out.values():
        lst.sort(key=lambda r: (r.created, r.tie, r.id))
    return dict(out)
