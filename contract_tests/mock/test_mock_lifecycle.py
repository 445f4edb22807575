"""Jobs on the manual clock: lifecycle, failure, remix, delete, list paging, idempotency."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from deerapi_videos_mock import DEFAULT_EPOCH, MockDeerAPI

from ._support import create

pytestmark = pytest.mark.asyncio

FULL_FIELDS = {
    "id", "object", "created_at", "status", "completed_at", "error", "expires_at",
    "model", "progress", "remixed_from_video_id", "seconds", "size",
}  # fmt: skip
REMIX_FIELDS = FULL_FIELDS - {"completed_at", "error", "expires_at"}


async def _get(client: httpx.AsyncClient, video_id: str) -> dict[str, Any]:
    response = await client.get(f"/v1/videos/{video_id}")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


async def test_create_answers_the_twelve_field_shape(
    client: httpx.AsyncClient, mock: MockDeerAPI
) -> None:
    video = await create(client)
    assert set(video) == FULL_FIELDS
    assert video["status"] == "queued" and video["progress"] == 0
    assert video["created_at"] == int(DEFAULT_EPOCH)
    assert str(video["id"]).startswith("video_")
    assert (video["model"], video["seconds"], video["size"]) == ("sora-2", "4", "720x1280")
    assert [j.id for j in mock.paid_jobs] == [video["id"]]


async def test_job_progresses_only_on_the_clock(
    client: httpx.AsyncClient, mock: MockDeerAPI
) -> None:
    video_id = str((await create(client))["id"])
    assert (await _get(client, video_id))["status"] == "queued"
    seen = []
    for _ in range(7):
        mock.clock.advance(1.0)
        body = await _get(client, video_id)
        assert body["status"] == "in_progress"
        seen.append(body["progress"])
    assert seen == sorted(seen) and seen[0] < seen[-1] < 100
    mock.clock.advance(1.0)
    done = await _get(client, video_id)
    assert done["status"] == "completed" and done["progress"] == 100
    assert done["completed_at"] == int(DEFAULT_EPOCH) + 8
    assert done["expires_at"] == int(DEFAULT_EPOCH) + 8 + 86_400
    assert done["error"] is None
    mock.clock.advance(1000)
    assert (await _get(client, video_id))["completed_at"] == done["completed_at"]


async def test_complete_all_and_complete(client: httpx.AsyncClient, mock: MockDeerAPI) -> None:
    a, b = (await create(client))["id"], (await create(client))["id"]
    mock.complete(str(a))
    assert mock.status_of(str(a)) == "completed" and mock.status_of(str(b)) == "queued"
    mock.complete_all()
    assert (await _get(client, str(b)))["completed_at"] == int(DEFAULT_EPOCH)


@pytest.mark.parametrize(
    ("prompt", "code"),
    [
        ("a cat [mock:fail]", "generation_failed"),
        ("[mock:fail=moderation_blocked] cat", "moderation_blocked"),
    ],
)
async def test_failure_marker(
    client: httpx.AsyncClient, mock: MockDeerAPI, prompt: str, code: str
) -> None:
    video_id = str((await create(client, prompt))["id"])
    mock.clock.advance(3)
    assert (await _get(client, video_id))["status"] == "in_progress"
    mock.clock.advance(1)
    failed = await _get(client, video_id)
    assert failed["status"] == "failed"
    assert failed["error"] == {"code": code, "message": failed["error"]["message"]}
    assert failed["completed_at"] is None and failed["expires_at"] is None
    content = await client.get(f"/v1/videos/{video_id}/content")
    assert content.status_code == 409


async def test_fail_next_job(client: httpx.AsyncClient, mock: MockDeerAPI) -> None:
    mock.fail_next_job("upstream_timeout", "Provider timed out.")
    first, second = (await create(client))["id"], (await create(client))["id"]
    mock.complete_all()
    assert (await _get(client, str(first)))["error"] == {
        "code": "upstream_timeout",
        "message": "Provider timed out.",
    }
    assert (await _get(client, str(second)))["status"] == "completed"


async def test_zero_duration_finishes_at_creation(
    client: httpx.AsyncClient, mock: MockDeerAPI
) -> None:
    mock.job_duration = 0
    assert (await create(client))["status"] == "completed"


async def test_advance_on_retrieve(client: httpx.AsyncClient, mock: MockDeerAPI) -> None:
    mock.advance_on_retrieve = 3.0
    video_id = str((await create(client))["id"])
    statuses = [(await _get(client, video_id))["status"] for _ in range(4)]
    assert statuses == ["in_progress", "in_progress", "completed", "completed"]
    assert mock.clock.now() == DEFAULT_EPOCH  # the clock itself did not move


async def test_poll_after_header(client: httpx.AsyncClient, mock: MockDeerAPI) -> None:
    mock.poll_after_ms = 250
    video_id = str((await create(client))["id"])
    assert (await client.get(f"/v1/videos/{video_id}")).headers["openai-poll-after-ms"] == "250"
    mock.complete_all()
    assert "openai-poll-after-ms" not in (await client.get(f"/v1/videos/{video_id}")).headers


async def test_remix_of_completed_video(client: httpx.AsyncClient, mock: MockDeerAPI) -> None:
    source = await create(client, seconds="8", size="1280x720")
    url = f"/v1/videos/{source['id']}/remix"
    not_ready = await client.post(url, json={"prompt": "cry"})
    assert not_ready.status_code == 409 and not_ready.json()["error"]["param"] == "video_id"
    mock.complete_all()
    remix = await client.post(url, json={"prompt": "cry", "model": "sora-2-pro"})
    assert remix.status_code == 200
    body = remix.json()
    assert set(body) == REMIX_FIELDS
    assert body["remixed_from_video_id"] == source["id"]
    assert (body["seconds"], body["size"], body["model"]) == ("8", "1280x720", "sora-2-pro")
    assert len(mock.paid_jobs) == 2 and mock.paid_jobs[1].operation == "remixVideo"
    assert (await _get(client, body["id"]))["remixed_from_video_id"] == source["id"]


async def test_remix_rules(client: httpx.AsyncClient, mock: MockDeerAPI) -> None:
    missing = await client.post("/v1/videos/video_nope/remix", json={"prompt": "x"})
    assert missing.status_code == 404
    failed = await create(client, "[mock:fail]")
    mock.complete_all()
    assert (
        await client.post(f"/v1/videos/{failed['id']}/remix", json={"prompt": "x"})
    ).status_code == 409
    assert len(mock.paid_jobs) == 1


async def test_forbidden_model_is_403(client: httpx.AsyncClient, mock: MockDeerAPI) -> None:
    mock.forbidden_models = frozenset({"sora-2-pro"})
    response = await client.post(
        "/v1/videos", files={"prompt": (None, "x"), "model": (None, "sora-2-pro")}
    )
    assert response.status_code == 403 and response.json()["error"]["param"] == "model"
    assert mock.paid_jobs == []


async def test_delete_really_deletes(client: httpx.AsyncClient, mock: MockDeerAPI) -> None:
    video_id = str((await create(client))["id"])
    deleted = await client.delete(f"/v1/videos/{video_id}")
    assert deleted.json() == {"id": video_id, "object": "video.deleted", "deleted": True}
    assert (await client.get(f"/v1/videos/{video_id}")).status_code == 404
    assert (await client.delete(f"/v1/videos/{video_id}")).status_code == 404
    assert (await client.get(f"/v1/videos/{video_id}/content")).status_code == 404
    assert (
        await client.post(f"/v1/videos/{video_id}/remix", json={"prompt": "x"})
    ).status_code == 404
    assert mock.get(video_id) is None and len(mock.paid_jobs) == 1 and mock.paid_jobs[0].deleted


async def test_list_pages_with_cursors(client: httpx.AsyncClient, mock: MockDeerAPI) -> None:
    ids = []
    for i in range(5):
        ids.append((await create(client, f"v{i}"))["id"])
        mock.clock.advance(1)
    empty = (await client.get("/v1/videos", params={"after": "video_unknown"})).json()
    assert empty == {
        "object": "list",
        "data": [],
        "first_id": None,
        "last_id": None,
        "has_more": False,
    }
    for order, expected in (("desc", ids[::-1]), ("asc", ids)):
        seen, after = [], None
        while True:
            params = {"limit": "2", "order": order} | ({"after": after} if after else {})
            page = (await client.get("/v1/videos", params=params)).json()
            seen += [v["id"] for v in page["data"]]
            assert page["first_id"] == page["data"][0]["id"]
            assert page["last_id"] == page["data"][-1]["id"]
            if not page["has_more"]:
                break
            after = page["last_id"]
        assert seen == expected
    default = (await client.get("/v1/videos")).json()
    assert [v["id"] for v in default["data"]] == ids[::-1] and default["has_more"] is False
    # a deleted job's id still works as a cursor
    await client.delete(f"/v1/videos/{ids[2]}")
    rest = (await client.get("/v1/videos", params={"after": ids[2]})).json()
    assert [v["id"] for v in rest["data"]] == [ids[1], ids[0]]


async def test_list_with_same_created_at_is_stable(client: httpx.AsyncClient) -> None:
    ids = [(await create(client, f"v{i}"))["id"] for i in range(3)]
    page = (await client.get("/v1/videos", params={"order": "asc"})).json()
    assert [v["id"] for v in page["data"]] == ids


async def test_idempotent_create_returns_the_same_job(
    client: httpx.AsyncClient, mock: MockDeerAPI
) -> None:
    headers = {"Idempotency-Key": "order-42"}
    first = await create(client, "cat", seconds="8", headers=headers)
    mock.clock.advance(2)
    response = await client.post(
        "/v1/videos", files={"prompt": (None, "cat"), "seconds": (None, "8")}, headers=headers
    )
    assert response.status_code == 200
    assert response.headers["idempotent-replayed"] == "true"
    replay = response.json()
    assert replay["id"] == first["id"] and replay["status"] == "in_progress"
    assert len(mock.paid_jobs) == 1
    other = await client.post("/v1/videos", files={"prompt": (None, "dog")}, headers=headers)
    assert other.status_code == 409 and other.json()["error"]["param"] == "Idempotency-Key"
    assert len(mock.paid_jobs) == 1
    # a failed (4xx) attempt does not claim a key
    bad = {"Idempotency-Key": "fresh"}
    bad_response = await client.post("/v1/videos", files={"prompt": (None, "")}, headers=bad)
    assert bad_response.status_code == 400
    await create(client, "cat", headers=bad)
    assert len(mock.paid_jobs) == 2


async def test_idempotent_remix(client: httpx.AsyncClient, mock: MockDeerAPI) -> None:
    source = mock.add_video()
    url = f"/v1/videos/{source.id}/remix"
    headers = {"Idempotency-Key": "remix-1"}
    first = await client.post(url, json={"prompt": "x"}, headers=headers)
    second = await client.post(url, json={"prompt": "x"}, headers=headers)
    assert first.json()["id"] == second.json()["id"]
    assert set(second.json()) == REMIX_FIELDS
    assert (await client.post(url, json={"prompt": "y"}, headers=headers)).status_code == 409
    assert len(mock.paid_jobs) == 1
    # once the job is deleted the key answers 409 (never an id that answers 404, never a new job)
    await client.delete(f"/v1/videos/{first.json()['id']}")
    again = await client.post(url, json={"prompt": "x"}, headers=headers)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "idempotency_key_job_deleted"
    assert len(mock.paid_jobs) == 1


async def test_request_log_and_ids(client: httpx.AsyncClient, mock: MockDeerAPI) -> None:
    response = await client.get("/v1/videos")
    (entry,) = mock.requests
    assert entry == ("GET", "/v1/videos", 200, response.headers["x-request-id"])
    await create(client)
    assert [r.status for r in mock.requests_for("createVideo")] == [200]
    ids = {r.request_id for r in mock.requests}
    assert len(ids) == 2 and all(len(i) == 36 for i in ids)


async def test_seeded_ids_are_deterministic() -> None:
    ids = []
    for _ in range(2):
        mock = MockDeerAPI(seed=7)
        ids.append(mock.add_video().id)
    assert ids[0] == ids[1]
    assert MockDeerAPI(seed=None).add_video().id != MockDeerAPI(seed=None).add_video().id
