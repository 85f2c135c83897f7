"""The input rules: what a session id, a user id, a prefix, a ttl and a flag may be.

Every store and the command line refuse bad input by these rules alone: a wrong type is a
``TypeError``, a bad value a ``ValueError``, and a string that cannot be a session id is
no session (no error, and no backend call).
"""

from __future__ import annotations

import binascii
import math
import re
import secrets
from datetime import timedelta
from typing import TypeGuard

__all__ = [
    "ID_BYTES",
    "ID_LENGTH",
    "MAX_PREFIX_BYTES",
    "MAX_TTL_SECONDS",
    "MAX_USER_ID_BYTES",
    "Ttl",
    "check_flag",
    "check_prefix",
    "check_user_id",
    "is_session_id",
    "new_session_id",
    "ttl_to_ms",
]

ID_BYTES = 32
"""Random bytes in a session id, as in redis-sesh 1.0."""
ID_LENGTH = 44
"""Length of a session id: standard base64 of 32 bytes, one ``=`` of padding."""
MAX_USER_ID_BYTES = 1024
"""Longest user id accepted, in UTF-8 bytes."""
MAX_PREFIX_BYTES = 256
"""Longest key prefix accepted, in UTF-8 bytes."""
MAX_TTL_SECONDS = 100 * 365 * 24 * 3600
"""Longest ttl accepted (100 years); use ``None`` for sessions that never expire."""

# 32 bytes are 256 bits: 42 full sextets, then 4 bits padded with two zero bits, then "=".
# So the 43rd character is one of the 16 whose low two bits are zero; any other string
# cannot have come from new_session_id().
_SESSION_ID = re.compile(r"[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=")

Ttl = int | float | timedelta | None
"""A session lifetime: seconds, a timedelta, or None/0 for "never expires"."""


def new_session_id() -> str:
    """Draws a fresh session id: standard base64 of 32 bytes from ``secrets``."""
    return binascii.b2a_base64(secrets.token_bytes(ID_BYTES), newline=False).decode("ascii")


def is_session_id(session_id: object) -> TypeGuard[str]:
    """Says whether ``session_id`` could be an id that ``new_session_id`` made.

    Raises:
        TypeError: ``session_id`` is not a str.
    """
    if not isinstance(session_id, str):
        raise TypeError(f"session_id must be a str, not {type(session_id).__name__}")
    # The length check first: a 10 MB cookie costs no more than a short one.
    return len(session_id) == ID_LENGTH and _SESSION_ID.fullmatch(session_id) is not None


def _check_text(value: str, what: str, limit: int) -> str:
    if not value:
        raise ValueError(f"{what} must not be empty")
    if len(value) > limit:
        raise ValueError(f"{what} is longer than {limit} bytes")
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        raise ValueError(f"{what} must be valid UTF-8 text (it has a lone surrogate)") from None
    if size > limit:
        raise ValueError(f"{what} is longer than {limit} bytes in UTF-8")
    return str(value)


_SHORT_INT = 10**18


def check_user_id(user_id: object) -> str:
    """Validates a user id and returns it as the str that is stored.

    Raises:
        TypeError: not a str or an int (bool is refused: it is almost always a bug).
        ValueError: empty, not valid UTF-8 text, or over ``MAX_USER_ID_BYTES``.
    """
    if type(user_id) is int and -_SHORT_INT < user_id < _SHORT_INT:
        return str(user_id)  # digits and a sign: never empty, never over the limit
    if isinstance(user_id, str):
        return _check_text(user_id, "user_id", MAX_USER_ID_BYTES)
    if isinstance(user_id, int) and not isinstance(user_id, bool):
        if user_id.bit_length() > MAX_USER_ID_BYTES * 4:  # surely over the limit; skip str()
            raise ValueError(f"user_id is longer than {MAX_USER_ID_BYTES} bytes")
        return _check_text(str(int(user_id)), "user_id", MAX_USER_ID_BYTES)
    raise TypeError(f"user_id must be a str or an int, not {type(user_id).__name__}")


def check_prefix(prefix: object) -> str:
    """Validates a key prefix.

    Raises:
        TypeError: not a str.
        ValueError: empty, not valid UTF-8 text, or over ``MAX_PREFIX_BYTES``.
    """
    if not isinstance(prefix, str):
        raise TypeError(f"prefix must be a str, not {type(prefix).__name__}")
    return _check_text(prefix, "prefix", MAX_PREFIX_BYTES)


def ttl_to_ms(ttl: object, name: str = "ttl") -> int | None:
    """Turns a ttl (or another lifetime, named ``name``) into whole milliseconds, or None
    for "never expires".

    Raises:
        TypeError: not None, an int, a float or a timedelta (bool is refused).
        ValueError: negative, NaN, infinite, under 1 ms or over ``MAX_TTL_SECONDS``.
    """
    if ttl is None:
        return None
    if isinstance(ttl, timedelta):
        seconds = ttl.total_seconds()
    elif isinstance(ttl, (int, float)) and not isinstance(ttl, bool):
        try:
            seconds = float(ttl)
        except OverflowError:
            raise ValueError(f"{name} is too large") from None
    else:
        raise TypeError(
            f"{name} must be seconds (int or float), a timedelta or None, not {type(ttl).__name__}"
        )
    if math.isnan(seconds) or seconds < 0:
        raise ValueError(f"{name} must be a positive number of seconds, or 0/None for none")
    if seconds == 0:
        return None
    if seconds > MAX_TTL_SECONDS:
        raise ValueError(f"{name} must be at most {MAX_TTL_SECONDS} seconds; use None for none")
    ms = round(seconds * 1000)
    if ms < 1:
        raise ValueError(f"{name} must be at least 1 millisecond (its precision)")
    return ms


def check_flag(value: object, name: str) -> bool:
    """Validates an on/off option.

    Raises:
        TypeError: not a bool.
    """
    if value is not True and value is not False:
        raise TypeError(f"{name} must be a bool, not {type(value).__name__}")
    return value
