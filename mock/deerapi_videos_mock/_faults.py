"""Fault injection: scripted misbehaviour for client tests.

A :class:`Fault` fires on the next ``times`` requests whose operation is in ``operations``
(``None``: every operation), then retires. Inject with ``mock.inject(...)``; remove with
``mock.clear_faults()``.

Faults that stay inside ``openapi.yaml`` (the mock still answers only what the spec allows):
``status`` with a documented code (429, 500, 502, 503, ...), ``rate_limit``, ``unavailable``,
``slow``, ``unknown_status``, ``extra_fields``, ``headers`` with documented headers (such as a
zero ``openai-poll-after-ms``). Faults that break the contract on purpose, for client tests
only (never use them with the schemathesis suite): ``drop_before``, ``drop_after``,
``truncate``, ``html_error``, ``error_with_success`` (an error body with status 200),
``headers`` that lie about the body (``Content-Encoding: gzip`` on plain JSON), and ``status``
with an undocumented code.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["OPERATIONS", "Fault", "FaultKind"]

#: The spec's operationIds.
OPERATIONS = frozenset(
    {
        "createVideo",
        "listVideos",
        "retrieveVideo",
        "deleteVideo",
        "downloadVideoContent",
        "remixVideo",
    }
)

FaultKind = Literal[
    "status",
    "slow",
    "drop_before",
    "drop_after",
    "truncate",
    "html_error",
    "unknown_status",
    "extra_fields",
    "headers",
    "error_with_success",
]


class _Auto:
    def __repr__(self) -> str:
        return "AUTO"


_AUTO = _Auto()

_DEFAULT_MESSAGES = {
    429: ("Rate limit reached for requests. Please retry after a short wait.", "rate_limit_error"),
    500: ("The server had an error while processing your request.", "server_error"),
    502: ("Bad gateway: the upstream provider failed.", "upstream_error"),
    503: ("The service is temporarily unavailable. Please retry.", "service_unavailable"),
}


def _operations(operations: Iterable[str] | str | None) -> frozenset[str] | None:
    if operations is None:
        return None
    ops = frozenset({operations} if isinstance(operations, str) else operations)
    unknown = ops - OPERATIONS
    if unknown:
        raise ValueError(f"unknown operationId(s) {sorted(unknown)}; known: {sorted(OPERATIONS)}")
    return ops


@dataclass(eq=False)
class Fault:
    """One scripted misbehaviour. Build it with the class methods, not the constructor."""

    kind: FaultKind
    times: int | None = 1
    operations: frozenset[str] | None = None
    status_code: int = 0
    retry_after: str | None = None
    message: str | None = None
    after_processing: bool = False
    seconds: float = 0.0
    after_bytes: int = 0
    short_body: bool = False
    video_status: str = "expired"
    fields: Mapping[str, Any] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    #: How many times the fault has fired so far.
    fired: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    # -- constructors --------------------------------------------------------------------------

    @classmethod
    def status(
        cls,
        code: int,
        *,
        times: int | None = 1,
        retry_after: str | None | _Auto = _AUTO,
        operations: Iterable[str] | str | None = None,
        after_processing: bool = False,
        message: str | None = None,
    ) -> Fault:
        """Answer ``code`` with the JSON error envelope instead of the real answer.

        ``retry_after`` defaults to ``"1"`` for 429 and 503 and to no header otherwise.
        With ``after_processing=True`` the request is processed first (a create or remix
        really starts a paid job) and only the answer is replaced, as a 500/502 can on the
        real API.
        """
        if isinstance(retry_after, _Auto):
            retry_after = "1" if code in (429, 503) else None
        return cls(
            "status",
            times=times,
            operations=_operations(operations),
            status_code=code,
            retry_after=retry_after,
            after_processing=after_processing,
            message=message,
        )

    @classmethod
    def rate_limit(
        cls,
        *,
        times: int | None = 1,
        retry_after: str | None = "1",
        operations: Iterable[str] | str | None = None,
    ) -> Fault:
        """429 with ``Retry-After`` (no job is started)."""
        return cls.status(429, times=times, retry_after=retry_after, operations=operations)

    @classmethod
    def unavailable(
        cls,
        *,
        times: int | None = 1,
        retry_after: str | None = "1",
        operations: Iterable[str] | str | None = None,
    ) -> Fault:
        """503 with ``Retry-After`` (no job is started)."""
        return cls.status(503, times=times, retry_after=retry_after, operations=operations)

    @classmethod
    def slow(
        cls,
        seconds: float,
        *,
        times: int | None = 1,
        operations: Iterable[str] | str | None = None,
    ) -> Fault:
        """Wait ``seconds`` of *real* time (``asyncio.sleep``) before answering.

        Keep it tiny in tests. Client timeouts only apply over a real socket
        (``mock.serve()``): ``httpx.ASGITransport`` ignores timeouts.
        """
        return cls("slow", times=times, operations=_operations(operations), seconds=seconds)

    @classmethod
    def drop_before(
        cls, *, times: int | None = 1, operations: Iterable[str] | str | None = None
    ) -> Fault:
        """Cut the connection before the request is processed (no job is started).

        Over a socket the server closes the connection without a response; in-process the app
        raises ``httpx.RemoteProtocolError`` (what httpx raises for a real drop).
        """
        return cls("drop_before", times=times, operations=_operations(operations))

    @classmethod
    def drop_after(
        cls, *, times: int | None = 1, operations: Iterable[str] | str | None = None
    ) -> Fault:
        """Process the request (a create or remix starts a paid job), then cut the connection
        without a response."""
        return cls("drop_after", times=times, operations=_operations(operations))

    @classmethod
    def truncate(
        cls,
        after_bytes: int,
        *,
        times: int | None = 1,
        operations: Iterable[str] | str | None = ("downloadVideoContent",),
        short_body: bool = False,
    ) -> Fault:
        """Send the full ``Content-Length`` but only ``after_bytes`` bytes of the body, then cut.

        Over a socket the client receives the bytes, then the connection closes. In-process
        (``httpx.ASGITransport`` buffers whole bodies) the app raises
        ``httpx.RemoteProtocolError`` — or, with ``short_body=True``, ends the body early without
        an error so a client's own length check (and ``Range`` resume) can be tested.
        """
        return cls(
            "truncate",
            times=times,
            operations=_operations(operations),
            after_bytes=after_bytes,
            short_body=short_body,
        )

    @classmethod
    def html_error(
        cls,
        status: int = 502,
        *,
        times: int | None = 1,
        operations: Iterable[str] | str | None = None,
    ) -> Fault:
        """Answer an HTML error page (``text/html``), as a gateway in front of an API does."""
        return cls(
            "html_error", times=times, operations=_operations(operations), status_code=status
        )

    @classmethod
    def unknown_status(
        cls,
        status: str = "expired",
        *,
        times: int | None = 1,
        operations: Iterable[str] | str | None = None,
    ) -> Fault:
        """Show ``status`` (a value outside ``VideoStatus``) in the video objects of a response."""
        return cls(
            "unknown_status", times=times, operations=_operations(operations), video_status=status
        )

    @classmethod
    def extra_fields(
        cls,
        fields: Mapping[str, Any] | None = None,
        *,
        times: int | None = 1,
        operations: Iterable[str] | str | None = None,
    ) -> Fault:
        """Add fields the spec does not name to the video objects of a response."""
        extra = dict(fields) if fields is not None else {"provider": "mock", "quality": {"fps": 1}}
        return cls("extra_fields", times=times, operations=_operations(operations), fields=extra)

    @classmethod
    def add_headers(
        cls,
        headers: Mapping[str, str],
        *,
        times: int | None = 1,
        operations: Iterable[str] | str | None = None,
    ) -> Fault:
        """Add (or replace) response headers: a poll hint, or a lying ``Content-Encoding``."""
        return cls(
            "headers", times=times, operations=_operations(operations), headers=dict(headers)
        )

    @classmethod
    def error_with_success(
        cls,
        message: str = "The upstream provider is busy.",
        *,
        times: int | None = 1,
        operations: Iterable[str] | str | None = None,
    ) -> Fault:
        """Answer a JSON error envelope with status 200, as some gateways do."""
        return cls(
            "error_with_success", times=times, operations=_operations(operations), message=message
        )

    # -- matching ------------------------------------------------------------------------------

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.fired >= self.times

    def applies_to(self, operation: str) -> bool:
        return not self.exhausted and (self.operations is None or operation in self.operations)

    def consume(self) -> bool:
        """Count one firing; False if the fault had no firings left."""
        with self._lock:
            if self.exhausted:
                return False
            self.fired += 1
            return True

    def default_message(self) -> tuple[str, str]:
        return _DEFAULT_MESSAGES.get(
            self.status_code, (f"Injected error {self.status_code}.", "server_error")
        )
