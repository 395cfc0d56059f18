"""What Wootric's error answers say, in the forms the real API sends them.

Recorded answers (rudderlabs/rudder-transformer's Wootric network mocks): a token request with an unknown
`account_token` answers 404 `{"error": "Not found", "status": 404}`; other errors answer
`{"type": "error_list", "errors": [{"status": ..., "message": ..., "field": ...}]}`. OAuth failures look like
Doorkeeper's `{"error": "invalid_client", "error_description": "..."}`.
"""

from __future__ import annotations

from typing import Any

import requests

MAX_DETAIL = 500  # characters of an error body's messages quoted in our own message
NOT_JSON = object()  # the body is not JSON: the answer did not come from Wootric's API


def json_body(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return NOT_JSON


def error_messages(body: Any) -> list[str]:
    """Every message an error body carries: all of an `error_list`, else `error` and its description."""
    if not isinstance(body, dict):
        return []
    errors = body.get("errors")
    if isinstance(errors, list):
        listed = [error.get("message") for error in errors if isinstance(error, dict)]
        found = [str(message) for message in listed if message not in (None, "")]
        if found:
            return found
    return [str(body[key]) for key in ("error", "error_description") if body.get(key) not in (None, "")]


def error_detail(response: requests.Response) -> str:
    """`: message; message` for a message, or nothing when the body says nothing readable."""
    messages = "; ".join(error_messages(json_body(response)))
    return f": {messages[:MAX_DETAIL]}" if messages else ""
