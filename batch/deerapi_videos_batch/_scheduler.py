"""One scheduler for every request of a client: rate limits are the account's, not a job's.

A client sends through :class:`ScheduledTransport` (awaitable) or
:class:`SyncScheduledTransport` (blocking, for threads); both are httpx's own transport, so the
client keeps its connection gate and time limits. The transport asks the :class:`Scheduler`
before every request and tells it about every answer::

    scheduler = Scheduler(concurrency=8)
    client = DeerAPI(transport=SyncScheduledTransport(scheduler))   # share it between threads

The batch runner does the same with :class:`ScheduledTransport` and ``AsyncDeerAPI``. The
rules below are decided once, under one lock; only the waiting differs (a dispatcher task for
the tasks of one event loop, a condition variable for threads). One scheduler serves either
the tasks of one event loop or threads, not both at once.

- **One 429 pauses every sender.** A 429 for the request rate (for its ``Retry-After`` /
  ``retry-after-ms``, read by the client's rule, else 1 s; at most ``max_pause``, 5 min) holds
  back every request of every job until it passes.
  A 429 that says the account runs too many jobs at once (an error code or message mentioning
  concurrency, or a 429 on a create while ``x-ratelimit-remaining-requests`` is above 0) holds
  back only new jobs: polls and downloads go on, since they are what frees capacity.
- **Request rate, AIMD.** Requests leave at a paced rate (a local token bucket, small burst).
  Unknown at first (no pacing), it is set on the first rate 429 from the rate the server was
  seen to accept over the last seconds, cut by 10% on every later rate 429 (multiplicative
  decrease), and raised by about one request per second per second of success (additive
  increase). When the server sends OpenAI-style ``x-ratelimit-limit-requests``,
  ``-remaining-requests`` and ``-reset-requests`` headers, its refill rate
  ``(limit - remaining) / reset`` (read while the bucket is at least half drained) caps the
  pace at 98% of it; until a pace is known, no more requests are on the wire than the last
  ``remaining`` said the server would take.
- **Jobs in flight, AIMD.** At most ``window`` jobs (``--concurrency`` at most) hold a slot from
  their POST until the server finished them. A concurrency 429 sets the window to 90% of the
  jobs then in flight; every accepted POST widens it by ``1/window``.
- **Priorities.** Waiting requests leave downloads first (content expires), then polls, then
  listings, then new jobs.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import heapq
import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from deerapi_videos.retry import parse_retry_after

__all__ = [
    "ScheduledTransport",
    "Scheduler",
    "SchedulerStats",
    "SyncScheduledTransport",
    "parse_duration",
    "request_kind",
]

PRIORITY = {"download": 0, "poll": 1, "list": 2, "other": 2, "submit": 3}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")


def request_kind(request: httpx.Request) -> str:
    """``submit``, ``poll``, ``download``, ``list`` or ``other``, from the method and path."""
    parts = [p for p in request.url.path.split("/") if p]
    if "videos" not in parts:
        return "other"
    rest = parts[parts.index("videos") + 1 :]
    if request.method == "POST":
        return "submit"
    if request.method != "GET":
        return "other"
    if not rest:
        return "list"
    if len(rest) == 2 and rest[1] == "content":
        return "download"
    return "poll" if len(rest) == 1 else "other"


def parse_duration(text: str | None) -> float | None:
    """Seconds in ``"1.5"``, ``"20ms"``, ``"6m0s"`` or ``"1h2m3s"`` (None when unreadable)."""
    if text is None:
        return None
    text = text.strip()
    try:
        value = float(text)
    except ValueError:
        pass
    else:
        return value if math.isfinite(value) and value >= 0 else None
    total = 0.0
    position = 0
    for match in _DURATION_PART.finditer(text):
        if match.start() != position:
            return None
        number, unit = float(match.group(1)), match.group(2)
        total += number * {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}[unit]
        position = match.end()
    return total if position == len(text) and position > 0 else None


def _header_int(headers: httpx.Headers, name: str) -> int | None:
    raw = headers.get(name)
    if raw is None:
        return None
    try:
        return int(float(raw))
    except ValueError:
        return None


@dataclass
class SchedulerStats:
    """What the scheduler saw and did (requests by kind, 429s, pauses, current limits)."""

    requests: collections.Counter[str] = field(default_factory=collections.Counter)
    responses: collections.Counter[int] = field(default_factory=collections.Counter)
    rate_limited: int = 0
    concurrency_limited: int = 0
    transport_errors: int = 0
    pauses: int = 0
    paused_seconds: float = 0.0
    window: float = 0.0
    rate: float | None = None
    server_rate: float | None = None

    @property
    def total(self) -> int:
        return sum(self.requests.values())

    @property
    def too_many(self) -> int:
        return self.responses.get(429, 0)

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": dict(self.requests),
            "total": self.total,
            "responses": {str(k): v for k, v in sorted(self.responses.items())},
            "429": self.too_many,
            "rate_limited": self.rate_limited,
            "concurrency_limited": self.concurrency_limited,
            "transport_errors": self.transport_errors,
            "pauses": self.pauses,
            "paused_seconds": round(self.paused_seconds, 3),
            "window": round(self.window, 2),
            "rate": None if self.rate is None else round(self.rate, 2),
            "server_rate": None if self.server_rate is None else round(self.server_rate, 2),
        }


class Scheduler:
    """Shared by every job of a client: pauses, pacing and the job window.

    Awaitable callers use :meth:`before_request`, :meth:`acquire_slot`; threads use
    :meth:`before_request_blocking`, :meth:`acquire_slot_blocking`; the first wait binds the
    scheduler to one kind (the other then raises ``RuntimeError``). Everything else
    (:meth:`after_response`, :meth:`after_error`, :meth:`release_slot`, :meth:`job_accepted`)
    does not wait.

    Args:
        concurrency: the most jobs in flight at once (the window never grows past it).
        rate: a starting request rate in requests per second (None: unpaced until a 429).
        burst: requests that may leave back to back when the pace allows.
        default_pause: the pause after a 429 without ``Retry-After``, in seconds.
        max_pause: the longest pause one 429 causes, whatever its ``Retry-After`` says.
        decrease: the factor applied on a 429 (multiplicative decrease).
        increase: requests per second added per second of accepted requests.
        headroom: the share of the server's advertised rate to use.
        clock: monotonic seconds (tests pass a fake one).
    """

    def __init__(
        self,
        *,
        concurrency: int,
        rate: float | None = None,
        burst: float = 2.0,
        default_pause: float = 1.0,
        max_pause: float = 300.0,
        decrease: float = 0.9,
        increase: float = 1.0,
        min_rate: float = 0.2,
        headroom: float = 0.98,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.max_window = float(concurrency)
        self.window = float(concurrency)
        self.active = 0
        self.burst = burst
        self.default_pause = default_pause
        self.max_pause = max_pause
        self.decrease = decrease
        self.increase = increase
        self.min_rate = min_rate
        self.headroom = headroom
        self._clock = clock
        self._rate = rate
        self._server_rate: float | None = None
        self._tokens = burst
        self._stamp = clock()
        self._paused_until = 0.0
        self._submit_paused_until = 0.0
        self._accepted: collections.deque[float] = collections.deque()
        self._accepted_total = 0
        self._started: float | None = None
        self._last_decrease = -math.inf
        self._last_window_cut = -math.inf
        self._in_flight = 0
        self._answered = False
        self._remaining: int | None = None  # the last x-ratelimit-remaining-requests
        self._queue: list[tuple[int, int, asyncio.Future[None], str]] = []
        self._seq = 0
        self._changed: asyncio.Event | None = None
        self._dispatcher: asyncio.Task[None] | None = None
        self._slot_freed: asyncio.Event | None = None
        # Threads wait on this condition; its lock guards every rule's state in both modes.
        self._threads = threading.Condition(threading.Lock())
        self._thread_queue: list[tuple[int, int, str]] = []
        self._serves: str | None = None  # "tasks" or "threads", from the first wait
        self.stats = SchedulerStats(window=self.window, rate=rate)

    # -- pacing ------------------------------------------------------------------------------

    def pace(self) -> float | None:
        """The request rate requests currently leave at (None: unpaced)."""
        rates = []
        if self._rate is not None:
            rates.append(self._rate)
        if self._server_rate is not None:
            rates.append(self._server_rate * self.headroom)
        return min(rates) if rates else None

    def paused_for(self, kind: str = "poll") -> float:
        """Seconds a request of ``kind`` would wait for a pause now."""
        now = self._clock()
        until = self._paused_until
        if kind == "submit":
            until = max(until, self._submit_paused_until)
        return max(0.0, until - now)

    def _wait_for(self, kind: str, now: float) -> float:
        until = self._paused_until
        if kind == "submit":
            until = max(until, self._submit_paused_until)
        if until > now:
            return until - now
        rate = self.pace()
        if rate is None and self._remaining is not None:
            # No pace yet, but the server said how many requests it has left: no more than
            # that on the wire (its answers wake the dispatcher).
            return 1.0 if self._in_flight >= max(1, self._remaining) else 0.0
        if rate is None:
            return 0.0
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * rate)
        self._stamp = now
        if self._tokens >= 1.0:
            return 0.0
        return (1.0 - self._tokens) / rate

    def _serve(self, mode: str) -> None:
        """Bind to tasks or threads at the first wait: the awaitable side's wake-ups are not
        thread-safe, so one scheduler never serves both (called with the lock held)."""
        if self._serves is None:
            self._serves = mode
        elif self._serves != mode:
            raise RuntimeError(
                f"this Scheduler already serves {self._serves}; give the {mode} their own"
            )

    def _next_wait(self, kind: str, now: float) -> float:
        wait = self._wait_for(kind, now)
        if not self._answered and self._in_flight > 0:
            wait = max(wait, 1.0)  # probing: one request until the first answer
        return wait

    def _grant(self, kind: str, now: float) -> None:
        if self.pace() is not None:
            self._tokens -= 1.0
        if self._started is None:
            self._started = now
        self._in_flight += 1
        self.stats.requests[kind] += 1

    def _signal(self) -> None:
        """Wake every waiter to look again (called with the lock held)."""
        self._threads.notify_all()
        if self._changed is not None:
            self._changed.set()

    async def before_request(self, kind: str, timeout: float | None = None) -> float:
        """Wait until a request of ``kind`` may leave (pauses, pace, priority); returns the
        time it left (pass it to :meth:`after_response`).

        Args:
            kind: what the request is (see :func:`request_kind`).
            timeout: the longest to wait, in seconds (None: as long as it takes).

        Raises:
            TimeoutError: ``timeout`` passed first; the place in line is given up.
        """
        if timeout is not None:
            async with asyncio.timeout(max(timeout, 0.0)):
                return await self.before_request(kind)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        with self._threads:
            self._serve("tasks")
            self._seq += 1
            heapq.heappush(self._queue, (PRIORITY.get(kind, 2), self._seq, future, kind))
            if self._changed is None:
                self._changed = asyncio.Event()
            self._signal()
        if self._dispatcher is None or self._dispatcher.done():
            self._dispatcher = loop.create_task(self._dispatch())
        try:
            await future
        except asyncio.CancelledError:
            with self._threads:
                if future.done() and not future.cancelled():
                    self._in_flight -= 1  # granted, then cancelled before it was sent
                # The dispatcher drops the abandoned place now (and ends if it was the last).
                self._signal()
            raise
        return self._clock()

    def before_request_blocking(self, kind: str, timeout: float | None = None) -> float:
        """:meth:`before_request` for threads: block until a request of ``kind`` may leave.

        Returns the time it left (pass it to :meth:`after_response`). An exception while
        waiting (``KeyboardInterrupt``) gives the place in line up and is raised.

        Raises:
            TimeoutError: ``timeout`` seconds passed first; the place in line is given up.
        """
        # Real time, not ``clock``: the caller's time limit is on the wall clock.
        give_up = None if timeout is None else time.monotonic() + max(timeout, 0.0)
        with self._threads:
            self._serve("threads")
            self._seq += 1
            entry = (PRIORITY.get(kind, 2), self._seq, kind)
            heapq.heappush(self._thread_queue, entry)
            try:
                while True:
                    left = None if give_up is None else give_up - time.monotonic()
                    if left is not None and left <= 0:
                        raise TimeoutError(f"waited {timeout:g} s for the scheduler")
                    if self._thread_queue[0] is not entry:
                        self._threads.wait(timeout=left)
                        continue
                    now = self._clock()
                    wait = self._next_wait(kind, now)
                    if wait > 0:
                        self._threads.wait(timeout=wait if left is None else min(wait, left))
                        continue
                    heapq.heappop(self._thread_queue)
                    self._grant(kind, now)
                    self._threads.notify_all()  # the next in line looks again
                    return now
            except BaseException:
                if entry in self._thread_queue:
                    self._thread_queue.remove(entry)
                    heapq.heapify(self._thread_queue)
                    self._threads.notify_all()
                raise

    async def _dispatch(self) -> None:
        assert self._changed is not None
        while self._queue:
            with self._threads:
                _, _, future, kind = self._queue[0]
                if future.done():  # its request was cancelled while waiting
                    heapq.heappop(self._queue)
                    continue
                now = self._clock()
                wait = self._next_wait(kind, now)
                if wait <= 0:
                    heapq.heappop(self._queue)
                    self._grant(kind, now)
                    future.set_result(None)
                else:
                    self._changed.clear()
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), timeout=wait)
                continue
            await asyncio.sleep(0)  # let the request go before pacing the next

    # -- answers -----------------------------------------------------------------------------

    def after_response(
        self,
        kind: str,
        status: int,
        headers: httpx.Headers,
        error_code: str | None = None,
        sent_at: float | None = None,
    ) -> None:
        """Learn from an answer: rate headers, 429s (pause, decrease) and successes (increase).

        ``sent_at`` (from :meth:`before_request`): a 429 to a request sent before the last
        decrease was already on its way then, and does not decrease the rate again.
        """
        with self._threads:
            now = self._clock()
            self._in_flight = max(0, self._in_flight - 1)
            self._answered = True
            self.stats.responses[status] += 1
            self._read_rate_headers(headers)
            if status == 429:
                self._on_429(kind, headers, error_code, now, now if sent_at is None else sent_at)
            else:
                self._accepted_total += 1
                self._accepted.append(now)
                while self._accepted and self._accepted[0] < now - 2.0:
                    self._accepted.popleft()
                if self._rate is not None:
                    self._rate += self.increase / max(self._rate, 1.0)
            self.stats.rate = self._rate
            self.stats.server_rate = self._server_rate
            self._signal()

    def after_error(self, kind: str) -> None:
        """A request that got no answer (connection error, timeout)."""
        with self._threads:
            self._in_flight = max(0, self._in_flight - 1)
            self.stats.transport_errors += 1
            self._signal()

    def _read_rate_headers(self, headers: httpx.Headers) -> None:
        limit = _header_int(headers, "x-ratelimit-limit-requests")
        remaining = _header_int(headers, "x-ratelimit-remaining-requests")
        if remaining is not None:
            self._remaining = remaining
        reset = parse_duration(headers.get("x-ratelimit-reset-requests"))
        if limit is None or remaining is None or reset is None or reset <= 0:
            return
        used = limit - remaining
        if used < max(2.0, limit / 2):
            # A bucket that is mostly full says only that this pace is not the limit; the
            # refill rate shows when it is half drained (the first bursts drain it).
            return
        # ``remaining`` is rounded down and ``reset`` exact: half a request of the rounding back.
        observed = (used - 0.5) / reset
        if self._server_rate is None:
            self._server_rate = observed
        else:
            self._server_rate += 0.2 * (observed - self._server_rate)

    def _is_concurrency_limit(self, kind: str, headers: httpx.Headers, code: str | None) -> bool:
        text = (code or "").lower()
        if "concurren" in text or "too_many_jobs" in text or "running_jobs" in text:
            return True
        remaining = _header_int(headers, "x-ratelimit-remaining-requests")
        return kind == "submit" and remaining is not None and remaining > 0

    def _on_429(
        self, kind: str, headers: httpx.Headers, code: str | None, now: float, sent_at: float
    ) -> None:
        delay = parse_retry_after(headers)
        # A pause stops every job: an absurd Retry-After (days, 10**24 s) is capped, and the
        # next 429 after the capped pause pauses again.
        pause = self.default_pause if delay is None else min(delay, self.max_pause)
        if self._is_concurrency_limit(kind, headers, code):
            self.stats.concurrency_limited += 1
            self._submit_paused_until = max(self._submit_paused_until, now + pause)
            if sent_at >= self._last_window_cut:  # not one already on its way at the last cut
                self._last_window_cut = now
                self.window = max(1.0, min(self.window, float(max(self.active, 1))) * self.decrease)
                self.stats.window = self.window
            return
        self.stats.rate_limited += 1
        if now + pause > self._paused_until:
            self.stats.pauses += 1
            self.stats.paused_seconds += now + pause - max(now, self._paused_until)
            self._paused_until = now + pause
        if sent_at < self._last_decrease:
            return  # already on its way when the rate was last cut
        self._last_decrease = now
        accepted = self._accepted_rate(now)
        if accepted is None and self._accepted_total >= 4 and self._started is not None:
            accepted = self._accepted_total / max(now - self._started, 0.25)
        known = [rate for rate in (self._rate, accepted) if rate is not None]
        if not known:
            return  # nothing to go on yet: the pause alone
        self._rate = max(self.min_rate, min(known) * self.decrease)
        self._tokens = 0.0
        self._stamp = now

    def _accepted_rate(self, now: float) -> float | None:
        recent = [t for t in self._accepted if t >= now - 2.0]
        if len(recent) < 4:
            return None
        span = max(now - recent[0], 0.25)
        return len(recent) / span

    # -- the job window ----------------------------------------------------------------------

    def _take_slot(self) -> bool:
        if self.active >= max(1, int(self.window)):
            return False
        self.active += 1
        return True

    def _slots_changed(self) -> None:
        """Wake whoever waits for a slot (called with the lock held)."""
        self._threads.notify_all()
        if self._slot_freed is not None:
            self._slot_freed.set()

    async def acquire_slot(self) -> None:
        """Wait for room in the job window (pair with :meth:`release_slot`)."""
        while True:
            with self._threads:
                self._serve("tasks")
                if self._take_slot():
                    return
                if self._slot_freed is None:
                    self._slot_freed = asyncio.Event()
                freed = self._slot_freed
                # Set by the next release; tasks already woken by the last one stay woken.
                freed.clear()
            await freed.wait()

    def acquire_slot_blocking(self) -> None:
        """:meth:`acquire_slot` for threads: block until the job window has room."""
        with self._threads:
            self._serve("threads")
            while not self._take_slot():
                self._threads.wait()

    def release_slot(self) -> None:
        """A job that held a slot is finished (or was never started)."""
        with self._threads:
            self.active = max(0, self.active - 1)
            self._slots_changed()

    def job_accepted(self) -> None:
        """A POST was accepted: widen the window (additive increase)."""
        with self._threads:
            self.window = min(self.max_window, self.window + 1.0 / max(self.window, 1.0))
            self.stats.window = self.window
            self._slots_changed()


class _Scheduled:
    """What both transports keep: the scheduler and the observer (then httpx's arguments).

    A request waits for its turn at most its pool timeout (httpx's wait for a connection; the
    client clips it to a call's deadline), then fails with ``httpx.PoolTimeout``: a pause on
    the whole account never holds one call past its own time limits.
    """

    def __init__(
        self,
        scheduler: Scheduler,
        *,
        observer: Callable[[str, httpx.Request, httpx.Response], None] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.scheduler = scheduler
        self.observer = observer


class ScheduledTransport(_Scheduled, httpx.AsyncHTTPTransport):
    """httpx's awaitable transport, asking a :class:`Scheduler` before each request.

    Args:
        scheduler: the scheduler every request of the client goes through.
        observer: ``observer(kind, request, response)`` sees every answer (the batch records
            request ids from it).
        **kwargs: httpx's transport arguments (``limits``, ``retries``, ...).

    A 429's small body is read here, so its error code can tell a rate limit from a limit on
    running jobs.
    """

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        kind = request_kind(request)
        try:
            sent_at = await self.scheduler.before_request(kind, _pool_timeout(request))
        except TimeoutError as exc:
            raise _held_too_long(request) from exc
        try:
            response = await super().handle_async_request(request)
        except BaseException:
            self.scheduler.after_error(kind)
            raise
        body = b""
        if response.status_code == 429:
            with contextlib.suppress(httpx.HTTPError):
                body = await response.aread()
        _answered(self.scheduler, self.observer, kind, request, response, body, sent_at)
        return response


class SyncScheduledTransport(_Scheduled, httpx.HTTPTransport):
    """httpx's blocking transport, asking a :class:`Scheduler` before each request.

    For a ``DeerAPI`` client shared by threads (``DeerAPI(transport=...)``): one 429 pauses
    every thread's requests, and the pace adapts as in :class:`ScheduledTransport`, whose
    arguments it takes.
    """

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        kind = request_kind(request)
        try:
            sent_at = self.scheduler.before_request_blocking(kind, _pool_timeout(request))
        except TimeoutError as exc:
            raise _held_too_long(request) from exc
        try:
            response = super().handle_request(request)
        except BaseException:
            self.scheduler.after_error(kind)
            raise
        body = b""
        if response.status_code == 429:
            with contextlib.suppress(httpx.HTTPError):
                body = response.read()
        _answered(self.scheduler, self.observer, kind, request, response, body, sent_at)
        return response


def _pool_timeout(request: httpx.Request) -> float | None:
    """The request's pool timeout: how long it may wait for a connection, so for its turn."""
    timeout = request.extensions.get("timeout")
    value = timeout.get("pool") if isinstance(timeout, dict) else None
    return float(value) if isinstance(value, int | float) else None


def _held_too_long(request: httpx.Request) -> httpx.PoolTimeout:
    # The request never left: to the client this is a pool timeout (never sent, safe to retry).
    return httpx.PoolTimeout(
        "waited longer than the pool timeout for the scheduler (a 429 pause or the pace)",
        request=request,
    )


def _answered(
    scheduler: Scheduler,
    observer: Callable[[str, httpx.Request, httpx.Response], None] | None,
    kind: str,
    request: httpx.Request,
    response: httpx.Response,
    body: bytes,
    sent_at: float,
) -> None:
    code = _error_code(body) if response.status_code == 429 else None
    scheduler.after_response(kind, response.status_code, response.headers, code, sent_at=sent_at)
    if observer is not None:
        observer(kind, request, response)


def _error_code(body: bytes) -> str | None:
    import json

    try:
        data = json.loads(body)
    except ValueError:
        return body[:200].decode("utf-8", "replace") or None
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict):
        parts = [error.get("code"), error.get("type"), error.get("message")]
        return " ".join(str(p) for p in parts if isinstance(p, str)) or None
    return None
