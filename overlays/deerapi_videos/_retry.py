"""Retry decisions: pure functions of (what happened, which attempt, which kind of request).

Nothing here does I/O; the sync and the async request paths both ask :meth:`RetryPolicy.decide`.

Rules
-----
- GET and DELETE retry on 408, 429, 500, 502, 503, 504, on connection errors and on timeouts.
- POST (``/v1/videos``, ``/remix``) starts a paid job. It is retried only where no job can have
  been started: a connection that never reached the server (``ConnectError``, ``ConnectTimeout``,
  ``PoolTimeout``), a 429, a 503. After a 500/502/504 (any 5xx but 501, 503, 505), or a timeout or
  broken connection once the request was sent, the job may exist: the outcome is marked
  ``job_may_exist`` and never retried.
- ``x-should-retry: false`` stops any retry; ``x-should-retry: true`` makes any status retryable
  **except** a job-may-exist POST outcome. Decision: the header comes from whichever hop answered;
  on a 502/504 that is a gateway which cannot know whether the upstream started the job, and we
  cannot verify that the server deduplicates by ``Idempotency-Key``. Paying twice is worse than
  asking the caller to check, so the header cannot turn a job-may-exist outcome into a resend.
- A 429 whose error code says waiting cannot help (``insufficient_quota`` and the other
  :data:`NOT_BY_WAITING` codes) is not retried.
- A POST whose 2xx answer could not be read (the body broke off, or could not be decoded) was
  accepted: the job exists, so it is ``job_may_exist`` whatever the error.
- Delay: ``retry-after-ms`` then ``Retry-After`` (seconds or HTTP date) when sane
  (finite, 0 <= x <= ``max_delay``). Longer than ``max_delay``: no retry, the error carries the
  requested delay (``poll`` honours it between reads when its deadline allows). Garbage,
  negative, infinite or NaN values fall back to the backoff: full jitter over
  ``min(max_delay, initial_delay * 2**attempt)``.
- Only a call with a deadline (the reads inside ``poll``) passes ``remaining``: a delay that
  would reach the deadline is not slept (``deadline_reached``); the last error is raised.
  Otherwise the per-call ``timeout`` bounds each attempt, never the retries.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import httpx

__all__ = [
    "FATAL_ERRORS",
    "NOT_BY_WAITING",
    "NOT_SENT_ERRORS",
    "Outcome",
    "RetryDecision",
    "RetryPolicy",
    "parse_retry_after",
]

RETRYABLE_STATUSES_IDEMPOTENT = frozenset({408, 429, 500, 502, 503, 504})
RETRYABLE_STATUSES_POST = frozenset({429, 503})
# Statuses that mean a POST was never acted on although >= 500.
_POST_5XX_NO_JOB = frozenset({501, 503, 505})

# Transport errors raised before any byte of the request reached the server.
NOT_SENT_ERRORS: tuple[type[Exception], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.ProxyError,
)
# Transport errors that are bugs or configuration, never worth a retry.
FATAL_ERRORS: tuple[type[Exception], ...] = (
    httpx.UnsupportedProtocol,
    httpx.LocalProtocolError,
    httpx.TooManyRedirects,
    httpx.DecodingError,
)
# Error codes of a 429 that no amount of waiting fixes (the account, not the rate).
NOT_BY_WAITING = frozenset(
    {"insufficient_quota", "billing_hard_limit_reached", "billing_not_active", "quota_exceeded"}
)


@dataclass(frozen=True)
class Outcome:
    """What one attempt produced: a status with headers, or a transport exception."""

    status_code: int | None = None
    headers: httpx.Headers | None = None
    exception: Exception | None = None
    error_code: str | None = None  # the error envelope's ``code``, when the body had one
    after_success: bool = False  # the exception broke off a 2xx answer's body

    @property
    def request_never_sent(self) -> bool:
        return isinstance(self.exception, NOT_SENT_ERRORS)


@dataclass(frozen=True)
class RetryDecision:
    retry: bool
    delay: float = 0.0
    job_may_exist: bool = False
    retry_after: float | None = None
    reason: str = ""
    deadline_reached: bool = False


def parse_retry_after(headers: httpx.Headers, *, now: float | None = None) -> float | None:
    """The delay in seconds the server asked for, or None when absent or unreadable.

    ``retry-after-ms`` wins over ``Retry-After``. Negative, infinite, NaN and garbage values are
    unreadable (None). An HTTP date in the past means 0.
    """
    ms = headers.get("retry-after-ms")
    if ms is not None:
        try:
            value = float(ms.strip()) / 1000.0
        except ValueError:
            value = math.nan
        if math.isfinite(value) and value >= 0:
            return value
    raw = headers.get("retry-after")
    if raw is None or not raw.strip():
        return None
    raw = raw.strip()
    try:
        seconds = float(raw)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; be lenient about the zone marker.
        return None
    current = time.time() if now is None else now
    return max(0.0, float(when.timestamp()) - current)


def _should_retry_header(headers: httpx.Headers | None) -> bool | None:
    if headers is None:
        return None
    value = headers.get("x-should-retry", "").strip().lower()
    if value == "true":
        return True
    if value == "false":
        return False
    return None


@dataclass(frozen=True)
class RetryPolicy:
    """How many retries and how long to wait between them."""

    max_retries: int = 2
    initial_delay: float = 0.5
    max_delay: float = 8.0

    def backoff(self, attempt: int) -> float:
        """Full jitter: uniform over [0, min(max_delay, initial_delay * 2**attempt)]."""
        ceiling = min(self.max_delay, self.initial_delay * (2.0 ** min(attempt, 60)))
        return random.uniform(0.0, ceiling)

    def job_may_exist(self, outcome: Outcome, *, is_post: bool) -> bool:
        if not is_post:
            return False
        if outcome.after_success or isinstance(outcome.exception, httpx.DecodingError):
            return True  # an answer arrived (unreadable): the server accepted the POST
        if outcome.exception is not None:
            return not outcome.request_never_sent and not isinstance(
                outcome.exception, FATAL_ERRORS
            )
        status = outcome.status_code or 0
        return status >= 500 and status not in _POST_5XX_NO_JOB

    def decide(
        self,
        outcome: Outcome,
        *,
        attempt: int,
        is_post: bool,
        max_retries: int | None = None,
        remaining: float | None = None,
    ) -> RetryDecision:
        """Retry this outcome? ``attempt`` counts retries already taken (0 for the first try)."""
        budget = self.max_retries if max_retries is None else max_retries
        may_exist = self.job_may_exist(outcome, is_post=is_post)
        retry_after = (
            parse_retry_after(outcome.headers)
            if outcome.headers is not None and outcome.exception is None
            else None
        )

        def no(reason: str) -> RetryDecision:
            return RetryDecision(
                False, job_may_exist=may_exist, retry_after=retry_after, reason=reason
            )

        if may_exist:
            return no("a POST that may have started a job is never re-sent")
        override = _should_retry_header(outcome.headers)
        if override is False:
            return no("server sent x-should-retry: false")
        if outcome.exception is not None:
            if isinstance(outcome.exception, FATAL_ERRORS):
                return no("not a transient error")
            wanted = outcome.request_never_sent or not is_post
        else:
            statuses = RETRYABLE_STATUSES_POST if is_post else RETRYABLE_STATUSES_IDEMPOTENT
            wanted = override is True or outcome.status_code in statuses
            if outcome.status_code == 429 and outcome.error_code in NOT_BY_WAITING:
                return no(f"{outcome.error_code}: waiting does not help")
        if not wanted:
            return no("not retryable")
        if attempt >= budget:
            return no(f"retries exhausted ({budget})")
        if retry_after is not None:
            if retry_after > self.max_delay:
                return no(
                    f"server asked to wait {retry_after:g}s, longer than the "
                    f"{self.max_delay:g}s cap"
                )
            delay = retry_after
        else:
            delay = self.backoff(attempt)
        if remaining is not None and delay >= remaining:
            return RetryDecision(
                False,
                job_may_exist=may_exist,
                retry_after=retry_after,
                reason=f"waiting {delay:.2f}s would reach the deadline ({remaining:.2f}s left)",
                deadline_reached=True,
            )
        return RetryDecision(True, delay=delay, retry_after=retry_after, reason="retrying")
