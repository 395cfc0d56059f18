"""A day's hourly syncs on the account of issue 19 (20,000 end users, 100,000 responses and 20,000 declines over
3 years) cost a handful of requests each, and still bring every edit within `edits_bound_hours` and every
back-dated record within `backdated_bound_days`: days of hourly syncs through the command, on the simulated
clock (test_backdated.read_in_process), with new, edited and back-dated responses and declines written between
them."""

from __future__ import annotations

from datetime import datetime

import pytest

from integration_tests.connector import Output, all_streams, config_for
from integration_tests.test_backdated import DAY, HOUR, clock_at, read_in_process, warnings
from wootric_emulator import DatasetSpec

pytestmark = pytest.mark.timeout(900)

T0 = 1_748_736_000  # 2025-06-01T00:00:00Z: the data ends here, the initial read runs then
DAYS = 8  # hourly syncs: a whole sweep pass (backdated_bound_days 7) and then some
LOOKBACK = 30 * DAY
EDITS_BOUND = 24 * HOUR  # edits_bound_hours' default
BACKDATED_BOUND = 7 * DAY  # backdated_bound_days' default
MEAN_REQUESTS = 30  # the bound on an hourly sync's mean cost in data requests (its 101 counted those)


def first_emitted(out: Output, stream: str, ids: dict[int, int]) -> set[int]:
    """The ids of `ids` (id -> when it was written) that this sync emitted as they were last written."""
    return {
        record["id"]
        for record in out.records.get(stream, [])
        if record["id"] in ids
        and datetime.fromisoformat(record["updated_at"]).timestamp() >= ids[record["id"]]
    }


def test_hourly_syncs_cost_a_handful_of_requests_and_keep_the_bounds(
    make_emulator, tmp_path, capsys, caplog, monkeypatch
):
    clock = clock_at(tmp_path)
    emulator = make_emulator(
        dataset=DatasetSpec(
            users=20_000, responses=100_000, declines=20_000, seed=5, start=T0 - 3 * 365 * DAY, end=T0
        ),
        clock=clock,
    )
    config = config_for(emulator, start_date="2022-01-01T00:00:00Z")
    # The streams the issue measured its 101 requests on (survey_templates, added since, costs 1 more a sync).
    sync_catalog = {
        "streams": [
            s for s in all_streams("incremental")["streams"] if s["stream"]["name"] != "survey_templates"
        ]
    }
    first = read_in_process(capsys, caplog, monkeypatch, tmp_path, clock, T0, config, sync_catalog, None)
    assert first.returncode == 0 and not first.errors, first.stdout[-2000:]

    pending: dict[tuple[str, int], int] = {}  # edited or back-dated (stream, id) -> when it was written
    late: dict[str, list[int]] = {"edit": [], "backdated": []}  # how long each took to arrive
    kinds: dict[tuple[str, int], str] = {}
    costs: list[int] = []
    state = first.final_state
    for hour in range(1, DAYS * 24 + 1):
        now = T0 + hour * HOUR
        written = now - HOUR // 2
        emulator.add_backdated("responses", 4, written, seed=hour, at=written)  # new: ~90 a day
        if hour % 4 == 0:  # an edit of a response created within the look-back
            for record_id in emulator.edit_responses(
                1, seed=hour, at=written, created_from=written - LOOKBACK + DAY
            ):
                pending[("responses", record_id)], kinds[("responses", record_id)] = written, "edit"
        if hour % 12 == 6:  # back-dated, anywhere in the three years behind the look-back
            created = T0 - 3 * 365 * DAY + (hour * 7919 * HOUR) % (2 * 365 * DAY)
            for stream in ("responses", "declines"):
                for record_id in emulator.add_backdated(stream, 1, created, seed=hour, at=written):
                    pending[(stream, record_id)], kinds[(stream, record_id)] = written, "backdated"
        emulator.reset_counters()
        out = read_in_process(capsys, caplog, monkeypatch, tmp_path, clock, now, config, sync_catalog, state)
        assert out.returncode == 0 and not out.errors and not warnings(out), out.stdout[-2000:]
        costs.append(emulator.requests("/v1/") + emulator.requests("/v2/"))
        for stream in ("responses", "declines"):
            ids = {record_id: at for (s, record_id), at in pending.items() if s == stream}
            for record_id in first_emitted(out, stream, ids):
                late[kinds[(stream, record_id)]].append(now - pending.pop((stream, record_id)))
        state = out.final_state

    last = T0 + DAYS * 24 * HOUR
    bounds = {"edit": EDITS_BOUND, "backdated": BACKDATED_BOUND}
    overdue = {key: at for key, at in pending.items() if last - at > bounds[kinds[key]]}
    assert not overdue, f"not arrived within their bound: {overdue}"
    for kind, bound in bounds.items():
        assert late[kind] and max(late[kind]) <= bound + HOUR, (kind, max(late[kind]) / HOUR)
    mean = sum(costs) / len(costs)
    assert mean <= MEAN_REQUESTS, (mean, costs)
    with capsys.disabled():
        print(
            f"\n{len(costs)} hourly syncs: data requests per sync mean {mean:.1f}, max {max(costs)}; edits arrived "
            f"after at most {max(late['edit']) / HOUR:.1f} h ({len(late['edit'])}), back-dated records after at "
            f"most {max(late['backdated']) / DAY:.1f} d ({len(late['backdated'])})"
        )
