"""Run one client call, sync or async, against an ``httpx.MockTransport`` handler.

The handler sees exactly the ``httpx.Request`` the client sends (after auth), so the tests
capture what went on the wire without a network or a patched client.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
from deerapi_videos import AsyncDeerAPI, DeerAPI

from contract_tests.asyncio_support import run_isolated
from contract_tests.builders import jpeg, webp
from contract_tests.client_vs_spec._support import API_KEY, BASE_URL

Handler = Callable[[httpx.Request], httpx.Response]
FLAVOURS = ("sync", "async")

VIDEO = {
    "id": "video_123",
    "object": "video",
    "created_at": 1758941485,
    "status": "queued",
    "model": "sora-2",
    "progress": 0,
    "seconds": "4",
    "size": "720x1280",
}
# Whole top-level boxes, as a real MP4 is: ``ftyp``, an empty ``moov``, an ``mdat`` of padding.
MP4 = (
    b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
    + b"\x00\x00\x00\x08moov"
    + b"\x00\x00\x00\x48mdat"
    + b"\x00" * 64
)
# The other variants: what their media type says they are.
ASSETS = {
    "video": (MP4, "video/mp4"),
    "thumbnail": (webp(16, 16), "image/webp"),
    "spritesheet": (jpeg(16, 16), "image/jpeg"),
}


def default_answer(request: httpx.Request) -> httpx.Response:
    """A conforming success answer for any of the six operations."""
    path = request.url.path
    if request.method == "GET" and path == "/v1/videos":
        return httpx.Response(200, json={"object": "list", "data": [VIDEO], "has_more": False})
    if request.method == "DELETE":
        return httpx.Response(
            200, json={"id": "video_123", "object": "video.deleted", "deleted": True}
        )
    if path.endswith("/content"):
        content, media_type = ASSETS[request.url.params.get("variant", "video")]
        return httpx.Response(200, content=content, headers={"content-type": media_type})
    return httpx.Response(200, json=VIDEO, headers={"x-request-id": "req_1"})


class Recorder:
    """A MockTransport handler that records every request and answers with ``answer``."""

    def __init__(self, answer: Handler = default_answer) -> None:
        self.requests: list[httpx.Request] = []
        self.answer = answer

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        return self.answer(request)


def json_answer(status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(
        status,
        content=json.dumps(body).encode("utf-8"),
        headers={"content-type": "application/json", **(headers or {})},
    )


def call(
    flavour: str,
    handler: Handler,
    method: str,
    *args: Any,
    client_kwargs: dict[str, Any] | None = None,
    deviations: list[Any] | None = None,
    **kwargs: Any,
) -> Any:
    """``client.videos.<method>(*args, **kwargs)`` on a fresh sync or async client.

    ``list`` is drained into a Python list. Defaults: ``max_retries=0``. ``deviations``, if
    given, receives the client's ``response_deviations`` after the call (whatever it raised).
    """
    options = {"max_retries": 0, **(client_kwargs or {})}
    transport = httpx.MockTransport(handler)
    if flavour == "sync":
        with DeerAPI(
            api_key=API_KEY,
            base_url=BASE_URL,
            http_client=httpx.Client(transport=transport),
            **options,
        ) as client:
            try:
                result = getattr(client.videos, method)(*args, **kwargs)
                return list(result) if method == "list" else result
            finally:
                if deviations is not None:
                    deviations.extend(client.response_deviations)

    async def run() -> Any:
        async with AsyncDeerAPI(
            api_key=API_KEY,
            base_url=BASE_URL,
            http_client=httpx.AsyncClient(transport=transport),
            **options,
        ) as client:
            try:
                result = getattr(client.videos, method)(*args, **kwargs)
                if method == "list":
                    return [video async for video in result]
                return await result
            finally:
                if deviations is not None:
                    deviations.extend(client.response_deviations)

    return run_isolated(run())
