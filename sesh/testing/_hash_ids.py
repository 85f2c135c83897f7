"""The kit's checks of hash_ids: the store holds no session id, and works as before."""

from __future__ import annotations

import base64
import urllib.parse
from typing import Any

from sesh.testing._harness import Harness

__all__ = ["HashIdChecks"]


def _forms(session_id: str) -> list[bytes]:
    """A session id as a store might write it: as is, URL-quoted, or decoded to its bytes."""
    return [
        session_id.encode("ascii"),
        urllib.parse.quote(session_id, safe="").encode("ascii"),
        base64.b64decode(session_id),
        base64.b64decode(session_id).hex().encode("ascii"),
    ]


class HashIdChecks(Harness):
    """With hash_ids, a dump of the store yields no session id (the ``dump`` hook)."""

    def _options(self) -> list[dict[str, Any]]:
        options: list[dict[str, Any]] = [{"hash_ids": True}]
        if "track_users" in self.capabilities:
            options.append({"hash_ids": True, "track_users": True})
        if "max_age" in self.capabilities:
            options.append({"hash_ids": True, "max_age": 60})
        return options

    def test_hashed_store_holds_no_session_id(self) -> None:
        self.kit.needs("hash_ids")
        for n, options in enumerate(self._options()):
            store = self.kit.open(ttl=60, prefix=f"{self.kit.prefix}-h{n}", **options)
            made = [store.set("alice-the-user") for _ in range(3)]
            if "rotate" in self.capabilities:
                made.append(store.rotate(made[0]))
            store.liv(made[1])
            store.get(made[2], touch=True)
            dump = self.dump(store.store)
            assert b"alice-the-user" in dump, "dump() does not show what the store holds"
            for session_id in made:
                for form in _forms(session_id):
                    assert form not in dump, f"a session id is stored in the clear ({options})"

    def test_hashed_store_keeps_the_contract(self) -> None:
        self.kit.needs("hash_ids")
        for n, options in enumerate(self._options()):
            store = self.kit.open(ttl=60, prefix=f"{self.kit.prefix}-h{n}", **options)
            session_id = store.set("alice")
            assert store.get(session_id) == "alice"
            assert store.get(session_id, touch=True) == "alice"
            assert store.liv(session_id) is True
            if "rotate" in self.capabilities:
                session_id = store.rotate(session_id)
                assert store.get(session_id) == "alice"
            assert store.die(session_id) is True
            assert store.get(session_id) is None
            assert store.die(session_id) is False
