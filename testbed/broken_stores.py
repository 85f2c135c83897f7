"""A plain, correct third-party-style store, and variants that each get one thing wrong.

``tests/test_kit_catches_broken_stores.py`` runs the conformance kit against every one:
the correct store must pass, and each broken one must fail the check named beside it.
"""

from __future__ import annotations

import base64
import hashlib
import math
import re
import secrets
import threading
import unicodedata
from collections.abc import Callable
from typing import Any

from sesh import SeshError
from sesh.backends.base import check_prefix, check_user_id, is_session_id, ttl_to_ms
from sesh.errors import NotEnabledError

SHARED: dict[str, list[Any]] = {}
HEX = re.compile("[0-9a-f]{64}")


class DictStore:
    """A correct SessionStore written from scratch on a dict, as a backend author might."""

    def __init__(
        self,
        prefix: str,
        ttl: Any,
        clock: Callable[[], float],
        *,
        track_users: bool = False,
        max_age: Any = None,
        hash_ids: bool = False,
    ) -> None:
        self.prefix = check_prefix(prefix)
        self.ttl = self.convert_ttl(ttl)
        self.clock = clock
        max_age_ms = ttl_to_ms(max_age, "max_age")
        self.max_age = None if max_age_ms is None else max_age_ms / 1000
        self.track_users = track_users
        self.hash_ids = hash_ids
        # key -> [user id, deadline, absolute deadline]
        self.data: dict[str, list[Any]] = {}
        self.lock = threading.Lock()  # rotate reads, then moves: one caller at a time

    # The pieces the variants replace.
    def convert_ttl(self, ttl: Any) -> float | None:
        ms = ttl_to_ms(ttl)
        return None if ms is None else ms / 1000

    def new_id(self) -> str:
        return base64.b64encode(secrets.token_bytes(32)).decode("ascii")

    def value(self, user_id: Any) -> Any:
        return check_user_id(user_id)

    def valid(self, session_id: Any) -> bool:
        return is_session_id(session_id)

    def stored(self, session_id: str) -> str:
        if self.hash_ids:
            return hashlib.sha256(session_id.encode("ascii")).hexdigest()
        return session_id

    def key(self, session_id: str) -> str:
        return f"{self.prefix}:{self.stored(session_id)}"

    def deadline(self) -> float | None:
        return None if self.ttl is None else self.clock() + self.ttl

    def refresh(self, entry: list[Any]) -> None:
        entry[1] = self.capped(self.deadline(), entry[2])

    def capped(self, deadline: float | None, max_at: float | None) -> float | None:
        if max_at is None:
            return deadline
        return max_at if deadline is None else min(deadline, max_at)

    def new_entry(self, value: str) -> list[Any]:
        max_at = None if self.max_age is None else self.clock() + self.max_age
        return [value, self.capped(self.deadline(), max_at), max_at]

    def live_keys(self, user_id: Any) -> list[str]:
        value = check_user_id(user_id)
        if not self.track_users:
            raise NotEnabledError("needs track_users=True")
        now = self.clock()
        return [
            key
            for key, entry in self.data.items()
            if self.same_user(entry[0], value) and (entry[1] is None or entry[1] > now)
        ]

    def same_user(self, stored: str, asked: str) -> bool:
        return stored == asked

    def entry(self, session_id: str) -> list[Any] | None:
        entry = self.data.get(self.key(session_id))
        if entry is not None and entry[1] is not None and entry[1] <= self.clock():
            del self.data[self.key(session_id)]
            return None
        return entry

    # The protocol.
    def set(self, user_id: Any) -> str:
        value = self.value(user_id)
        for _ in range(5):
            session_id = self.new_id()
            if self.entry(session_id) is None:
                self.data[self.key(session_id)] = self.new_entry(value)
                return session_id
        raise SeshError("no fresh id")

    def get(self, session_id: Any, *, touch: Any = False) -> Any:
        if not isinstance(touch, bool):
            raise TypeError("touch must be a bool")
        if not self.valid(session_id):
            return None
        entry = self.entry(session_id)
        if entry is None:
            return None
        if touch:
            self.refresh(entry)
        return entry[0]

    def liv(self, session_id: Any) -> Any:
        if not self.valid(session_id):
            return False
        entry = self.entry(session_id)
        if entry is None:
            return False
        self.refresh(entry)
        return True

    def die(self, session_id: Any) -> Any:
        if self.hash_ids and isinstance(session_id, str) and HEX.fullmatch(session_id):
            entry = self.data.pop(f"{self.prefix}:{session_id}", None)
            return entry is not None and (entry[1] is None or entry[1] > self.clock())
        if not self.valid(session_id):
            return False
        found = self.entry(session_id) is not None
        self.data.pop(self.key(session_id), None)
        return found

    def handle(self, session_id: Any) -> str | None:
        if not isinstance(session_id, str):
            raise TypeError("session_id must be a str")
        if not self.valid(session_id):
            return None
        return hashlib.sha256(session_id.encode("ascii")).hexdigest()

    def rotate(self, session_id: Any) -> Any:
        if not self.valid(session_id):
            return None
        with self.lock:
            entry = self.entry(session_id)
            if entry is None:
                return None
            new_id = self.new_id()
            deadline = self.capped(self.deadline(), entry[2])
            self.data[self.key(new_id)] = [entry[0], deadline, entry[2]]
            del self.data[self.key(session_id)]
            return new_id

    def sessions(self, user_id: Any) -> list[str]:
        return [key[len(self.prefix) + 1 :] for key in self.live_keys(user_id)]

    def die_all(self, user_id: Any) -> int:
        keys = self.live_keys(user_id)
        for key in keys:
            del self.data[key]
        return len(keys)

    def dump(self) -> bytes:
        return repr(self.data).encode("utf-8")

    def close(self) -> None:
        pass

    def __enter__(self) -> DictStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class CounterIds(DictStore):
    count = 0

    def new_id(self) -> str:
        CounterIds.count += 1
        return base64.b64encode(CounterIds.count.to_bytes(32, "big")).decode("ascii")


