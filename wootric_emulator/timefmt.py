"""Datetimes as the Wootric API writes them, in the account's time zone.

Three forms are served:

* ``OFFSET``  ``2018-01-02 23:03:41 -0800``          (the usual one)
* ``LEGACY``  ``2014-12-01 18:36:59``                (older records: local time, no offset)
* ``ISO``     ``2015-02-12T06:29:27.000-08:00``      (ISO 8601 with milliseconds)

A local time without an offset is ambiguous for one hour each autumn (DST fall-back).  By default the
emulator never serves an ambiguous legacy time: such an instant is written in the ``OFFSET`` form instead,
so that :meth:`TimeFormatter.epoch` always gives back the exact second that was served.  With
``legacy_at_folds`` it serves them as the real API would; :meth:`TimeFormatter.epoch` then reads such a
string as its earlier instant (``fold=0``).
"""

from __future__ import annotations

import calendar
import time
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

OFFSET = 0
LEGACY = 1
ISO = 2

_VARIES = -(10**9)  # marks a day whose offset changes


class TimeFormatter:
    """Formats epoch seconds in one time zone (fast: offsets are cached per quarter hour) and parses back."""

    def __init__(self, timezone: str, legacy_at_folds: bool = False):
        self.name = timezone
        self.zone = ZoneInfo(timezone)
        self.legacy_at_folds = legacy_at_folds
        self._day_offsets: dict[int, int] = {}
        self._days: dict[int, str] = {}
        self._zones: dict[int, tuple[str, str]] = {}

    def _offset_at(self, ts: int) -> int:
        return int(datetime.fromtimestamp(ts, self.zone).utcoffset().total_seconds())

    def offset(self, ts: int) -> int:
        """UTC offset in seconds at instant ``ts``.

        Cached per UTC day when the offset is the same at both ends of the day (no zone changes its
        offset twice within a day); computed exactly on the few days when it changes.
        """
        day = ts // 86400
        off = self._day_offsets.get(day)
        if off is None:
            first, last = self._offset_at(day * 86400), self._offset_at(day * 86400 + 86399)
            off = self._day_offsets[day] = first if first == last else _VARIES
        return off if off != _VARIES else self._offset_at(ts)

    def _repeats(self, ts: int) -> bool:
        local = datetime.fromtimestamp(ts, self.zone).replace(tzinfo=None)
        first = local.replace(tzinfo=self.zone, fold=0).utcoffset()
        second = local.replace(tzinfo=self.zone, fold=1).utcoffset()
        return first != second

    def format(self, ts: int | None, form: int = OFFSET) -> str | None:
        if ts is None:
            return None
        off = self._day_offsets.get(ts // 86400)
        if off is None or off == _VARIES:
            off = self.offset(ts)
        day, sec = divmod(ts + off, 86400)
        ymd = self._days.get(day)
        if ymd is None:
            y, mo, d = time.gmtime(day * 86400)[:3]
            ymd = self._days[day] = f"{y:04d}-{mo:02d}-{d:02d}"
        hh, rest = divmod(sec, 3600)
        mm, ss = divmod(rest, 60)
        if form == LEGACY and (self.legacy_at_folds or not self._legacy_ambiguous(ts)):
            return f"{ymd} {hh:02d}:{mm:02d}:{ss:02d}"
        zone = self._zones.get(off)
        if zone is None:
            sign = "-" if off < 0 else "+"
            oh, om = divmod(abs(off) // 60, 60)
            zone = self._zones[off] = (f" {sign}{oh:02d}{om:02d}", f".000{sign}{oh:02d}:{om:02d}")
        if form == ISO:
            return f"{ymd}T{hh:02d}:{mm:02d}:{ss:02d}{zone[1]}"
        return f"{ymd} {hh:02d}:{mm:02d}:{ss:02d}{zone[0]}"

    def _legacy_ambiguous(self, ts: int) -> bool:
        off = self.offset(ts)
        # Only instants within two hours of a transition can be ambiguous; check those precisely.
        if self.offset(ts - 7200) == off and self.offset(ts + 7200) == off:
            return False
        return self._repeats(ts)

    def epoch(self, value) -> int | None:
        """Epoch seconds of any datetime the emulator serves (all three forms), an int, or None."""
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            raise TypeError(f"not a datetime: {value!r}")
        if isinstance(value, int | float):
            return int(value)
        if isinstance(value, datetime):
            dt = value if value.tzinfo else value.replace(tzinfo=self.zone)
            return int(dt.timestamp())
        s = str(value).strip()
        try:
            dt = datetime.strptime(s, "%Y-%m-%d %H:%M:%S %z")
        except ValueError:
            try:
                dt = datetime.fromisoformat(s)
            except ValueError as exc:
                raise ValueError(f"not a Wootric datetime: {value!r}") from exc
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=self.zone)
        return int(dt.timestamp())

    def day_start(self, day: date) -> int:
        """Epoch of local midnight starting ``day`` in the account time zone."""
        return int(datetime(day.year, day.month, day.day, tzinfo=self.zone).timestamp())

    def today(self, now: float | None = None) -> date:
        return datetime.fromtimestamp(time.time() if now is None else now, self.zone).date()

    def last_month(self, now: float | None = None) -> tuple[date, date]:
        """First and last day of the previous calendar month (account time zone)."""
        first_this = self.today(now).replace(day=1)
        last_prev = first_this - timedelta(days=1)
        return last_prev.replace(day=1), last_prev


def utc_day_start(ts: int) -> int:
    return ts - ts % 86400


def parse_when(value) -> int:
    """An epoch int, or an ISO date/datetime string (naive = UTC) -> epoch seconds."""
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, date) and not isinstance(value, datetime):
        return calendar.timegm(value.timetuple())
    if isinstance(value, datetime):
        return int(value.timestamp()) if value.tzinfo else calendar.timegm(value.timetuple())
    s = str(value).strip()
    if s.lstrip("-").isdigit():
        return int(s)
    dt = datetime.fromisoformat(s.replace("Z", "+00:00"))
    return int(dt.timestamp()) if dt.tzinfo else calendar.timegm(dt.timetuple())
