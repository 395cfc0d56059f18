"""The account's time zone: the instants an API datetime can mean, and the zones the offsets it carries fit."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo, available_timezones

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from source_wootric.config import parse_account_timezone
from source_wootric.timezone import (
    DAY,
    HOUR,
    PREFERRED_ZONES,
    AccountZone,
    candidate_zones,
    choose_zone,
    instant_range,
    learn_account_zone,
    observation,
    zones_consistent,
)

# Zones with and without DST, north and south, with half- and quarter-hour offsets, at both ends of the range.
ZONES = (
    "America/Los_Angeles",
    "America/New_York",
    "America/Sao_Paulo",
    "America/St_Johns",
    "Europe/London",
    "Europe/Berlin",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Australia/Adelaide",
    "Australia/Lord_Howe",
    "Pacific/Auckland",
    "Pacific/Chatham",
    "Pacific/Kiritimati",
    "Pacific/Pago_Pago",
    "UTC",
)
SYDNEY = ZoneInfo("Australia/Sydney")
LA = ZoneInfo("America/Los_Angeles")
INSTANTS = st.integers(int(datetime(2000, 1, 1, tzinfo=timezone.utc).timestamp()), 1_900_000_000)


def offset_form(second: int, zone: ZoneInfo) -> str:
    return datetime.fromtimestamp(second, zone).strftime("%Y-%m-%d %H:%M:%S %z")


def local_form(second: int, zone: ZoneInfo) -> str:
    return datetime.fromtimestamp(second, zone).strftime("%Y-%m-%d %H:%M:%S")


def seen(seconds: list[int], zone: ZoneInfo) -> list[tuple[int, int]]:
    observations = [observation(offset_form(second, zone)) for second in seconds]
    assert None not in observations
    return observations  # type: ignore[return-value]


@settings(max_examples=400, derandomize=True, deadline=None)
@given(second=INSTANTS, name=st.sampled_from(ZONES))
def test_the_range_of_a_datetime_holds_the_instant_it_was_written_at(second, name):
    zone = ZoneInfo(name)
    assert instant_range(offset_form(second, zone), None) == (second, second)
    iso = datetime.fromtimestamp(second, zone).isoformat(timespec="milliseconds")
    assert instant_range(iso, SYDNEY) == (second, second)  # an offset wins over any zone
    local = local_form(second, zone)
    earliest, latest = instant_range(local, zone)
    assert earliest <= second <= latest and latest - earliest <= HOUR  # one reading, two at a DST fold
    earliest, latest = instant_range(local, None)
    assert earliest <= second <= latest and latest - earliest == 26 * HOUR  # zone unknown: -12 h..+14 h


def test_a_fold_gives_both_readings_and_a_gap_both_candidates():
    # 2021-11-07 01:30 happened twice in Los Angeles: at -07:00, then an hour later at -08:00.
    assert instant_range("2021-11-07 01:30:00", LA) == (1636273800, 1636277400)
    # 2021-03-14 02:30 never happened there; it can be meant at either offset.
    assert instant_range("2021-03-14 02:30:00", LA) == (1615714200, 1615717800)
    assert instant_range("2021-06-01 12:00:00", LA) == (1622574000, 1622574000)


@pytest.mark.parametrize("value", [None, 1515940485, "", "yesterday", "2021-02-30 10:00:00", ["2021-01-01"]])
def test_what_cannot_be_read_has_no_range_and_tells_no_offset(value):
    assert instant_range(value, LA) is None and instant_range(value, None) is None
    assert observation(value) is None


def test_an_offset_is_not_a_zone():
    summer = seen([int(datetime(2025, 1, 15, tzinfo=timezone.utc).timestamp())], SYDNEY)  # +11:00
    fits_summer = zones_consistent(summer, candidate_zones())
    assert "Australia/Sydney" in fits_summer and "Pacific/Noumea" in fits_summer  # +11:00 all year
    assert "Australia/Brisbane" not in fits_summer  # +10:00 all year
    choice = choose_zone(summer)
    assert choice is not None and choice.name == "Australia/Sydney" and not choice.unique
    winter = seen([int(datetime(2025, 7, 15, tzinfo=timezone.utc).timestamp())], SYDNEY)  # +10:00
    both = zones_consistent(summer + winter, candidate_zones())
    assert "Australia/Sydney" in both and "Pacific/Noumea" not in both and "Australia/Brisbane" not in both
    choice = choose_zone(summer + winter)
    assert choice is not None and choice.name == "Australia/Sydney" and choice.unique


@settings(max_examples=60, derandomize=True, deadline=None)
@given(
    name=st.sampled_from(ZONES),
    year=st.integers(2012, 2025),
    others=st.lists(st.integers(-3 * 365 * DAY, 3 * 365 * DAY), max_size=5),
)
def test_offsets_from_both_seasons_find_the_true_zone(name, year, others):
    zone = ZoneInfo(name)
    january, july = (int(datetime(year, month, 10, tzinfo=timezone.utc).timestamp()) for month in (1, 7))
    seconds = [january, july, *(january + other for other in others)]
    observations = seen(seconds, zone)
    choice = choose_zone(observations)
    assert choice is not None and name in choice.agreeing
    order = candidate_zones()
    assert order.index(choice.name) <= order.index(name)  # the true zone, or one preferred to it
    if choice.unique:  # the named zone then tells the same time as the true one, season after season
        for second in range(min(seconds), max(seconds), 6 * HOUR):
            named = datetime.fromtimestamp(second, ZoneInfo(choice.name)).utcoffset()
            assert named == datetime.fromtimestamp(second, zone).utcoffset(), (choice.name, second)


@pytest.mark.parametrize(
    ("true_zone", "named"),
    [
        ("America/Los_Angeles", "America/Los_Angeles"),
        ("America/Vancouver", "America/Los_Angeles"),  # the same clock: the more populous name
        ("America/New_York", "America/New_York"),
        ("America/Phoenix", "America/Phoenix"),
        ("Europe/London", "Europe/London"),
        ("Europe/Berlin", "Europe/Paris"),
        ("Australia/Sydney", "Australia/Sydney"),
        ("Australia/Brisbane", "Australia/Brisbane"),
        ("Pacific/Auckland", "Pacific/Auckland"),
        ("Asia/Kolkata", "Asia/Kolkata"),
    ],
)
def test_a_year_of_offsets_names_one_zone(true_zone, named):
    seconds = [
        int(datetime(year, month, 10, tzinfo=timezone.utc).timestamp())
        for year, month in ((2024, 1), (2024, 7), (2025, 1))
    ]
    choice = choose_zone(seen(seconds, ZoneInfo(true_zone)))
    assert choice is not None and (choice.name, choice.unique) == (named, True)


def test_the_configured_zone_is_kept_when_it_fits_and_replaced_when_it_does_not():
    seconds = [int(datetime(2024, month, 1, tzinfo=timezone.utc).timestamp()) for month in (1, 4, 7, 10)]
    observations = seen(seconds, SYDNEY)
    melbourne = choose_zone(observations, "Australia/Melbourne")
    assert melbourne is not None and melbourne.name == "Australia/Melbourne" and melbourne.unique
    replaced = choose_zone(observations, "UTC")
    assert replaced is not None and replaced.name == "Australia/Sydney" and "UTC" not in replaced.agreeing
    alias = choose_zone(observations, "Australia/NSW")  # not a geographic name, but the user's choice
    assert alias is not None and alias.name == "Australia/NSW"


def test_offsets_no_zone_can_have_give_no_choice():
    second = int(datetime(2024, 1, 1, tzinfo=timezone.utc).timestamp())
    assert choose_zone([(second, 10 * HOUR), (second + 60, -8 * HOUR)]) is None
    assert choose_zone([(second, 7 * 60)]) is None  # +00:07 is nobody's offset
    assert choose_zone([]) is None


def test_candidates_are_real_geographic_zones_the_preferred_first():
    candidates = candidate_zones()
    known = available_timezones()
    missing = [name for name in PREFERRED_ZONES if name not in known]
    assert missing == [], f"preferred zones this tz database lacks: {missing}"
    assert candidates[: len(PREFERRED_ZONES)] == PREFERRED_ZONES
    assert len(set(candidates)) == len(candidates) > 300
    assert not {"US/Pacific", "PST8PDT", "Etc/GMT-10", "GB"} & set(candidates)


@pytest.mark.parametrize(
    ("value", "key"),
    [
        (None, None),
        ("auto", None),
        (" Auto ", None),
        ("", None),
        ("UTC", "UTC"),
        ("Australia/Sydney", "Australia/Sydney"),
    ],
)
def test_account_timezone_is_auto_or_an_iana_name(value, key):
    parsed = parse_account_timezone(value)
    assert (parsed.key if parsed else None) == key


def test_the_spec_default_is_auto():
    from importlib.resources import files

    spec = yaml.safe_load(files("source_wootric").joinpath("spec.yaml").read_text())
    field = spec["connectionSpecification"]["properties"]["account_timezone"]
    assert field["default"] == "auto" and parse_account_timezone(field["default"]) is None


def test_an_observation_is_the_instant_and_its_offset():
    assert observation("2018-01-02 23:03:41 -0800") == (1514963021, -8 * HOUR)
    assert observation("2015-02-12T06:29:27.000+05:45") == (
        int(datetime(2015, 2, 12, 6, 29, 27, tzinfo=timezone(timedelta(hours=5, minutes=45))).timestamp()),
        5 * HOUR + 45 * 60,
    )
    assert observation("2014-12-01 18:36:59") is None


class FakeClient:
    """The account: answers each endpoint with fixed pages (the six-month request gets `older`) and records the
    requests."""

    def __init__(self, newest: dict[str, list[dict]], older: list[dict] | None = None):
        self.newest, self.older = newest, older or []
        self.sent: list[tuple[str, dict]] = []

    @property
    def data_requests(self) -> int:
        return len(self.sent)

    def get(self, endpoint: str, params: dict) -> list[dict]:
        self.sent.append((endpoint, params))
        return self.older if "created[lte]" in params else self.newest.get(endpoint, [])


def records_at(seconds: list[int], zone: ZoneInfo, form=offset_form) -> list[dict]:
    return [
        {"id": i, "created_at": form(second, zone), "updated_at": None} for i, second in enumerate(seconds)
    ]


SUMMER = [int(datetime(2026, 1, day, tzinfo=timezone.utc).timestamp()) for day in range(1, 29)]
WINTER = [second - 182 * DAY for second in SUMMER]


def learn(client: FakeClient, configured: str | None, caplog) -> AccountZone:
    caplog.set_level(logging.INFO)
    zone = learn_account_zone(
        client, ZoneInfo(configured) if configured else None, logging.getLogger("t"), NOW
    )
    assert len([r for r in caplog.records if r.message.startswith("account time zone")]) == 1
    return zone


NOW = int(datetime(2026, 2, 1, tzinfo=timezone.utc).timestamp())


def test_one_answer_that_settles_the_zone_is_the_only_request(caplog):
    client = FakeClient({"end_users": records_at(SUMMER + WINTER, SYDNEY)})
    assert learn(client, "UTC", caplog) == AccountZone(SYDNEY, known=True)
    assert [endpoint for endpoint, _ in client.sent] == ["end_users"]
    (warning,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert (
        "`account_timezone` UTC does not fit" in warning.message
        and "Australia/Sydney does" in warning.message
    )


def test_one_season_asks_half_a_year_back_for_the_other(caplog):
    client = FakeClient({"responses": records_at(SUMMER, SYDNEY)}, older=records_at(WINTER, SYDNEY))
    assert learn(client, None, caplog) == AccountZone(SYDNEY, known=True)
    assert [endpoint for endpoint, _ in client.sent] == ["end_users", "responses", "declines", "end_users"]
    assert client.sent[-1][1]["created[lte]"] == max(SUMMER) - 182 * DAY
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_one_season_alone_leaves_the_zone_unknown_to_paging(caplog):
    client = FakeClient({"declines": records_at(SUMMER, SYDNEY)})
    learnt = learn(client, None, caplog)
    assert learnt.zone == SYDNEY and learnt.paging_zone is None and len(client.sent) == 4
    assert "other zones fit these offsets but differ at other times" in caplog.records[-1].message


def test_datetimes_without_any_offset_are_read_in_the_configured_zone_and_said_once(caplog):
    client = FakeClient({"end_users": records_at(SUMMER, SYDNEY, form=local_form)})
    assert learn(client, "Australia/Perth", caplog) == AccountZone(ZoneInfo("Australia/Perth"), known=False)
    assert len(client.sent) == 3  # older records would carry no offset either
    assert caplog.records[-1].levelno == logging.WARNING and "cannot be checked" in caplog.records[-1].message
    caplog.clear()
    assert learn(FakeClient({}), None, caplog) == AccountZone(ZoneInfo("UTC"), known=False)
    assert caplog.records[-1].levelno == logging.INFO  # an empty account: nothing to misread


def test_offsets_that_fit_no_zone_are_said_once(caplog):
    mixed = records_at(SUMMER[:3], SYDNEY) + records_at(SUMMER[3:6], LA)
    learnt = learn(FakeClient({"end_users": mixed}), "Australia/Sydney", caplog)
    assert learnt == AccountZone(SYDNEY, known=False)
    assert caplog.records[-1].levelno == logging.WARNING and "fit no" in caplog.records[-1].message
