"""Run a coroutine from a sync test without disturbing pytest-asyncio's event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run_isolated(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion on a private loop, then close it.

    Unlike ``asyncio.run``, this leaves the thread's current event loop alone. ``asyncio.run``
    resets it to None, after which pytest-asyncio's next fixture calls ``get_event_loop()``,
    which makes a loop nobody closes; its socket is reported unclosed (a ResourceWarning, so an
    error here) in whichever later test the garbage collector happens to run.
    """
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coro)
    finally:
        try:
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()
