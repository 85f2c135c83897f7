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

import hashlib
import re
from collections.abc import Generator
from typing import Any, TypedDict, TypeVar, cast

from sesh._ops import (
    Delete,
    DeleteUser,
    Fetch,
    Insert,
    ListUser,
    Op,
    Refresh,
    Rotate,
    Take,
)
from sesh._validate import (
    Ttl,
    check_flag,
    check_prefix,
    check_user_id,
    is_session_id,
    new_session_id,
    ttl_to_ms,
)
from sesh.errors import NotEnabledError, SeshError

__all__ = ["MAX_ID_DRAWS", "Flow", "Options", "SessionCore", "digest", "user_tag"]

T = TypeVar("T")

MAX_ID_DRAWS = 5
"""Fresh ids drawn by ``set`` before it concludes the store is broken."""

# The verbs' operations are built with tuple.__new__, every field given: what a NamedTuple's
# own __new__ does, less the Python frame around it (measured: 350 -> 145 ns an op).
_new = tuple.__new__

# What sessions() gives out for a session when ids are hashed: its tag and digest.
_HANDLE = re.compile(r"\{[A-Za-z0-9+/]{2}\}[0-9a-f]{64}")
_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


class Options(TypedDict, total=False):
    """The options every store takes as keyword arguments (all off by default)."""

    track_users: bool
    """Keep an index of each user's sessions, for ``sessions`` and ``die_all``."""
    max_age: Ttl
    """An absolute lifetime, which ``liv`` and touch never pass."""
    hash_ids: bool
    """Store a SHA-256 digest of each session id instead of the id."""


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
        "records",
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
        # With either option a session is a record (user, absolute deadline, index) under a
        # key that carries a Redis Cluster hash tag, not redis-sesh's plain value.
        self.records = self.track_users or self.max_age_ms is not None
        if self.records and ("{" in self.prefix or "}" in self.prefix):
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
        if self.records:
            return f"{self._head}{{{session_id[:2]}}}{ref}"
        return self._head + ref

    def index_key(self, user_id: str) -> str:
        """The key of a user's index of sessions (``track_users``)."""
        return f"{self._head}{{{user_tag(user_id)}}}:user:{user_id}"

    def _member(self, key: str) -> str | None:
        # A tracked session's entry in its user's index: its key, less "<prefix>:". The
        # verbs skip the call when track_users is off: in a memory store's verb it is a
        # twentieth of the instructions.
        return key[len(self._head) :] if self.track_users else None

    def _public(self, member: str) -> str:
        # What sessions() gives out for an index entry: the id, or the entry itself when
        # ids are hashed (die() takes it back).
        return member if self.hash_ids else member[4:]

    def _draw(self, tag: str | None) -> str:
        session_id = new_session_id()
        # The first two base64 characters are exactly the first 12 bits: an id with a tag is
        # still 32 bytes in standard base64, with 244 random bits.
        return session_id if tag is None else tag + session_id[2:]

    def set_op(self, user_id: object) -> tuple[str, Insert]:
        """The first step of ``set``: a fresh id for ``user_id`` and the Insert that writes
        it. An Insert answered False found its key taken: ``set_again`` draws again.

        Stores run this step directly and the rest as a flow (``set_flow`` is both): the
        second draw is for a broken store or a 1 in 2**256 chance, and a generator per
        ``set`` cost the memory store an eighth of its time.
        """
        value = check_user_id(user_id)
        if self.track_users:
            session_id = self._draw(user_tag(value))
            key = self.key(session_id)
            index, member = self.index_key(value), self._member(key)
        else:
            session_id = new_session_id()
            key = self.key(session_id)
            index, member = None, None
        return session_id, _new(Insert, (key, value, self.ttl_ms, self.max_age_ms, index, member))

    def set_again(self, taken: Insert) -> Flow[str]:
        """The rest of ``set`` after ``taken`` (its first Insert) found the key taken: fresh
        draws, up to ``MAX_ID_DRAWS`` in all; returns the id written."""
        for _ in range(MAX_ID_DRAWS - 1):
            session_id, op = self.set_op(taken.value)  # a user id set_op already took
            if (yield op):
                return session_id
        raise _no_fresh_id()

    def set_flow(self, user_id: object) -> Flow[str]:
        """Creates a session for ``user_id``; returns its id: ``set_op``, then
        ``set_again`` if its key was taken."""
        session_id, op = self.set_op(user_id)
        if (yield op):
            return session_id
        return (yield from self.set_again(op))

    def get_op(self, session_id: object, touch: object = False) -> Fetch | None:
        """The read of a session (resetting its expiry if ``touch``); None if malformed."""
        if touch is not False:  # the default needs no check, nor a call to check_flag
            touch = check_flag(touch, "touch")
        if not is_session_id(session_id):
            return None
        key = self.key(session_id)
        if not touch:
            return _new(Fetch, (key, None, None))
        return _new(Fetch, (key, self.ttl_ms, self._member(key) if self.track_users else None))

    def liv_op(self, session_id: object) -> Refresh | None:
        """The reset of a session's expiry to the full ttl; None if malformed."""
        if not is_session_id(session_id):
            return None
        key = self.key(session_id)
        return _new(Refresh, (key, self.ttl_ms, self._member(key) if self.track_users else None))

    def die_op(self, session_id: object) -> Delete | None:
        """The removal of a session; None if the id is malformed.

        With ``track_users`` and ``hash_ids`` on, also takes what ``sessions`` gave out.
        """
        if is_session_id(session_id):
            key = self.key(session_id)
        elif self.hash_ids and self.track_users and _HANDLE.fullmatch(cast(str, session_id)):
            key = self._head + cast(str, session_id)
        else:
            return None
        return _new(Delete, (key, self._member(key) if self.track_users else None))

    def rotate_flow(self, session_id: object, atomic: bool = True) -> Flow[str | None]:
        """Moves a session to a fresh id (see ``Rotate``); returns it, or None if the old
        id held no live session or is malformed. A taken new id is drawn again.

        A store whose keys may live on different servers (a Redis Cluster, in the default
        layout) passes ``atomic=False``: the old key is taken, then the user's new key
        inserted. No moment has both valid; between the two steps, neither is.
        """
        if not is_session_id(session_id):
            return None
        old = session_id
        key = self.key(old)
        # Tagged layouts keep the tag, so the new key shares the old one's Cluster slot.
        tag = old[:2] if self.records else None
        user = None
        if not atomic:
            if self.records:
                # Take gives back the user alone: a record's absolute deadline and index
                # would be lost, so the store must rotate records in one step.
                raise SeshError(
                    "rotate needs a store that rotates in one step when sessions are records"
                    " (max_age, track_users); this one says atomic_rotate is False"
                )
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

    def handle_of(self, session_id: object) -> str | None:
        """A session's handle: an opaque name for it that is not its id (``{xy}`` and the
        SHA-256 of the id), the same whatever the options; None for a malformed id.

        With ``hash_ids`` and ``track_users`` it is what ``sessions`` lists and ``die``
        takes. It lets a page or an API name a session without showing its id.
        """
        if not is_session_id(session_id):
            return None
        return f"{{{session_id[:2]}}}{digest(session_id)}"

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
