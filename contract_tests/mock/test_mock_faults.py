"""Fault injection, in-process (ASGI): each fault type, scoping by operation and count."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from deerapi_videos_mock import Fault, MockDeerAPI

from ._support import create

pytestmark = pytest.mark.asyncio


async def test_status_burst_with_retry_after(client: httpx.AsyncClient, mock: MockDeerAPI) -> None:
    fault = mock.inject(Fault.status(503, times=2, operations={"createVideo"}))
    assert (await client.get("/v1/videos")).status_code == 200  # other operations untouched
    for _ in range(2):
        response = await client.post("/v1/videos", files={"prompt": (None, "cat")})
        assert response.status_code == 503
        assert response.headers["retry-after"] == "1"
        assert response.json()["error"]["type"] == "service_unavailable"
    assert fault.fired == 2 and fault.exhausted
    await create(client)
    assert len(mock.paid_jobs) == 1
    assert [r.status for r in mock.requests_for("createVideo")] == [503, 503, 200]


@pytest.mark.parametrize("code", [429, 500, 502, 503])
async def test_each_documented_error_status(
    client: httpx.AsyncClient, mock: MockDeerAPI, code: int
) -> None:
    mock.inject(Fault.status(code))
    response = await client.get("/v1/videos")
    assert response.status_code == code
    assert ("retry-after" in response.headers) == (code in (429, 503))
    assert (await client.get("/v1/videos")).status_code == 200


async def test_rate_limit_and_unavailable_shortcuts(
    client: httpx.AsyncClient, mock: MockDeerAPI
) -> None:
    mock.inject(Fault.rate_limit(retry_after="7"), Fault.unavailable(retry_after=None))
    first = await client.get("/v1/videos")
    assert (first.status_code, first.headers["retry-after"]) == (429, "7")
    second = await client.get("/v1/videos")
    assert second.status_code == 503 and "retry-after" not in second.headers


async def test_unlimited_fault_and_clear(client: httpx.AsyncClient, mock: MockDeerAPI) -> None:
    mock.inject(Fault.status(500, times=None))
    for _ in range(5):
        assert (await client.get("/v1/videos")).status_code == 500
    mock.clear_faults()
    assert (await client.get("/v1/videos")).status_code == 200


async def test_error_after_processing_starts_a_paid_job(
    client: httpx.AsyncClient, mock: MockDeerAPI
) -> None:
    mock.inject(Fault.status(502, after_processing=True, operations="createVideo"))
    response = await client.post("/v1/videos", files={"prompt": (None, "cat")})
    assert response.status_code == 502
    assert len(mock.paid_jobs) == 1  # the job was started anyway


async def test_faults_precede_auth(client: httpx.AsyncClient, mock: MockDeerAPI) -> None:
    client.headers.pop("Authorization")
    mock.inject(Fault.rate_limit())
    assert (await client.get("/v1/videos")).status_code == 429
    assert (await client.get("/v1/videos")).status_code == 401


async def test_slow_response(client: httpx.AsyncClient, mock: MockDeerAPI) -> None:
    mock.inject(Fault.slow(0.05, operations="listVideos"))
    started = time.perf_counter()
    assert (await client.get("/v1/videos")).status_code == 200
    assert time.perf_counter() - started >= 0.05
    started = time.perf_counter()
    await client.get("/v1/videos")
    assert time.perf_counter() - started < 0.05


async def test_drop_before_processing(raw_client: httpx.AsyncClient, mock: MockDeerAPI) -> None:
    mock.inject(Fault.drop_before(operations="createVideo"))
    with pytest.raises(httpx.RemoteProtocolError) as caught:
        await raw_client.post("/v1/videos", files={"prompt": (None, "cat")})
    assert caught.value.request.method == "POST"
    assert mock.paid_jobs == []
    assert mock.requests[-1].status == 0


async def test_drop_after_processing(raw_client: httpx.AsyncClient, mock: MockDeerAPI) -> None:
    mock.inject(Fault.drop_after(operations="createVideo"))
    with pytest.raises(httpx.TransportError):
        await raw_client.post("/v1/videos", files={"prompt": (None, "cat")})
    assert len(mock.paid_jobs) == 1  # the job exists: a blind retry would pay twice
    listed = (await raw_client.get("/v1/videos")).json()
    assert [v["id"] for v in listed["data"]] == [mock.paid_jobs[0].id]


async def test_drop_after_with_idempotency_key_retry_is_free(
    raw_client: httpx.AsyncClient, mock: MockDeerAPI
) -> None:
    mock.inject(Fault.drop_after(operations="createVideo"))
    headers = {"Idempotency-Key": "k1"}
    files = {"prompt": (None, "cat")}
    with pytest.raises(httpx.TransportError):
        await raw_client.post("/v1/videos", files=files, headers=headers)
    retry = await raw_client.post("/v1/videos", files=files, headers=headers)
    assert retry.status_code == 200 and retry.json()["id"] == mock.paid_jobs[0].id
    assert len(mock.paid_jobs) == 1


async def test_truncated_download(raw_client: httpx.AsyncClient, mock: MockDeerAPI) -> None:
    video = mock.add_video()
    mock.inject(Fault.truncate(100))
    with pytest.raises(httpx.RemoteProtocolError):
        await raw_client.get(f"/v1/videos/{video.id}/content")
    whole = await raw_client.get(f"/v1/videos/{video.id}/content")
    assert whole.status_code == 200


async def test_truncated_download_short_body_and_resume(
    raw_client: httpx.AsyncClient, mock: MockDeerAPI
) -> None:
    video = mock.add_video()
    url = f"/v1/videos/{video.id}/content"
    mock.inject(Fault.truncate(100, short_body=True))
    short = await raw_client.get(url)
    total = int(short.headers["content-length"])
    assert len(short.content) == 100 < total
    rest = await raw_client.get(url, headers={"Range": "bytes=100-"})
    assert rest.status_code == 206 and 100 + len(rest.content) == total
    whole = await raw_client.get(url)
    assert short.content + rest.content == whole.content


async def test_truncate_only_fires_on_content(
    raw_client: httpx.AsyncClient, mock: MockDeerAPI
) -> None:
    fault = mock.inject(Fault.truncate(10, operations=None))
    assert (await raw_client.get("/v1/videos")).status_code == 200
    assert fault.fired == 0


async def test_html_error_page(raw_client: httpx.AsyncClient, mock: MockDeerAPI) -> None:
    mock.inject(Fault.html_error(502))
    response = await raw_client.get("/v1/videos")
    assert response.status_code == 502
    assert response.headers["content-type"].startswith("text/html")
    assert response.text.startswith("<!DOCTYPE html>")
    assert response.headers["x-request-id"].startswith("req_")


async def test_unknown_status_and_extra_fields(
    client: httpx.AsyncClient, mock: MockDeerAPI
) -> None:
    video_id = (await create(client))["id"]
    mock.inject(
        Fault.unknown_status("pending_upstream", times=2, operations="retrieveVideo"),
        Fault.extra_fields({"provider": "x", "cost": {"usd": 0.1}}, operations="listVideos"),
    )
    # both stay within the spec: the client hook validated these responses
    assert (await client.get(f"/v1/videos/{video_id}")).json()["status"] == "pending_upstream"
    assert (await client.get(f"/v1/videos/{video_id}")).json()["status"] == "pending_upstream"
    assert (await client.get(f"/v1/videos/{video_id}")).json()["status"] == "queued"
    listed = (await client.get("/v1/videos")).json()["data"][0]
    assert listed["provider"] == "x" and listed["cost"] == {"usd": 0.1}
    assert "provider" not in (await client.get("/v1/videos")).json()["data"][0]


async def test_faults_fire_in_order_and_combine(
    client: httpx.AsyncClient, mock: MockDeerAPI
) -> None:
    mock.inject(Fault.slow(0.0), Fault.status(500), Fault.status(503))
    assert (await client.get("/v1/videos")).status_code == 500
    assert (await client.get("/v1/videos")).status_code == 503
    assert (await client.get("/v1/videos")).status_code == 200
    assert mock.faults == []


async def test_fault_counts_hold_under_concurrency(
    client: httpx.AsyncClient, mock: MockDeerAPI
) -> None:
    mock.inject(Fault.status(500, times=3))
    responses = await asyncio.gather(*(client.get("/v1/videos") for _ in range(10)))
    assert sorted(r.status_code for r in responses) == [200] * 7 + [500] * 3


async def test_fault_validation() -> None:
    with pytest.raises(ValueError, match="unknown operationId"):
        Fault.status(500, operations={"createVidoe"})
    with pytest.raises(ValueError, match="unknown defect"):
        MockDeerAPI(defects={"nope"})
    with pytest.raises(TypeError):
        MockDeerAPI().inject()
