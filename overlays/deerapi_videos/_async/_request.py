"""The one request path: send, retry, map failures to errors, log request ids.

Written once, by hand, for the awaitable client; ``python scripts/unasync.py`` derives the
blocking client's copy. What to do after each attempt is decided by the shared, pure
:class:`.._attempts.Attempts`; this module only does the I/O.

``send`` streams the response. On a success status it hands the open response to ``handle``
(read and parse JSON, or stream a download to disk); a transport error raised while ``handle``
reads the body counts as a failed attempt like any other. Every response is closed before the
next attempt or before an error is raised, so no connection is left checked out.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

import httpx

from .. import _clock
from .._attempts import Attempts, BeforeAttempt, CallOptions, logger, request_id_of
from .._auth import BearerAuth, Redactor
from .._concurrency import async_gate
from .._deadline import attempt_limit, relax_limit
from .._errors import DeerAPIError, error_code_of
from .._retry import Outcome, RetryPolicy

__all__ = ["AsyncRequester", "pool_size"]

T = TypeVar("T")


def pool_size(http: httpx.AsyncClient) -> int | None:
    """The connection limit of ``http``'s pool when it is httpx's own transport, else None.

    Read from httpcore's pool (``_max_connections``, ``sys.maxsize`` when unlimited): httpx
    exposes no public accessor. Any other transport (a mock, a custom one) or an unlimited pool
    gets no gate.
    """
    transport = getattr(http, "_transport", None)
    if not isinstance(transport, httpx.AsyncHTTPTransport):
        return None
    limit = getattr(getattr(transport, "_pool", None), "_max_connections", None)
    if isinstance(limit, int) and not isinstance(limit, bool) and 0 < limit < sys.maxsize:
        return limit
    return None


class AsyncRequester:
    """The async request path.

    With ``gate`` (a number of connections: the pool's size), at most that many attempts are
    inside httpx at once; the others wait on an ``asyncio.Semaphore`` instead of in httpcore's
    pool queue. httpcore 1.0 re-plans its whole queue on every pool event (each queued request
    against each connection: quadratic in queued requests, run on the event loop), so hundreds
    of concurrent calls on a 100-connection pool spent most of their time there. A permit is
    held from before ``send`` until the response is closed, because that is when httpcore gives
    the connection back; it is never held across a retry wait (or a poll wait, which happens
    between calls).
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        auth: BearerAuth,
        policy: RetryPolicy,
        redact: Redactor,
        gate: int | None = None,
    ) -> None:
        self._http = http
        self._auth = auth
        self._policy = policy
        self._redact = redact
        self._gate = async_gate(gate)

    async def send(
        self,
        request: httpx.Request,
        call: CallOptions,
        handle: Callable[[httpx.Response], Awaitable[T]],
        before_attempt: BeforeAttempt | None = None,
        on_gone: Callable[[], T] | None = None,
    ) -> T:
        """Send ``request`` with retries; ``handle`` reads a success response.

        ``on_gone`` (DELETE): when an attempt whose answer was lost may have run and a retry
        gets 404, the resource was removed by that attempt: return ``on_gone()``.
        """
        state = Attempts(self._policy, self._redact, call, request)
        while True:
            state.prepare(request)
            if before_attempt is not None:
                before_attempt(request, state.attempt)
            logger.debug("%s (attempt %d)", call.operation, state.attempt + 1)
            request_id: str | None = None
            body_text = ""
            # Released once the response is closed, before any wait.
            with attempt_limit(state.attempt_limit()):
                async with self._gate:
                    try:
                        response = await self._http.send(
                            request,
                            stream=True,
                            auth=self._auth,
                            follow_redirects=call.follow_redirects,
                        )
                    except httpx.RequestError as exc:
                        outcome = Outcome(exception=exc)
                    else:
                        try:
                            request_id = request_id_of(response.headers)
                            if response.is_success:
                                if not call.limit_body:
                                    relax_limit(state.deadline_left())
                                try:
                                    return await handle(response)
                                except httpx.RequestError as exc:
                                    outcome = Outcome(exception=exc, after_success=True)
                                except DeerAPIError as exc:
                                    error = state.unreadable_success(exc, request_id)
                                    if error is exc:
                                        raise
                                    raise error from exc
                                except (ValueError, LookupError, TypeError) as exc:
                                    error = state.unreadable_success(
                                        state.unreadable(exc, response.status_code), request_id
                                    )
                                    raise error from exc
                            elif state.gone_after_lost_answer(response.status_code, on_gone):
                                assert on_gone is not None
                                return on_gone()
                            else:
                                try:
                                    raw = await response.aread()
                                    body_text = raw.decode("utf-8", "replace")
                                except httpx.HTTPError:
                                    body_text = ""
                                outcome = Outcome(
                                    status_code=response.status_code,
                                    headers=response.headers,
                                    error_code=error_code_of(body_text),
                                )
                        finally:
                            await response.aclose()
            decision = state.decide(outcome)
            if not decision.retry:
                error = state.error(outcome, decision, request_id=request_id, body_text=body_text)
                raise error
            state.note_retry(outcome)
            state.log_retry(outcome, request_id, decision)
            await _clock.asleep(decision.delay)
            state.attempt += 1
