"""Runs of the real `source-wootric` command with known secret values, checked for leaks and tracebacks.

Every reliability scenario (faults, resumption, bad input) goes through `run_guarded`: the emulator is
built with long, recognisable secrets (`guarded_emulator`), the config carries them (`guarded_config`),
and after the run no secret, nor any access or refresh token the emulator issued, may appear anywhere in
stdout or stderr; nor may a Python traceback appear outside the `stack_trace` of a TRACE message.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from integration_tests.connector import Output, run

# Long and unmistakable, as real Wootric secrets are (64 characters): a leak cannot hide in a short match.
CLIENT_ID = "guarded-client-id-0123456789abcdef0123456789abcdef0123456789abcdef"
CLIENT_SECRET = "cs-SECRET-7b1f0e9d4c2a8b6e5f3d1c0b9a8e7f6d5c4b3a2918f7e6d5c4b3a2910f"
USERNAME = "night-sync@example.com"
PASSWORD = "pw-SECRET-Zq8!xR2#vL5$kN9^mW3&tY7*pH4(cJ6)bG1-fD0+sA8=uE2?iO5~"
ACCOUNT_TOKEN = "NPS-guarded01"
SECRETS = (CLIENT_SECRET, PASSWORD)


def guarded_emulator(make: Callable[..., Any], **kwargs: Any) -> Any:
    """An emulator (from the `make_emulator` fixture) that accepts only the secrets above."""
    return make(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        username=USERNAME,
        password=PASSWORD,
        account_token=ACCOUNT_TOKEN,
        **kwargs,
    )


def guarded_config(
    emulator: Any = None, *, auth: str = "client_credentials", **overrides: Any
) -> dict[str, Any]:
    if auth == "client_credentials":
        credentials = {"auth_type": auth, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    else:
        credentials = {
            "auth_type": auth,
            "username": USERNAME,
            "password": PASSWORD,
            "account_token": ACCOUNT_TOKEN,
        }
    config: dict[str, Any] = {
        "credentials": credentials,
        "start_date": "2010-01-01T00:00:00Z",
        "account_timezone": "America/Los_Angeles",
    }
    if emulator is not None:
        config["base_url"] = emulator.url
    config.update(overrides)
    return config


def tracebacks_outside_trace(out: Output) -> list[str]:
    """Where a traceback shows other than a TRACE message's stack_trace: stderr, LOG messages, stray lines."""
    found = []
    if "Traceback (most recent call last)" in out.stderr:
        found.append(f"stderr: {out.stderr[-500:]}")
    for message in out.messages:
        if message.get("type") == "TRACE":
            continue
        text = json.dumps(message)
        if "Traceback (most recent call last)" in text or 'File \\"' in text:
            found.append(text[:500])
    return found


def assert_clean(out: Output, emulator: Any = None, extra_secrets: Iterable[str] = ()) -> None:
    """No secret, no issued token, no traceback outside TRACE; every stdout line an Airbyte message. The one
    place a secret belongs is a CONNECTOR_CONFIG control message: the migrated config the platform stores."""
    tokens = emulator.issued_tokens() if emulator is not None else []
    stdout = "\n".join(
        line
        for line, message in zip(out.stdout.splitlines(), out.messages, strict=True)
        if not _config_update(message)
    )
    for value in (*SECRETS, *extra_secrets, *tokens):
        assert value not in stdout, "a secret or token leaked to stdout"
        assert value not in out.stderr, "a secret or token leaked to stderr"
    assert not [m for m in out.messages if m["type"] == "NOT_JSON"], (
        "stdout holds a line that is not a message"
    )
    assert not tracebacks_outside_trace(out)


def _config_update(message: dict[str, Any]) -> bool:
    return message["type"] == "CONTROL" and message["control"]["type"] == "CONNECTOR_CONFIG"


def run_guarded(
    args: list[str],
    tmp_path: Path,
    emulator: Any = None,
    *,
    env: dict[str, str] | None = None,
    timeout: float = 120,
    **files: Any,
) -> Output:
    out = run(args, tmp_path, env=env, timeout=timeout, **files)
    assert_clean(out, emulator)
    return out
