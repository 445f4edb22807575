"""2xx bodies the spec forbids: a ``ResponseValidationError`` naming the field, never a typed
object with a wrong-typed field inside, never an unrelated crash (sync and async).

For POST create/remix the error is a ``JobResponseValidationError``: also a ``JobMayExistError``,
because a success answer means the paid job was started; it is never re-sent.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx
import yaml
from deerapi_videos import (
    DeerAPIError,
    DeletedVideo,
    JobMayExistError,
    JobResponseValidationError,
    ResponseValidationError,
    Video,
    VideoStatus,
)
from deerapi_videos._response_check import VALUE_CONSTRAINTS, find_mismatch, unknown_annotations
from deerapi_videos_generated.models import VideoError, VideoList

from contract_tests.overlays.conftest import SECRET, video_json
from contract_tests.paths import SPEC_PATH

pytestmark = pytest.mark.asyncio

RID = {"x-request-id": "req_bad"}

# (field, value, expected path, words the "expected" text must hold, received)
WRONG: list[tuple[str, Any, str, str, str]] = [
    ("id", None, "id", "non-empty string", "null"),
    ("id", "", "id", "non-empty string", "an empty string"),
    ("id", 7, "id", "non-empty string", "an integer (7)"),
    ("object", {"a": 1}, "object", "a string", "an object"),
    ("created_at", "yesterday", "created_at", "an integer", "a string"),
    ("created_at", True, "created_at", "an integer", "a boolean (true)"),
    ("created_at", 1.5, "created_at", "an integer", "a number (1.5)"),
    ("status", 3, "status", "a string", "an integer (3)"),
    ("status", None, "status", "a string", "null"),
    ("model", ["sora-2"], "model", "a string", "an array"),
    ("progress", "abc", "progress", "0 to 100", "a string"),
    ("progress", False, "progress", "0 to 100", "a boolean (false)"),
    ("progress", -1, "progress", "0 to 100", "an integer (-1)"),
    ("progress", 101, "progress", "0 to 100", "an integer (101)"),
    ("progress", 12.5, "progress", "0 to 100", "a number (12.5)"),
    ("seconds", 4, "seconds", "a string", "an integer (4)"),
    ("size", 720, "size", "a string", "an integer (720)"),
    ("completed_at", "soon", "completed_at", "an integer or null", "a string"),
    ("expires_at", [], "expires_at", "an integer or null", "an array"),
    ("error", "boom", "error", "VideoError", "a string"),
    ("error", {"code": "x"}, "error.message", "a string", "missing"),
    ("error", {"code": 1, "message": "m"}, "error.code", "a string", "an integer (1)"),
    ("remixed_from_video_id", 5, "remixed_from_video_id", "string", "an integer (5)"),
    ("prompt", {}, "prompt", "string", "an object"),
]


@pytest.mark.parametrize(
    ("name", "value", "path", "expected", "received"),
    [pytest.param(*w, id=f"{w[0]}={w[1]!r}") for w in WRONG],
)
async def test_a_video_with_a_wrong_type_is_a_clear_error(
    api: Any,
    mock: respx.MockRouter,
    name: str,
    value: Any,
    path: str,
    expected: str,
    received: str,
) -> None:
    route = mock.get("/v1/videos/video_1").mock(
        return_value=httpx.Response(200, json=video_json(**{name: value}), headers=RID)
    )
    with pytest.raises(ResponseValidationError) as info:
        await api.videos.retrieve("video_1")
    e = info.value
    assert type(e) is ResponseValidationError and not isinstance(e, JobMayExistError)
    assert (e.path, e.received, e.model) == (path, received, "Video")
    assert expected in e.expected
    assert (e.operation, e.status_code, e.request_id) == ("GET /v1/videos/video_1", 200, "req_bad")
    assert e.idempotency_key is None and e.job_started is False
    text = str(e)
    assert repr(path) in text and e.expected in text and received in text
    assert "GET /v1/videos/video_1" in text and "req_bad" in text
    assert route.call_count == 1, "a malformed answer is the server's answer: not retried"


@pytest.mark.parametrize(
    ("name", "value"),
    [("id", None), ("progress", "abc"), ("created_at", "yesterday"), ("error", {"code": "x"})],
)
async def test_polling_rejects_a_wrong_type_too(
    api: Any, mock: respx.MockRouter, name: str, value: Any
) -> None:
    mock.get("/v1/videos/video_1").mock(
        side_effect=[
            httpx.Response(200, json=video_json(status="in_progress", progress=5)),
            httpx.Response(200, json=video_json(status="failed", **{name: value})),
        ]
    )
    with pytest.raises(ResponseValidationError) as info:
        await api.videos.poll("video_1")
    assert info.value.path.startswith(name)


MISSING = ["id", "object", "created_at", "status", "model", "progress", "seconds", "size"]


@pytest.mark.parametrize("name", MISSING)
async def test_a_video_missing_a_required_field_names_it(
    api: Any, mock: respx.MockRouter, name: str
) -> None:
    body = video_json()
    del body[name]
    mock.get("/v1/videos/video_1").mock(return_value=httpx.Response(200, json=body))
    with pytest.raises(ResponseValidationError) as info:
        await api.videos.retrieve("video_1")
    assert (info.value.path, info.value.received) == (name, "missing")


NOT_AN_OBJECT: list[tuple[str, bytes, str]] = [
    ("empty", b"", "an empty body"),
    ("spaces", b"  \n", "an empty body"),
    ("html", b"<html><title>ok</title></html>", "not JSON"),
    ("truncated", b'{"id": "video_1", "obj', "not JSON"),
    ("not-utf8", b"\xff\xfe\x00garbage", "not JSON"),
    ("list", b"[]", "an array"),
    ("null", b"null", "null"),
    ("string", b'"video"', "a string"),
    ("number", b"42", "an integer (42)"),
    ("error-envelope", b'{"error": {"message": "200 but an error"}}', "missing"),
]


@pytest.mark.parametrize(
    ("content", "received"), [pytest.param(c, r, id=i) for i, c, r in NOT_AN_OBJECT]
)
async def test_a_body_that_is_not_a_video_object_is_a_clear_error(
    api: Any, mock: respx.MockRouter, content: bytes, received: str
) -> None:
    mock.get("/v1/videos/video_1").mock(
        return_value=httpx.Response(
            200, content=content, headers={"content-type": "application/json", **RID}
        )
    )
    with pytest.raises(ResponseValidationError) as info:
        await api.videos.retrieve("video_1")
    assert received in info.value.received
    assert info.value.request_id == "req_bad"
    assert "not a Video" in str(info.value)


@pytest.mark.parametrize("operation", ["create", "remix"])
@pytest.mark.parametrize(
    "content",
    [
        b"[]",
        b"<html>ok</html>",
        b'{"id": "video_1"}',
        httpx.Response(200, json=video_json(created_at="yesterday")).content,
        httpx.Response(200, json=video_json(id="")).content,
    ],
    ids=["list", "html", "missing", "wrong-type", "empty-id"],
)
async def test_a_post_whose_success_cannot_be_read_says_the_job_started(
    api: Any, mock: respx.MockRouter, operation: str, content: bytes
) -> None:
    path = "/v1/videos" if operation == "create" else "/v1/videos/video_0/remix"
    route = mock.post(path).mock(return_value=httpx.Response(200, content=content, headers=RID))
    with pytest.raises(JobResponseValidationError) as info:
        if operation == "create":
            await api.videos.create(prompt="a cat")
        else:
            await api.videos.remix("video_0", prompt="a bow")
    e = info.value
    assert isinstance(e, JobMayExistError) and isinstance(e, ResponseValidationError)
    assert route.call_count == 1, "a job was started: never re-sent"
    sent_key = route.calls[0].request.headers["Idempotency-Key"]
    assert e.idempotency_key == sent_key and sent_key in str(e)
    assert e.job_started is True and e.request_id == "req_bad" and e.status_code == 200
    assert e.operation == f"POST {path}"
    assert "job was started" in str(e) and "videos.list()" in str(e)
    assert type(e.cause) is ResponseValidationError and e.__cause__ is e.cause
    assert e.cause.path == e.path and e.cause.idempotency_key == sent_key


async def test_a_post_with_a_caller_key_carries_it(api: Any, mock: respx.MockRouter) -> None:
    mock.post("/v1/videos").mock(return_value=httpx.Response(200, json={"object": "video"}))
    with pytest.raises(JobResponseValidationError) as info:
        await api.videos.create(prompt="a cat", idempotency_key="my-key-1")
    assert info.value.idempotency_key == "my-key-1" and "my-key-1" in str(info.value)


LIST_BAD: list[tuple[Any, str, str]] = [
    ({"object": "list", "data": "notalist", "has_more": False}, "data", "a string"),
    ({"object": "list", "data": None, "has_more": False}, "data", "null"),
    ({"object": "list", "has_more": False}, "data", "missing"),
    ({"object": "list", "data": [], "has_more": "no"}, "has_more", "a string"),
    ({"object": "list", "data": [], "has_more": False, "last_id": 5}, "last_id", "an integer (5)"),
    (
        {"object": "list", "data": [video_json(), video_json(progress="x")], "has_more": False},
        "data[1].progress",
        "a string",
    ),
    ({"object": "list", "data": [{"id": "v"}], "has_more": False}, "data[0].object", "missing"),
    ([], "", "an array"),
]


@pytest.mark.parametrize(("body", "path", "received"), LIST_BAD, ids=range(len(LIST_BAD)))
async def test_a_list_page_the_spec_forbids_names_the_field(
    api: Any, mock: respx.MockRouter, body: Any, path: str, received: str
) -> None:
    mock.get("/v1/videos").mock(return_value=httpx.Response(200, json=body))
    with pytest.raises(ResponseValidationError) as info:
        await api.videos.list()
    assert (info.value.path, info.value.received, info.value.model) == (path, received, "VideoList")


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"id": 1, "object": "video.deleted", "deleted": True}, "id"),
        ({"id": "v", "object": "video.deleted", "deleted": "yes"}, "deleted"),
        ({"id": "v", "object": "video.deleted"}, "deleted"),
        ("ok", ""),
    ],
)
async def test_a_delete_answer_the_spec_forbids_names_the_field(
    api: Any, mock: respx.MockRouter, body: Any, path: str
) -> None:
    mock.delete("/v1/videos/video_1").mock(return_value=httpx.Response(200, json=body))
    with pytest.raises(ResponseValidationError) as info:
        await api.videos.delete("video_1")
    assert info.value.path == path and info.value.model == "DeletedVideo"


async def test_what_the_spec_allows_still_parses(api: Any, mock: respx.MockRouter) -> None:
    body = video_json(
        status="rendering_magic",  # unknown status: a plain string
        model="sora-3-ultra",  # unknown model: a plain string
        progress=100,
        completed_at=None,
        expires_at=1758945085,
        error={"code": "blocked", "message": "no", "extra": [1, {"deep": None}]},
        prompt=None,
        remixed_from_video_id="video_0",
        anything_else={"nested": [1, "two", None]},
        also=None,
    )
    mock.get("/v1/videos/video_1").mock(return_value=httpx.Response(200, json=body))
    video = await api.videos.retrieve("video_1")
    assert isinstance(video, Video) and video.to_dict() == body
    assert video.status == "rendering_magic" and not isinstance(video.status, VideoStatus)
    assert isinstance(video.error, VideoError) and video.error.additional_properties == {
        "extra": [1, {"deep": None}]
    }
    mock.get("/v1/videos").mock(
        return_value=httpx.Response(
            200,
            json={
                "object": "list",
                "data": [video_json(progress=0), body],
                "has_more": False,
                "first_id": None,
            },
        )
    )
    assert [v.id for v in await api.videos.list()] == ["video_1", "video_1"]
    mock.delete("/v1/videos/video_1").mock(
        return_value=httpx.Response(200, json={"id": "video_1", "object": "x", "deleted": False})
    )
    assert isinstance(await api.videos.delete("video_1"), DeletedVideo)


async def test_the_error_never_echoes_text_from_the_body(
    api: Any, mock: respx.MockRouter, logs: pytest.LogCaptureFixture
) -> None:
    body = video_json(created_at=f"Bearer {SECRET}", status={"k": SECRET})
    mock.get("/v1/videos/video_1").mock(return_value=httpx.Response(200, json=body, headers=RID))
    with pytest.raises(DeerAPIError) as info:
        await api.videos.retrieve("video_1")
    assert SECRET not in str(info.value) and SECRET not in repr(info.value.__dict__)
    assert SECRET not in logs.text
    assert "req_bad" in logs.text, "the failure is logged with its request id"


async def test_every_response_annotation_is_understood() -> None:
    """A regenerated model with a kind of field the checker does not know fails here first."""
    for model in (Video, VideoList, DeletedVideo):
        find_mismatch(model, {})
    assert unknown_annotations() == frozenset()


async def test_value_constraints_mirror_the_spec() -> None:
    spec = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))["components"]["schemas"]
    found = set()
    for name in ("Video", "VideoList", "DeletedVideo", "VideoError"):
        for key, prop in spec[name].get("properties", {}).items():
            if {"minLength", "maxLength", "minimum", "maximum", "pattern"} & set(prop):
                found.add((name, key))
    assert found == set(VALUE_CONSTRAINTS)
    check_id, _ = VALUE_CONSTRAINTS[("Video", "id")]
    check_progress, _ = VALUE_CONSTRAINTS[("Video", "progress")]
    minimum = spec["Video"]["properties"]["progress"]["minimum"]
    maximum = spec["Video"]["properties"]["progress"]["maximum"]
    assert check_progress(minimum) and check_progress(maximum)
    assert not check_progress(minimum - 1) and not check_progress(maximum + 1)
    assert spec["Video"]["properties"]["id"]["minLength"] == 1 and not check_id("")
