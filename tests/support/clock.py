"""A clock that moves only when a test says so: inject it wherever code takes ``clock=``."""

from __future__ import annotations


class FakeClock:
    """Epoch seconds, as ``time.time`` gives them."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
