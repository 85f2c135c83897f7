"""The storage operations: what a backend carries out, each as one atomic step.

``sesh._core`` turns every verb into these; a backend (see ``sesh.backends.base``) handles
each one and returns its result. Keys are whole (prefix included) and ttls are whole
milliseconds; deadlines are the backend's to keep, by its own clock, with ``deadline``,
``capped`` and ``is_expired`` below.

Some fields serve stores that keep a user's index apart from the sessions (Redis: a sorted
set per user): ``member`` names the session in that index. A store whose index follows from
its session rows (SQLite, memory) ignores ``member``. ``Take`` is sent only to stores that
say they cannot rotate in one step (``atomic_rotate``, a Redis Cluster in the default
layout); a store that rotates atomically never receives it.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = [
    "Delete",
    "DeleteUser",
    "Fetch",
    "Insert",
    "ListUser",
    "Op",
    "Refresh",
    "Rotate",
    "Take",
    "capped",
    "deadline",
    "is_expired",
]


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
    """Only for a store that keeps each user's index apart from the sessions (Redis): the
    session's entry there. A store whose index follows from its rows ignores it."""


class Fetch(NamedTuple):
    """Read ``key``; if ``ttl_ms`` is set, also reset its expiry to that (capped by the
    session's absolute deadline), in one step.

    Result: the stored user id, or None if there is no live session.
    """

    key: str
    ttl_ms: int | None
    member: str | None = None
    """Only for a store that keeps each user's index apart from the sessions (Redis): the
    session's entry there, whose deadline follows. Others ignore it."""


class Refresh(NamedTuple):
    """Reset the expiry of ``key`` to ``ttl_ms``, capped by the session's absolute deadline
    (``ttl_ms`` None: only check that it exists).

    Result: True if a live session was there. Never creates one.
    """

    key: str
    ttl_ms: int | None
    member: str | None = None
    """Only for a store that keeps each user's index apart from the sessions (Redis): the
    session's entry there, whose deadline follows. Others ignore it."""


class Delete(NamedTuple):
    """Remove ``key`` (and ``member`` from its user's index). Result: True if a live
    session was removed."""

    key: str
    member: str | None = None
    """Only for a store that keeps each user's index apart from the sessions (Redis): the
    session's entry there. A store whose index follows from its rows ignores it."""


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
"""Every operation; a backend's ``execute`` handles each one (``match`` + ``assert_never``)."""
