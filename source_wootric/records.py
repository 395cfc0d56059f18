"""Shapes API objects into the documented columns. Pure logic, no HTTP.

A value that cannot be read as its column's type becomes null and is logged once per column (its type,
never its content); a top-level field we do not know yet passes through unchanged.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime, timezone, tzinfo
from functools import cache
from pathlib import Path
from typing import Any

from source_wootric.timezone import read_datetime

Record = dict[str, Any]
SCHEMAS = Path(__file__).parent / "schemas"


def to_rfc3339(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds" if moment.microsecond else "seconds")


def property_text(value: Any) -> str | None:
    """A custom property's value as text: strings as they are, anything else as its compact JSON."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def whole_number(value: Any) -> int | None:
    """An integer, also when sent as an integral float or as text; None for anything else."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


class Shaper:
    """Converts values to column types for one stream, logging each column's first unreadable value."""

    def __init__(self, stream: str, account_timezone: Callable[[], tzinfo], logger: logging.Logger):
        self.stream = stream
        # Asked only for a datetime without an offset: the zone may be learnt from the API on first use.
        self.account_timezone = account_timezone
        self.logger = logger
        self.unreadable: dict[str, int] = {}
        self._readers: dict[str, list[tuple[str, tuple[str, ...], Callable[[str, Any], Any]]]] = {}

    def readers(self, stream: str) -> list[tuple[str, tuple[str, ...], Callable[[str, Any], Any]]]:
        """A stream's `columns`, each with the method that reads it, bound once."""
        if stream not in self._readers:
            self._readers[stream] = [
                (column, path, getattr(self, name)) for column, path, name in columns(stream)
            ]
        return self._readers[stream]

    def _unreadable(self, column: str, value: Any, expected: str) -> None:
        count = self.unreadable.get(column, 0)
        self.unreadable[column] = count + 1
        if count == 0:
            self.logger.warning(
                f"{self.stream}: column `{column}` received a {type(value).__name__} that is not {expected}; "
                "emitted as null (logged once per column, counted in the stream summary)"
            )

    def integer(self, column: str, value: Any) -> int | None:
        number = whole_number(value)
        if number is None and value is not None:
            self._unreadable(column, value, "an integer")
        return number

    def number(self, column: str, value: Any) -> float | int | None:
        if value is None or (isinstance(value, (int, float)) and not isinstance(value, bool)):
            return value
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        self._unreadable(column, value, "a number")
        return None

    def boolean(self, column: str, value: Any) -> bool | None:
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        self._unreadable(column, value, "a boolean")
        return None

    def text(self, column: str, value: Any) -> str | None:
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        self._unreadable(column, value, "text")
        return None

    def datetime(self, column: str, value: Any) -> datetime | None:
        """Any of the forms Wootric sends (see timezone.read_datetime); one without an offset is read in the
        account's zone (at a DST fold, its first reading)."""
        if isinstance(value, str) and value.strip():
            try:
                moment = read_datetime(value)
            except ValueError:
                pass
            else:
                return moment if moment.tzinfo is not None else moment.replace(tzinfo=self.account_timezone())
        elif value is None or value == "":
            return None
        self._unreadable(column, value, "a date-time")
        return None

    def timestamp(self, column: str, value: Any) -> str | None:
        moment = self.datetime(column, value)
        return to_rfc3339(moment) if moment else None

    def epoch_timestamp(self, column: str, value: Any) -> str | None:
        seconds = self.integer(column, value)
        if seconds is None:
            return None
        try:
            return to_rfc3339(datetime.fromtimestamp(seconds, tz=timezone.utc))
        except (OverflowError, OSError, ValueError):
            self._unreadable(column, value, "an epoch timestamp")
            return None

    def mapping(self, column: str, value: Any) -> Mapping[str, Any]:
        """A nested object to read fields from; anything else reads as empty."""
        if isinstance(value, Mapping):
            return value
        if value is not None:
            self._unreadable(column, value, "an object")
        return {}

    def string_list(self, column: str, value: Any) -> list[str | None] | None:
        if value is None:
            return None
        if isinstance(value, list):
            return [self.text(column, item) for item in value]
        self._unreadable(column, value, "a list")
        return None

    def any_list(self, column: str, value: Any) -> list[Any] | None:
        if value is None or isinstance(value, list):
            return value
        self._unreadable(column, value, "a list")
        return None

    def object(self, column: str, value: Any) -> dict[str, Any] | None:
        if value is None or isinstance(value, dict):
            return value
        self._unreadable(column, value, "an object")
        return None