class UrlsafeIds(DictStore):
    def new_id(self) -> str:
        return base64.urlsafe_b64encode(b"\xfb\xff" + secrets.token_bytes(30)).decode("ascii")


class ShortIds(DictStore):
    def new_id(self) -> str:
        return base64.b64encode(secrets.token_bytes(24)).decode("ascii")

    def valid(self, session_id: Any) -> bool:
        return isinstance(session_id, str) and len(session_id) == 32


class NoExpiry(DictStore):
    def deadline(self) -> float | None:
        return None


class WholeSecondTtl(DictStore):
    def convert_ttl(self, ttl: Any) -> float | None:
        seconds = super().convert_ttl(ttl)
        return None if seconds is None else float(math.ceil(seconds))


class ZeroTtlExpiresAtOnce(DictStore):
    def convert_ttl(self, ttl: Any) -> float | None:
        return 0.0 if ttl == 0 else super().convert_ttl(ttl)


class NegativeTtlAccepted(DictStore):
    def convert_ttl(self, ttl: Any) -> float | None:
        return abs(ttl) if isinstance(ttl, (int, float)) and ttl < 0 else super().convert_ttl(ttl)


class LivAdds(DictStore):
    def liv(self, session_id: Any) -> Any:
        entry = self.entry(session_id) if self.valid(session_id) else None
        if entry is None:
            return False
        if self.ttl is not None:
            entry[1] += self.ttl
        return True


class TouchIgnored(DictStore):
    def get(self, session_id: Any, *, touch: Any = False) -> Any:
        return super().get(session_id)


class GetAlwaysTouches(DictStore):
    def get(self, session_id: Any, *, touch: Any = False) -> Any:
        return super().get(session_id, touch=True)


class LivCreates(DictStore):
    def liv(self, session_id: Any) -> Any:
        if self.valid(session_id) and self.entry(session_id) is None:
            self.data[self.key(session_id)] = ["", self.deadline()]
        return super().liv(session_id)


class LivReturnsInt(DictStore):
    def liv(self, session_id: Any) -> Any:
        return int(super().liv(session_id))


