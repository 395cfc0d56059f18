"""Config migrations: a 0.1.0 config (no `credentials.auth_type`) becomes one the current spec accepts,
written back to its file and emitted as a CONTROL message; a current config is left alone."""

from __future__ import annotations

import copy
import json
import logging
import os
from pathlib import Path

import pytest
from airbyte_cdk.sources.utils.schema_helpers import check_config_against_spec_or_exit
from airbyte_cdk.utils.traced_exception import AirbyteTracedException
from hypothesis import given
from hypothesis import strategies as st

from source_wootric.config import migrate_config, migrate_config_file, parse_config
from source_wootric.source import SourceWootric

SPEC = SourceWootric().spec(logging.getLogger("test"))
V010 = {
    "credentials": {"client_id": "the-id", "client_secret": "the-secret"},
    "start_date": "2020-01-01T00:00:00Z",
    "lookback_window_days": 7,
}
LOGGER = logging.getLogger("test")

texts = st.text(alphabet="abcxyz-_", min_size=1, max_size=8)
credentials = st.dictionaries(
    st.sampled_from(["client_id", "client_secret", "username", "password", "account_token", "extra"]), texts
)


@given(
    credentials=credentials,
    auth_type=st.sampled_from([None, "client_credentials", "password", "other"]),
    rest=st.dictionaries(st.sampled_from(["start_date", "region", "base_url", "x"]), texts),
)
def test_only_a_missing_auth_type_changes_and_it_becomes_client_credentials(credentials, auth_type, rest):
    config = {**rest, "credentials": {**credentials, **({"auth_type": auth_type} if auth_type else {})}}
    given_config = copy.deepcopy(config)
    migrated, applied = migrate_config(config)
    assert config == given_config  # the given config is not touched
    assert migrated["credentials"] == {
        **config["credentials"],
        "auth_type": auth_type or "client_credentials",
    }
    assert {k: v for k, v in migrated.items() if k != "credentials"} == rest
    assert bool(applied) == (auth_type is None)
    assert migrate_config(migrated) == (migrated, [])  # migrating again changes nothing


@pytest.mark.parametrize("value", [None, "text", ["a"], 5])
def test_credentials_that_are_not_an_object_are_left_to_the_config_checks(value):
    assert migrate_config({"credentials": value}) == ({"credentials": value}, [])


def test_a_010_config_fails_the_spec_before_and_passes_it_after():
    with pytest.raises(AirbyteTracedException):
        check_config_against_spec_or_exit(V010, SPEC)
    migrated, _ = migrate_config(V010)
    check_config_against_spec_or_exit(migrated, SPEC)
    assert parse_config(migrated).credentials.grant_type == "client_credentials"


def control_messages(captured: str) -> list[dict]:
    return [json.loads(line) for line in captured.splitlines() if '"CONTROL"' in line]


def test_a_migrated_config_is_written_back_and_emitted(tmp_path: Path, capsys):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(V010))
    config = SourceWootric.read_config(str(path))
    expected = {**V010, "credentials": {**V010["credentials"], "auth_type": "client_credentials"}}
    assert config == expected and json.loads(path.read_text()) == expected
    (message,) = control_messages(capsys.readouterr().out)
    assert message["control"]["type"] == "CONNECTOR_CONFIG"
    assert message["control"]["connectorConfig"]["config"] == expected


def test_a_current_config_is_neither_written_nor_emitted(tmp_path: Path, capsys):
    current = {**V010, "credentials": {**V010["credentials"], "auth_type": "client_credentials"}}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(current, indent=3))
    before = path.stat().st_mtime_ns, path.read_text()
    assert SourceWootric.read_config(str(path)) == current
    assert (path.stat().st_mtime_ns, path.read_text()) == before
    assert not control_messages(capsys.readouterr().out)


def test_a_config_that_is_not_a_regular_file_is_emitted_not_written(capsys):
    # e.g. `--config /dev/stdin`: nothing to write back to, but the platform still hears of the migration
    migrated = migrate_config_file(copy.deepcopy(V010), os.devnull, LOGGER)
    assert migrated["credentials"]["auth_type"] == "client_credentials"
    assert len(control_messages(capsys.readouterr().out)) == 1


def test_a_config_file_that_cannot_be_written_is_a_warning(tmp_path: Path, monkeypatch, capsys, caplog):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(V010))

    def refuse(*args, **kwargs):
        raise PermissionError("read-only file system")

    monkeypatch.setattr("source_wootric.config.open", refuse, raising=False)
    migrated = migrate_config_file(copy.deepcopy(V010), str(path), LOGGER)
    assert migrated["credentials"]["auth_type"] == "client_credentials"
    assert json.loads(path.read_text()) == V010
    assert len(control_messages(capsys.readouterr().out)) == 1
    assert any("could not be written back" in r.message and r.levelname == "WARNING" for r in caplog.records)
