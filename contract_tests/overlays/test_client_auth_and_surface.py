"""Auth (key source, https-or-loopback, redirects), secrets kept out of text, connections closed,
the frozen public surface, the public testing switch and the generated escape hatch."""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from typing import Any

import deerapi_videos
import httpx
import pytest
import respx
from deerapi_videos import (
    APIStatusError,
    AsyncDeerAPI,
    DeerAPI,
    DeerAPIError,
    InternalServerError,
    JobMayExistError,
)
from deerapi_videos.testing import is_testing, no_sleep, set_testing

EXPECTED_ALL = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncDeerAPI",
    "AsyncVideos",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "ContentExpiredError",
    "DeerAPI",
    "DeerAPIError",
    "DeletedVideo",
    "DownloadError",
    "InternalServerError",
    "InvalidParameterError",
    "JobMayExistError",
    "JobResponseValidationError",
    "NotFoundError",
    "PermissionDeniedError",
    "PollTimeoutError",
    "RateLimitError",
    "ResponseDeviation",
    "ResponseValidationError",
    "Video",
    "VideoContentVariant",
    "VideoFailedError",
    "VideoModel",
    "VideoSeconds",
    "VideoSize",
    "VideoStatus",
    "Videos",
]


def test_public_surface_is_frozen() -> None:
    assert deerapi_videos.__all__ == EXPECTED_ALL
    assert "spec_path" not in deerapi_videos.__all__
    for name in EXPECTED_ALL:
        assert getattr(deerapi_videos, name) is not None
    assert set(deerapi_videos.testing.__all__) == {
        "is_testing",
        "no_sleep",
        "set_testing",
        "sleeps",
    }


def test_testing_module_is_import_light() -> None:
    code = (
        "import sys, deerapi_videos.testing; "
        "bad = [m for m in ('pytest', 'starlette', 'uvicorn', 'respx') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_import_defers_the_generated_layer_and_asyncio() -> None:
    # ``import deerapi_videos`` stays cheap: the generated API modules and models (and attrs),
    # and asyncio load at first use. The lazy re-exports still resolve to the generated
    # classes, and a client can be built and used afterwards.
    code = (
        "import sys, deerapi_videos; "
        "lazy = ('deerapi_videos_generated', 'asyncio', 'attrs'); "
        "eager = sorted(m for m in sys.modules if m.split('.')[0] in lazy); "
        "assert not eager, eager; "
        "from deerapi_videos import Video, DeletedVideo, VideoStatus; "
        "from deerapi_videos_generated.models.video import Video as G; "
        "assert Video is G and deerapi_videos.Video is G; "
        "assert set(deerapi_videos.__all__) <= set(dir(deerapi_videos)); "
        "c = deerapi_videos.DeerAPI(api_key='k', base_url='http://127.0.0.1:9'); "
        "assert 'deerapi_videos_generated.client' in sys.modules; c.close()"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    missing = subprocess.run(
        [sys.executable, "-c", "import deerapi_videos; deerapi_videos.NoSuchName"],
        capture_output=True,
        text=True,
    )
    assert missing.returncode != 0 and "AttributeError" in missing.stderr


@pytest.mark.asyncio
async def test_testing_switch_is_public_and_skips_sleeping(
    api: Any, mock: respx.MockRouter
) -> None:
    set_testing(False)
    assert not is_testing()
    with no_sleep() as sleeps:
        assert is_testing()
        mock.get("/v1/videos/video_1").mock(
            side_effect=[httpx.Response(503, headers={"Retry-After": "8"})] * 2
            + [
                httpx.Response(
                    200,
                    json={
                        "id": "video_1",
                        "object": "video",
                        "created_at": 1,
                        "status": "queued",
                        "model": "m",
                        "progress": 0,
                        "seconds": "4",
                        "size": "720x1280",
                    },
                )
            ]
        )
        started = time.monotonic()
        await api.videos.retrieve("video_1")
        assert time.monotonic() - started < 2.0  # 16s of requested waiting took no time
    assert sleeps == [8.0, 8.0]  # the record survives the block
    assert not is_testing()


# -- key source and base URL ------------------------------------------------------------------


@pytest.mark.parametrize("cls", [DeerAPI, AsyncDeerAPI])
def test_missing_key_fails_at_construction(cls: Any) -> None:
    with pytest.raises(DeerAPIError, match="DEERAPI_KEY"):
        cls()
    with pytest.raises(DeerAPIError):
        cls(api_key="   ")


@pytest.mark.asyncio
async def test_key_from_environment(
    kind: str, mock: respx.MockRouter, monkeypatch: pytest.MonkeyPatch, video: Any
) -> None:
    monkeypatch.setenv("DEERAPI_KEY", "sk-from-env")
    route = mock.get("/v1/videos/video_1").mock(return_value=httpx.Response(200, json=video()))
    client: Any = DeerAPI() if kind == "sync" else AsyncDeerAPI()
    result = client.videos.retrieve("video_1")
    if kind == "async":
        await result
        await client.close()
    else:
        client.close()
    assert route.calls[0].request.headers["Authorization"] == "Bearer sk-from-env"


@pytest.mark.parametrize(
    "url",
    [
        "http://api.deerapi.com",
        "http://10.0.0.1:8080",
        "http://example.localhost.evil.com",
        "ftp://x",
        "api.deerapi.com",
    ],
)
@pytest.mark.parametrize("cls", [DeerAPI, AsyncDeerAPI])
def test_plain_http_refused_unless_loopback(cls: Any, url: str, secret: str) -> None:
    with pytest.raises(DeerAPIError) as info:
        cls(api_key=secret, base_url=url)
    assert secret not in str(info.value)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000",
        "http://127.9.9.9",
        "http://localhost:1234",
        "http://[::1]:8000",
        "https://api.example.com/proxy/",
    ],
)
@pytest.mark.parametrize("cls", [DeerAPI, AsyncDeerAPI])
def test_https_or_loopback_allowed(cls: Any, url: str, secret: str) -> None:
    cls(api_key=secret, base_url=url)


