"""Paid-job POSTs: which faults are retried, which raise JobMayExistError after exactly one POST,
idempotency keys, and the multipart body (intact on every attempt, not alterable by user text)."""

from __future__ import annotations

import io
from typing import Any

import httpx
import pytest
import respx
from deerapi_videos import (
    APIStatusError,
    BadRequestError,
    InternalServerError,
    InvalidParameterError,
    JobMayExistError,
    RateLimitError,
)
from python_multipart.multipart import MultipartParser, parse_options_header

from contract_tests.builders import video_body as _video

pytestmark = pytest.mark.asyncio

PNG_720x1280 = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
    + (720).to_bytes(4, "big")
    + (1280).to_bytes(4, "big")
    + b"\x08\x02\x00\x00\x00"
    + b"\x00" * 64
)


def _status(code: int, **headers: str) -> httpx.Response:
    headers.setdefault("x-request-id", f"req_{code}")
    return httpx.Response(code, json={"error": {"message": f"HTTP {code}"}}, headers=headers)


# (id, fault, expected) - expected: "retried" (second attempt succeeds), or the error class
POST_FAULTS: list[tuple[str, Any, Any]] = [
    ("429", lambda: _status(429), "retried"),
    ("503", lambda: _status(503), "retried"),
    ("ConnectError", lambda: httpx.ConnectError("refused"), "retried"),
    ("ConnectTimeout", lambda: httpx.ConnectTimeout("slow connect"), "retried"),
    ("PoolTimeout", lambda: httpx.PoolTimeout("pool"), "retried"),
    ("500", lambda: _status(500), JobMayExistError),
    ("502", lambda: _status(502), JobMayExistError),
    ("504", lambda: _status(504), JobMayExistError),
    ("520-cdn", lambda: _status(520), JobMayExistError),
    (
        "500+x-should-retry:true",
        lambda: _status(500, **{"x-should-retry": "true"}),
        JobMayExistError,
    ),
    (
        "502+x-should-retry:true",
        lambda: _status(502, **{"x-should-retry": "true"}),
        JobMayExistError,
    ),
    ("ReadTimeout", lambda: httpx.ReadTimeout("read timed out"), JobMayExistError),
    ("WriteTimeout", lambda: httpx.WriteTimeout("write timed out"), JobMayExistError),
    ("ReadError", lambda: httpx.ReadError("reset"), JobMayExistError),
    ("WriteError", lambda: httpx.WriteError("broken pipe"), JobMayExistError),
    ("RemoteProtocolError", lambda: httpx.RemoteProtocolError("peer closed"), JobMayExistError),
    (
        "200-not-json",
        lambda: httpx.Response(200, text="<html>ok</html>", headers={"x-request-id": "req_200"}),
        JobMayExistError,
    ),
    (
        "503+x-should-retry:false",
        lambda: _status(503, **{"x-should-retry": "false"}),
        InternalServerError,
    ),
    (
        "429+x-should-retry:false",
        lambda: _status(429, **{"x-should-retry": "false"}),
        RateLimitError,
    ),
    ("429-retry-after-over-cap", lambda: _status(429, **{"Retry-After": "60"}), RateLimitError),
    ("408", lambda: _status(408), APIStatusError),
    ("501", lambda: _status(501), InternalServerError),
    ("400", lambda: _status(400), BadRequestError),
    ("409+x-should-retry:true", lambda: _status(409, **{"x-should-retry": "true"}), "retried"),
]


