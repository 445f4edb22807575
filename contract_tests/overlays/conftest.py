"""Fixtures for the overlay (hand-written client) tests.

Every test that takes ``api`` runs twice: against ``DeerAPI`` and ``AsyncDeerAPI``. ``api`` wraps
both behind one awaitable surface (``await api.videos.create(...)``; ``list`` returns a list), so
one test body checks both clients. respx replaces the network; the public testing switch
(``deerapi_videos.testing.no_sleep``) replaces waiting, and its record of requested delays is the
``sleeps`` fixture.
"""

from __future__ import annotations

import inspect
import logging
import ssl
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
import respx
from deerapi_videos import AsyncDeerAPI, DeerAPI
from deerapi_videos.testing import no_sleep

from contract_tests.builders import video_body as video_json

BASE = "https://api.deerapi.com"
SECRET = "sk-PLANTED-0123456789abcdefSECRET"


class _Videos:
    def __init__(self, videos: Any) -> None:
        self._videos = videos

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self._videos, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            result = method(*args, **kwargs)
            if name == "list":
                if hasattr(result, "__aiter__"):
                    return [item async for item in result]
                return list(result)
            if inspect.isawaitable(result):
                return await result
            return result

        return call


class Api:
    """One surface over the sync or the async client."""

    def __init__(self, kind: str, client: DeerAPI | AsyncDeerAPI) -> None:
        self.kind = kind
        self.client = client
        self.videos = _Videos(client.videos)


_SSL = ssl.create_default_context()


def make_client(kind: str, *, own_http: bool = False, **kwargs: Any) -> DeerAPI | AsyncDeerAPI:
    """A client; by default on an httpx client sharing one SSL context (building a context per
    client costs ~20 ms). ``own_http=True`` lets the client build its own httpx client."""
    kwargs.setdefault("api_key", SECRET)
    if not own_http and "http_client" not in kwargs:
        kwargs["http_client"] = (
            httpx.Client(verify=_SSL) if kind == "sync" else httpx.AsyncClient(verify=_SSL)
        )
    return DeerAPI(**kwargs) if kind == "sync" else AsyncDeerAPI(**kwargs)


async def close_client(client: DeerAPI | AsyncDeerAPI) -> None:
    if isinstance(client, AsyncDeerAPI):
        await client.close()
    else:
        client.close()


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DEERAPI_KEY", raising=False)
    monkeypatch.delenv("DEERAPI_BASE_URL", raising=False)


@pytest.fixture(autouse=True)
def sleeps() -> Iterator[list[float]]:
    """Sleeping off (the public switch); the delays the client asked for."""
    with no_sleep() as recorded:
        yield recorded


@pytest.fixture
def mock() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE, assert_all_called=False, assert_all_mocked=True) as router:
        yield router


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest_asyncio.fixture
async def api(kind: str, mock: respx.MockRouter) -> AsyncIterator[Api]:
    client = make_client(kind)
    try:
        yield Api(kind, client)
    finally:
        await close_client(client)


@pytest.fixture
def make_api(kind: str, mock: respx.MockRouter) -> Iterator[Callable[..., Api]]:
    """Build an ``Api`` with custom client arguments (closed by the test via ``api.client``)."""
    made: list[Api] = []

    def factory(**kwargs: Any) -> Api:
        api = Api(kind, make_client(kind, **kwargs))
        made.append(api)
        return api

    yield factory


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    return caplog


# -- a body that breaks halfway -----------------------------------------------------------------


class BrokenStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """Yields ``data`` in chunks, then raises ``exc`` (a dropped connection) if given."""

    def __init__(self, data: bytes, exc: Exception | None = None, chunk: int = 1024) -> None:
        self.data = data
        self.exc = exc
        self.chunk = chunk
        self.closed = False

    def _chunks(self) -> Iterator[bytes]:
        for i in range(0, len(self.data), self.chunk):
            yield self.data[i : i + self.chunk]

    def __iter__(self) -> Iterator[bytes]:
        yield from self._chunks()
        if self.exc is not None:
            raise self.exc

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for part in self._chunks():
            yield part
        if self.exc is not None:
            raise self.exc

    def close(self) -> None:
        self.closed = True

    async def aclose(self) -> None:
        self.closed = True


@pytest.fixture
def broken_stream() -> type[BrokenStream]:
    return BrokenStream


@pytest.fixture
def video() -> Callable[..., dict[str, Any]]:
    return video_json


@pytest.fixture
def secret() -> str:
    return SECRET


@pytest.fixture
def base_url() -> str:
    return BASE
