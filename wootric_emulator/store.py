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
from itertools import groupby
from operator import attrgetter

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
        self.sort_key = attrgetter(field, "tie", "id")
        self.rebuild(recs)

    def rebuild(self, recs) -> None:
        self.recs = sorted(recs, key=self.sort_key)
        self.keys = list(map(attrgetter(self.field), self.recs))

    def insert(self, rec: Rec) -> None:
        """A new record in its place: a bisection, not a sort of the whole table (syncs between changes)."""
        i = bisect_right(self.recs, self.sort_key(rec), key=self.sort_key)
        self.recs.insert(i, rec)
        self.keys.insert(i, getattr(rec, self.field))

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

    def changed(self, fields: tuple[str, ...] = (), added: list[Rec] = ()) -> None:
        """After records changed the values of `fields` (their indexes are sorted again), or were `added`."""
        for r in added:
            self.by_id[r.id] = r
            for index in self.indexes.values():
                index.insert(r)
        for f in fields:
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
        key = (tuple(sorted(filters.items())), sort_field, desc)
        hit = self._cache.get(key)
        if hit is None:
            hit = self._plan(filters, sort_field, desc)
            self._cache[key] = hit
            if len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        return hit.page(offset, limit)

    def _plan(self, filters: dict, sort_field: str, desc: bool):
        """How to answer a query that filters on a field other than its sort field.

        The narrowest filtered range decides: when it is small, its records are checked against the
        other filters and sorted once; otherwise the sort index is walked in order (within its own
        filter range) and only as far as the pages asked for so far.
        """
        ranges = {f: self.indexes[f].range(lo, hi) for f, (lo, hi) in filters.items()}
        best = min(ranges, key=lambda f: (ranges[f][1] - ranges[f][0], f != sort_field))
        i, j = ranges[best]
        if best != sort_field and (j - i) * 8 <= len(self.by_id):
            checks = [(f, lo, hi) for f, (lo, hi) in filters.items() if f != best]
            found = [r for r in self.indexes[best].recs[i:j] if _passes(r, checks)]
            found.sort(key=self.indexes[sort_field].sort_key)
            return _Sorted(found, desc)
        i, j = ranges.get(sort_field, (0, len(self.by_id)))
        checks = [(f, lo, hi) for f, (lo, hi) in filters.items() if f != sort_field]
        return _Walk(self.indexes[sort_field].recs, i, j, checks, desc)


def _passes(r: Rec, checks) -> bool:
    for f, lo, hi in checks:
        v = getattr(r, f)
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            return False
    return True


class _Sorted:
    def __init__(self, found: list[Rec], desc: bool):
        self.found, self.desc = found, desc

    def page(self, offset: int, limit: int) -> list[Rec]:
        return page_of(self.found, 0, len(self.found), self.desc, offset, limit)


class _Walk:
    """A lazy, resumable pass over ``recs[i:j]`` (backwards when ``desc``) keeping the matches."""

    def __init__(self, recs: list[Rec], i: int, j: int, checks, desc: bool):
        self.recs, self.checks, self.desc = recs, checks, desc
        self.pos, self.stop = (j - 1, i - 1) if desc else (i, j)
        self.found: list[Rec] = []

    def page(self, offset: int, limit: int) -> list[Rec]:
        need = offset + limit
        recs, checks, found = self.recs, self.checks, self.found
        step = -1 if self.desc else 1
        pos, stop = self.pos, self.stop
        while len(found) < need and pos != stop:
            r = recs[pos]
            pos += step
            if _passes(r, checks):
                found.append(r)
        self.pos = pos
        return found[offset:need]


_TIE_CHUNK = 256


def shuffle_ties(fetch, offset: int, limit: int, key, salt: int) -> list[Rec]:
    """Page ``offset .. offset+limit`` of an ordered sequence whose ties on ``key`` are reordered by
    ``salt``, as a server whose order among equal keys is unspecified would answer.

    ``fetch(offset, limit)`` reads the sequence in its canonical order.  The page is widened to the whole
    tie groups at its two ends (read in chunks), every group is reordered by a hash of ``(id, salt)``,
    and the page is cut back out: a record is never moved out of its group, so the order by ``key``
    holds, but a group that straddles two pages can show a record on both or on neither.
    """
    page = fetch(offset, limit)
    if not page:
        return page
    first, last = key(page[0]), key(page[-1])
    start = offset
    while start > 0:
        chunk = fetch(max(0, start - _TIE_CHUNK), min(start, _TIE_CHUNK))
        same = next((i for i, r in enumerate(reversed(chunk)) if key(r) != first), len(chunk))
        start -= same
        if same < len(chunk):
            break
    end = offset + len(page)
    while True:
        chunk = fetch(end, _TIE_CHUNK)
        same = next((i for i, r in enumerate(chunk) if key(r) != last), len(chunk))
        end += same
        if same < _TIE_CHUNK:
            break
    mask = tie_hash(salt)
    window = fetch(start, end - start)
    # Sorting is stable and the window is in key order (asc or desc): reorder within groups only.
    groups = [list(g) for _, g in groupby(window, key)]
    mixed = [r for g in groups for r in sorted(g, key=lambda r: tie_hash(r.id ^ mask))]
    return mixed[offset - start : offset - start + limit]
