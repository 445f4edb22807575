"""One scheduler for every request of a batch: rate limits are the account's, not a job's.

The batch's client sends through :class:`ScheduledTransport` (httpx's own transport, so the
client keeps its connection gate and time limits), which asks the :class:`Scheduler` before
every request and tells it about every answer:

- **One 429 pauses every sender.** A 429 for the request rate (with ``Retry-After`` /
  ``retry-after-ms``, else a 1 s pause) holds back every request of every job until it passes.
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
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

__all__ = ["ScheduledTransport", "Scheduler", "SchedulerStats", "parse_duration", "request_kind"]

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


def _retry_after(headers: httpx.Headers) -> float | None:
    ms = headers.get("retry-after-ms")
    if ms is not None:
        try:
            value = float(ms) / 1000.0
        except ValueError:
            value = math.nan
        if math.isfinite(value) and value >= 0:
            return value
    raw = headers.get("retry-after")
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


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
    """Shared by every job of a batch (one per client): pauses, pacing and the job window.

    Args:
        concurrency: the most jobs in flight at once (the window never grows past it).
        rate: a starting request rate in requests per second (None: unpaced until a 429).
        burst: requests that may leave back to back when the pace allows.
        default_pause: the pause after a 429 without ``Retry-After``, in seconds.
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
        self._slots: asyncio.Condition | None = None
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

    def _signal(self) -> None:
        if self._changed is not None:
            self._changed.set()

    async def before_request(self, kind: str) -> float:
        """Wait until a request of ``kind`` may leave (pauses, pace, priority); returns the
        time it left (pass it to :meth:`after_response`)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
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
            if future.done() and not future.cancelled():
                self._in_flight -= 1  # granted, then cancelled before it was sent
            raise
        return self._clock()

    async def _dispatch(self) -> None:
        assert self._changed is not None
        while self._queue:
            _, _, future, kind = self._queue[0]
            if future.done():  # its request was cancelled while waiting
                heapq.heappop(self._queue)
                continue
            now = self._clock()
            wait = self._wait_for(kind, now)
            if not self._answered and self._in_flight > 0:
                wait = max(wait, 1.0)  # probing: one request until the first answer
            if wait > 0:
                self._changed.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), timeout=wait)
                continue
            heapq.heappop(self._queue)
            if self.pace() is not None:
                self._tokens -= 1.0
            if self._started is None:
                self._started = now
            self._in_flight += 1
            self.stats.requests[kind] += 1
            future.set_result(None)
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
        delay = _retry_after(headers)
        pause = self.default_pause if delay is None else delay
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

    def _condition(self) -> asyncio.Condition:
        if self._slots is None:
            self._slots = asyncio.Condition()
        return self._slots

    async def acquire_slot(self) -> None:
        """Wait for room in the job window (and for no pause on new jobs)."""
        slots = self._condition()
        async with slots:
            while self.active >= max(1, int(self.window)):
                await slots.wait()
            self.active += 1

    async def release_slot(self) -> None:
        slots = self._condition()
        async with slots:
            self.active = max(0, self.active - 1)
            slots.notify_all()

    async def job_accepted(self) -> None:
        """A POST was accepted: widen the window (additive increase)."""
        slots = self._condition()
        async with slots:
            self.window = min(self.max_window, self.window + 1.0 / max(self.window, 1.0))
            self.stats.window = self.window
            slots.notify_all()


class ScheduledTransport(httpx.AsyncHTTPTransport):
    """httpx's transport, asking a :class:`Scheduler` before each request.

    ``observer(kind, request, response)`` sees every answer (the batch records request ids).
    A 429's small body is read here, so its error code can tell a rate limit from a limit on
    running jobs.
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

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        kind = request_kind(request)
        sent_at = await self.scheduler.before_request(kind)
        try:
            response = await super().handle_async_request(request)
        except BaseException:
            self.scheduler.after_error(kind)
            raise
        code = None
        if response.status_code == 429:
            try:
                body = await response.aread()
            except httpx.HTTPError:
                body = b""
            code = _error_code(body)
        self.scheduler.after_response(
            kind, response.status_code, response.headers, code, sent_at=sent_at
        )
        if self.observer is not None:
            self.observer(kind, request, response)
        return response


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
