"""The errors sesh raises (besides the builtin TypeError and ValueError for bad input)."""

from __future__ import annotations

__all__ = ["BackendError", "NotEnabledError", "SeshError"]


class SeshError(Exception):
    """Base class of sesh's own errors.

    Raised as itself when no fresh session id could be written after a few draws,
    which means the store is broken (ids are 256 random bits; they do not collide).
    """


class BackendError(SeshError):
    """The backend failed or could not be reached.

    The driver's exception is chained as ``__cause__``. A BackendError never means
    "no such session": that is ``None`` from ``get`` and ``False`` from ``liv``/``die``.
    """


class NotEnabledError(SeshError):
    """A call needs an option the store was not made with.

    ``sessions`` and ``die_all`` need ``track_users=True``.
    """