def _with_unknown_fields(record: Record, raw: Mapping[str, Any], consumed: Iterable[str]) -> Record:
    """Appends the top-level fields we do not model, unchanged, after the documented columns."""
    for key, value in raw.items():
        if key not in consumed and key not in record:
            record[key] = value
    return record


@cache
def columns(stream: str) -> tuple[tuple[str, tuple[str, ...], str], ...]:
    """(column, where the API object holds it, the Shaper method that reads it) of each column of a stream's
    schema: `a__b` is field `b` of object `a`, and `settings_x` field `x` of `settings`."""
    properties = json.loads((SCHEMAS / f"{stream}.json").read_text())["properties"]
    return tuple(
        (
            name,
            ("settings", name[9:]) if name.startswith("settings_") else tuple(name.split("__")),
            READERS.get(name) or _reader(spec),
        )
        for name, spec in properties.items()
    )


READERS = {"external_created_at": "epoch_timestamp"}  # a column whose API value is not its schema type


def _reader(spec: Mapping[str, Any]) -> str:
    types = spec["type"] if isinstance(spec["type"], list) else [spec["type"]]
    kind = next(kind for kind in types if kind != "null")
    if kind == "array":
        return "string_list" if "string" in spec["items"].get("type", ()) else "any_list"
    if kind == "string":
        return "timestamp" if spec.get("format") == "date-time" else "text"
    return kind


@cache
def _fields_read(stream: str, reads: tuple[str, ...]) -> frozenset[str]:
    return frozenset((*reads, *(path[0] for _, path, _ in columns(stream))))


def shaped(
    stream: str, raw: Mapping[str, Any], shape: Shaper, reads: tuple[str, ...] = (), **given: Any
) -> Record:
    """The stream's columns read from `raw` as its schema types them (`given`: columns computed otherwise, from
    the fields `reads`), then the top-level fields that no column reads, unchanged."""
    objects: dict[tuple[str, ...], Mapping[str, Any]] = {(): raw}  # nested objects, each read once
    record: Record = {}
    for column, path, read in shape.readers(stream):
        if column in given:
            record[column] = given[column]
        else:
            holder = raw if len(path) == 1 else _nested(shape, objects, path[:-1])
            record[column] = read(column, holder.get(path[-1]))
    return _with_unknown_fields(record, raw, _fields_read(stream, reads))


def _nested(
    shape: Shaper, objects: dict[tuple[str, ...], Mapping[str, Any]], path: tuple[str, ...]
) -> Mapping:
    if path not in objects:
        objects[path] = shape.mapping("__".join(path), _nested(shape, objects, path[:-1]).get(path[-1]))
    return objects[path]


def end_user(raw: Mapping[str, Any], shape: Shaper) -> Record:
    return shaped("end_users", raw, shape, reads=("properties",))  # in end_users_properties


def end_user_properties(
    raw: Mapping[str, Any], shape: Shaper, data_types: Callable[[str], str | None]
) -> Iterator[Record]:
    """One row per custom property of an end user."""
    properties = shape.mapping("properties", raw.get("properties"))
    if not properties:
        return
    end_user_id = shape.integer("id", raw.get("id"))
    updated_at = shape.timestamp("updated_at", raw.get("updated_at"))
    for key, value in properties.items():
        yield {
            "end_user_id": end_user_id,
            "property_key": key,
            "property_value": property_text(value),
            "property_data_type": data_types(key),
            "updated_at": updated_at,
        }


def survey_event(stream: str, raw: Mapping[str, Any], shape: Shaper) -> Record:
    """A response or a decline, with any other plain value of its end user snapshot as `end_user__<key>`."""
    record, snapshot = shaped(stream, raw, shape), raw.get("end_user")
    for key, value in snapshot.items() if isinstance(snapshot, Mapping) else ():
        if not isinstance(value, (dict, list)):
            record.setdefault(f"end_user__{key}", value)
    return record


def response(raw: Mapping[str, Any], shape: Shaper) -> Record:
    return survey_event("responses", raw, shape)


def decline(raw: Mapping[str, Any], shape: Shaper) -> Record:
    return survey_event("declines", raw, shape)


