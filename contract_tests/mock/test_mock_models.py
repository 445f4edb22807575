"""The mock serves both model families from the client's model table, expires content, keeps a
request log readable in process and over loopback, and can answer as a gateway would."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from deerapi_videos import AsyncDeerAPI, ContentExpiredError, InvalidParameterError, NotFoundError
from deerapi_videos.model_table import model_table
from deerapi_videos_mock import MockDeerAPI

from contract_tests.builders import jpeg, png, webp

from ._support import AUTH, KEY, SpecChecker, create

pytestmark = pytest.mark.asyncio

TABLE = model_table()
FIRST, LAST = png(64, 36), jpeg(64, 36)


def _error(response: httpx.Response, status: int, param: str | None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["param"] == param
    return error


@pytest.mark.parametrize("model", list(TABLE.models))
async def test_every_known_model_takes_exactly_its_rows_values(
    client: httpx.AsyncClient, mock: MockDeerAPI, model: str
) -> None:
    spec = TABLE.models[model]
    for size in spec.sizes:
        for seconds in spec.seconds:
            video = await create(client, model=model, size=size, seconds=seconds)
            assert (video["size"], video["seconds"]) == (size, seconds)
    other_sizes = [s for s in TABLE.sizes if s not in spec.sizes]
    other_seconds = [s for s in TABLE.seconds if s not in spec.seconds]
    for size in other_sizes:
        files = {"prompt": (None, "cat"), "model": (None, model), "size": (None, size)}
        error = _error(await client.post("/v1/videos", files=files), 400, "size")
        assert model in error["message"]
    for seconds in other_seconds:
        files = {"prompt": (None, "cat"), "model": (None, model), "seconds": (None, seconds)}
        _error(await client.post("/v1/videos", files=files), 400, "seconds")
    defaults = await create(client, model=model)
    assert (defaults["size"], defaults["seconds"]) == (spec.default_size, spec.default_seconds)


async def test_veo_takes_a_first_and_a_last_frame_in_order(
    client: httpx.AsyncClient, mock: MockDeerAPI
) -> None:
    files = [
        ("prompt", (None, "a boat")),
        ("model", (None, "veo3.1-pro")),
        ("size", (None, "16x9")),
        ("input_reference", ("first.png", FIRST, "image/png")),
        ("input_reference", ("last.jpg", LAST, "image/jpeg")),
    ]
    response = await client.post("/v1/videos", files=files)
    assert response.status_code == 200, response.text
    job = mock.get(response.json()["id"])
    assert job is not None and job.input_references == (FIRST, LAST)
    assert job.input_reference == FIRST and job.seconds == "8"
    third = [*files, ("input_reference", ("more.webp", webp(8, 8), "image/webp"))]
    _error(await client.post("/v1/videos", files=third), 400, "input_reference")


async def test_sora_takes_one_reference(client: httpx.AsyncClient) -> None:
    two = [
        ("prompt", (None, "cat")),
        ("input_reference", ("a.png", FIRST, "image/png")),
        ("input_reference", ("b.png", FIRST, "image/png")),
    ]
    _error(await client.post("/v1/videos", files=two), 400, "input_reference")


async def test_an_unknown_model_takes_anything_non_empty(client: httpx.AsyncClient) -> None:
    video = await create(client, model="veo3-fast", size="21x9", seconds="5")
    assert (video["model"], video["size"], video["seconds"]) == ("veo3-fast", "21x9", "5")
    empty = {"prompt": (None, "cat"), "model": (None, "veo3-fast"), "size": (None, "")}
    _error(await client.post("/v1/videos", files=empty), 400, "size")


async def test_only_remixable_models_are_remixed(
    client: httpx.AsyncClient, mock: MockDeerAPI
) -> None:
    veo = mock.add_video(model="veo3.1-pro")
    sora = mock.add_video(model="sora-2")
    assert (veo.size, veo.seconds) == ("16x9", "8")
    error = _error(
        await client.post(f"/v1/videos/{veo.id}/remix", json={"prompt": "again"}), 400, "model"
    )
    assert error["code"] == "remix_not_supported"
    response = await client.post(f"/v1/videos/{sora.id}/remix", json={"prompt": "again"})
    assert response.status_code == 200 and response.json()["remixed_from_video_id"] == sora.id


@pytest.mark.parametrize(("model", "ttl"), [("veo3.1-pro", 3600), ("sora-2", 86_400)])
async def test_content_expires_after_the_models_lifetime(
    client: httpx.AsyncClient, mock: MockDeerAPI, model: str, ttl: int
) -> None:
    video = mock.add_video(model=model)
    body = (await client.get(f"/v1/videos/{video.id}")).json()
    assert body["expires_at"] - body["completed_at"] == ttl
    mock.advance(body["expires_at"] - mock.clock.now() - 1)
    assert (await client.get(f"/v1/videos/{video.id}/content")).status_code == 200
    mock.advance(1)
    error = _error(await client.get(f"/v1/videos/{video.id}/content"), 410, "video_id")
    assert error["code"] == "content_expired"
    assert (await client.get(f"/v1/videos/{video.id}")).json()["status"] == "completed"


async def test_the_request_log_is_readable_in_process_and_over_loopback() -> None:
    mock = MockDeerAPI(api_key=KEY, job_duration=0)
    with mock.serve() as base_url, httpx.Client(base_url=base_url, headers=AUTH) as http:
        for _ in range(2):
            assert http.post("/v1/videos", files={"prompt": (None, "cat")}).status_code == 200
        assert http.get("/v1/videos").status_code == 200
        served = http.get("/_mock/requests").json()
        again = http.get("/_mock/requests").json()
    assert served == again, "reading the log is not logged"
    posts = [r for r in served["data"] if r["method"] == "POST"]
    assert [r["operation"] for r in posts] == ["createVideo", "createVideo"]
    assert len(mock.requests_for("createVideo")) == 2
    assert [(r["method"], r["path"], r["status"], r["request_id"]) for r in served["data"]] == [
        tuple(r) for r in mock.requests
    ]


async def test_the_client_sends_both_families_with_the_right_parts(tmp_path: Path) -> None:
    """Creates for a Sora 2 and a Veo 3 model reach the mock with the right parts; invalid
    combinations for known models never leave the client; unknown models pass."""
    mock = MockDeerAPI(api_key=KEY, job_duration=0)
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=mock.app))
    async with AsyncDeerAPI(api_key=KEY, base_url="http://127.0.0.1", http_client=http) as client:
        sora = await client.videos.create(prompt="cat", input_reference=png(720, 1280))
        frames = tmp_path / "last.webp"
        frames.write_bytes(webp(1920, 1080))
        veo = await client.videos.create(
            prompt="boat", model="veo3.1-pro", size="16x9", input_reference=[FIRST, frames]
        )
        other = await client.videos.create(prompt="x", model="veo3-fast", size="21x9", seconds=5)
        with pytest.raises(InvalidParameterError):
            await client.videos.create(prompt="boat", model="veo3.1-pro", size="720x1280")
        with pytest.raises(InvalidParameterError):
            await client.videos.create(prompt="cat", input_reference=[FIRST, FIRST])
    sora_job, veo_job, other_job = (mock.get(v.id) for v in (sora, veo, other))
    assert sora_job is not None and sora_job.input_references == (png(720, 1280),)
    assert (sora_job.model, sora_job.size) == ("sora-2", "720x1280")
    assert veo_job is not None and veo_job.input_references == (FIRST, webp(1920, 1080))
    assert (veo.size, veo.seconds) == ("16x9", "8")
    assert other_job is not None and other_job.size == "21x9"
    assert len(mock.requests_for("createVideo")) == 3, "refused inputs were never sent"


async def test_downloading_expired_content_says_it_expired(tmp_path: Path) -> None:
    mock = MockDeerAPI(api_key=KEY, job_duration=0)
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=mock.app))
    async with AsyncDeerAPI(api_key=KEY, base_url="http://127.0.0.1", http_client=http) as client:
        video = await client.videos.create_and_poll(prompt="boat", model="veo3.1-pro")
        assert isinstance(video.expires_at, int) and isinstance(video.completed_at, int)
        assert video.expires_at - video.completed_at == 3600
        await client.videos.download_content(video.id, tmp_path / "in-time.mp4")
        mock.advance(3600)
        with pytest.raises(ContentExpiredError) as info:
            await client.videos.download_content(video.id, tmp_path / "late.mp4")
        with pytest.raises(NotFoundError) as gone:
            await client.videos.download_content("video_unknown", tmp_path / "none.mp4")
    error = info.value
    assert isinstance(error, NotFoundError) and error.status_code == 410
    assert error.video_id == video.id and error.expires_at == video.expires_at
    assert "expired" in str(error) and str(video.expires_at) in str(error)
    assert not isinstance(gone.value, ContentExpiredError)
    assert not (tmp_path / "late.mp4").exists()


async def test_proxy_shape_answers_like_a_gateway(spec_checker: SpecChecker) -> None:
    mock = MockDeerAPI(api_key=KEY, response_shape="proxy")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=mock.app), base_url="http://m", headers=AUTH
    ) as http:
        created = await http.post(
            "/v1/videos", files={"prompt": (None, "boat"), "model": (None, "veo3.1-pro")}
        )
        body = created.json()
        assert "x-request-id" not in created.headers
        assert created.headers["x-oneapi-request-id"].startswith("req_")
        assert None not in body.values() and "progress" not in body
        assert "seconds" not in body and "size" not in body and body["task_id"] == body["id"]
        mock.advance(4)
        running = (await http.get(f"/v1/videos/{body['id']}")).json()
        assert isinstance(running["progress"], float)
        page = (await http.get("/v1/videos")).json()
        assert set(page) == {"object", "data"}
    # Still what the spec allows, except the float progress (the harness reports that).
    spec_checker.check_body("/components/schemas/Video", {**running, "progress": 50})


async def test_unserved_operations_answer_404_as_a_gateway_without_the_route() -> None:
    mock = MockDeerAPI(api_key=KEY, unserved={"listVideos", "deleteVideo"})
    video = mock.add_video()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=mock.app), base_url="http://m", headers=AUTH
    ) as http:
        for method, path in [("GET", "/v1/videos"), ("DELETE", f"/v1/videos/{video.id}")]:
            response = await http.request(method, path)
            assert response.status_code == 404
            assert response.headers["content-type"].startswith("text/plain")
        assert (await http.get(f"/v1/videos/{video.id}")).status_code == 200
    assert mock.get(video.id) is not None
    with pytest.raises(ValueError, match="unserved"):
        MockDeerAPI(unserved={"createVideo"})
