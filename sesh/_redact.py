"""Driver errors made safe to show: one helper that every backend raises through.

A driver's error text can quote what it was sent: redis-py's ``ResponseError`` for a
command the server refuses reads "unknown command 'GETEX', with args beginning with:
'sesh:<the session id>' ...". A session id is a password, so sesh never shows that text,
nor keeps the raw exception as ``__cause__`` (a traceback prints the whole chain). A
``BackendError`` made here names the failed step and the driver's error type, with the
driver's message cut before any quoted arguments; its ``__cause__`` is a copy of the
driver's exception (same type, so ``isinstance`` checks keep working) carrying that
cleaned message, and so is each exception further down the chain.

Raise the result outside the ``except`` block that caught the driver's exception: inside
one, Python would chain the raw exception again as ``__context__``.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable

from sesh.errors import BackendError

__all__ = ["backend_error", "clean", "command_secrets", "redact"]

# redis-py (and the server) quote a refused command's arguments after this: drop all of it.
_QUOTED_ARGS = re.compile(r",?\s*with args beginning with:.*", re.DOTALL | re.IGNORECASE)
_MAX_LENGTH = 300  # a driver message is a hint for the operator, not a dump
_MIN_SECRET = 8  # shorter arguments (a ttl, "PX") say nothing and would mangle the text
_MAX_DEPTH = 8


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """A driver's message with what it quoted of the command removed.

    Drops redis-py's whole "with args beginning with" clause (not only what looks like an
    id: the server truncates long arguments, so part of an id could remain), then any
    ``secrets`` (the command's keys and arguments) still in the text, and keeps it on one
    line and short.
    """
    text = _QUOTED_ARGS.sub("", text)
    for secret in secrets:
        if len(secret) >= _MIN_SECRET and secret in text:
            text = text.replace(secret, "<redacted>")
    text = " ".join(text.split())
    return text if len(text) <= _MAX_LENGTH else text[: _MAX_LENGTH - 3] + "..."


def command_secrets(args: Iterable[object]) -> list[str]:
    """What a driver may quote of a command's arguments: each text argument, and the part
    of a key after its prefix and hash tag (the session id or its digest alone), in case
    the driver shows the key escaped (``repr``) where the prefix has odd characters."""
    found = []
    for arg in args:
        if isinstance(arg, str):
            found += [arg, arg.rpartition(":")[2], arg.rpartition("}")[2]]
    return found


class _DriverError(Exception):
    """Stands in for a driver exception that cannot be copied with a cleaned message."""


def clean(exc: BaseException, secrets: Iterable[str] = (), _depth: int = 0) -> BaseException:
    """A copy of ``exc`` that shows nothing of the command: same type and attributes,
    message redacted, and its own cause cleaned likewise (the raw chain is dropped)."""
    secrets = tuple(secrets)
    text = redact(str(exc), secrets)
    try:
        copied = copy.copy(exc)
        copied.args = (text,)
        for name, value in vars(copied).items():
            if isinstance(value, str):
                setattr(copied, name, redact(value, secrets))
            elif isinstance(value, list) and all(isinstance(v, str) for v in value):
                setattr(copied, name, [redact(v, secrets) for v in value])  # __notes__
    except Exception:  # a type that copy cannot rebuild: keep its name, not its class
        copied = _DriverError(f"{type(exc).__module__}.{type(exc).__qualname__}: {text}")
    # No traceback: the driver's frames hold the command in their locals, which error
    # trackers that capture locals (Sentry's default) would report.
    copied.__traceback__ = None
    inner = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
    copied.__cause__ = None
    if inner is not None and _depth < _MAX_DEPTH:
        copied.__cause__ = clean(inner, secrets, _depth + 1)
    copied.__context__ = None
    copied.__suppress_context__ = True
    return copied


def backend_error(what: str, exc: BaseException, secrets: Iterable[str] = ()) -> BackendError:
    """A ``BackendError`` for a failed step: "``what`` failed: ErrorType: cleaned text",
    chained to a cleaned copy of ``exc`` (see the module).

    Args:
        what: the step, for the operator: "Redis GETEX", "SQLite Rotate".
        exc: what the driver raised.
        secrets: strings the driver may have quoted (the command's keys and arguments).
    """
    secrets = tuple(secrets)
    cause = clean(exc, secrets)
    text = redact(str(exc), secrets)
    error = BackendError(f"{what} failed: {type(exc).__name__}" + (f": {text}" if text else ""))
    error.__cause__ = cause
    error.__suppress_context__ = True
    return error
