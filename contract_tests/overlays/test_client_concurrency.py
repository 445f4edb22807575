"""The async request path's gate: at most the pool's size of attempts inside httpx at once, the
permit held until the response is closed and never across a retry wait."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from deerapi_videos import AsyncDeerAPI
from deerapi_videos._async import pool_size
from deerapi_videos.testing import no_sleep

from .conftest import BASE, video_json


class _Counting(httpx.AsyncBaseTransport):
    """Answers after a short pause; records the most requests it was handling at once."""

    def __init__(self, statuses: dict[str, list[int]] | None = None) -> None:
        self.inside = 0
        self.peak = 0
        self.requests = 0
        self.statuses = statuses or {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.inside += 1
        self.requests += 1
        self.peak = max(self.peak, self.inside)
        try:
            await asyncio.sleep(0.002)
        finally:
            self.inside -= 1
        video_id = request.url.path.rsplit("/", 1)[-1]
        queue = self.statuses.get(video_id)
        status = queue.pop(0) if queue else 200
        if status != 200:
            return httpx.Response(status, json={"error": {"message": "busy"}})
        return httpx.Response(200, json=video_json(video_id))


def _client(transport: httpx.AsyncBaseTransport, gate: int | None) -> AsyncDeerAPI:
    client = AsyncDeerAPI(
        api_key="sk-test", http_client=httpx.AsyncClient(base_url=BASE, transport=transport)
    )
    # A mock transport has no pool to size the gate from; give this one a small gate.
    requester: Any = client._requester
    type(requester).__init__(
        requester,
        requester._http,
        requester._auth,
        requester._policy,
        requester._redact,
        gate=gate,
    )
    return client


@pytest.mark.asyncio
async def test_gate_bounds_attempts_inside_httpx() -> None:
    transport = _Counting()
    async with _client(transport, gate=3) as client:
        videos = await asyncio.gather(*(client.videos.retrieve(f"video_{i}") for i in range(20)))
    assert [v.id for v in videos] == [f"video_{i}" for i in range(20)]
    assert transport.peak == 3


@pytest.mark.asyncio
async def test_gate_is_not_held_across_retry_waits() -> None:
    # Two calls through a gate of 1: the first is refused twice (503) and waits before each
    # retry. While it waits, the permit is free, so the second call completes in between.
    transport = _Counting({"video_a": [503, 503]})
    order: list[str] = []
    with no_sleep():
        async with _client(transport, gate=1) as client:

            async def get(video_id: str) -> None:
                await client.videos.retrieve(video_id)
                order.append(video_id)

            await asyncio.gather(get("video_a"), get("video_b"))
    assert order == ["video_b", "video_a"]
    assert transport.requests == 4
    assert transport.peak == 1


@pytest.mark.asyncio
async def test_own_httpx_client_has_pool_limits_and_a_matching_gate() -> None:
    async with AsyncDeerAPI(api_key="sk-test") as client:
        assert pool_size(client._http) == 100
        pool: Any = client._http._transport._pool  # type: ignore[attr-defined]
        assert pool._max_keepalive_connections == 20
        gate: Any = client._requester._gate
        assert isinstance(gate, asyncio.Semaphore) and gate._value == 100


@pytest.mark.asyncio
async def test_callers_client_gate_follows_its_pool() -> None:
    http = httpx.AsyncClient(limits=httpx.Limits(max_connections=7))
    async with AsyncDeerAPI(api_key="sk-test", http_client=http) as client:
        assert client._requester._gate._value == 7  # type: ignore[attr-defined]
    unlimited = httpx.AsyncClient(limits=httpx.Limits(max_connections=None))
    assert pool_size(unlimited) is None
    await unlimited.aclose()
    mocked = httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(200)))
    assert pool_size(mocked) is None
    await mocked.aclose()
