"""Run one client call (sync or async) against a :class:`HostileServer`, never hanging.

Four modes: the blocking and the awaitable client, each alone and each sending through the
batch scheduler's transport (``sync+scheduler``, ``async+scheduler``): sharing an account's
rate limits must not weaken any promise of a call.

The call runs in a worker thread (async: on a private event loop in that thread). A hard
wall-clock guard bounds it: async calls are cancelled when it expires; a sync call cannot be, so
the server is stopped instead (every connection is cut), which ends the call. Either way
:class:`CallRecord` says the guard fired, and the server's threads are joined before returning.

Real time, not ``deerapi_videos.testing``'s virtual clock: deadlines and poll spacing are measured
by the wall clock and the server's request log. The global ``random`` generator is seeded for each
call (and restored after), so a client that jitters its retry waits with it jitters the same way
on every run: the seed makes the first four draws small (0.037, 0.107, 0.091, 0.058 of the
range), so a jittered wait is short and never a coin flip away from a 0.5 s floor.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deerapi_videos import AsyncDeerAPI, DeerAPI
from deerapi_videos_batch import ScheduledTransport, Scheduler, SyncScheduledTransport

from ._server import SEED_ID, HostileServer, Received

__all__ = [
    "API_KEY",
    "MAX_RETRIES",
    "MODES",
    "OPERATIONS",
    "POLL_TIMEOUT",
    "REQUEST_TIMEOUT",
    "CallRecord",
    "run_cell",
]

API_KEY = "sk-hostile-7d3f9a2b1c"
MAX_RETRIES = 1
REQUEST_TIMEOUT = 1.0  # per attempt (the client's ``timeout=``)
POLL_TIMEOUT = 2.0  # poll(timeout=) and create_and_poll(poll_timeout=)
PROMPT = "a cat on a piano"
RANDOM_SEED = 2689
MODES = ("sync", "async", "sync+scheduler", "async+scheduler")

OPERATIONS = (
    "create",
    "retrieve",
    "poll",
    "create_and_poll",
    "download_content",
    "remix",
    "list",
    "delete",
)

SyncOp = Callable[[DeerAPI, Path], Any]
AsyncOp = Callable[[AsyncDeerAPI, Path], Awaitable[Any]]

SYNC_OPS: dict[str, SyncOp] = {
    "create": lambda c, _: c.videos.create(prompt=PROMPT, seconds="4"),
    "retrieve": lambda c, _: c.videos.retrieve(SEED_ID),
    "poll": lambda c, _: c.videos.poll(SEED_ID, timeout=POLL_TIMEOUT),
    "create_and_poll": lambda c, _: c.videos.create_and_poll(
        prompt=PROMPT, seconds="4", poll_timeout=POLL_TIMEOUT
    ),
    "download_content": lambda c, target: c.videos.download_content(SEED_ID, target),
    "remix": lambda c, _: c.videos.remix(SEED_ID, prompt=PROMPT),
    "list": lambda c, _: list(c.videos.list(limit=2)),
    "delete": lambda c, _: c.videos.delete(SEED_ID),
}


async def _alist(client: AsyncDeerAPI, _: Path) -> list[Any]:
    async with contextlib.aclosing(client.videos.list(limit=2)) as pages:  # type: ignore[type-var]
        return [video async for video in pages]


ASYNC_OPS: dict[str, AsyncOp] = {
    "create": lambda c, _: c.videos.create(prompt=PROMPT, seconds="4"),
    "retrieve": lambda c, _: c.videos.retrieve(SEED_ID),
    "poll": lambda c, _: c.videos.poll(SEED_ID, timeout=POLL_TIMEOUT),
    "create_and_poll": lambda c, _: c.videos.create_and_poll(
        prompt=PROMPT, seconds="4", poll_timeout=POLL_TIMEOUT
    ),
    "download_content": lambda c, target: c.videos.download_content(SEED_ID, target),
    "remix": lambda c, _: c.videos.remix(SEED_ID, prompt=PROMPT),
    "list": _alist,
    "delete": lambda c, _: c.videos.delete(SEED_ID),
}


@dataclass
class CallRecord:
    behaviour: str
    op: str
    mode: str
    target: Path
    api_host: str = ""
    result: Any = None
    exc: BaseException | None = None
    started: float = 0.0
    ended: float | None = None
    hung: bool = False  # the hard guard fired
    requests: list[Received] = field(default_factory=list)
    stuck_threads: int = 0  # worker or server threads still alive at the end (harness failure)

    @property
    def elapsed(self) -> float:
        end = self.ended if self.ended is not None else time.monotonic()
        return end - self.started


def _client_kwargs(base_url: str, mode: str) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "api_key": API_KEY,
        "base_url": base_url,
        "max_retries": MAX_RETRIES,
        "timeout": REQUEST_TIMEOUT,
    }
    if mode == "sync+scheduler":
        kwargs["transport"] = SyncScheduledTransport(Scheduler(concurrency=4))
    elif mode == "async+scheduler":
        kwargs["transport"] = ScheduledTransport(Scheduler(concurrency=4))
    return kwargs


def _run_sync(record: CallRecord, base_url: str) -> None:
    try:
        with DeerAPI(**_client_kwargs(base_url, record.mode)) as client:
            try:
                record.result = SYNC_OPS[record.op](client, record.target)
            except BaseException as exc:
                record.exc = exc
            finally:
                record.ended = time.monotonic()
    except BaseException as exc:  # closing the client: keep the call's own outcome first
        if record.exc is None:
            record.exc = exc


async def _run_async(record: CallRecord, base_url: str, guard: float) -> None:
    async with AsyncDeerAPI(**_client_kwargs(base_url, record.mode)) as client:
        task = asyncio.ensure_future(ASYNC_OPS[record.op](client, record.target))
        done, _ = await asyncio.wait({task}, timeout=guard - (time.monotonic() - record.started))
        if not done:
            record.hung = True
            task.cancel()
            await asyncio.wait({task}, timeout=5)
        record.ended = time.monotonic()
        if not task.done():
            return
        if task.cancelled():
            record.exc = asyncio.CancelledError()
        elif task.exception() is not None:
            record.exc = task.exception()
        else:
            record.result = task.result()


def _run_loop(record: CallRecord, base_url: str, guard: float) -> None:
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(_run_async(record, base_url, guard))
    except BaseException as exc:
        if record.exc is None:
            record.exc = exc
    finally:
        try:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            loop.close()


def run_cell(behaviour: str, op: str, mode: str, workdir: Path, guard: float) -> CallRecord:
    """Call ``op`` (in one of :data:`MODES`) against a fresh server playing ``behaviour``."""
    workdir.mkdir(parents=True, exist_ok=True)
    record = CallRecord(behaviour, op, mode, target=workdir / "video.mp4")
    saved = random.getstate()
    random.seed(RANDOM_SEED)
    try:
        _run(record, guard)
    finally:
        random.setstate(saved)
    return record


def _run(record: CallRecord, guard: float) -> None:
    with HostileServer(record.behaviour) as server:
        record.api_host = f"127.0.0.1:{server.port}"
        blocking = record.mode.startswith("sync")
        if blocking:
            worker = threading.Thread(target=_run_sync, args=(record, server.base_url))
        else:
            worker = threading.Thread(target=_run_loop, args=(record, server.base_url, guard))
        worker.daemon = True
        record.started = time.monotonic()
        worker.start()
        worker.join(guard + (0.0 if blocking else 5.0))
        if worker.is_alive():
            record.hung = True
            server.stop()  # cut every connection: a sync call blocked in a read ends now
            worker.join(10)
        if record.hung and record.ended is None:
            record.ended = time.monotonic()
        record.requests = server.requests()
    record.stuck_threads = int(worker.is_alive()) + server.alive_threads()
