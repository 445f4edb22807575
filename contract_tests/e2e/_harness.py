"""Clients wired to the mock DeerAPI: in-process (ASGI, sync and async) or over loopback.

``httpx.ASGITransport`` is async-only, so the sync client gets :class:`SyncASGITransport`, which
runs the same app on a private event loop. :class:`RefuseConnect` makes chosen requests fail
with ``httpx.ConnectError`` before they reach the mock (a connection that never reached the
server), counting how often it did.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
from deerapi_videos import AsyncDeerAPI, DeerAPI
from deerapi_videos_mock import MockDeerAPI

API_KEY = "sk-e2e-4f0c2a9b7d1e"
IN_PROCESS_URL = "http://127.0.0.1"  # loopback, so the client accepts plain http

Refuse = Callable[[httpx.Request], bool]


class SyncASGITransport(httpx.BaseTransport):
    """Serve a sync httpx client from an ASGI app, in-process."""

    def __init__(self, app: Any) -> None:
        self._inner = httpx.ASGITransport(app=app)
        self._loop = asyncio.new_event_loop()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        async def send() -> httpx.Response:
            response = await self._inner.handle_async_request(request)
            body = b"".join([chunk async for chunk in response.stream])  # type: ignore[union-attr]
            # Keep the app's headers (a short body keeps its announced Content-Length).
            return httpx.Response(
                response.status_code, headers=response.headers, content=body, request=request
            )

        return self._loop.run_until_complete(send())

    def close(self) -> None:
        self._loop.close()


class RefuseConnect(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """Raise ``httpx.ConnectError`` for requests ``refuse`` picks; pass the rest through."""

    def __init__(self, inner: Any, refuse: Refuse) -> None:
        self.inner = inner
        self.refuse = refuse
        self.refused = 0

    def _check(self, request: httpx.Request) -> None:
        if self.refuse(request):
            self.refused += 1
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self._check(request)
        return self.inner.handle_request(request)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self._check(request)
        return await self.inner.handle_async_request(request)

    def close(self) -> None:
        self.inner.close()

    async def aclose(self) -> None:
        await self.inner.aclose()


def refuse_first(method: str, path_suffix: str, times: int = 1) -> Refuse:
    left = [times]

    def refuse(request: httpx.Request) -> bool:
        if left[0] > 0 and request.method == method and request.url.path.endswith(path_suffix):
            left[0] -= 1
            return True
        return False

    return refuse


def sync_client(
    mock: MockDeerAPI, refuse: Refuse | None = None, **options: Any
) -> tuple[DeerAPI, Any]:
    transport: Any = SyncASGITransport(mock.app)
    if refuse is not None:
        transport = RefuseConnect(transport, refuse)
    client = DeerAPI(
        api_key=API_KEY,
        base_url=IN_PROCESS_URL,
        http_client=httpx.Client(transport=transport),
        **options,
    )
    return client, transport


def async_client(
    mock: MockDeerAPI, refuse: Refuse | None = None, **options: Any
) -> tuple[AsyncDeerAPI, Any]:
    transport: Any = httpx.ASGITransport(app=mock.app)
    if refuse is not None:
        transport = RefuseConnect(transport, refuse)
    client = AsyncDeerAPI(
        api_key=API_KEY,
        base_url=IN_PROCESS_URL,
        http_client=httpx.AsyncClient(transport=transport),
        **options,
    )
    return client, transport


def new_mock(**kwargs: Any) -> MockDeerAPI:
    return MockDeerAPI(api_key=API_KEY, **kwargs)
