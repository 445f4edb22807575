"""2xx bodies and the tolerant reader (sync and async).

The client needs ``id`` and ``status`` (a list page: ``data``; a deletion: ``id`` and
``deleted``). A body without them, or that is not a JSON object, is a ``ResponseValidationError``
naming the field, never an unrelated crash; for POST create/remix a ``JobResponseValidationError``
(also a ``JobMayExistError``: a success answer means the paid job was started; never re-sent).
Every other difference from the spec is read leniently: the answer is returned, the difference
is logged once and kept in ``client.response_deviations``, and a paid job never turns into an
error because of it.
"""

from __future__ import annotations

import logging
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
    PollTimeoutError,
    ResponseDeviation,
    ResponseValidationError,
    Video,
    VideoStatus,
)
from deerapi_videos._response_check import VALUE_CONSTRAINTS, find_mismatch, unknown_annotations
from deerapi_videos_generated.models import VideoError, VideoList
from deerapi_videos_generated.types import Unset

from contract_tests.overlays.conftest import SECRET, video_json
from contract_tests.paths import SPEC_PATH

pytestmark = pytest.mark.asyncio

RID = {"x-request-id": "req_bad"}

# A missing or unusable ``id``/``status``: (field, value, expected path, words the "expected"
# text must hold, received).
UNUSABLE: list[tuple[str, Any, str, str, str]] = [
    ("id", None, "id", "non-empty string", "null"),
    ("id", "", "id", "non-empty string", "an empty string"),
    ("id", 7, "id", "non-empty string", "an integer (7)"),
    ("status", 3, "status", "a string", "an integer (3)"),
    ("status", None, "status", "a string", "null"),
    ("status", {"state": "queued"}, "status", "a string", "an object"),
]


