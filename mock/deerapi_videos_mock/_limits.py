"""Limits the real API has and the plain mock does not: an ASGI middleware in front of it.

:class:`LimitedMock` wraps a :class:`~deerapi_videos_mock.MockDeerAPI`'s app (the mock itself
is unchanged) and adds, per API key (the bearer token):

- **a request rate**: a token bucket of ``burst`` requests refilled at ``rate`` per second of
  real time. A request that finds it empty is answered 429 ``rate_limit_exceeded`` with
  ``Retry-After`` (whole seconds, at least 1) and ``retry-after-ms`` (exact), before the mock
  sees it. With ``rate_limit_headers`` every answer carries OpenAI's
  ``x-ratelimit-limit-requests`` (the bucket size), ``-remaining-requests`` and
  ``-reset-requests`` (time until the bucket is full again, e.g. ``"0.250s"``);
- **a cap on running jobs**: a create while ``max_running_jobs`` of the key's jobs are
  ``queued`` or ``in_progress`` is answered 429 ``concurrency_limit_exceeded``, with the time
  until the first of them ends as ``Retry-After``;
- **job durations that vary**: each new job's duration is drawn uniformly from
  ``job_duration * (1 +/- duration_spread)``;
- **a download bandwidth** (``download_bytes_per_second``): content is streamed no faster;
- **slow answers to creates** (``create_answer_delay``): the job starts at once, its answer
  leaves that many seconds later, so a client that goes away meanwhile leaves a paid job it
  never heard of (what a crash after the POST does to a real client);
- **Idempotency-Key replay off** (``idempotency_replay=False``): the header is removed before the
  mock sees it, so every POST starts a new paid job, as on a server that ignores it;
- **a POST log**: :attr:`LimitedMock.posts` records every create with the idempotency key it
  carried, its status, the video id and whether it was a replay, so tests and benchmarks count
  POSTs and paid jobs per job (:meth:`LimitedMock.post_counts`, :meth:`LimitedMock.duplicates`).
  A create whose answer was cut (a ``drop_after`` fault) is logged with status 0 and no video
  id; the jobs it started are in ``mock.paid_jobs``, which :meth:`LimitedMock.paid_by_prompt`
  and :meth:`LimitedMock.duplicates` count.

Limited requests are also logged in ``mock.requests`` (status 429).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import math
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from starlette.types import Message, Receive, Scope, Send

from ._app import route
from ._clock import ScaledClock
from ._mock import MockDeerAPI

__all__ = ["LimitedMock", "Limits", "PostRecord"]


@dataclass(frozen=True)
class Limits:
    """What :class:`LimitedMock` enforces (every limit is per API key).

    Attributes:
        rate: requests per second (token bucket refill); None: no rate limit.
        burst: the bucket's size: requests that may arrive at once.
        max_running_jobs: jobs ``queued`` or ``in_progress`` at once; None: no cap.
        rate_limit_headers: send ``x-ratelimit-*-requests`` on every answer (with ``rate``).
        idempotency_replay: False removes ``Idempotency-Key`` before the mock sees it.
        duration_spread: each job lasts ``job_duration * uniform(1 - s, 1 + s)``.
        download_bytes_per_second: stream content no faster than this (None: no limit).
        create_answer_delay: seconds between a create starting its job and its answer.
        seed: for the durations (None: random).
    """

    rate: float | None = None
    burst: int = 10
    max_running_jobs: int | None = None
    rate_limit_headers: bool = True
    idempotency_replay: bool = True
    duration_spread: float = 0.0
    download_bytes_per_second: float | None = None
    create_answer_delay: float = 0.0
    seed: int | None = 0

    def __post_init__(self) -> None:
        if self.rate is not None and not (self.rate > 0 and math.isfinite(self.rate)):
            raise ValueError("rate must be a positive number of requests per second")
        if self.burst < 1:
            raise ValueError("burst must be at least 1")
        if self.max_running_jobs is not None and self.max_running_jobs < 1:
            raise ValueError("max_running_jobs must be at least 1")
        if not 0 <= self.duration_spread < 1:
            raise ValueError("duration_spread must be in [0, 1)")
        if self.download_bytes_per_second is not None and self.download_bytes_per_second <= 0:
            raise ValueError("download_bytes_per_second must be positive")
        if self.create_answer_delay < 0:
            raise ValueError("create_answer_delay must be >= 0")


@dataclass(frozen=True)
class PostRecord:
    """One create the limited mock answered."""

    key: str | None  # the Idempotency-Key the client sent (even when replay is off)
    status: int
    video_id: str | None
    replayed: bool
    request_id: str | None

    @property
    def paid(self) -> bool:
        """Whether this POST started a new paid job."""
        return self.status == 200 and self.video_id is not None and not self.replayed


@dataclass
class _Bucket:
    tokens: float
    stamp: float


@dataclass
class _Account:
    bucket: _Bucket
    running: set[str] = field(default_factory=set)
    creating: int = 0  # creates let through whose answer has not been seen yet


class LimitedMock:
    """A :class:`MockDeerAPI` behind rate limits, a running-jobs cap and a POST log.

    ``app`` is the ASGI app to serve (``serve()`` serves it on loopback); ``mock`` stays the
    mock's state, as before.
    """

    def __init__(
        self,
        mock: MockDeerAPI,
        limits: Limits,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.mock = mock
        self.limits = limits
        self._clock = clock
        self._lock = threading.Lock()
        self._accounts: dict[str, _Account] = {}
        self._random = random.Random(limits.seed)
        self.posts: list[PostRecord] = []
        self.rejected: collections.Counter[str] = collections.Counter()
        #: API requests that arrived (counted before any answer, limited or not), and creates.
        self.arrived = 0
        self.arrived_posts = 0

    # -- reading the log -----------------------------------------------------------------------

    def post_counts(self) -> dict[str | None, tuple[int, int]]:
        """``{idempotency key: (POSTs answered 200, paid jobs started)}``."""
        counts: dict[str | None, list[int]] = {}
        with self._lock:
            posts = list(self.posts)
        for post in posts:
            entry = counts.setdefault(post.key, [0, 0])
            if post.status == 200:
                entry[0] += 1
            if post.paid:
                entry[1] += 1
        return {key: (value[0], value[1]) for key, value in counts.items()}

    def paid_by_prompt(self) -> collections.Counter[str]:
        """Paid jobs per prompt (every job of a batch has its own prompt in the tests)."""
        return collections.Counter(video.prompt for video in self.mock.paid_jobs)

    def duplicates(self) -> int:
        """Paid jobs beyond the first for the same prompt."""
        return sum(count - 1 for count in self.paid_by_prompt().values() if count > 1)

    def stats(self) -> dict[str, Any]:
        with self._lock:
            posts = list(self.posts)
            rejected = dict(self.rejected)
        statuses = collections.Counter(
            f"{r.method} {_shape(r.path)} {r.status}" for r in list(self.mock.requests)
        )
        return {
            "requests": dict(statuses),
            "total_requests": len(self.mock.requests),
            "429": sum(1 for r in list(self.mock.requests) if r.status == 429),
            "rejected": rejected,
            "posts": len(posts),
            "paid_jobs": len(self.mock.paid_jobs),
            "duplicates": self.duplicates(),
        }

    @contextlib.contextmanager
    def serve(self, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
        """Serve :attr:`app` on loopback in a background thread; yields the base URL."""
        from ._server import LoopbackServer

        server = LoopbackServer(self.app, host=host, port=port)
        server.start()
        try:
            yield server.base_url
        finally:
            server.stop()

    # -- the middleware ------------------------------------------------------------------------

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.mock.app(scope, receive, send)
            return
        method = str(scope["method"])
        path = str(scope["path"])
        operation, _, _ = route(method, path)
        if operation is None:  # the spec, unknown paths: not limited
            await self.mock.app(scope, receive, send)
            return
        token = _bearer(scope)
        now = self._clock()
        with self._lock:
            self.arrived += 1
            if operation == "createVideo":
                self.arrived_posts += 1
            account = self._account(token, now)
            refused = self._take(account, now)
            if refused is None and operation == "createVideo":
                refused = self._running_cap(account)
            headers = self._rate_headers(account, now)
        if refused is not None:
            await self._refuse(scope, receive, send, refused, headers)
            return
        key = _header(scope, b"idempotency-key")
        if operation in ("createVideo", "remixVideo") and not self.limits.idempotency_replay:
            scope = {
                **scope,
                "headers": [h for h in scope["headers"] if h[0] != b"idempotency-key"],
            }
        capture = operation in ("createVideo", "remixVideo")
        bandwidth = self.limits.download_bytes_per_second
        throttle = bandwidth if operation == "downloadVideoContent" else None
        seen: dict[str, Any] = {"status": 0, "body": b"", "headers": []}

        delay = self.limits.create_answer_delay if operation == "createVideo" else 0.0

        async def send_through(message: Message) -> None:
            if message["type"] == "http.response.start":
                if delay > 0:
                    await asyncio.sleep(delay)  # the job exists; the answer is on its way
                seen["status"] = message["status"]
                seen["headers"] = list(message.get("headers", []))
                message = {**message, "headers": [*message.get("headers", []), *headers]}
            elif message["type"] == "http.response.body":
                if capture:
                    seen["body"] += message.get("body", b"")
                if throttle is not None and message.get("body"):
                    await asyncio.sleep(len(message["body"]) / throttle)
            await send(message)

        try:
            await self.mock.app(scope, receive, send_through)
        finally:
            if capture:
                self._after_post(token, key, seen, counted=operation == "createVideo")

    def _account(self, token: str, now: float) -> _Account:
        account = self._accounts.get(token)
        if account is None:
            account = _Account(_Bucket(float(self.limits.burst), now))
            self._accounts[token] = account
        return account

    def _take(self, account: _Account, now: float) -> tuple[str, str, float] | None:
        rate = self.limits.rate
        if rate is None:
            return None
        bucket = account.bucket
        bucket.tokens = min(float(self.limits.burst), bucket.tokens + (now - bucket.stamp) * rate)
        bucket.stamp = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return None
        wait = (1.0 - bucket.tokens) / rate
        self.rejected["rate"] += 1
        return (
            "rate_limit_exceeded",
            f"Rate limit reached for requests: {rate:g} per second. Please retry after "
            f"{wait * 1000:.0f} ms.",
            wait,
        )

    def _running_cap(self, account: _Account) -> tuple[str, str, float] | None:
        cap = self.limits.max_running_jobs
        if cap is None:
            return None
        now = self.mock.clock.now()
        left: list[float] = []
        for video_id in list(account.running):
            video = self.mock.get(video_id)
            if video is None or video.state(now).terminal:
                account.running.discard(video_id)
                continue
            end = video.duration / 2 if video.failure is not None else video.duration
            left.append(max(0.0, end - video.age(now)))
        if len(account.running) + account.creating < cap:
            account.creating += 1
            return None
        clock = self.mock.clock
        speed = clock.speed if isinstance(clock, ScaledClock) else 1.0
        wait = max(min(left, default=1.0) / speed, 0.001)
        self.rejected["running_jobs"] += 1
        return (
            "concurrency_limit_exceeded",
            f"Too many concurrent video jobs for this key: {cap} running. Retry when one finishes.",
            wait,
        )

    def _rate_headers(self, account: _Account, now: float) -> list[tuple[bytes, bytes]]:
        rate = self.limits.rate
        if rate is None or not self.limits.rate_limit_headers:
            return []
        bucket = account.bucket
        full_in = max(0.0, (self.limits.burst - bucket.tokens) / rate)
        return [
            (b"x-ratelimit-limit-requests", str(self.limits.burst).encode()),
            (b"x-ratelimit-remaining-requests", str(int(bucket.tokens)).encode()),
            (b"x-ratelimit-reset-requests", f"{full_in:.3f}s".encode()),
        ]

    async def _refuse(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        refused: tuple[str, str, float],
        headers: list[tuple[bytes, bytes]],
    ) -> None:
        code, message, wait = refused
        # Read the body first: closing with unread data would reset the connection.
        while True:
            event = await receive()
            if event["type"] != "http.request" or not event.get("more_body", False):
                break
        request_id = self.mock._next_request_id()
        body = json.dumps(
            {
                "error": {
                    "message": message,
                    "type": "rate_limit_error",
                    "param": None,
                    "code": code,
                }
            },
            separators=(",", ":"),
        ).encode()
        response_headers = [
            (b"x-request-id", request_id.encode()),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"retry-after", str(max(1, math.ceil(wait))).encode()),
            (b"retry-after-ms", str(max(1, math.ceil(wait * 1000))).encode()),
            *headers,
        ]
        await send({"type": "http.response.start", "status": 429, "headers": response_headers})
        await send({"type": "http.response.body", "body": body})
        self.mock._record(str(scope["method"]), str(scope["path"]), 429, request_id)
        if str(scope["method"]) == "POST":
            with self._lock:
                self.posts.append(
                    PostRecord(_header(scope, b"idempotency-key"), 429, None, False, request_id)
                )

    def _after_post(
        self, token: str, key: str | None, seen: dict[str, Any], *, counted: bool
    ) -> None:
        status = int(seen["status"])
        headers = {name.lower(): value for name, value in seen["headers"]}
        replayed = headers.get(b"idempotent-replayed", b"").lower() == b"true"
        request_id = headers.get(b"x-request-id", b"").decode() or None
        video_id: str | None = None
        if status == 200:
            with contextlib.suppress(ValueError, AttributeError):
                video_id = json.loads(seen["body"]).get("id")
        with self._lock:
            account = self._accounts[token]
            if counted and self.limits.max_running_jobs is not None:
                account.creating = max(0, account.creating - 1)
            self.posts.append(PostRecord(key, status, video_id, replayed, request_id))
            if video_id is None or replayed:
                return
            account.running.add(video_id)
            spread = self.limits.duration_spread
            video = self.mock.get(video_id)
            if video is not None and spread > 0 and video.duration > 0:
                video.duration *= self._random.uniform(1 - spread, 1 + spread)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def _bearer(scope: Scope) -> str:
    value = _header(scope, b"authorization") or ""
    return value.partition(" ")[2].strip()


def _shape(path: str) -> str:
    parts = path.strip("/").split("/")
    if len(parts) >= 3:
        parts[2] = "{id}"
    return "/" + "/".join(parts)
