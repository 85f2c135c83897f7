"""The kit's time hooks for a store with an injected clock: time moves, nothing sleeps."""

from __future__ import annotations

import functools

from sesh.testing import FakeClock


class OnFakeClock:
    """Mix into a conformance test class; pass ``self.clock`` to the stores it makes."""

    clock_start = 0.0  # a wall-clock store wants a plausible date

    @functools.cached_property
    def clock(self) -> FakeClock:
        return FakeClock(self.clock_start)

    def pass_time(self, seconds: float) -> None:
        self.clock.advance(seconds)
