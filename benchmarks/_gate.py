"""A transport that admits at most ``limit`` requests to the wrapped transport at once.

httpcore 1.0.x re-plans its whole queue on every pool event: ``_assign_requests_to_connections``
walks every queued request and, for each, every connection. With hundreds of requests waiting
for 100 connections that is quadratic, and it runs on the event loop. Its surplus-idle check
also counts all connections rather than idle ones, so above ``max_keepalive_connections`` (20)
connections are closed after each response. Waiting on an asyncio semaphore *before* httpcore
keeps its queue empty. The permit is held until the response is closed (its body read or the
stream closed), because that is when httpcore releases the connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx


class _ReleasingStream(httpx.AsyncByteStream):
    def __init__(self, stream: httpx.AsyncByteStream, release: asyncio.Semaphore) -> None:
        self._stream = stream
        self._sem = release
        self._released = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            if not self._released:
                self._released = True
                self._sem.release()


class GatedTransport(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport, limit: int) -> None:
        self._inner = inner
        self._sem = asyncio.Semaphore(limit)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await self._sem.acquire()
        try:
            response = await self._inner.handle_async_request(request)
        except BaseException:
            self._sem.release()
            raise
        assert isinstance(response.stream, httpx.AsyncByteStream)
        return httpx.Response(
            status_code=response.status_code,
            headers=response.headers,
            stream=_ReleasingStream(response.stream, self._sem),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._inner.aclose()
