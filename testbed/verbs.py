"""Every verb of a store, as calls to make one after another (for the failure tests)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def each_verb(store: Any, session_id: str) -> list[Callable[[], Any]]:
    """set, get, get with touch, liv and die, on ``session_id`` where they take one."""
    return [
        lambda: store.set("alice"),
        lambda: store.get(session_id),
        lambda: store.get(session_id, touch=True),
        lambda: store.liv(session_id),
        lambda: store.die(session_id),
    ]
