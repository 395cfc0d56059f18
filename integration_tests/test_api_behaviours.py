"""The API as it may really behave, through the real `source-wootric read`: each departure from Wootric's
reference that public artifacts show, played by the emulator, ends with every record and one WARN naming it,
or, where nothing can be read completely (ignored filters), with an error that names the cause."""

from __future__ import annotations

import re

import pytest

from integration_tests.connector import all_streams, catalog, config_for, read
from wootric_emulator import DatasetSpec

pytestmark = pytest.mark.timeout(600)

# The stand-in of issue 10: 1,500 end users with a 400-user bulk second, 1,200 responses.
ACCOUNT = DatasetSpec(users=1_500, bulk_import_users=400, responses=1_200, declines=300, seed=41)
LISTS = {"end_users": "incremental", "responses": "incremental", "declines": "incremental"}


def warnings(out) -> list[str]:
    return [m["log"]["message"] for m in out.of_type("LOG") if m["log"]["level"] == "WARN"]


def assert_every_record(out, emulator) -> None:
    assert out.returncode == 0 and not out.errors, out.stderr[-2000:]
    for stream in LISTS:
        served = {record["id"] for record in getattr(emulator, stream)}
        read_ids = [record["id"] for record in out.records[stream]]
        assert set(read_ids) == served, f"{stream}: {len(served - set(read_ids))} missing"


def test_a_well_behaved_api_gives_every_record_and_no_warning(make_emulator, tmp_path):
    emulator = make_emulator(dataset=ACCOUNT)
    out = read(tmp_path, config_for(emulator, account_timezone="auto"), all_streams())
    assert_every_record(out, emulator)
    assert warnings(out) == []


@pytest.mark.parametrize(
    ("behaviour", "endpoints", "named"),
    [
        ({"page_cap": 25}, ("end_users", "responses", "declines"), "fewer rows a page than per_page"),
        ({"ignore_sort_key": True}, ("end_users",), "ignores sort_key or sort_order"),
        ({"ignore_sort_order": True}, ("responses", "declines"), "ignores sort_key or sort_order"),
    ],
    ids=["page cap of 25", "sort_key ignored", "sort_order ignored"],
)
def test_what_can_be_read_through_gives_every_record_and_one_warning_per_endpoint(
    make_emulator, tmp_path, behaviour, endpoints, named
):
    emulator = make_emulator(dataset=ACCOUNT, **behaviour)
    out = read(tmp_path, config_for(emulator), catalog(**LISTS))
    assert_every_record(out, emulator)
    named_lines = [line for line in warnings(out) if named in line]
    assert sorted(line.split(":")[0] for line in named_lines) == sorted(endpoints), named_lines
    for line in named_lines:
        assert "extra requests" in line and f"/{line.split(':')[0]}" in line


def test_a_page_cap_costs_about_twice_the_requests_not_more(make_emulator, tmp_path):
    capped = make_emulator(dataset=ACCOUNT, page_cap=25)
    out = read(tmp_path, config_for(capped), catalog(responses="incremental"))
    assert_every_record_of(out, capped, "responses")
    # 1,200 responses at 25 a page: 48 pages at least; reading through costs a few more, not a multiple.
    assert 48 <= capped.requests("/v1/responses") <= 48 * 1.25


def assert_every_record_of(out, emulator, stream: str) -> None:
    assert out.returncode == 0 and not out.errors, out.stderr[-2000:]
    assert {r["id"] for r in out.records[stream]} == {r["id"] for r in getattr(emulator, stream)}


def test_ignored_filters_stop_the_stream_with_an_error_that_names_the_cause(make_emulator, tmp_path):
    emulator = make_emulator(dataset=ACCOUNT, ignore_filters=True)
    out = read(tmp_path, config_for(emulator), catalog(responses="incremental"))
    assert out.returncode == 1
    errors = [e for e in out.errors if "ignored a filter" in e["message"]]
    assert errors and errors[0]["failure_type"] == "system_error"
    assert "/responses" in errors[0]["message"] and "Wootric support" in errors[0]["message"]
    assert emulator.requests("/v1/responses") <= 3  # it stops at once, not after paging everything


def test_shared_emails_in_a_new_order_on_every_request_lose_no_end_user_without_a_warning(
    make_emulator, tmp_path
):
    """700 end users share their updated and created second, 40% of all share an e-mail (null or "Unknown"),
    and ties come in a new order on every request: what no filter can read apart is named in a WARN, with
    the seconds it shares; nothing else goes missing."""
    crowded = DatasetSpec(
        users=2_000, bulk_created_same_second=700, shared_email_fraction=0.4, responses=0, declines=0, seed=42
    )
    emulator = make_emulator(dataset=crowded, ties_shuffled=True)
    out = read(tmp_path, config_for(emulator), catalog(end_users="incremental"))
    assert out.returncode == 0 and not out.errors, out.stderr[-2000:]
    read_ids = {r["id"] for r in out.records["end_users"]}
    named = {
        (int(updated), int(created))
        for line in warnings(out)
        for updated, created in re.findall(
            r"cannot reach every record where updated = \S+ \((\d+)\), created = \S+ \((\d+)\)", line
        )
    }
    missing = [u for u in emulator.end_users if u["id"] not in read_ids]
    for user in missing:
        assert (emulator.epoch(user["updated_at"]), emulator.epoch(user["created_at"])) in named, user["id"]
    assert len(missing) < 100  # the members of the named tie groups only, the rest of the cluster is read


def test_an_account_east_of_utc_with_offsetless_datetimes_gives_every_record(make_emulator, tmp_path):
    sydney = DatasetSpec(
        users=1_500, bulk_import_users=400, responses=1_200, declines=300, seed=43, legacy_fraction=0.5,
        offsetless_mix=True, legacy_at_folds=True,
    )  # fmt: skip
    emulator = make_emulator(dataset=sydney, account_timezone="Australia/Sydney")
    # What the Airbyte UI wrote by default in 0.1.0: UTC.
    out = read(tmp_path, config_for(emulator, account_timezone="UTC"), catalog(**LISTS))
    assert_every_record(out, emulator)
    assert [line for line in warnings(out) if "Australia/Sydney" in line]