@pytest.mark.parametrize("operation", ["create", "remix"])
@pytest.mark.parametrize(
    ("fault", "expected"), [pytest.param(f, e, id=i) for i, f, e in POST_FAULTS]
)
async def test_post_fault_counts(
    api: Any, mock: respx.MockRouter, operation: str, fault: Any, expected: Any
) -> None:
    path = "/v1/videos" if operation == "create" else "/v1/videos/video_0/remix"
    route = mock.post(path).mock(side_effect=[fault(), httpx.Response(200, json=_video())])
    call = (
        api.videos.create(prompt="a cat", model="sora-2")
        if operation == "create"
        else api.videos.remix("video_0", prompt="a bow")
    )
    if expected == "retried":
        assert (await call).id == "video_1"
        assert route.call_count == 2
        keys = {c.request.headers["Idempotency-Key"] for c in route.calls}
        assert len(keys) == 1
        return
    with pytest.raises(expected) as info:
        await call
    assert route.call_count == 1, "a POST that may have started a job must never be re-sent"
    if expected is JobMayExistError:
        error = info.value
        sent_key = route.calls[0].request.headers["Idempotency-Key"]
        assert error.idempotency_key == sent_key
        assert sent_key in str(error)
        assert "check" in str(error) and "before retrying" in str(error)
        assert error.cause is error.__cause__ and error.cause is not None
        if isinstance(fault(), httpx.Response):
            assert error.request_id == route.calls[0].response.headers["x-request-id"]
            assert error.request_id in str(error)


async def test_post_retries_run_out(api: Any, mock: respx.MockRouter, sleeps: list[float]) -> None:
    route = mock.post("/v1/videos").mock(return_value=_status(503))
    with pytest.raises(InternalServerError) as info:
        await api.videos.create(prompt="a cat")
    assert route.call_count == 3
    assert info.value.request_id == "req_503"
    assert len(sleeps) == 2


async def test_idempotency_key_same_across_attempts_new_per_call(
    api: Any, mock: respx.MockRouter
) -> None:
    route = mock.post("/v1/videos").mock(
        side_effect=[
            _status(503),
            _status(429),
            httpx.Response(200, json=_video()),
            httpx.Response(200, json=_video()),
        ]
    )
    await api.videos.create(prompt="one")
    await api.videos.create(prompt="two")
    keys = [c.request.headers["Idempotency-Key"] for c in route.calls]
    assert keys[0] == keys[1] == keys[2]
    assert keys[3] != keys[0]
    assert all(k.startswith("dvk_") and len(k) == 36 for k in keys)


@pytest.mark.parametrize("via", ["argument", "extra_headers"])
async def test_caller_idempotency_key_is_kept(api: Any, mock: respx.MockRouter, via: str) -> None:
    route = mock.post("/v1/videos").mock(
        side_effect=[_status(503), httpx.Response(200, json=_video())]
    )
    kwargs: dict[str, Any] = (
        {"idempotency_key": "my-key:1"}
        if via == "argument"
        else {"extra_headers": {"idempotency-key": "my-key:1"}}
    )
    await api.videos.create(prompt="a cat", **kwargs)
    assert [c.request.headers.get_list("Idempotency-Key") for c in route.calls] == [
        ["my-key:1"]
    ] * 2


async def test_invalid_caller_idempotency_key_is_refused(api: Any, mock: respx.MockRouter) -> None:
    route = mock.post("/v1/videos")
    with pytest.raises(InvalidParameterError) as info:
        await api.videos.create(prompt="a cat", idempotency_key="bad key\r\nX-Evil: 1")
    assert info.value.param == "idempotency_key"
    assert route.call_count == 0


async def test_remix_body_is_json_and_key_sent(api: Any, mock: respx.MockRouter) -> None:
    route = mock.post(url__regex=r"/remix$").mock(return_value=httpx.Response(200, json=_video()))
    with pytest.raises(InvalidParameterError, match="video_id"):  # an id cannot change the path
        await api.videos.remix("vid/../x", prompt="x")
    assert route.call_count == 0
    await api.videos.remix("vid:1", prompt='say "hi"\r\n', model="sora-2-pro")
    request = route.calls[0].request
    assert request.url.raw_path == b"/v1/videos/vid%3A1/remix"
    assert request.headers["Idempotency-Key"].startswith("dvk_")
    assert request.headers["content-type"] == "application/json"
    import json

    assert json.loads(request.content) == {"prompt": 'say "hi"\r\n', "model": "sora-2-pro"}


# -- multipart ----------------------------------------------------------------------------------


