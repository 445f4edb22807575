"""Clocks that drive the mock's jobs: manual for tests, scaled real time for a served mock."""

from __future__ import annotations

import threading
import time
from typing import Protocol, runtime_checkable

__all__ = ["DEFAULT_EPOCH", "Clock", "ManualClock", "ScaledClock"]

#: Where a :class:`ManualClock` starts: the ``created_at`` of the spec's create example.
DEFAULT_EPOCH = 1_758_941_485.0


@runtime_checkable
class Clock(Protocol):
    """What the mock needs from a clock: the mock's current Unix time, and a way to skip ahead."""

    def now(self) -> float:
        """Return the mock's current time, in Unix seconds."""
        ...

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds`` mock seconds."""
        ...


class ManualClock:
    """A clock that only moves when :meth:`advance` is called (the default; tests never sleep)."""

    def __init__(self, start: float = DEFAULT_EPOCH) -> None:
        self._now = float(start)
        self._lock = threading.Lock()

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        with self._lock:
            self._now += seconds

    def __repr__(self) -> str:
        return f"ManualClock(now={self._now!r})"


class ScaledClock:
    """Real time, sped up: one real second is ``speed`` mock seconds.

    Used by the loopback server so a command line ``create --wait`` finishes in a second or two
    (with ``speed=60`` an 8-second job takes about 0.13 real seconds). :meth:`advance` still
    skips ahead on top of the scaled time.
    """

    def __init__(self, speed: float = 60.0, start: float | None = None) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = float(speed)
        self._start = time.time() if start is None else float(start)
        self._t0 = time.monotonic()
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        return self._start + (time.monotonic() - self._t0) * self.speed + self._offset

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        with self._lock:
            self._offset += seconds

    def __repr__(self) -> str:
        return f"ScaledClock(speed={self.speed!r})"
