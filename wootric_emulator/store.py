"""Records and the sorted indexes that answer list requests in O(log N + page).

Every table keeps, per field that can be sorted or filtered on, its records sorted by
``(value, tie, id)`` and a parallel list of the bare values for :mod:`bisect`.  ``tie`` is a fixed hash of
the id, so records of the same second come back in an order that is stable across requests but is not id
order.  Descending order is the exact reverse of ascending order.

A request whose filters are all on its sort field is a pair of bisections and a slice.  A request that
filters on another field (say ``sort_key=email`` with ``updated[gte]``) bisects every filtered field, walks
the narrowest range, checks the other filters and sorts the survivors; that list is cached per distinct
query (the cache is dropped on any change to the data), so paging through it costs one such pass.
"""

from __future__ import annotations

import json
from bisect import bisect_left, bisect_right
from collections import OrderedDict

_CACHE_SIZE = 64


def tie_hash(record_id: int) -> int:
    """Deterministic 32-bit scramble of an id (Knuth multiplicative hash, then an xorshift)."""
    h = (record_id * 2654435761) & 0xFFFFFFFF
    h ^= h >> 15
    return (h * 2246822519) & 0xFFFFFFFF


def dumps(obj) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class Rec:
    """One served record: the JSON-ready dict plus the numbers the indexes need."""

    __slots__ = (
        "channel",
        "created",
        "data",
        "email",
        "end_user_id",
        "excluded",
        "form",
        "id",
        "raw",
        "score",
        "tie",
        "updated",
    )

    def __init__(self, rid: int, created: int, updated: int, form: int, data: dict):
        self.id = rid
        self.created = created
        self.updated = updated
        self.form = form
        self.data = data
        self.tie = tie_hash(rid)
        self.raw: bytes | None = None
        self.email: str | None = None
        self.end_user_id: int | None = None
        self.score: int | None = None
        self.excluded = False
        self.channel: str | None = None

    def json(self) -> bytes:
        raw = self.raw
        if raw is None:
            raw = self.raw = dumps(self.data)
        return raw


class SortedIndex:
    def __init__(self, field: str, recs):
        self.field = field
        self.rebuild(recs)

    def sort_key(self, r: Rec):
        return (getattr(r, self.field), r.tie, r.id)

    def rebuild(self, recs) -> None:
        field = self.field
        self.recs = sorted(recs, key=self.sort_key)
        self.keys = [getattr(r, field) for r in self.recs]

    def range(self, lo, hi) -> tuple[int, int]:
        """Positions [i, j) of the records whose value is within the inclusive bounds (None = open)."""
        i = 0 if lo is None else bisect_left(self.keys, lo)
        j = len(self.keys) if hi is None else bisect_right(self.keys, hi)
        return i, max(i, j)


def page_of(seq, i: int, j: int, desc: bool, offset: int, limit: int) -> list:
    """Records ``offset .. offset+limit`` of ``seq[i:j]`` in the requested order."""
    if desc:
        hi = j - offset
        lo = max(i, hi - limit)
        return seq[lo:hi][::-1] if hi > lo else []
    lo = i + offset
    return seq[lo : min(j, lo + limit)] if j > lo else []


class Table:
    """A list of records with one sorted index per field in ``fields``."""

    def __init__(self, name: str, recs: list[Rec], fields: tuple[str, ...]):
        self.name = name
        self.fields = fields
        self.by_id: dict[int, Rec] = {r.id: r for r in recs}
        self.indexes = {f: SortedIndex(f, recs) for f in fields}
        self._cache: OrderedDict = OrderedDict()
        self.version = 0

    def __len__(self) -> int:
        return len(self.by_id)

    def all(self) -> list[Rec]:
        return sorted(self.by_id.values(), key=lambda r: r.id)

    def changed(self, fields=None, added: list[Rec] = ()) -> None:
        """Re-sort the indexes after records were changed or added."""
        for r in added:
            self.by_id[r.id] = r
        for f in fields if fields is not None else self.fields:
            self.indexes[f].rebuild(self.by_id.values())
        self._cache.clear()
        self.version += 1

    def count(self, field: str, lo, hi) -> int:
        i, j = self.indexes[field].range(lo, hi)
        return j - i

    def scan(self, field: str, lo, hi) -> list[Rec]:
        i, j = self.indexes[field].range(lo, hi)
        return self.indexes[field].recs[i:j]

    def query(self, filters: dict, sort_field: str, desc: bool, offset: int, limit: int) -> list[Rec]:
        """One page. ``filters`` maps a field to inclusive ``(lo, hi)`` bounds (None = open)."""
        index = self.indexes[sort_field]
        if not filters or set(filters) == {sort_field}:
            i, j = index.range(*filters.get(sort_field, (None, None)))
            return page_of(index.recs, i, j, desc, offset, limit)
        matches = self._matching(filters, sort_field)
        return page_of(matches, 0, len(matches), desc, offset, limit)

    def _matching(self, filters: dict, sort_field: str) -> list[Rec]:
        key = (tuple(sorted(filters.items())), sort_field)
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        ranges = {f: self.indexes[f].range(lo, hi) for f, (lo, hi) in filters.items()}
        best = min(ranges, key=lambda f: (ranges[f][1] - ranges[f][0], f != sort_field))
        i, j = ranges[best]
        if best != sort_field and (j - i) * 8 > len(self.by_id):
            # A wide range: walking the sort index in order is cheaper than sorting the survivors.
            best = sort_field
            i, j = ranges.get(sort_field, (0, len(self.by_id)))
        others = [(f, lo, hi) for f, (lo, hi) in filters.items() if f != best]
        out = []
        for r in self.indexes[best].recs[i:j]:
            for f, lo, hi in others:
                v = getattr(r, f)
                if (lo is not None and v < lo) or (hi is not None and v > hi):
                    break
            else:
                out.append(r)
        if best != sort_field:
            out.sort(key=self.indexes[sort_field].sort_key)
        self._cache[key] = out
        if len(self._cache) > _CACHE_SIZE:
            self._cache.popitem(last=False)
        return out