def parse_multipart(request: httpx.Request) -> list[tuple[dict[str, str], bytes]]:
    """Parts of a multipart body, exactly: (headers, data) each."""
    _, params = parse_options_header(request.headers["content-type"])
    boundary = params[b"boundary"]
    parts: list[tuple[dict[str, str], bytes]] = []
    state: dict[str, Any] = {}

    def on_part_begin() -> None:
        state.update(headers={}, data=b"", field=b"", value=b"")

    def on_header_field(data: bytes, start: int, end: int) -> None:
        state["field"] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        state["value"] += data[start:end]

    def on_header_end() -> None:
        state["headers"][state["field"].decode().lower()] = state["value"].decode()
        state["field"], state["value"] = b"", b""

    def on_part_data(data: bytes, start: int, end: int) -> None:
        state["data"] += data[start:end]

    def on_part_end() -> None:
        parts.append((state["headers"], state["data"]))

    parser = MultipartParser(
        boundary,
        callbacks={
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
        },
    )
    parser.write(request.content)
    parser.finalize()
    return parts


def _name(headers: dict[str, str]) -> str:
    _, params = parse_options_header(headers["content-disposition"])
    return params[b"name"].decode()


HOSTILE_PROMPTS = [
    'a\r\nContent-Disposition: form-data; name="model"\r\n\r\nsora-2-pro',
    '--boundary\r\nContent-Disposition: form-data; name="size"\r\n\r\n1792x1024\r\n--boundary--',
    '"; name="model"; filename="x.png',
    "nul\x00byte",
    "x\r\n\r\n",
    "--\r\n--",
    "unicode ✓ 猫 \u202eRTL \U0001f408",
    '\\"\\\r\\n',
    "x" * 5000,
]


@pytest.mark.parametrize("prompt", HOSTILE_PROMPTS, ids=range(len(HOSTILE_PROMPTS)))
async def test_hostile_prompt_does_not_alter_multipart(
    api: Any, mock: respx.MockRouter, prompt: str
) -> None:
    route = mock.post("/v1/videos").mock(return_value=httpx.Response(200, json=_video()))
    hostile_name = 'evil"\r\nContent-Type: text/html\r\n\r\n.png'
    await api.videos.create(
        prompt=prompt,
        model="sora-2",
        seconds=4,
        size="720x1280",
        input_reference=(hostile_name, PNG_720x1280, "image/png"),
    )
    parts = parse_multipart(route.calls[0].request)
    assert [_name(h) for h, _ in parts] == ["prompt", "model", "seconds", "size", "input_reference"]
    values = {_name(h): d for h, d in parts}
    assert values["prompt"] == prompt.encode()
    assert values["model"] == b"sora-2"
    assert values["seconds"] == b"4"
    assert values["size"] == b"720x1280"
    assert values["input_reference"] == PNG_720x1280
    file_headers = parts[-1][0]
    assert set(file_headers) == {"content-disposition", "content-type"}
    assert file_headers["content-type"] == "image/png"
    _, params = parse_options_header(file_headers["content-disposition"])
    assert (
        b"filename" in params
        and b"\r" not in params[b"filename"]
        and b"\n" not in params[b"filename"]
    )


@pytest.mark.parametrize(
    "input_reference",
    ["path", "bytes", "file", "tuple"],
)
async def test_file_part_has_name_and_type_and_is_resent_intact(
    api: Any, mock: respx.MockRouter, tmp_path: Any, input_reference: str
) -> None:
    path = tmp_path / "first frame.png"
    path.write_bytes(PNG_720x1280)
    value: Any = {
        "path": path,
        "bytes": PNG_720x1280,
        "file": io.BytesIO(PNG_720x1280),
        "tuple": ("frame.png", PNG_720x1280, None),
    }[input_reference]
    route = mock.post("/v1/videos").mock(
        side_effect=[
            httpx.ConnectError("refused"),
            _status(503),
            httpx.Response(200, json=_video()),
        ]
    )
    await api.videos.create(prompt="a cat", size="720x1280", input_reference=value)
    bodies = [c.request.content for c in route.calls[1:]]
    assert route.call_count == 3
    assert bodies[0] == bodies[1], "every attempt sends byte-identical multipart"
    headers, data = parse_multipart(route.calls[2].request)[-1]
    assert data == PNG_720x1280
    assert headers["content-type"] == "image/png"
    _, params = parse_options_header(headers["content-disposition"])
    assert params[b"filename"].decode().endswith(".png")
