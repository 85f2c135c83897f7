"""The semantics of a session, with no I/O.

Every decision about a session lives here: id generation and validation, user-id, prefix
and ttl checks, the options (``track_users``, ``max_age``, ``hash_ids``), key naming,
expiry arithmetic and the bounded collision retry. A verb becomes storage operations
(``Insert``, ``Fetch``, ``Refresh``, ``Delete``, ``Rotate``, ``ListUser``, ``DeleteUser``)
that a backend carries out, each as one atomic step. ``get``, ``liv``, ``die``,
``sessions`` and ``die_all`` are one operation, or none for a malformed id; ``set`` and
``rotate`` are *flows*, generators that yield operations and are sent each one's result,
because a collision means drawing again. ``sesh._store`` runs them, synchronously or under
asyncio.
"""

from __future__ import annotations

import base64
import hashlib
import math
import re
import secrets
from collections.abc import Generator
from datetime import timedelta
from typing import Any, NamedTuple, TypedDict, TypeVar, cast

from sesh.errors import NotEnabledError, SeshError

__all__ = [
    "ID_BYTES",
    "ID_LENGTH",
    "MAX_ID_DRAWS",
    "MAX_PREFIX_BYTES",
    "MAX_TTL_SECONDS",
    "MAX_USER_ID_BYTES",
    "Delete",
    "DeleteUser",
    "Fetch",
    "Flow",
    "Insert",
    "ListUser",
    "Op",
    "Options",
    "Refresh",
    "Rotate",
    "SessionCore",
    "Take",
    "Ttl",
    "capped",
    "check_flag",
    "check_prefix",
    "check_user_id",
    "deadline",
    "digest",
    "is_expired",
    "is_session_id",
    "new_session_id",
    "ttl_to_ms",
    "user_tag",
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
# What sessions() gives out for a session when ids are hashed: its tag and digest.
_HANDLE = re.compile(r"\{[A-Za-z0-9+/]{2}\}[0-9a-f]{64}")
_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

Ttl = int | float | timedelta | None
"""A session lifetime: seconds, a timedelta, or None/0 for "never expires"."""


class Options(TypedDict, total=False):
    """The options every store takes as keyword arguments (all off by default)."""

    track_users: bool
    """Keep an index of each user's sessions, for ``sessions`` and ``die_all``."""
    max_age: Ttl
    """An absolute lifetime, which ``liv`` and touch never pass."""
    hash_ids: bool
    """Store a SHA-256 digest of each session id instead of the id."""


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


def deadline(now: float, ttl_ms: int | None) -> float | None:
    """When a session written or refreshed at ``now`` (seconds) expires; None for never."""
    return None if ttl_ms is None else now + ttl_ms / 1000


def is_expired(expires_at: float | None, now: float) -> bool:
    """Whether a session with that deadline is gone at ``now``."""
    return expires_at is not None and expires_at <= now


def capped(expires_at: float | None, max_at: float | None) -> float | None:
    """A sliding deadline, never past the absolute one (``max_age``); None for never."""
    if max_at is None:
        return expires_at
    return max_at if expires_at is None else min(expires_at, max_at)


def check_flag(value: object, name: str) -> bool:
    """Validates an on/off option.

    Raises:
        TypeError: not a bool.
    """
    if value is not True and value is not False:
        raise TypeError(f"{name} must be a bool, not {type(value).__name__}")
    return value


def digest(session_id: str) -> str:
    """What ``hash_ids`` stores for a session id: its SHA-256, in hex."""
    return hashlib.sha256(session_id.encode("ascii")).hexdigest()


def user_tag(user_id: str) -> str:
    """The two id characters shared by every session of a user when ``track_users`` is on.

    12 bits of the user id's SHA-256: they put a user's sessions and their index in one
    Redis Cluster slot (keys carry them as a ``{hash tag}``), so one script can update both.
    """
    bits = int.from_bytes(hashlib.sha256(user_id.encode("utf-8")).digest()[:2], "big") >> 4
    return _B64[bits >> 6] + _B64[bits & 63]


class Insert(NamedTuple):
    """Write ``key`` = ``value`` only if ``key`` holds no live session, expiring after
    ``ttl_ms``, and never later than ``max_age_ms`` from now (an absolute deadline kept
    with the session). With ``user_index`` set, also add ``member`` to that index.

    Result: True if written, False if the key already held a live session.
    """

    key: str
    value: str
    ttl_ms: int | None
    max_age_ms: int | None = None
    user_index: str | None = None
    member: str | None = None


class Fetch(NamedTuple):
    """Read ``key``; if ``touch_ms`` is set, also reset its expiry to that (capped by the
    session's absolute deadline), in one step.

    Result: the stored user id, or None if there is no live session.
    """

    key: str
    touch_ms: int | None
    member: str | None = None
    """The session in its user's index, if it is tracked: its deadline there follows."""


class Refresh(NamedTuple):
    """Reset the expiry of ``key`` to ``ttl_ms``, capped by the session's absolute deadline
    (``ttl_ms`` None: only check that it exists).

    Result: True if a live session was there. Never creates one.
    """

    key: str
    ttl_ms: int | None
    member: str | None = None
    """The session in its user's index, if it is tracked: its deadline there follows."""


class Delete(NamedTuple):
    """Remove ``key`` (and ``member`` from its user's index). Result: True if a live
    session was removed."""

    key: str
    member: str | None = None


class Rotate(NamedTuple):
    """Move the live session at ``key`` to ``new_key`` if that holds no live session, in
    one atomic step: same user, same absolute deadline, expiry reset to ``ttl_ms`` (capped
    by that deadline), the old key gone, and in its user's index ``member`` replaced by
    ``new_member``.

    Result: True if moved; False if ``new_key`` was taken (nothing changed); None if
    ``key`` held no live session.
    """

    key: str
    member: str | None
    new_key: str
    new_member: str | None
    ttl_ms: int | None


class Take(NamedTuple):
    """Remove ``key``. Result: the user id of the live session it held, or None.

    Only for stores that cannot rotate in one step (see ``SessionCore.rotate_flow``).
    """

    key: str


class ListUser(NamedTuple):
    """The live sessions in ``user_index``: each one's key less ``head``.

    Result: a list of those members, in no particular order.
    """

    user_index: str
    head: str


class DeleteUser(NamedTuple):
    """Remove every session in ``user_index`` (keys: ``head`` + member), and the index.
    Result: how many live sessions were removed."""

    user_index: str
    head: str


Op = Insert | Fetch | Refresh | Delete | Rotate | Take | ListUser | DeleteUser
Flow = Generator[Op, Any, T]
"""A verb of several steps: yields operations, is sent each one's result, returns its own."""


class SessionCore:
    """The validated settings of one store and its verbs as operations.

    The options change where sessions live. With none on, a session is the key
    ``<prefix>:<id>`` holding the user id, as in redis-sesh. ``hash_ids`` replaces the id
    in the key with its SHA-256. ``track_users`` or ``max_age`` keep more with a session
    (the absolute deadline, the user's index), and put ``{xy}``, the id's first two
    characters, before it: ``<prefix>:{xy}<id or digest>``. Under ``track_users`` those
    two characters are the user's tag (see ``user_tag``), and the user's index is
    ``<prefix>:{xy}:user:<user id>``: in a Redis Cluster, all in one slot.
    """

    __slots__ = (
        "_head",
        "hash_ids",
        "max_age_ms",
        "prefix",
        "tagged",
        "track_users",
        "ttl_ms",
    )

    def __init__(
        self,
        prefix: str = "sesh",
        ttl: Ttl = None,
        *,
        track_users: bool = False,
        max_age: Ttl = None,
        hash_ids: bool = False,
    ) -> None:
        self.prefix = check_prefix(prefix)
        self.ttl_ms = ttl_to_ms(ttl)
        self.track_users = check_flag(track_users, "track_users")
        self.max_age_ms = ttl_to_ms(max_age, "max_age")
        self.hash_ids = check_flag(hash_ids, "hash_ids")
        self.tagged = self.track_users or self.max_age_ms is not None
        if self.tagged and ("{" in self.prefix or "}" in self.prefix):
            raise ValueError(
                "with track_users or max_age the prefix must not contain { or }: sesh puts"
                " a Redis Cluster hash tag after it"
            )
        self._head = self.prefix + ":"

    @property
    def ttl(self) -> float | None:
        """The ttl in seconds, or None when sessions never expire."""
        return None if self.ttl_ms is None else self.ttl_ms / 1000

    @property
    def max_age(self) -> float | None:
        """The absolute lifetime in seconds, or None when there is none."""
        return None if self.max_age_ms is None else self.max_age_ms / 1000

    def key(self, session_id: str) -> str:
        """The storage key of a session: ``<prefix>:<session id>`` by default, as in
        redis-sesh (see the class for the other layouts)."""
        ref = digest(session_id) if self.hash_ids else session_id
        if self.tagged:
            return f"{self._head}{{{session_id[:2]}}}{ref}"
        return self._head + ref

    def index_key(self, user_id: str) -> str:
        """The key of a user's index of sessions (``track_users``)."""
        return f"{self._head}{{{user_tag(user_id)}}}:user:{user_id}"

    def _member(self, key: str) -> str | None:
        # A tracked session's entry in its user's index: its key, less "<prefix>:".
        return key[len(self._head) :] if self.track_users else None

    def _public(self, member: str) -> str:
        # What sessions() gives out for an index entry: the id, or the entry itself when
        # ids are hashed (die() takes it back).
        return member if self.hash_ids else member[4:]

    def _draw(self, tag: str | None) -> str:
        session_id = new_session_id()
        # The first two base64 characters are exactly the first 12 bits: a tagged id is
        # still 32 bytes in standard base64, with 244 random bits.
        return session_id if tag is None else tag + session_id[2:]

    def set_flow(self, user_id: object) -> Flow[str]:
        """Creates a session for ``user_id``; returns its id.

        The one verb that may take several operations: an Insert that finds its key taken
        is answered False, and a fresh id is drawn.
        """
        value = check_user_id(user_id)
        tag = user_tag(value) if self.track_users else None
        index = self.index_key(value) if self.track_users else None
        for _ in range(MAX_ID_DRAWS):
            session_id = self._draw(tag)
            key = self.key(session_id)
            op = Insert(key, value, self.ttl_ms, self.max_age_ms, index, self._member(key))
            if (yield op):
                return session_id
        raise _no_fresh_id()

    def get_op(self, session_id: object, touch: object = False) -> Fetch | None:
        """The read of a session (resetting its expiry if ``touch``); None if malformed."""
        touch = check_flag(touch, "touch")
        if not is_session_id(session_id):
            return None
        key = self.key(cast(str, session_id))
        if not touch:
            return Fetch(key, None)
        return Fetch(key, self.ttl_ms, self._member(key))

    def liv_op(self, session_id: object) -> Refresh | None:
        """The reset of a session's expiry to the full ttl; None if malformed."""
        if not is_session_id(session_id):
            return None
        key = self.key(cast(str, session_id))
        return Refresh(key, self.ttl_ms, self._member(key))

    def die_op(self, session_id: object) -> Delete | None:
        """The removal of a session; None if the id is malformed.

        With ``track_users`` and ``hash_ids`` on, also takes what ``sessions`` gave out.
        """
        if is_session_id(session_id):
            key = self.key(cast(str, session_id))
        elif self.hash_ids and self.track_users and _HANDLE.fullmatch(cast(str, session_id)):
            key = self._head + cast(str, session_id)
        else:
            return None
        return Delete(key, self._member(key))

    def rotate_flow(self, session_id: object, atomic: bool = True) -> Flow[str | None]:
        """Moves a session to a fresh id (see ``Rotate``); returns it, or None if the old
        id held no live session or is malformed. A taken new id is drawn again.

        A store whose keys may live on different servers (a Redis Cluster, in the default
        layout) passes ``atomic=False``: the old key is taken, then the user's new key
        inserted. No moment has both valid; between the two steps, neither is.
        """
        if not is_session_id(session_id):
            return None
        old = cast(str, session_id)
        key = self.key(old)
        # Tagged layouts keep the tag, so the new key shares the old one's Cluster slot.
        tag = old[:2] if self.tagged else None
        user = None
        if not atomic:
            user = yield Take(key)
            if user is None:
                return None
        for _ in range(MAX_ID_DRAWS):
            new_id = self._draw(tag)
            new_key = self.key(new_id)
            if user is not None:
                moved = yield Insert(new_key, user, self.ttl_ms)
            else:
                member = self._member(key)
                moved = yield Rotate(key, member, new_key, self._member(new_key), self.ttl_ms)
                if moved is None:
                    return None
            if moved:
                return new_id
        raise _no_fresh_id()

    def list_user_op(self, user_id: object) -> ListUser:
        """The listing of a user's sessions (``track_users``)."""
        return ListUser(self._index_of(user_id, "sessions"), self._head)

    def sessions_of(self, members: list[str]) -> list[str]:
        """What ``sessions`` returns for the members a ListUser found."""
        return [self._public(member) for member in members]

    def delete_user_op(self, user_id: object) -> DeleteUser:
        """The removal of all of a user's sessions (``track_users``)."""
        return DeleteUser(self._index_of(user_id, "die_all"), self._head)

    def _index_of(self, user_id: object, verb: str) -> str:
        value = check_user_id(user_id)
        if not self.track_users:
            raise NotEnabledError(
                f"{verb}() needs a store made with track_users=True (it keeps an index"
                " of each user's sessions, which costs writes)"
            )
        return self.index_key(value)


def _no_fresh_id() -> SeshError:
    return SeshError(
        f"no fresh session id after {MAX_ID_DRAWS} draws: every key was already taken,"
        " so the store does not report absent keys correctly"
    )
