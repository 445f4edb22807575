"""Auth and input validation: 401 / 400 envelopes naming the field, per openapi.yaml."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from deerapi_videos_mock import MockDeerAPI
from deerapi_videos_mock._media import JPEG_SPRITESHEET, WEBP_THUMBNAIL

from ._support import create

pytestmark = pytest.mark.asyncio

PNG_1X1 = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f80f0000010100005a4d6e3c0000000049454e44ae426082"
)


def _error(response: httpx.Response, status: int, param: str | None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["param"] == param
    assert error["message"]
    return error


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer nope"},
        {"Authorization": "Basic sk-mock"},
        {"Authorization": "Bearer "},
    ],
)
async def test_missing_or_wrong_key_is_401(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    client.headers.pop("Authorization")
    response = await client.get("/v1/videos", headers=headers)
    error = _error(response, 401, None)
    assert error["type"] == "authentication_error"


async def test_any_key_when_api_key_is_none(spec_checker: Any) -> None:
    mock = MockDeerAPI(api_key=None)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=mock.app), base_url="http://m"
    ) as c:
        assert (
            await c.get("/v1/videos", headers={"Authorization": "Bearer whatever"})
        ).status_code == 200
        assert (await c.get("/v1/videos")).status_code == 401


async def test_auth_is_checked_on_every_operation(client: httpx.AsyncClient) -> None:
    client.headers.pop("Authorization")
    for method, path in [
        ("POST", "/v1/videos"),
        ("GET", "/v1/videos/video_x"),
        ("DELETE", "/v1/videos/video_x"),
        ("GET", "/v1/videos/video_x/content"),
        ("POST", "/v1/videos/video_x/remix"),
    ]:
        assert (await client.request(method, path)).status_code == 401


@pytest.mark.parametrize(
    ("files", "param"),
    [
        ({"model": (None, "sora-2")}, "prompt"),
        ({"prompt": (None, "")}, "prompt"),
        ({"prompt": (None, "cat"), "model": (None, "")}, "model"),
        ({"prompt": (None, "cat"), "seconds": (None, "5")}, "seconds"),
        ({"prompt": (None, "cat"), "seconds": (None, "4.0")}, "seconds"),
        ({"prompt": (None, "cat"), "size": (None, "1920x1080")}, "size"),
        (
            {"prompt": (None, "cat"), "input_reference": ("a.png", b"not an image", "image/png")},
            "input_reference",
        ),
        (
            {"prompt": (None, "cat"), "input_reference": ("a.png", b"", "image/png")},
            "input_reference",
        ),
        ({"prompt": (None, "cat"), "quality": (None, "hd")}, "quality"),
        ({"prompt": ("prompt.txt", b"cat", "text/plain")}, "prompt"),
    ],
)
async def test_create_rejects_invalid_fields(
    client: httpx.AsyncClient, mock: MockDeerAPI, files: dict[str, Any], param: str
) -> None:
    _error(await client.post("/v1/videos", files=files), 400, param)
    assert mock.paid_jobs == []


async def test_create_rejects_repeated_field(client: httpx.AsyncClient) -> None:
    files = [("prompt", (None, "a")), ("prompt", (None, "b"))]
    _error(await client.post("/v1/videos", files=files), 400, "prompt")


async def test_create_needs_multipart(client: httpx.AsyncClient) -> None:
    error = _error(await client.post("/v1/videos", json={"prompt": "cat"}), 400, None)
    assert error["code"] == "invalid_content_type"
    _error(await client.post("/v1/videos", data={"prompt": "cat"}), 400, None)


async def test_create_rejects_broken_multipart(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/videos",
        content=b"--x\r\nContent-Disposition: form-data\r\n\r\nno name\r\n--x--\r\n",
        headers={"Content-Type": "multipart/form-data; boundary=x"},
    )
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("image", "name"), [(JPEG_SPRITESHEET, "a.jpg"), (PNG_1X1, "a.png"), (WEBP_THUMBNAIL, "a.webp")]
)
async def test_create_accepts_images_by_magic_bytes(
    client: httpx.AsyncClient, mock: MockDeerAPI, image: bytes, name: str
) -> None:
    video = await create(client, input_reference=(name, image, "application/octet-stream"))
    job = mock.get(video["id"])
    assert job is not None and job.input_reference == image


async def test_unknown_model_is_accepted(client: httpx.AsyncClient) -> None:
    video = await create(client, model="sora-3-preview", seconds="12", size="1792x1024")
    assert (video["model"], video["seconds"], video["size"]) == (
        "sora-3-preview",
        "12",
        "1792x1024",
    )


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({}, "prompt"),
        ({"prompt": ""}, "prompt"),
        ({"prompt": 3}, "prompt"),
        ({"prompt": None}, "prompt"),
        ({"prompt": "x", "model": ""}, "model"),
        ({"prompt": "x", "model": 2}, "model"),
        ({"prompt": "x", "model": None}, "model"),
        ({"prompt": "x", "seconds": "8"}, "seconds"),
        ([], None),
        ("prompt", None),
    ],
)
async def test_remix_rejects_invalid_body(
    client: httpx.AsyncClient, mock: MockDeerAPI, body: Any, param: str | None
) -> None:
    source = mock.add_video()
    _error(await client.post(f"/v1/videos/{source.id}/remix", json=body), 400, param)
    assert mock.paid_jobs == []


async def test_remix_rejects_bad_json_and_content_type(
    client: httpx.AsyncClient, mock: MockDeerAPI
) -> None:
    source = mock.add_video()
    url = f"/v1/videos/{source.id}/remix"
    bad_json = await client.post(url, content=b"{", headers={"Content-Type": "application/json"})
    assert _error(bad_json, 400, None)["code"] == "invalid_json"
    not_json = await client.post(
        url, content=b'{"prompt":"x"}', headers={"Content-Type": "text/plain"}
    )
    assert _error(not_json, 400, None)["code"] == "invalid_content_type"


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=-1", "limit"),
        ("limit=ten", "limit"),
        ("limit=1.5", "limit"),
        ("limit=1&limit=2", "limit"),
        ("order=up", "order"),
        ("after=", "after"),
    ],
)
async def test_list_rejects_invalid_query(
    client: httpx.AsyncClient, query: str, param: str
) -> None:
    _error(await client.get(f"/v1/videos?{query}"), 400, param)


@pytest.mark.parametrize("limit", ["1", "100"])
async def test_list_limit_bounds_are_valid(client: httpx.AsyncClient, limit: str) -> None:
    assert (await client.get("/v1/videos", params={"limit": limit})).status_code == 200


async def test_content_rejects_unknown_variant(
    client: httpx.AsyncClient, mock: MockDeerAPI
) -> None:
    video = mock.add_video()
    _error(await client.get(f"/v1/videos/{video.id}/content?variant=gif"), 400, "variant")


@pytest.mark.parametrize("key", ["", "has space", "ключ".encode(), "x" * 256, "a/b"])
async def test_invalid_idempotency_key_is_400(
    client: httpx.AsyncClient, mock: MockDeerAPI, key: str
) -> None:
    response = await client.post(
        "/v1/videos", files={"prompt": (None, "cat")}, headers={"Idempotency-Key": key}
    )
    _error(response, 400, "Idempotency-Key")
    assert mock.paid_jobs == []


async def test_valid_idempotency_key_alphabet(client: httpx.AsyncClient) -> None:
    key = "Az09_.:-" + "k" * 247
    await create(client, headers={"Idempotency-Key": key})


async def test_unknown_paths_and_methods(raw_client: httpx.AsyncClient) -> None:
    assert (await raw_client.get("/v1/images")).status_code == 404
    assert (await raw_client.get("/v1/videos/")).status_code == 404
    assert (await raw_client.get("/v1/videos/a/b/c")).status_code == 404
    response = await raw_client.put("/v1/videos/video_x")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, DELETE"
    assert response.json()["error"]["code"] == "method_not_allowed"


async def test_the_spec_is_served_without_auth(raw_client: httpx.AsyncClient) -> None:
    raw_client.headers.pop("Authorization")
    response = await raw_client.get("/openapi.yaml")
    assert response.status_code == 200
    assert response.text.startswith("openapi: 3.1")
