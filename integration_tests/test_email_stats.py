"""Survey e-mail delivery (email_stats, email_send_sources), through `source-wootric read` against the emulator."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests

from integration_tests.connector import catalog, config_for, read
from wootric_emulator import DatasetSpec, Emulator
from wootric_emulator.pytest_plugin import simulated_clock

pytestmark = pytest.mark.timeout(600)
START_DATE = "2023-11-01T00:00:00Z"  # before the data starts: the first months sent nothing
BOUNCE_REPORT = "/v2/email_stats/bounce_report"


def months(first: date, last: date):
    start = first.replace(day=1)
    while start <= last:
        following = (start + timedelta(days=32)).replace(day=1)
        yield start, following - timedelta(days=1)
        start = following


def today(emulator: Emulator) -> date:
    return datetime.now(ZoneInfo(emulator.account_timezone)).date()


def expected_columns(answer: dict) -> dict:
    """What a record must hold for an answer of the emulator, read the way a reader of the reference would."""
    stats, raw = answer["email_stats"], answer["email_stats"]["raw_results"]
    count, share = stats["not_eligible"].split(" ")
    columns = {key: stats[key] for key in ("send_requests", "emails_sent", "delivered", "bounce_rate")}
    for key in ("delivered_percentage", "bounce_rate_percentage", "open_rate", "response_rate"):
        columns[key] = float(stats[key].rstrip("%"))
    columns.update(not_eligible=int(count), not_eligible_percentage=float(share.strip("(%)")))
    columns.update({f"raw_results__{key}": value for key, value in raw.items() if isinstance(value, int)})
    columns["raw_results__start_date"] = raw["sart_date"]
    columns["raw_results__end_date"] = raw["end_date"]
    columns.update(send_date=stats["send_date"], initial_send=None, reminder_send=None)
    return columns


def warnings(out) -> list[str]:
    return [m["log"]["message"] for m in out.of_type("LOG") if m["log"]["level"] == "WARN"]


@pytest.fixture(scope="module")
def account(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("email")
    with simulated_clock(tmp) as clock:
        emulator = Emulator(
            dataset=DatasetSpec(users=400, responses=1_200, declines=400, seed=13, start="2024-01-01"),
            clock=clock,
        )
        with emulator:
            out = read(
                tmp,
                config=config_for(emulator, start_date=START_DATE),
                catalog=catalog(email_stats="incremental", email_send_sources="full_refresh"),
            )
            assert out.returncode == 0 and not out.errors and not warnings(out), out.stderr[-2000:]
            yield emulator, out


def test_email_stats_has_one_record_per_month_as_the_emulator_computes_it(account):
    emulator, out = account
    # start_date 2023-11-01T00:00Z is Oct 31 in Los Angeles: no period before start_date is read.
    expected = list(months(date(2023, 11, 1), today(emulator)))
    records = out.records["email_stats"]
    assert [(r["period"], r["period_start"], r["period_end"]) for r in records] == [
        ("month", s.isoformat(), e.isoformat()) for s, e in expected
    ]
    for record, (start, end) in zip(records, expected, strict=True):
        columns = expected_columns(emulator.data.email_stats(start, end))
        assert {key: record.get(key) for key in columns} == columns, start
    assert sum(r["raw_results__total_responses"] for r in records) > 0  # the data did send e-mails
    assert emulator.counters["/v2/email_stats"] == {200: len(expected)}
    assert BOUNCE_REPORT not in emulator.counters


def test_the_figures_follow_the_accounts_email_responses_and_declines(account):
    emulator, out = account
    zone = ZoneInfo(emulator.account_timezone)

    def month_of(rec) -> str:
        return datetime.fromtimestamp(rec.created, zone).date().replace(day=1).isoformat()

    answered = [month_of(r) for r in emulator.data.responses.all() if r.channel == "email"]
    declined = [month_of(d) for d in emulator.data.declines.all() if d.channel == "email"]
    for record in out.records["email_stats"]:
        month = record["period_start"]
        assert record["raw_results__total_responses"] == answered.count(month)
        assert record["raw_results__open"] >= answered.count(month) + declined.count(month)
        assert (
            record["raw_results__delivered"] + record["raw_results__not_delivered"] == record["emails_sent"]
        )
        assert record["send_requests"] == record["emails_sent"] + record["not_eligible"]


def test_send_sources_are_the_ongoing_sources_and_every_send_at_its_time(account):
    emulator, out = account
    records = out.records["email_send_sources"]
    assert [(r["source_type"], r["id"], r["name"], r.get("sent_at")) for r in records[:2]] == [
        ("ongoing", "email_api", "Email API *", None),
        ("ongoing", "webhook_trigger", "Webhook Trigger *", None),
    ]
    sends = [(r["id"], r["name"], int(datetime.fromisoformat(r["sent_at"]).timestamp())) for r in records[2:]]
    assert (
        sends == [(str(i), name, when) for i, name, when in emulator.data.email_sends()] and len(sends) >= 8
    )
    assert all(r["source_type"] == "sends" for r in records[2:])
    assert emulator.counters["/v2/email_stats/sources"] == {200: 1}


def test_incremental_rereads_only_the_open_and_look_back_periods(account, tmp_path):
    """With `edits_bound_hours` 0, every sync re-reads the open period and those the look-back overlaps;
    with the default (24), a sync an instant after the last re-reads only the open one: the closed periods
    of the look-back are re-read once a day, a share at each sync."""
    emulator, first = account
    state = first.final_state
    open_period = date.fromisoformat(first.stream_state("email_stats")["period_start"])
    assert open_period == today(emulator).replace(day=1)
    for lookback_days, edits_bound_hours in ((0, 0), (40, 0), (40, 24)):
        emulator.reset_counters()
        again = read(
            tmp_path,
            config=config_for(
                emulator,
                start_date=START_DATE,
                lookback_window_days=lookback_days,
                edits_bound_hours=edits_bound_hours,
            ),
            catalog=catalog(email_stats="incremental"),
            state=state,
        )
        first_day = today(emulator) - timedelta(days=lookback_days if not edits_bound_hours else 0)
        expected = list(months(min(open_period, first_day), today(emulator)))
        assert [r["period_start"] for r in again.records["email_stats"]] == [
            s.isoformat() for s, _ in expected
        ]
        # Periods follow the account's zone, learnt first: one request of the newest end users settles it here.
        assert emulator.counters == {
            "/oauth/token": {200: 1},
            "/v1/end_users": {200: 1},
            "/v2/email_stats": {200: len(expected)},
        }
        assert again.stream_state("email_stats")["period_start"] == open_period.isoformat()


def test_days_add_up_to_their_month(account, tmp_path):
    emulator, first = account
    last_month_end = today(emulator).replace(day=1) - timedelta(days=1)
    start = last_month_end.replace(day=1)
    daily = read(
        tmp_path,
        config=config_for(emulator, start_date=f"{start}T12:00:00Z", nps_summary_period="day"),
        catalog=catalog(email_stats="full_refresh"),
    )
    days = [r for r in daily.records["email_stats"] if r["period_start"] <= last_month_end.isoformat()]
    assert [r["period_start"] for r in days] == [
        (start + timedelta(days=i)).isoformat() for i in range(last_month_end.day)
    ]
    month = next(r for r in first.records["email_stats"] if r["period_start"] == start.isoformat())
    for key in (
        "send_requests",
        "emails_sent",
        "delivered",
        "raw_results__open",
        "raw_results__total_responses",
    ):
        assert sum(r[key] for r in days) == month[key], key


def test_an_account_without_the_v2_api_gives_empty_streams_and_one_warning_each(make_emulator, tmp_path):
    emulator = make_emulator(dataset=DatasetSpec(users=30, seed=2, start="2025-01-01", email_stats=False))
    out = read(
        tmp_path,
        config=config_for(emulator, start_date="2025-01-01T00:00:00Z"),
        catalog=catalog(
            email_stats="incremental", email_send_sources="full_refresh", segments="full_refresh"
        ),
    )
    assert out.returncode == 0 and not out.errors, out.stderr[-2000:]
    assert not out.records["email_stats"] and not out.records["email_send_sources"]
    assert len(out.records["segments"]) == len(emulator.segments)  # the rest of the sync goes on
    for stream in ("email_stats", "email_send_sources"):
        said = [w for w in warnings(out) if w.startswith(f"{stream}:")]
        assert len(said) == 1 and "404" in said[0] and "v2" in said[0], warnings(out)
    assert emulator.counters["/v2/email_stats"] == {404: 1}
    assert emulator.counters["/v2/email_stats/sources"] == {404: 1}


def test_the_emulator_would_count_a_bounce_report_request(make_emulator):
    """So that `BOUNCE_REPORT not in counters` above proves the connector never asked for one."""
    emulator = make_emulator(dataset=DatasetSpec(users=5, seed=2, start="2025-01-01"))
    form = {
        "grant_type": "client_credentials",
        "client_id": "demo-client-id",
        "client_secret": "demo-client-secret",
    }
    token = requests.post(f"{emulator.url}/oauth/token", data=form, timeout=10).json()["access_token"]
    answer = requests.post(
        f"{emulator.url}{BOUNCE_REPORT}", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert answer.status_code == 200 and emulator.counters[BOUNCE_REPORT] == {200: 1}