@pytest.mark.parametrize(
    ("name", "value", "path", "expected", "received"),
    [pytest.param(*w, id=f"{w[0]}={w[1]!r}") for w in UNUSABLE],
)
async def test_a_video_without_a_usable_id_or_status_is_a_clear_error(
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
    assert route.call_count == 1, "an unusable answer is the server's answer: not retried"


# Every other field the spec types, with a value it forbids: (field, value, deviation path,
# expected, received, action, what the typed attribute holds afterwards).
_SET_ASIDE = "set aside"
LENIENT: list[tuple[str, Any, str, str, str, str, Any]] = [
    ("object", {"a": 1}, "object", "a string", "an object", _SET_ASIDE, Unset),
    ("created_at", "yesterday", "created_at", "an integer", "a string", _SET_ASIDE, Unset),
    ("created_at", True, "created_at", "an integer", "a boolean (true)", _SET_ASIDE, Unset),
    ("created_at", 1.5, "created_at", "an integer", "a number (1.5)", "coerced to 1", 1),
    ("model", ["sora-2"], "model", "a string", "an array", _SET_ASIDE, Unset),
    ("progress", "abc", "progress", "an integer", "a string", _SET_ASIDE, Unset),
    ("progress", False, "progress", "an integer", "a boolean (false)", _SET_ASIDE, Unset),
    ("progress", -1, "progress", "0 to 100", "an integer (-1)", "kept", -1),
    ("progress", 101, "progress", "0 to 100", "an integer (101)", "kept", 101),
    ("progress", 12.5, "progress", "an integer", "a number (12.5)", "coerced to 12", 12),
    ("seconds", 4, "seconds", "a string", "an integer (4)", _SET_ASIDE, Unset),
    ("size", 720, "size", "a string", "an integer (720)", _SET_ASIDE, Unset),
    ("completed_at", "soon", "completed_at", "an integer or null", "a string", _SET_ASIDE, Unset),
    ("expires_at", [], "expires_at", "an integer or null", "an array", _SET_ASIDE, Unset),
    ("error", "boom", "error", "VideoError", "a string", _SET_ASIDE, Unset),
    ("error", {"code": "x"}, "error.message", "a string", "missing", _SET_ASIDE, Unset),
    ("error", {"code": 1, "message": "m"}, "error.code", "a string", "an integer (1)", "", None),
    ("remixed_from_video_id", 5, "remixed_from_video_id", "string", "an integer (5)", "", Unset),
    ("prompt", {}, "prompt", "string", "an object", _SET_ASIDE, Unset),
]


@pytest.mark.parametrize(
    ("name", "value", "path", "expected", "received", "action", "typed"),
    [pytest.param(*w, id=f"{w[0]}={w[1]!r}") for w in LENIENT],
)
async def test_a_video_with_another_wrong_field_is_read_leniently_and_recorded(
    api: Any,
    mock: respx.MockRouter,
    logs: pytest.LogCaptureFixture,
    name: str,
    value: Any,
    path: str,
    expected: str,
    received: str,
    action: str,
    typed: Any,
) -> None:
    body = video_json(status="in_progress", **{name: value})
    mock.get("/v1/videos/video_1").mock(return_value=httpx.Response(200, json=body, headers=RID))
    for _ in range(3):
        video = await api.videos.retrieve("video_1")
    assert isinstance(video, Video) and video.id == "video_1"
    assert video.status is VideoStatus.IN_PROGRESS
    (deviation,) = api.client.response_deviations
    assert isinstance(deviation, ResponseDeviation)
    assert (deviation.model, deviation.path, deviation.received) == ("Video", path, received)
    assert expected in deviation.expected
    assert deviation.operation == "GET /v1/videos/video_1"
    assert deviation.action == (action or _SET_ASIDE)
    attribute = "object_" if name == "object" else name
    held = getattr(video, attribute)
    if typed is Unset:
        assert isinstance(held, Unset)
    elif typed is None:  # the nested error lost only its code
        assert isinstance(held, VideoError) and held.message == "m"
        assert held.additional_properties == {"code": 1}
    else:
        assert held == typed
    if deviation.action == _SET_ASIDE and "." not in path:
        assert video.additional_properties[name] == value, "the value is kept, under its key"
    if "coerced" not in deviation.action:
        assert video.to_dict() == body, "what the server sent round-trips"
    warnings = [r for r in logs.records if r.levelno == logging.WARNING and "differs" in r.message]
    assert len(warnings) == 1, "logged once however often it is seen"
    assert "req_bad" in warnings[0].message and f"Video.{path}" in warnings[0].message


@pytest.mark.parametrize(
    ("name", "value"),
    [("id", None), ("status", None), ("id", ""), ("status", {"state": "failed"})],
)
async def test_polling_reads_past_an_unreadable_answer_until_the_deadline(
    api: Any, mock: respx.MockRouter, name: str, value: Any
) -> None:
    # An unreadable answer inside poll may be a proxy's glitch: polling goes on, and at the
    # deadline PollTimeoutError carries the last unreadable answer as its cause.
    answers = iter([httpx.Response(200, json=video_json(status="in_progress", progress=5))])
    route = mock.get("/v1/videos/video_1").mock(
        side_effect=lambda request: next(
            answers, httpx.Response(200, json={**video_json(status="failed"), name: value})
        )
    )
    with pytest.raises(PollTimeoutError) as info:
        await api.videos.poll("video_1", timeout=30)
    cause = info.value.__cause__
    assert isinstance(cause, ResponseValidationError) and cause.path.startswith(name)
    assert info.value.video_id == "video_1"
    assert route.call_count > 2


async def test_polling_a_failed_job_with_a_malformed_error_still_ends_as_failed(
    api: Any, mock: respx.MockRouter
) -> None:
    from deerapi_videos import VideoFailedError

    mock.get("/v1/videos/video_1").mock(
        return_value=httpx.Response(
            200, json=video_json(status="failed", progress=7.5, error={"code": 5})
        )
    )
    with pytest.raises(VideoFailedError) as info:
        await api.videos.poll("video_1", timeout=30)
    assert info.value.status == "failed" and info.value.video_id == "video_1"


@pytest.mark.parametrize("name", ["id", "status"])
async def test_a_video_missing_id_or_status_names_it(
    api: Any, mock: respx.MockRouter, name: str
) -> None:
    body = video_json()
    del body[name]
    mock.get("/v1/videos/video_1").mock(return_value=httpx.Response(200, json=body))
    with pytest.raises(ResponseValidationError) as info:
        await api.videos.retrieve("video_1")
    assert (info.value.path, info.value.received) == (name, "missing")


@pytest.mark.parametrize("name", ["object", "created_at", "model", "progress", "seconds", "size"])
async def test_a_video_missing_another_field_parses_without_a_deviation(
    api: Any, mock: respx.MockRouter, name: str
) -> None:
    body = video_json()
    del body[name]
    mock.get("/v1/videos/video_1").mock(return_value=httpx.Response(200, json=body))
    video = await api.videos.retrieve("video_1")
    assert video.to_dict() == body
    assert isinstance(getattr(video, "object_" if name == "object" else name), Unset)
    assert api.client.response_deviations == [], "an absent optional field is not a deviation"


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
        httpx.Response(200, json=video_json(status=3)).content,
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


@pytest.mark.parametrize("operation", ["create", "remix"])
async def test_a_post_whose_answer_only_deviates_returns_the_job(
    api: Any, mock: respx.MockRouter, operation: str
) -> None:
    """A paid job with a readable id is never turned into an error by the rest of its shape."""
    path = "/v1/videos" if operation == "create" else "/v1/videos/video_0/remix"
    body = {"id": "video_9", "status": "queued", "progress": 0.0, "created_at": "now", "x": {}}
    mock.post(path).mock(return_value=httpx.Response(200, json=body, headers=RID))
    if operation == "create":
        video = await api.videos.create(prompt="a cat")
    else:
        video = await api.videos.remix("video_0", prompt="a bow")
    assert video.id == "video_9" and video.progress == 0
    assert {d.path for d in api.client.response_deviations} == {"progress", "created_at"}


async def test_a_post_with_a_caller_key_carries_it(api: Any, mock: respx.MockRouter) -> None:
    mock.post("/v1/videos").mock(return_value=httpx.Response(200, json={"object": "video"}))
    with pytest.raises(JobResponseValidationError) as info:
        await api.videos.create(prompt="a cat", idempotency_key="my-key-1")
    assert info.value.idempotency_key == "my-key-1" and "my-key-1" in str(info.value)


LIST_BAD: list[tuple[Any, str, str]] = [
    ({"object": "list", "data": "notalist", "has_more": False}, "data", "a string"),
    ({"object": "list", "data": None, "has_more": False}, "data", "null"),
    ({"object": "list", "has_more": False}, "data", "missing"),
    ({"object": "list", "data": [{"id": "v"}], "has_more": False}, "data[0].status", "missing"),
    ({"object": "list", "data": [video_json(), 5], "has_more": False}, "data[1]", "an integer (5)"),
    ([], "", "an array"),
]


@pytest.mark.parametrize(("body", "path", "received"), LIST_BAD, ids=range(len(LIST_BAD)))
async def test_a_list_page_without_usable_data_names_the_field(
    api: Any, mock: respx.MockRouter, body: Any, path: str, received: str
) -> None:
    mock.get("/v1/videos").mock(return_value=httpx.Response(200, json=body))
    with pytest.raises(ResponseValidationError) as info:
        await api.videos.list()
    assert (info.value.path, info.value.received, info.value.model) == (path, received, "VideoList")


LIST_LENIENT: list[tuple[Any, str]] = [
    ({"object": "list", "data": [], "has_more": "no"}, "has_more"),
    ({"object": "list", "data": [], "has_more": False, "last_id": 5}, "last_id"),
    (
        {"object": "list", "data": [video_json(), video_json(progress="x")], "has_more": False},
        "data[1].progress",
    ),
    ({"data": [video_json(progress=33.3)]}, "data[0].progress"),
]


@pytest.mark.parametrize(("body", "path"), LIST_LENIENT, ids=range(len(LIST_LENIENT)))
async def test_a_list_page_with_other_deviations_is_read(
    api: Any, mock: respx.MockRouter, body: Any, path: str
) -> None:
    route = mock.get("/v1/videos").mock(return_value=httpx.Response(200, json=body))
    videos = await api.videos.list()
    assert [v.id for v in videos] == [v["id"] for v in body["data"]]
    assert route.call_count == 1, "no has_more (or an unusable one) and no last_id: one page"
    assert [d.path for d in api.client.response_deviations] == [path]
    assert all(d.model == "VideoList" for d in api.client.response_deviations)


async def test_a_list_without_has_more_follows_its_last_id(
    api: Any, mock: respx.MockRouter
) -> None:
    """Gateways omit ``has_more``: a page naming its ``last_id`` is followed (openai-python's
    rule) until an empty page."""
    pages = iter(
        [
            {"data": [video_json("video_1")], "last_id": "video_1"},
            {"data": [video_json("video_2")], "last_id": "video_2"},
            {"data": []},
        ]
    )
    route = mock.get("/v1/videos").mock(
        side_effect=lambda request: httpx.Response(200, json=next(pages))
    )
    videos = await api.videos.list()
    assert [v.id for v in videos] == ["video_1", "video_2"]
    assert [c.request.url.params.get("after") for c in route.calls] == [None, "video_1", "video_2"]


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


@pytest.mark.parametrize("header", ["x-request-id", "x-oneapi-request-id"])
async def test_the_request_id_is_read_under_either_name(
    api: Any, mock: respx.MockRouter, header: str
) -> None:
    """OpenAI/DeerAPI send ``X-Request-Id``; one-api/new-api gateways ``X-Oneapi-Request-Id``."""
    mock.get("/v1/videos/video_1").mock(
        return_value=httpx.Response(200, json={"status": "queued"}, headers={header: "req_7"})
    )
    with pytest.raises(ResponseValidationError) as unusable:
        await api.videos.retrieve("video_1")
    assert unusable.value.request_id == "req_7"
    mock.get("/v1/videos/video_2").mock(
        return_value=httpx.Response(404, json={"error": {"message": "no"}}, headers={header: "r8"})
    )
    with pytest.raises(DeerAPIError) as missing:
        await api.videos.retrieve("video_2")
    assert getattr(missing.value, "request_id", None) == "r8"


async def test_a_deviation_is_logged_once_per_kind_not_per_value(
    api: Any, mock: respx.MockRouter, logs: pytest.LogCaptureFixture
) -> None:
    """A gateway's float progress changes on every read: one deviation, one log line."""
    answers = iter(
        [video_json(status="in_progress", progress=p) for p in (10.5, 20.25, 47.75)]
        + [video_json(status="completed", progress=100.0)]
    )
    mock.get("/v1/videos/video_1").mock(
        side_effect=lambda request: httpx.Response(200, json=next(answers))
    )
    video = await api.videos.poll("video_1", timeout=60)
    assert video.progress == 100
    (deviation,) = api.client.response_deviations
    assert (deviation.path, deviation.received) == ("progress", "a number (10.5)")
    assert api.client._ops.deviations.count(deviation) == 4
    lines = [r for r in logs.records if "differs from the spec" in r.getMessage()]
    assert len(lines) == 1