class ExpiredRevivable(DictStore):
    def entry(self, session_id: str) -> list[Any] | None:
        return self.data.get(self.key(session_id))

    def get(self, session_id: Any, *, touch: Any = False) -> Any:
        entry = self.entry(session_id) if self.valid(session_id) else None
        if entry is None or (not touch and entry[1] is not None and entry[1] <= self.clock()):
            return None
        return super().get(session_id, touch=touch)


class DieAlwaysTrue(DictStore):
    def die(self, session_id: Any) -> Any:
        super().die(session_id)
        return True


class IntUserIds(DictStore):
    def value(self, user_id: Any) -> Any:
        return user_id if isinstance(user_id, int) else super().value(user_id)


class NoUserIdChecks(DictStore):
    def value(self, user_id: Any) -> Any:
        return str(user_id)


class IgnoresPrefix(DictStore):
    def __init__(self, prefix: str, ttl: Any, clock: Callable[[], float], **options: Any) -> None:
        super().__init__(prefix, ttl, clock, **options)
        self.data = SHARED

    def key(self, session_id: str) -> str:
        return session_id


class MalformedIdsRaise(DictStore):
    def valid(self, session_id: Any) -> bool:
        if isinstance(session_id, str) and not super().valid(session_id):
            raise ValueError("bad session id")
        return super().valid(session_id)


class StripsIds(DictStore):
    def valid(self, session_id: Any) -> bool:
        return super().valid(session_id.strip() if isinstance(session_id, str) else session_id)

    def key(self, session_id: str) -> str:
        return super().key(session_id.strip())


class OverwritesOnCollision(DictStore):
    def entry(self, session_id: str) -> list[Any] | None:
        return None if self.data.get("writing") else super().entry(session_id)

    def set(self, user_id: Any) -> str:
        self.data["writing"] = [True, None]
        try:
            return super().set(user_id)
        finally:
            del self.data["writing"]


class ReprLeaksIds(DictStore):
    def set(self, user_id: Any) -> str:
        self.last = super().set(user_id)
        return self.last

    def __repr__(self) -> str:
        return f"ReprLeaksIds(last={getattr(self, 'last', None)})"


class DieAllMissesOne(DictStore):
    def die_all(self, user_id: Any) -> int:
        keys = self.live_keys(user_id)
        for key in keys[1:]:
            del self.data[key]
        return len(keys)


class SessionsListsExpired(DictStore):
    def sessions(self, user_id: Any) -> list[str]:
        value = check_user_id(user_id)
        return [k[len(self.prefix) + 1 :] for k, e in self.data.items() if e[0] == value]


class RotateLeavesOldAlive(DictStore):
    def rotate(self, session_id: Any) -> Any:
        entry = self.entry(session_id) if self.valid(session_id) else None
        if entry is None:
            return None
        new_id = self.new_id()
        self.data[self.key(new_id)] = list(entry)
        return new_id


class RotateKeepsTheOldDeadline(DictStore):
    def rotate(self, session_id: Any) -> Any:
        entry = self.entry(session_id) if self.valid(session_id) else None
        new_id = super().rotate(session_id)
        if new_id is not None and entry is not None:
            self.data[self.key(new_id)][1] = entry[1]
        return new_id


class LivPassesMaxAge(DictStore):
    def refresh(self, entry: list[Any]) -> None:
        entry[1] = self.deadline()


class RotateRenewsMaxAge(DictStore):
    def rotate(self, session_id: Any) -> Any:
        new_id = super().rotate(session_id)
        if new_id is not None:
            self.data[self.key(new_id)] = self.new_entry(self.data[self.key(new_id)][0])
        return new_id


class HashedModeWritesRawIds(DictStore):
    def set(self, user_id: Any) -> str:
        session_id = super().set(user_id)
        self.data[self.key(session_id)].append(session_id)  # kept beside its digest
        return session_id


class HashedSessionsUnusable(DictStore):
    def sessions(self, user_id: Any) -> list[str]:
        return ["h" + handle for handle in super().sessions(user_id)]


