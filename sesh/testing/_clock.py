"""A clock that tests move by hand."""

from __future__ import annotations

__all__ = ["FakeClock"]


class FakeClock:
    """Monotonic seconds that pass only when ``advance`` says so.

    Pass it as a store's ``clock=`` and override the kit's ``pass_time`` to advance it:
    the expiry checks then run instantly and exactly.
    """

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = float(start)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Moves the clock forward; a clock never goes back."""
        if not seconds >= 0:
            raise ValueError("a clock only moves forward")
        self.now += seconds

    def __repr__(self) -> str:
        return f"FakeClock({self.now!r})"
