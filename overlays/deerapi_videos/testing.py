"""Public testing switch: turn the client's sleeping off in tests (stamina-style).

Retries and polling normally wait between attempts. In tests, call ``set_testing(True)`` (or use
the ``no_sleep()`` context manager): every wait is skipped, a virtual clock advances by the
skipped delay so deadlines still expire, and the requested delays are recorded::

    from deerapi_videos.testing import no_sleep

    with no_sleep() as sleeps:
        client.videos.retrieve("video_123")   # retried twice, instantly
    assert len(sleeps) == 2

This module stays import-light: no pytest, no mock server.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from ._clock import is_testing, recorded_sleeps, set_testing

__all__ = ["is_testing", "no_sleep", "set_testing", "sleeps"]


def sleeps() -> list[float]:
    """A copy of the delays the client asked to sleep since testing mode was turned on."""
    return list(recorded_sleeps())


@contextmanager
def no_sleep() -> Iterator[list[float]]:
    """Turn testing mode on for a block; yields the live list of requested delays."""
    previous = is_testing()
    set_testing(True)
    try:
        yield recorded_sleeps()
    finally:
        set_testing(previous)
