"""Fault injection: scheduled or random failures of matching requests."""

from __future__ import annotations

import random
import threading
from dataclasses import KW_ONLY, dataclass, field

KINDS = (
    "500",  # HTTP 500 with a JSON error body
    "502",  # HTTP 502 with an HTML body, as a gateway answers
    "503",  # HTTP 503 with an HTML body
    "429",  # HTTP 429 rate limited (X-Rate-Limit-* headers unless reset_header=False)
    "reset",  # the socket is closed (RST) without an answer; counted as status 0
    "down",  # as reset, and the server stops listening: connections are refused until it is started again
    "truncated",  # HTTP 200 whose JSON body is cut in the middle (Content-Length matches the cut body)
    "not_json",  # HTTP 200 with an HTML body
    "slow",  # sleep ``seconds`` (default 2) and then answer normally
    "revoke",  # revoke every token, then answer 401
    "token_500",  # the token endpoint answers 500 (always applies to /oauth/token)
    "update_users",  # before answering, ``users`` random users get updated_at = now
)


@dataclass
class Fault:
    """One fault rule.

    Scheduled (``probability=None``): of the requests whose path starts with ``path_prefix``, the first
    ``after`` pass, then ``times`` consecutive ones are hit (``times=-1``: all the rest).
    Random (``probability=p``): after the first ``after`` matching requests, each one is hit with
    probability ``p`` drawn from ``random.Random(fault_seed + position of the fault in the list)``;
    ``times`` is ignored.
    """

    kind: str
    _: KW_ONLY
    path_prefix: str = "/v1/"
    after: int = 0
    times: int = 1
    probability: float | None = None
    seconds: float | None = None
    reset_header: bool = True
    users: int = 0
    seen: int = field(default=0, init=False, compare=False)  # matching requests so far
    hits: int = field(default=0, init=False, compare=False)  # requests it fired on

    def __post_init__(self):
        self.kind = str(self.kind)
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {KINDS}")
        if self.kind == "token_500" and self.path_prefix == "/v1/":
            self.path_prefix = "/oauth/token"

    @classmethod
    def parse(cls, text: str) -> Fault:
        """``KIND[:key=value[:key=value...]]``, e.g. ``500:after=3:times=2`` (for the CLI)."""
        kind, *opts = text.split(":")
        kwargs: dict = {}
        for opt in opts:
            key, _, value = opt.partition("=")
            key = key.strip()
            if key in ("after", "times", "users"):
                kwargs[key] = int(value)
            elif key in ("probability", "seconds"):
                kwargs[key] = float(value)
            elif key == "reset_header":
                kwargs[key] = value.lower() in ("1", "true", "yes")
            elif key == "path_prefix":
                kwargs[key] = value
            else:
                raise ValueError(f"unknown fault option {key!r} in {text!r}")
        return cls(kind, **kwargs)

    @classmethod
    def from_dict(cls, d: dict) -> Fault:
        allowed = {"kind", "path_prefix", "after", "times", "probability", "seconds", "reset_header", "users"}
        return cls(**{k: v for k, v in d.items() if k in allowed})


class FaultPlan:
    """Decides which fault (if any) hits a request.  Faults are checked in list order; every fault counts
    each request it matches, and the first one that fires answers."""

    def __init__(self, faults, seed: int = 0):
        self._lock = threading.Lock()
        self.seed = seed
        self.set(faults)

    def set(self, faults) -> None:
        with self._lock:
            self.faults = list(faults)
            self._rngs = [random.Random(self.seed + i) for i in range(len(self.faults))]

    def pick(self, path: str) -> Fault | None:
        chosen = None
        with self._lock:
            if len(self._rngs) != len(self.faults):  # the list was changed in place
                self._rngs = [random.Random(self.seed + i) for i in range(len(self.faults))]
            for fault, rng in zip(self.faults, self._rngs, strict=True):
                if not path.startswith(fault.path_prefix):
                    continue
                if fault.kind == "token_500" and not path.startswith("/oauth/token"):
                    continue
                index = fault.seen
                fault.seen += 1
                if index < fault.after:
                    continue
                if fault.probability is not None:
                    fires = rng.random() < fault.probability
                else:
                    fires = fault.times < 0 or index < fault.after + fault.times
                if fires:
                    fault.hits += 1
                    if chosen is None:
                        chosen = fault
        return chosen