class CaseFoldedKeys(DictStore):
    # A key column with a case-insensitive collation (MySQL's default, SQLite's NOCASE).
    def key(self, session_id: str) -> str:
        return super().key(session_id).lower()


class NormalisesUserIds(DictStore):
    # A text column that normalises what it stores (NFKC).
    def value(self, user_id: Any) -> Any:
        return unicodedata.normalize("NFKC", super().value(user_id))


class CaseFoldedUserIndex(DictStore):
    # A user index with a case-insensitive collation: alice and Alice are one user there.
    def same_user(self, stored: str, asked: str) -> bool:
        return stored.casefold() == asked.casefold()


class HandleTouchesAndRotates(DictStore):
    # A handle from sessions() is looked up as a digest by touch and rotate too.
    def entry_by(self, session_id: str) -> list[Any] | None:
        if self.hash_ids and HEX.fullmatch(session_id):
            return self.data.get(f"{self.prefix}:{session_id}")
        return None

    def get(self, session_id: Any, *, touch: Any = False) -> Any:
        entry = self.entry_by(session_id) if isinstance(session_id, str) and touch else None
        if entry is not None:
            self.refresh(entry)
            return None
        return super().get(session_id, touch=touch)

    def liv(self, session_id: Any) -> Any:
        entry = self.entry_by(session_id) if isinstance(session_id, str) else None
        if entry is not None:
            self.refresh(entry)  # and says it found nothing, as the kit's first check asks
            return False
        return super().liv(session_id)

    def rotate(self, session_id: Any) -> Any:
        entry = self.entry_by(session_id) if isinstance(session_id, str) else None
        if entry is None:
            return super().rotate(session_id)
        del self.data[f"{self.prefix}:{session_id}"]
        new_id = self.new_id()
        self.data[self.key(new_id)] = [entry[0], self.capped(self.deadline(), entry[2]), entry[2]]
        return new_id


class DieAllCountsIndex(DictStore):
    # die_all counts what its index holds, including sessions other verbs already ended.
    def __init__(self, *args: Any, **options: Any) -> None:
        super().__init__(*args, **options)
        self.index: dict[str, int] = {}

    def set(self, user_id: Any) -> str:
        session_id = super().set(user_id)
        value = self.value(user_id)
        self.index[value] = self.index.get(value, 0) + 1
        return session_id

    def die_all(self, user_id: Any) -> int:
        super().die_all(user_id)
        return self.index.pop(check_user_id(user_id), 0)


class NoTtlRotateExpires(DictStore):
    # rotate writes "now + ttl" with no ttl as "now": the new id is born dead.
    def rotate(self, session_id: Any) -> Any:
        new_id = super().rotate(session_id)
        if new_id is not None and self.ttl is None:
            self.data[self.key(new_id)][1] = self.clock() + 0.001
        return new_id


class SessionsSkipsNoTtl(DictStore):
    # A listing that reads "deadline > now" and so leaves out sessions with no deadline.
    def live_keys(self, user_id: Any) -> list[str]:
        return [key for key in super().live_keys(user_id) if self.data[key][1] is not None]


class AnswersSomeUnknownIds(DictStore):
    # For one id in 4 that it never made, get answers a user (a hash-bucket bug): found
    # only by ids whose bytes the kit draws, so a failure must replay to be reported.
    def __init__(self, *args: Any, **options: Any) -> None:
        super().__init__(*args, **options)
        self.made: set[str] = set()

    def new_id(self) -> str:
        session_id = super().new_id()
        self.made.add(session_id)
        return session_id

    def get(self, session_id: Any, *, touch: Any = False) -> Any:
        found = super().get(session_id, touch=touch)
        if found is None and self.valid(session_id) and session_id not in self.made:
            return "ghost" if base64.b64decode(session_id)[0] < 64 else None
        return found


class DropsNul(DictStore):
    # A store that cannot keep a NUL in a user id (a C string in the driver).
    def value(self, user_id: Any) -> Any:
        return super().value(user_id).split("\x00")[0]


