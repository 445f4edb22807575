"""Time: the one place the client reads the clock and sleeps.

Retries and polling sleep only through :func:`sleep` / :func:`asleep` and measure deadlines only
through :func:`now`. The public testing switch (:mod:`deerapi_videos.testing`) turns sleeping off:
a skipped sleep advances a virtual offset instead, so deadlines still pass in tests that never
wait for real time, and each requested delay is recorded for assertions.
"""

from __future__ import annotations

import time

__all__ = ["asleep", "is_testing", "now", "recorded_sleeps", "set_testing", "sleep"]

_testing = False
_offset = 0.0
_recorded: list[float] = []


def set_testing(enabled: bool) -> None:
    """Turn the sleep-free testing mode on or off (resets the record and the virtual clock)."""
    global _testing, _offset, _recorded
    _testing = enabled
    _offset = 0.0
    _recorded = []  # a new list: one handed out earlier keeps its record


def is_testing() -> bool:
    return _testing


def recorded_sleeps() -> list[float]:
    """The list that collects the delays requested while testing mode is on (live, not a copy)."""
    return _recorded


def now() -> float:
    """Monotonic seconds; in testing mode, plus every sleep that was skipped."""
    return time.monotonic() + _offset


def _skip(seconds: float) -> None:
    global _offset
    _recorded.append(seconds)
    _offset += seconds


def sleep(seconds: float) -> None:
    if _testing:
        _skip(max(seconds, 0.0))
        return
    if seconds > 0:
        time.sleep(seconds)


async def asleep(seconds: float) -> None:
    import asyncio  # here, not at module level: importing asyncio costs ~10 ms of start-up

    if _testing:
        _skip(max(seconds, 0.0))
        await asyncio.sleep(0)
        return
    await asyncio.sleep(max(seconds, 0.0))
