"""Planted defects really change the mock, and a spec check notices each one."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
import pytest
from deerapi_videos_mock import DEFECTS, MockDeerAPI

from ._support import AUTH, SpecChecker

pytestmark = pytest.mark.asyncio

Scenario = Callable[[httpx.AsyncClient, MockDeerAPI, SpecChecker], Awaitable[None]]


async def _create(client: httpx.AsyncClient, **fields: str) -> httpx.Response:
    files = {"prompt": (None, "cat")} | {k: (None, v) for k, v in fields.items()}
    return await client.post("/v1/videos", files=files)


async def wrong_field_type(client: httpx.AsyncClient, mock: MockDeerAPI, spec: SpecChecker) -> None:
    response = await _create(client)
    assert isinstance(response.json()["created_at"], str)
    spec.check(response)


async def missing_required_field(
    client: httpx.AsyncClient, mock: MockDeerAPI, spec: SpecChecker
) -> None:
    response = await _create(client)
    assert "status" not in response.json()
    spec.check(response)


async def undocumented_status(
    client: httpx.AsyncClient, mock: MockDeerAPI, spec: SpecChecker
) -> None:
    response = await client.get("/v1/videos/video_unknown")
    assert response.status_code == 410
    spec.check(response)


async def server_error_on_valid(
    client: httpx.AsyncClient, mock: MockDeerAPI, spec: SpecChecker
) -> None:
    listed = await client.get("/v1/videos", params={"order": "asc"})
    created = await _create(client, seconds="12")
    assert listed.status_code == created.status_code == 500
    spec.check(listed)  # 500 is documented: only "valid input must not fail" catches it
    raise AssertionError("a valid request answered 500")


async def accept_invalid_input(
    client: httpx.AsyncClient, mock: MockDeerAPI, spec: SpecChecker
) -> None:
    created = await _create(client, seconds="5", size="1x1", colour="red")
    listed = await client.get("/v1/videos", params={"limit": "0"})
    assert created.status_code == listed.status_code == 200
    assert created.json()["seconds"] == "5" and len(listed.json()["data"]) == 1
    raise AssertionError("invalid input was accepted")


async def delete_noop(client: httpx.AsyncClient, mock: MockDeerAPI, spec: SpecChecker) -> None:
    video_id = (await _create(client)).json()["id"]
    deleted = await client.delete(f"/v1/videos/{video_id}")
    spec.check(deleted)
    after = await client.get(f"/v1/videos/{video_id}")
    assert after.status_code == 200, "use after free"
    raise AssertionError("a deleted video is still retrievable")


async def wrong_content_type(
    client: httpx.AsyncClient, mock: MockDeerAPI, spec: SpecChecker
) -> None:
    video = mock.add_video()
    response = await client.get(f"/v1/videos/{video.id}/content")
    assert response.headers["content-type"] == "application/octet-stream"
    spec.check(response)


async def ignore_idempotency(
    client: httpx.AsyncClient, mock: MockDeerAPI, spec: SpecChecker
) -> None:
    for _ in range(2):
        await client.post(
            "/v1/videos", files={"prompt": (None, "cat")}, headers={"Idempotency-Key": "same"}
        )
    assert len(mock.paid_jobs) == 2
    raise AssertionError("a retry with the same Idempotency-Key started a second paid job")


SCENARIOS: dict[str, Scenario] = {
    "wrong_field_type": wrong_field_type,
    "missing_required_field": missing_required_field,
    "undocumented_status": undocumented_status,
    "server_error_on_valid": server_error_on_valid,
    "accept_invalid_input": accept_invalid_input,
    "delete_noop": delete_noop,
    "wrong_content_type": wrong_content_type,
    "ignore_idempotency": ignore_idempotency,
}


async def test_every_defect_has_a_scenario() -> None:
    assert set(SCENARIOS) == set(DEFECTS)


@pytest.mark.parametrize("defect", sorted(SCENARIOS))
async def test_defect_is_caught(defect: str, spec_checker: SpecChecker) -> None:
    mock = MockDeerAPI(defects={defect})
    transport = httpx.ASGITransport(app=mock.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://m", headers=AUTH) as client:
        with pytest.raises(AssertionError):
            await SCENARIOS[defect](client, mock, spec_checker)