def test_base_url_from_environment(monkeypatch: pytest.MonkeyPatch, secret: str) -> None:
    monkeypatch.setenv("DEERAPI_BASE_URL", "http://127.0.0.1:9999")
    with DeerAPI(api_key=secret) as client:
        assert str(client.base_url) == "http://127.0.0.1:9999/"
    monkeypatch.setenv("DEERAPI_BASE_URL", "http://evil.example.com")
    with pytest.raises(DeerAPIError):
        DeerAPI(api_key=secret)


@pytest.mark.asyncio
async def test_api_redirects_are_not_followed(api: Any, mock: respx.MockRouter) -> None:
    mock.get("/v1/videos/video_1").mock(
        return_value=httpx.Response(307, headers={"Location": "https://evil.example.com/steal"})
    )
    evil = mock.get("https://evil.example.com/steal")
    with pytest.raises(APIStatusError) as info:
        await api.videos.retrieve("video_1")
    assert info.value.status_code == 307
    assert evil.call_count == 0


# -- secrets ----------------------------------------------------------------------------------


def _texts_of(error: BaseException) -> list[str]:
    texts = [str(error), repr(error)]
    texts += [repr(v) for v in vars(error).values()]
    if error.__cause__ is not None:
        texts += _texts_of(error.__cause__)
    return texts


@pytest.mark.asyncio
async def test_planted_secret_never_in_logs_errors_or_reprs(
    api: Any, mock: respx.MockRouter, secret: str, logs: pytest.LogCaptureFixture, tmp_path: Any
) -> None:
    logging.getLogger("httpx").setLevel(logging.DEBUG)
    logging.getLogger("httpcore").setLevel(logging.DEBUG)
    echo = {"error": {"message": f"Invalid API key {secret}", "code": "invalid_api_key"}}
    mock.get("/v1/videos/v401").mock(
        return_value=httpx.Response(401, json=echo, headers={"x-request-id": "req_401"})
    )
    mock.get("/v1/videos/v500").mock(
        return_value=httpx.Response(500, text=f"<html><title>Bearer {secret}</title></html>")
    )
    mock.get("/v1/videos/vconn").mock(
        side_effect=httpx.ConnectError(f"could not send Authorization: Bearer {secret}")
    )
    mock.post("/v1/videos").mock(
        return_value=httpx.Response(
            502, text=f"upstream said {secret}", headers={"x-request-id": "req_502"}
        )
    )
    mock.get("/v1/videos/vdl/content").mock(return_value=httpx.Response(403, text=secret))
    errors: list[BaseException] = []
    for call in (
        lambda: api.videos.retrieve("v401"),
        lambda: api.videos.retrieve("v500"),
        lambda: api.videos.retrieve("vconn"),
        lambda: api.videos.create(prompt="a cat"),
        lambda: api.videos.download_content("vdl", tmp_path / "x.mp4"),
    ):
        with pytest.raises(DeerAPIError) as info:
            await call()
        errors.append(info.value)
    assert isinstance(errors[3], JobMayExistError)
    assert "req_401" in logs.text and "req_502" in logs.text  # failures log their request id
    texts = [logs.text, repr(api.client), repr(api.client.videos), repr(api.client.generated)]
    texts += [repr(v) for v in vars(api.client).values()]
    for error in errors:
        texts += _texts_of(error)
    leaks = [t for t in texts if secret in t]
    assert leaks == []
    assert "[redacted]" in str(errors[0])


