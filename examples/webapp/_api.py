"""What every framework's example app shares: the rules of a request body.

Every POST takes ``application/json`` only (a JSON object in UTF-8, at most ``MAX_BODY``
bytes): a form from another site cannot send that, nor can a page of a sibling subdomain
without the browser asking first, so the state-changing routes need no CSRF token.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

PAGE = Path(__file__).with_name("page.html")
MAX_BODY = 4096
"""The longest request body taken: a user id is at most 1024 bytes."""


class BadRequest(Exception):
    """A client error: its status and message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def check_headers(content_type: str | None, content_length: str | None) -> None:
    """Refuses, before the body is read, a POST that is not JSON (415) or too long (413)."""
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind != "application/json":
        raise BadRequest(415, "send application/json")
    length = content_length or "0"
    if not length.isdigit() or int(length) > MAX_BODY:
        raise BadRequest(413, f"a body is at most {MAX_BODY} bytes")


def parse_object(raw: bytes) -> dict[str, Any]:
    """A body as a JSON object in UTF-8 (empty: ``{}``); 413 past ``MAX_BODY``, 400 for
    anything else."""
    if len(raw) > MAX_BODY:
        raise BadRequest(413, f"a body is at most {MAX_BODY} bytes")
    try:
        body = json.loads(raw.decode("utf-8")) if raw else {}
    except (ValueError, RecursionError):  # not UTF-8, not JSON, nested past the stack
        raise BadRequest(400, "the body is not JSON in UTF-8") from None
    if not isinstance(body, dict):
        raise BadRequest(400, "send a JSON object")
    return body


def field(body: dict[str, Any], name: str) -> str:
    """A string field of a body; 400 if it is missing or not a string."""
    if name not in body:
        raise BadRequest(400, f"send a JSON object with {name!r}")
    value = body[name]
    if not isinstance(value, str):
        raise BadRequest(400, f"{name} must be a string")
    return value