BROKEN: dict[str, tuple[type[DictStore], str]] = {
    "counter ids": (CounterIds, "test_ids_are_random"),
    "urlsafe ids": (UrlsafeIds, "test_id_is_standard_base64_of_32_bytes"),
    "short ids": (ShortIds, "test_id_is_standard_base64_of_32_bytes"),
    "no expiry": (NoExpiry, "test_session_expires_after_ttl"),
    "whole-second ttl": (WholeSecondTtl, "test_session_expires_after_ttl"),
    "ttl 0 expires at once": (ZeroTtlExpiresAtOnce, "test_no_ttl_never_expires"),
    "negative ttl accepted": (NegativeTtlAccepted, "test_bad_ttl_value_is_refused[-1]"),
    "liv adds to the ttl": (LivAdds, "test_refresh_resets_expiry_to_the_full_ttl[liv]"),
    "touch ignored": (TouchIgnored, "test_refresh_resets_expiry_to_the_full_ttl[touch]"),
    "get always touches": (GetAlwaysTouches, "test_plain_get_does_not_extend"),
    "liv creates": (LivCreates, "test_liv_reports_existence_and_never_creates"),
    "liv returns int": (LivReturnsInt, "test_liv_reports_existence_and_never_creates"),
    "expired revivable": (ExpiredRevivable, "test_expired_session_cannot_be_revived"),
    "die always true": (DieAlwaysTrue, "test_die_removes_once_and_is_idempotent"),
    "int user ids": (IntUserIds, "test_int_user_id_comes_back_as_its_decimal_string"),
    "no user id checks": (NoUserIdChecks, "test_bad_user_ids_are_refused"),
    "ignores prefix": (IgnoresPrefix, "test_prefixes_do_not_see_each_other"),
    "malformed ids raise": (MalformedIdsRaise, "test_malformed_session_ids_are_no_session"),
    "strips ids": (StripsIds, "test_malformed_session_ids_are_no_session"),
    "overwrites on collision": (OverwritesOnCollision, "test_a_colliding_id_is_drawn_again"),
    "repr leaks ids": (ReprLeaksIds, "test_repr_shows_no_session_id"),
    "die_all misses one": (
        DieAllMissesOne,
        "test_die_all_ends_every_session_of_the_user_and_no_other",
    ),
    "sessions lists expired": (SessionsListsExpired, "test_expired_sessions_are_never_listed"),
    "rotate leaves the old id alive": (
        RotateLeavesOldAlive,
        "test_rotate_moves_the_session_to_a_fresh_id",
    ),
    "rotate keeps the old deadline": (RotateKeepsTheOldDeadline, "test_rotate_gives_a_full_ttl"),
    "liv passes max_age": (LivPassesMaxAge, "test_refresh_never_passes_max_age[liv]"),
    "rotate renews max_age": (RotateRenewsMaxAge, "test_rotation_keeps_the_original_deadline"),
    "hashed mode writes raw ids": (
        HashedModeWritesRawIds,
        "test_hashed_store_holds_no_session_id",
    ),
    "hashed sessions unusable": (
        HashedSessionsUnusable,
        "test_hashed_sessions_are_listed_as_handles_die_takes",
    ),
    "case-folded keys": (CaseFoldedKeys, "test_session_ids_are_case_sensitive"),
    "normalises user ids": (NormalisesUserIds, "test_user_ids_are_not_normalised[ligature]"),
    "case-folded user index": (
        CaseFoldedUserIndex,
        "test_similar_user_ids_are_kept_apart[users4]",
    ),
    "handles touch and refresh": (HandleTouchesAndRotates, "test_handles_are_no_session_ids"),
    "die_all counts ended sessions": (
        DieAllCountsIndex,
        "test_die_all_counts_only_the_sessions_it_ended",
    ),
    "rotate without ttl expires": (
        NoTtlRotateExpires,
        "test_every_verb_keeps_a_session_without_ttl",
    ),
    "sessions skips no-ttl sessions": (
        SessionsSkipsNoTtl,
        "test_sessions_without_ttl_are_listed_and_ended",
    ),
    "drops NUL from user ids": (DropsNul, r"test_user_id_is_kept_exactly[a\x00b]"),
}