# -- connections ------------------------------------------------------------------------------


class CountingTransport(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """Answers from ``handler`` and counts response bodies opened and not yet closed."""

    def __init__(self, handler: Any) -> None:
        self.handler = handler
        self.open = 0
        self.requests = 0

    def _wrap(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        result = self.handler(request)
        if isinstance(result, Exception):
            raise result
        transport = self

        class Body(httpx.SyncByteStream, httpx.AsyncByteStream):
            def __init__(self, data: bytes) -> None:
                self.data = data
                transport.open += 1
                self.closed = False

            def __iter__(self) -> Any:
                yield self.data

            async def __aiter__(self) -> Any:
                yield self.data

            def close(self) -> None:
                if not self.closed:
                    self.closed = True
                    transport.open -= 1

            async def aclose(self) -> None:
                self.close()

        return httpx.Response(
            result.status_code, headers=result.headers, stream=Body(result.content)
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self._wrap(request)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return self._wrap(request)


@pytest.mark.parametrize(
    ("method", "fault", "requests"),
    [
        ("retrieve", lambda r: httpx.Response(503, text="busy"), 3),
        ("retrieve", lambda r: httpx.Response(404, text="gone"), 1),
        ("create", lambda r: httpx.Response(502, text="bad gateway"), 1),
        ("create", lambda r: httpx.Response(429, text="slow down"), 3),
    ],
)
@pytest.mark.asyncio
async def test_no_connections_left_open_after_retries_run_out(
    kind: str, secret: str, method: str, fault: Any, requests: int
) -> None:
    transport = CountingTransport(fault)
    http: Any = (
        httpx.Client(transport=transport)
        if kind == "sync"
        else httpx.AsyncClient(transport=transport)
    )
    client: Any = (
        DeerAPI(api_key=secret, http_client=http)
        if kind == "sync"
        else AsyncDeerAPI(api_key=secret, http_client=http)
    )
    with pytest.raises(DeerAPIError):
        if method == "retrieve":
            result = client.videos.retrieve("video_1")
        else:
            result = client.videos.create(prompt="cat")
        if kind == "async":
            await result
    assert transport.requests == requests
    assert transport.open == 0


# -- context managers and escape hatch ----------------------------------------------------------


@pytest.mark.asyncio
async def test_context_manager_closes_http_client(kind: str, secret: str) -> None:
    if kind == "sync":
        http = httpx.Client()
        with DeerAPI(api_key=secret, http_client=http):
            pass
        assert http.is_closed
    else:
        ahttp = httpx.AsyncClient()
        async with AsyncDeerAPI(api_key=secret, http_client=ahttp):
            pass
        assert ahttp.is_closed


@pytest.mark.asyncio
async def test_generated_escape_hatch_shares_the_authenticated_client(
    kind: str, mock: respx.MockRouter, secret: str, video: Any
) -> None:
    from deerapi_videos_generated.api.videos import retrieve_video

    route = mock.get("/v1/videos/video_1").mock(return_value=httpx.Response(200, json=video()))
    if kind == "sync":
        with DeerAPI(api_key=secret) as client:
            assert client.generated.get_httpx_client() is client._http
            parsed = retrieve_video.sync("video_1", client=client.generated)
    else:
        async with AsyncDeerAPI(api_key=secret) as aclient:
            parsed = await retrieve_video.asyncio("video_1", client=aclient.generated)
    assert parsed is not None and parsed.id == "video_1"  # type: ignore[union-attr]
    assert route.calls[0].request.headers["Authorization"] == f"Bearer {secret}"
    assert secret not in repr(parsed)


@pytest.mark.asyncio
async def test_errors_without_retries_have_one_request(api: Any, mock: respx.MockRouter) -> None:
    route = mock.get("/v1/videos/video_1").mock(return_value=httpx.Response(500, text=""))
    with pytest.raises(InternalServerError):
        await api.videos.retrieve("video_1", max_retries=0)
    assert route.call_count == 1