def survey_template(raw: Mapping[str, Any], default_id: int | None, shape: Shaper) -> Record:
    template_id = whole_number(raw.get("id"))  # the `id` column logs it if unreadable
    return shaped(
        "survey_templates", raw, shape, is_default=template_id is not None and template_id == default_id
    )


def segment(raw: Mapping[str, Any], shape: Shaper) -> Record:
    return shaped("segments", raw, shape)


# E-mail delivery, from Wootric's v2 API (`/v2/email_stats`, `/v2/email_stats/sources`).
PERIOD_COLUMNS = ("period", "period_start", "period_end")
EMAIL_STATS_PERCENTAGES = ("delivered_percentage", "bounce_rate_percentage", "open_rate", "response_rate")
_PERCENTAGE = re.compile(r"\s*(-?\d+(?:\.\d+)?)\s*%\s*")
_COUNT_AND_PERCENTAGE = re.compile(r"\s*(-?\d+)\s*\(\s*(-?\d+(?:\.\d+)?)\s*%\s*\)\s*")


def percentage(shape: Shaper, column: str, value: Any) -> float | int | None:
    """`"60%"` or `"100.0%"` -> 60.0 / 100.0; a plain number passes as it is."""
    if isinstance(value, str) and (match := _PERCENTAGE.fullmatch(value)):
        return float(match.group(1))
    return shape.number(column, value)


def count_and_percentage(shape: Shaper, column: str, value: Any) -> tuple[int | None, float | None]:
    """`"2 (29%)"` -> (2, 29.0); a bare count gives no percentage."""
    if isinstance(value, str) and (match := _COUNT_AND_PERCENTAGE.fullmatch(value)):
        return int(match.group(1)), float(match.group(2))
    return shape.integer(column, value), None


def email_stats(answer: Mapping[str, Any], shape: Shaper) -> Record:
    """The columns of one `/v2/email_stats` answer: counts as integers, percentages (`"60%"`) as numbers, the
    raw results flattened (`raw_results__*`, those not modelled too); `initial_send` and `reminder_send` kept as
    objects. The stream sets the period's own columns."""
    stats = shape.mapping("email_stats", answer.get("email_stats"))
    raw = stats.get("raw_results") if isinstance(stats.get("raw_results"), Mapping) else {}
    given = {key: percentage(shape, key, stats.get(key)) for key in EMAIL_STATS_PERCENTAGES}
    given["not_eligible"], given["not_eligible_percentage"] = count_and_percentage(
        shape, "not_eligible", stats.get("not_eligible")
    )
    # Wootric's reference spells the start `sart_date`; `start_date` is read too, should that be corrected.
    start = raw.get("sart_date", raw.get("start_date"))
    given["raw_results__start_date"] = shape.timestamp("raw_results__start_date", start)
    given.update({key: shape.object(key, answer.get(key)) for key in ("initial_send", "reminder_send")})
    shaped_stats = shaped("email_stats", stats, shape, **given)
    record = {k: v for k, v in shaped_stats.items() if k not in PERIOD_COLUMNS}  # the stream sets these
    modelled = {path[-1] for _, path, _ in columns("email_stats") if path[0] == "raw_results"} | {"sart_date"}
    record.update({f"raw_results__{k}": v for k, v in raw.items() if k not in modelled})
    return _with_unknown_fields(record, answer, ("email_stats", "initial_send", "reminder_send"))


def send_time(shape: Shaper, column: str, value: Any) -> str | None:
    """A send's date as Wootric writes it, `Jan 11, 2024  9:01AM` (spaces vary), in the account's time zone;
    Wootric's usual datetime forms are read too."""
    if isinstance(value, str):
        try:
            local = datetime.strptime(" ".join(value.split()), "%b %d, %Y %I:%M%p")
        except ValueError:
            pass
        else:
            return to_rfc3339(local.replace(tzinfo=shape.account_timezone()))
    return shape.timestamp(column, value)


def email_send_source(raw: Mapping[str, Any], source_type: str, shape: Shaper) -> Record:
    """One source of e-mail sends: `source_type` is the list it came in (`ongoing` or `sends`); ids are
    text, since ongoing sources have names (`email_api`) and sends numbers."""
    sent_at = send_time(shape, "sent_at", raw.get("date"))
    return shaped("email_send_sources", raw, shape, reads=("date",), source_type=source_type, sent_at=sent_at)
