"""The semantics of a session, with no I/O.

Every decision about a session lives here: id generation and validation, user-id, prefix
and ttl checks, key naming, expiry arithmetic and the bounded collision retry. A verb
becomes storage operations (``Insert``, ``Fetch``, ``Refresh``, ``Delete``) that a backend
carries out, each as one atomic step. ``get``, ``liv`` and ``die`` are one operation, or
none for a malformed id; ``set`` is a *flow*, a generator that yields Inserts and is sent
each one's result, because a collision means drawing again. ``sesh._store`` runs them,
synchronously or under asyncio.
"""

from __future__ import annotations

import base64
import math
import re
import secrets
from collections.abc import Generator
from datetime import timedelta
from typing import Any, NamedTuple, TypeVar, cast

from sesh.errors import SeshError

__all__ = [
    "ID_BYTES",
    "ID_LENGTH",
    "MAX_ID_DRAWS",
    "MAX_PREFIX_BYTES",
    "MAX_TTL_SECONDS",
    "MAX_USER_ID_BYTES",
    "Delete",
    "Fetch",
    "Flow",
    "Insert",
    "Op",
    "Refresh",
    "SessionCore",
    "Ttl",
    "check_prefix",
    "check_user_id",
    "deadline",
    "is_expired",
    "is_session_id",
    "new_session_id",
    "ttl_to_ms",
]

T = TypeVar("T")

ID_BYTES = 32
"""Random bytes in a session id, as in redis-sesh 1.0."""
ID_LENGTH = 44
"""Length of a session id: standard base64 of 32 bytes, one ``=`` of padding."""
MAX_ID_DRAWS = 5
"""Fresh ids drawn by ``set`` before it concludes the store is broken."""
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
    return base64.b64encode(secrets.token_bytes(ID_BYTES)).decode("ascii")


def is_session_id(session_id: object) -> bool:
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


def check_user_id(user_id: object) -> str:
    """Validates a user id and returns it as the str that is stored.

    Raises:
        TypeError: not a str or an int (bool is refused: it is almost always a bug).
        ValueError: empty, not valid UTF-8 text, or over ``MAX_USER_ID_BYTES``.
    """
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


def ttl_to_ms(ttl: object) -> int | None:
    """Turns a ttl into whole milliseconds, or None for "never expires".

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
            raise ValueError("ttl is too large") from None
    else:
        raise TypeError(
            f"ttl must be seconds (int or float), a timedelta or None, not {type(ttl).__name__}"
        )
    if math.isnan(seconds) or seconds < 0:
        raise ValueError("ttl must be a positive number of seconds, or 0/None for no expiry")
    if seconds == 0:
        return None
    if seconds > MAX_TTL_SECONDS:
        raise ValueError(f"ttl must be at most {MAX_TTL_SECONDS} seconds; use None for no expiry")
    ms = round(seconds * 1000)
    if ms < 1:
        raise ValueError("ttl must be at least 1 millisecond (its precision)")
    return ms


def deadline(now: float, ttl_ms: int | None) -> float | None:
    """When a session written or refreshed at ``now`` (seconds) expires; None for never."""
    return None if ttl_ms is None else now + ttl_ms / 1000


def is_expired(expires_at: float | None, now: float) -> bool:
    """Whether a session with that deadline is gone at ``now``."""
    return expires_at is not None and expires_at <= now


class Insert(NamedTuple):
    """Write ``key`` = ``value`` only if ``key`` is absent, expiring after ``ttl_ms``.

    Result: True if written, False if the key already held a live session.
    """

    key: str
    value: str
    ttl_ms: int | None


class Fetch(NamedTuple):
    """Read ``key``; if ``touch_ms`` is set, also reset its expiry to that, in one step.

    Result: the stored user id, or None if there is no live session.
    """

    key: str
    touch_ms: int | None


class Refresh(NamedTuple):
    """Reset the expiry of ``key`` to ``ttl_ms`` (None: only check that it exists).

    Result: True if a live session was there. Never creates one.
    """

    key: str
    ttl_ms: int | None


class Delete(NamedTuple):
    """Remove ``key``. Result: True if a live session was removed."""

    key: str


Op = Insert | Fetch | Refresh | Delete
Flow = Generator[Op, Any, T]
"""A verb of several steps: yields operations, is sent each one's result, returns its own."""


class SessionCore:
    """The validated settings of one store and the four verbs as flows."""

    __slots__ = ("_head", "prefix", "ttl_ms")

    def __init__(self, prefix: str = "sesh", ttl: Ttl = None) -> None:
        self.prefix = check_prefix(prefix)
        self.ttl_ms = ttl_to_ms(ttl)
        self._head = self.prefix + ":"

    @property
    def ttl(self) -> float | None:
        """The ttl in seconds, or None when sessions never expire."""
        return None if self.ttl_ms is None else self.ttl_ms / 1000

    def key(self, session_id: str) -> str:
        """The storage key of a session: ``<prefix>:<session id>``, as in redis-sesh."""
        return self._head + session_id

    def set_flow(self, user_id: object) -> Flow[str]:
        """Creates a session for ``user_id``; returns its id.

        The one verb that may take several operations: an Insert that finds its key taken
        is answered False, and a fresh id is drawn.
        """
        value = check_user_id(user_id)
        for _ in range(MAX_ID_DRAWS):
            session_id = new_session_id()
            if (yield Insert(self.key(session_id), value, self.ttl_ms)):
                return session_id
        raise SeshError(
            f"no fresh session id after {MAX_ID_DRAWS} draws: every key was already taken,"
            " so the store does not report absent keys correctly"
        )

    def get_op(self, session_id: object, touch: object = False) -> Fetch | None:
        """The read of a session (resetting its expiry if ``touch``); None if malformed."""
        if touch is not True and touch is not False:
            raise TypeError(f"touch must be a bool, not {type(touch).__name__}")
        if not is_session_id(session_id):
            return None
        return Fetch(self.key(cast(str, session_id)), self.ttl_ms if touch else None)

    def liv_op(self, session_id: object) -> Refresh | None:
        """The reset of a session's expiry to the full ttl; None if malformed."""
        if not is_session_id(session_id):
            return None
        return Refresh(self.key(cast(str, session_id)), self.ttl_ms)

    def die_op(self, session_id: object) -> Delete | None:
        """The removal of a session; None if the id is malformed."""
        if not is_session_id(session_id):
            return None
        return Delete(self.key(cast(str, session_id)))
