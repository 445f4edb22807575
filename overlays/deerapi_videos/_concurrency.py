"""The few primitives whose sync and async forms differ in more than keywords.

``scripts/unasync.py`` turns the async client into the sync one by renaming tokens
(``async_gate`` -> ``sync_gate``, ``arun_blocking`` -> ``run_blocking``); the pairs below are
what those names mean on each side. They hold no decisions of the client: a gate bounds how many
attempts are inside httpx at once, and blocking file work runs off the event loop in async code
and inline in sync code.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, AbstractContextManager, nullcontext
from typing import TypeVar

__all__ = ["arun_blocking", "async_gate", "run_blocking", "sync_gate"]

T = TypeVar("T")


class _NoAsyncGate:
    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc: object) -> None:
        return None


def async_gate(size: int | None) -> AbstractAsyncContextManager[object]:
    """An ``asyncio.Semaphore`` of ``size`` permits, or a gate that never waits (None)."""
    if size is None:
        return _NoAsyncGate()
    import asyncio  # here: ``import deerapi_videos`` does not load asyncio

    # Bound to an event loop at first contended use (Python >= 3.10), not here.
    return asyncio.Semaphore(size)


def sync_gate(size: int | None) -> AbstractContextManager[object]:
    """A ``threading.BoundedSemaphore`` of ``size`` permits, or a gate that never waits."""
    if size is None:
        return nullcontext()
    return threading.BoundedSemaphore(size)


async def arun_blocking(function: Callable[..., T], *args: object) -> T:
    """Run blocking ``function(*args)`` in a worker thread, off the event loop."""
    import asyncio

    return await asyncio.to_thread(function, *args)


def run_blocking(function: Callable[..., T], *args: object) -> T:
    """Run ``function(*args)`` here: a sync caller is already allowed to block."""
    return function(*args)
