"""Wall-clock limits on attempts, enforced inside the socket reads and writes.

httpx's timeouts are per operation: a read timeout restarts with every byte, so a server that
trickles one byte every 0.2 s holds a call with ``timeout=2`` forever. The request path sets a
limit for each attempt (:func:`attempt_limit`, a context variable, so concurrent calls in other
tasks or threads keep their own); the network backend the client installs in its httpx
transport (:func:`install`) clips every connect, read and write to what is left of it and fails
with a read timeout once it has passed. One mechanism serves the sync and the async client.

A caller's own httpx client keeps httpx's per-operation timeouts unless its transport is
httpx's own (then the backend is installed in it too).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import httpcore
import httpx

__all__ = ["attempt_limit", "install", "relax_limit"]

_limit: ContextVar[float | None] = ContextVar("deerapi_videos_attempt_limit", default=None)


@contextmanager
def attempt_limit(seconds: float | None) -> Iterator[None]:
    """Within the block, network I/O of this task or thread ends ``seconds`` from now."""
    token = _limit.set(None if seconds is None else time.monotonic() + max(seconds, 0.0))
    try:
        yield
    finally:
        _limit.reset(token)


def relax_limit(seconds: float | None) -> None:
    """Replace the current block's limit (a download's body: only the call's deadline)."""
    _limit.set(None if seconds is None else time.monotonic() + max(seconds, 0.0))


def _clip(timeout: float | None) -> float | None:
    limit = _limit.get()
    if limit is None:
        return timeout
    left = limit - time.monotonic()
    if left <= 0:
        raise httpcore.ReadTimeout("the call's time limit passed")
    return left if timeout is None else min(timeout, left)


class _Stream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _clip(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _clip(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: Any,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        return _Stream(self._inner.start_tls(ssl_context, server_hostname, _clip(timeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _AsyncStream(httpcore.AsyncNetworkStream):
    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, _clip(timeout))

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, _clip(timeout))

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self,
        ssl_context: Any,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        inner = await self._inner.start_tls(ssl_context, server_hostname, _clip(timeout))
        return _AsyncStream(inner)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _Backend(httpcore.NetworkBackend):
    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._inner.connect_tcp(
            host, port, _clip(timeout), local_address=local_address, socket_options=socket_options
        )
        return _Stream(stream)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        stream = self._inner.connect_unix_socket(path, _clip(timeout), socket_options)
        return _Stream(stream)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _AsyncBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, inner: httpcore.AsyncNetworkBackend) -> None:
        self._inner = inner

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._inner.connect_tcp(
            host, port, _clip(timeout), local_address=local_address, socket_options=socket_options
        )
        return _AsyncStream(stream)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._inner.connect_unix_socket(path, _clip(timeout), socket_options)
        return _AsyncStream(stream)

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def install(http: httpx.Client | httpx.AsyncClient) -> bool:
    """Put the limit-enforcing backend under ``http``'s own transport; False if it has another.

    httpx has no public way to choose httpcore's network backend, so this sets the pool's
    ``_network_backend`` (httpx 0.27-0.28, httpcore 1.0; a test pins the attribute). New
    connections use it; the client installs it before its first request.
    """
    transport = getattr(http, "_transport", None)
    pool = getattr(transport, "_pool", None)
    backend = getattr(pool, "_network_backend", None)
    if isinstance(backend, _Backend | _AsyncBackend):
        return True
    if isinstance(transport, httpx.HTTPTransport) and isinstance(backend, httpcore.NetworkBackend):
        pool._network_backend = _Backend(backend)  # type: ignore[union-attr]
        return True
    if isinstance(transport, httpx.AsyncHTTPTransport) and isinstance(
        backend, httpcore.AsyncNetworkBackend
    ):
        pool._network_backend = _AsyncBackend(backend)  # type: ignore[union-attr]
        return True
    return False
