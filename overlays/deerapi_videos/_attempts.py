"""What the request path decides between attempts, without doing any I/O.

The request path (``_async/_request.py``, and ``_sync/_request.py`` generated from it) sends and
reads; :class:`Attempts` decides, after each attempt, whether to retry and after how long (with
:mod:`._retry`), which error to raise, and what to log. Everything here is shared by the sync and
async clients.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from . import _clock
from ._auth import Redactor
from ._errors import (
    APIConnectionError,
    APITimeoutError,
    DeerAPIError,
    JobMayExistError,
    JobResponseValidationError,
    ResponseValidationError,
    status_error_from_response,
)
from ._retry import Outcome, RetryDecision, RetryPolicy

__all__ = [
    "REQUEST_ID_HEADERS",
    "Attempts",
    "BeforeAttempt",
    "CallOptions",
    "logger",
    "request_id_of",
]


logger = logging.getLogger("deerapi_videos")

# The response header naming the request, in order of preference: OpenAI and DeerAPI send
# X-Request-Id; gateways built on one-api/new-api send X-Oneapi-Request-Id.
REQUEST_ID_HEADERS = ("x-request-id", "x-oneapi-request-id")


def request_id_of(headers: httpx.Headers) -> str | None:
    """The request id a response carries under any of :data:`REQUEST_ID_HEADERS`, or None."""
    for name in REQUEST_ID_HEADERS:
        value = headers.get(name)
        if value:
            return str(value)
    return None


@dataclass(frozen=True)
class CallOptions:
    """How one logical call is sent (all attempts share it)."""

    operation: str  # for logs and messages, e.g. "POST /v1/videos"
    is_post: bool
    max_retries: int
    # An overall deadline (on the _clock.now() scale) exists only where the API has one: the
    # reads inside ``poll``. With it, no wait reaches it and each attempt's timeout is clipped
    # to what is left; a failure it cut short goes through ``on_deadline`` (PollTimeoutError).
    deadline: float | None = None
    on_deadline: Callable[[DeerAPIError], DeerAPIError] | None = None
    idempotency_key: str | None = None
    follow_redirects: bool = False
    # The least wait before a retry (poll's floor between reads, whatever the server hints).
    min_delay: float = 0.0
    # Whether the per-attempt time limit also covers the body (not for downloads, whose body
    # may take longer than any per-request timeout; the call's deadline still covers it).
    limit_body: bool = True


# Called before every attempt (attempt number from 0); downloads set their Range header here.
BeforeAttempt = Callable[[httpx.Request, int], None]


# No attempt gets less than this, even right at a deadline (it then times out at once).
_MIN_ATTEMPT_TIMEOUT = 0.001
_TIMEOUT_KEYS = ("connect", "read", "write", "pool")


class Attempts:
    """The decision logic shared by the sync and async paths: everything but the I/O."""

    def __init__(
        self, policy: RetryPolicy, redact: Redactor, call: CallOptions, request: httpx.Request
    ) -> None:
        self.policy = policy
        self.redact = redact
        self.call = call
        self.attempt = 0
        # Whether a failed attempt may have been carried out by the server (its answer lost).
        self.may_have_run = False
        # The per-attempt timeout the call was built with (httpx's extension dict).
        self.timeout: dict[str, float | None] = dict(
            request.extensions.get("timeout") or dict.fromkeys(_TIMEOUT_KEYS)
        )

    def prepare(self, request: httpx.Request) -> None:
        """Before each attempt: with a deadline, clip every timeout to what is left of it."""
        if self.call.deadline is None:
            return
        left = max(self.call.deadline - _clock.now(), _MIN_ATTEMPT_TIMEOUT)
        request.extensions["timeout"] = {
            name: left if value is None else min(value, left)
            for name, value in self.timeout.items()
        }

    def deadline_left(self) -> float | None:
        """Seconds left before the call's deadline (None without one)."""
        if self.call.deadline is None:
            return None
        return max(self.call.deadline - _clock.now(), _MIN_ATTEMPT_TIMEOUT)

    def attempt_limit(self) -> float | None:
        """The wall-clock limit of this attempt: its timeouts added up, within the deadline.

        Connect, write and read each get their own timeout from httpx, but a read timeout
        restarts with every byte; the sum bounds the whole attempt however the server paces
        its bytes (see :mod:`._deadline`).
        """
        parts = [self.timeout.get(name) for name in ("connect", "write", "read")]
        total = None if any(p is None for p in parts) else sum(p for p in parts if p is not None)
        left = self.deadline_left()
        if left is None:
            return total
        return left if total is None else min(total, left)

    def decide(self, outcome: Outcome) -> RetryDecision:
        remaining = None
        if self.call.deadline is not None:
            remaining = self.call.deadline - _clock.now()
        decision = self.policy.decide(
            outcome,
            attempt=self.attempt,
            is_post=self.call.is_post,
            max_retries=self.call.max_retries,
            remaining=remaining,
        )
        if not decision.retry or decision.delay >= self.call.min_delay:
            return decision
        delay = self.call.min_delay
        if remaining is not None and delay >= remaining:
            return dataclasses.replace(
                decision, retry=False, deadline_reached=True, reason="the deadline is too close"
            )
        return dataclasses.replace(decision, delay=delay)

    def describe(self, outcome: Outcome, request_id: str | None) -> str:
        if outcome.exception is not None:
            what = f"{type(outcome.exception).__name__}: {self.redact(str(outcome.exception))}"
        else:
            what = f"HTTP {outcome.status_code}"
        if request_id:
            what += f" (request id: {request_id})"
        return what

    def clean(self, exc: Exception) -> BaseException:
        """``exc``, or a copy without the key if its message holds it (kept as the cause)."""
        text = str(exc)
        if self.redact(text) == text:
            return exc
        try:
            return type(exc)(self.redact(text))
        except Exception:  # an exception type with another signature
            return DeerAPIError(f"{type(exc).__name__}: {self.redact(text)}")

    def note_retry(self, outcome: Outcome) -> None:
        """Before retrying: could the failed attempt have reached the server and run?

        Not if the connection was never made (connect error or timeout, pool timeout) or the
        server refused to work on it (4xx, e.g. 408, 429). A dropped connection after sending,
        a read timeout or a 5xx may have run.
        """
        if outcome.exception is not None:
            if not outcome.request_never_sent:
                self.may_have_run = True
        elif outcome.status_code is not None and outcome.status_code >= 500:
            self.may_have_run = True

    def gone_after_lost_answer(self, status_code: int, on_gone: object) -> bool:
        """A 404 to a retry of a call whose earlier attempt may have run: it ran (``on_gone``)."""
        if on_gone is None or status_code != 404 or not self.may_have_run:
            return False
        logger.warning(
            "%s: 404 on retry %d after an attempt whose answer was lost; the earlier attempt "
            "succeeded",
            self.call.operation,
            self.attempt,
        )
        return True

    def log_retry(self, outcome: Outcome, request_id: str | None, decision: RetryDecision) -> None:
        logger.warning(
            "%s: %s; retrying in %.2fs (retry %d of %d)",
            self.call.operation,
            self.describe(outcome, request_id),
            decision.delay,
            self.attempt + 1,
            self.call.max_retries,
        )

    def error(
        self,
        outcome: Outcome,
        decision: RetryDecision,
        *,
        request_id: str | None,
        body_text: str = "",
    ) -> DeerAPIError:
        """Build (and log) the error to raise for an outcome that will not be retried."""
        cause: DeerAPIError
        if outcome.exception is not None:
            exc = outcome.exception
            text = f"{self.call.operation} failed: {self.describe(outcome, None)}"
            cls = APITimeoutError if isinstance(exc, httpx.TimeoutException) else APIConnectionError
            cause = cls(text, request_id=request_id)
            cause.__cause__ = self.clean(exc)
        else:
            assert outcome.status_code is not None and outcome.headers is not None
            cause = status_error_from_response(
                status_code=outcome.status_code,
                headers=httpx.Headers(
                    [(k, self.redact(v)) for k, v in outcome.headers.multi_items()]
                ),
                body_text=self.redact.body(body_text),
                request_id=request_id,
                retry_after=decision.retry_after,
            )
        error: DeerAPIError = cause
        if decision.job_may_exist:
            error = self.job_may_exist(self.describe(outcome, None), request_id, cause)
        elif self._cut_by_deadline(outcome, decision):
            assert self.call.on_deadline is not None
            error = self.call.on_deadline(cause)
            error.__cause__ = cause
        logger.warning(
            "%s failed after %d attempt(s): %s; request id: %s; %s",
            self.call.operation,
            self.attempt + 1,
            self.redact(str(cause)),
            request_id or "none",
            decision.reason,
        )
        return error

    def _cut_by_deadline(self, outcome: Outcome, decision: RetryDecision) -> bool:
        if self.call.on_deadline is None or self.call.deadline is None:
            return False
        if decision.deadline_reached:
            return True
        # A timeout clipped to the deadline fired (retries may also have run out just then).
        return isinstance(outcome.exception, httpx.TimeoutException) and (
            _clock.now() >= self.call.deadline - _MIN_ATTEMPT_TIMEOUT
        )

    def job_may_exist(
        self, what: str, request_id: str | None, cause: BaseException
    ) -> JobMayExistError:
        status = cause.status_code if hasattr(cause, "status_code") else None
        error = JobMayExistError(
            f"{self.call.operation} failed: {what}",
            idempotency_key=self.call.idempotency_key or "",
            request_id=request_id,
            status_code=status if isinstance(status, int) else None,
            cause=cause,
        )
        error.__cause__ = cause
        return error

    def unreadable(self, exc: Exception, status_code: int) -> DeerAPIError:
        """A success answer that broke the reader in an unforeseen way, as a client error."""
        return DeerAPIError(
            f"{self.call.operation}: the HTTP {status_code} answer could not be read "
            f"({type(exc).__name__}: {self.redact(str(exc))})"
        )

    def unreadable_success(self, error: DeerAPIError, request_id: str | None) -> DeerAPIError:
        """A success status whose body could not be used. For a POST the job probably exists."""
        logger.warning(
            "%s: unusable success response: %s; request id: %s",
            self.call.operation,
            self.redact(str(error)),
            request_id or "none",
        )
        if not self.call.is_post:
            return error
        if isinstance(error, ResponseValidationError):
            error.idempotency_key = self.call.idempotency_key
            return JobResponseValidationError(error, idempotency_key=error.idempotency_key or "")
        return self.job_may_exist(str(error), request_id, error)
