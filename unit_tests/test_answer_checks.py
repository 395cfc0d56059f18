"""The keyset Endpoint turns what the planner saw into one WARN per behaviour and endpoint, or stops the stream
when the API ignores filters. Driven against the model endpoint of test_paging, with records as the API sends
them."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest
from airbyte_cdk.models import FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_wootric.answers import Dimension
from source_wootric.config import parse_config
from source_wootric.streams.base import SyncContext
from source_wootric.streams.keyset import Endpoint
from source_wootric.timezone import AccountZone
from unit_tests.test_paging import Conduct, FakeEndpoint

UPDATED = Dimension("updated", "updated_at")
CREATED = Dimension("created", "created_at")
START = 1_600_000_000


def api_time(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S +0000")


class ModelAccount:
    """The account's interface, answering from the model endpoint with end users as JSON objects."""

    def __init__(self, endpoint: FakeEndpoint):
        self.endpoint = endpoint

    @property
    def data_requests(self) -> int:
        return self.endpoint.requests

    def get(self, path: str, params: dict) -> list[dict]:
        assert path == "end_users"
        return [self.item(row.id) for row in self.endpoint.answer(params)]

    def item(self, user_id: int) -> dict:
        updated, created = self.endpoint.users[user_id]
        return {
            "id": user_id,
            "updated_at": api_time(updated),
            "created_at": api_time(created),
            "email": self.endpoint.emails[user_id],
        }


def read(conduct: Conduct, users: dict[int, tuple[int, int]]) -> tuple[list[int], FakeEndpoint]:
    config = parse_config(
        {
            "credentials": {"auth_type": "client_credentials", "client_id": "the-id", "client_secret": "s"},
            "start_date": "2020-01-01T00:00:00Z",
            "base_url": "https://api.example.test",
        }
    )
    endpoint = FakeEndpoint(users, conduct=conduct)
    account = ModelAccount(endpoint)
    context = SyncContext(config, account, logging.getLogger("airbyte"))  # type: ignore[arg-type]
    context.account_zone = AccountZone(ZoneInfo("UTC"), known=True)  # as if learnt: the model speaks UTC
    dimensions = [UPDATED, CREATED]
    reader = Endpoint(
        context, "end_users", "end_users", dimensions, "email", first_dimension_moves=True, tie_filter="email"
    )
    return [item["id"] for item in read_range(reader, account, START, START + 10**6)], endpoint


def read_range(reader: Endpoint, client: ModelAccount, low: int, high: int) -> Iterator[dict]:
    """The range's items, driven as HttpStream's page loop drives it (request_params, parse_response,
    next_page_token)."""
    range_read = reader.range(low, high)
    params = range_read.params
    while params is not None:
        yield from range_read.feed(client.get(reader.path, params)).items
        params = range_read.advance()


def spread(count: int) -> dict[int, tuple[int, int]]:
    return {i: (START + i * 97, START + i * 13) for i in range(1, count + 1)}


def warnings_of(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def test_a_well_behaved_api_gives_no_warning(caplog):
    users = spread(700)
    ids, _ = read(Conduct(), users)
    assert sorted(ids) == sorted(users)
    assert warnings_of(caplog) == []


def test_a_page_cap_is_read_through_with_one_warning_naming_it(caplog):
    users = spread(700)
    ids, endpoint = read(Conduct(page_cap=25), users)
    assert sorted(set(ids)) == sorted(users)
    [warning] = warnings_of(caplog)
    assert "/end_users answers fewer rows a page than per_page asks for" in warning
    assert "25 rows a page" in warning
    extra = int(warning.split(" extra requests")[0].rsplit(" ", 1)[1])
    assert 0 < extra < endpoint.requests


@pytest.mark.parametrize("conduct", [Conduct(ignore_sort_key=True), Conduct(fixed_order="desc")])
def test_an_ignored_sort_is_read_through_with_one_warning_naming_it(caplog, conduct):
    users = spread(700)
    ids, _ = read(conduct, users)
    assert sorted(set(ids)) == sorted(users)
    [warning] = warnings_of(caplog)
    assert "/end_users ignores sort_key or sort_order" in warning and " extra requests" in warning


def test_ignored_filters_stop_the_stream_with_a_system_error_that_says_what_to_do():
    users = {**spread(300), 999: (START - 5_000, START - 5_000)}  # one end user before the range
    with pytest.raises(AirbyteTracedException) as raised:
        read(Conduct(ignore_filters=True), users)
    error = raised.value
    assert error.failure_type == FailureType.system_error
    assert "ignored a filter of /end_users" in error.message and "record 999" in error.message
    assert "updated[gte]=" in error.message and "report it to Wootric support" in error.message
