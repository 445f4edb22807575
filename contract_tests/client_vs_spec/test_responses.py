"""Every response body openapi.yaml allows parses, through the client, into typed objects that
round-trip, with no deviation recorded; error envelopes become the right exception with their
fields. Bodies the spec forbids: without a usable ``id``/``status`` (the spec's ``required``) a
DeerAPIError, never an unrelated crash (KeyError, TypeError, AttributeError, ...); any other
forbidden field is read leniently and recorded as a deviation at that field (the tolerant reader).

Bodies are generated from the spec's schemas (Video, VideoList, DeletedVideo, ErrorResponse) and
served by a respx router behind an ``httpx.MockTransport``.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
import yaml
from deerapi_videos import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    DeerAPIError,
    DeletedVideo,
    InternalServerError,
    JobMayExistError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    Video,
    VideoStatus,
)
from hypothesis import given
from hypothesis import strategies as st

from contract_tests.client_vs_spec._clients import FLAVOURS, VIDEO, call, json_answer
from contract_tests.client_vs_spec._support import body_strategy, errors_of, examples, validator
from contract_tests.paths import SPEC_PATH

SPEC: dict[str, Any] = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
VIDEO_BODIES = body_strategy(SPEC, "Video")
LIST_BODIES = body_strategy(SPEC, "VideoList")
DELETED_BODIES = body_strategy(SPEC, "DeletedVideo")
ERROR_BODIES = body_strategy(SPEC, "ErrorResponse")
VIDEO_VALIDATOR = validator(SPEC, "Video")

BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    410: APIStatusError,  # content gone; ContentExpiredError only once the job shows it expired
    429: RateLimitError,
    500: InternalServerError,
    502: InternalServerError,
    503: InternalServerError,
}
# operation -> (client method, args, spec path, spec method)
OPERATIONS: dict[str, tuple[str, tuple[Any, ...], str, str]] = {
    "createVideo": ("create", (), "/v1/videos", "post"),
    "listVideos": ("list", (), "/v1/videos", "get"),
    "retrieveVideo": ("retrieve", ("video_1",), "/v1/videos/{video_id}", "get"),
    "deleteVideo": ("delete", ("video_1",), "/v1/videos/{video_id}", "delete"),
    "downloadVideoContent": (
        "download_content",
        ("video_1",),
        "/v1/videos/{video_id}/content",
        "get",
    ),
    "remixVideo": ("remix", ("video_1",), "/v1/videos/{video_id}/remix", "post"),
}
DOCUMENTED_ERRORS = [
    (op, int(status))
    for op, (_, _, path, method) in OPERATIONS.items()
    for status in SPEC["paths"][path][method]["responses"]
    if status.startswith(("4", "5"))
]


def _router(**routes: Any) -> respx.MockRouter:
    router = respx.MockRouter(base_url="https://api.deerapi.com", assert_all_called=False)
    for name, response in routes.items():
        if name == "video":
            router.get(path__regex=r"^/v1/videos/[^/]+$").mock(return_value=response)
            router.post(path__regex=r"^/v1/videos(/[^/]+/remix)?$").mock(return_value=response)
        elif name == "list":
            router.get(path="/v1/videos").mock(side_effect=response)
        elif name == "delete":
            router.delete(path__regex=r"^/v1/videos/[^/]+$").mock(return_value=response)
        elif name == "any":
            router.route().mock(side_effect=response)
    return router


def _handler(router: respx.MockRouter) -> Any:
    return router.handler


def _assert_video(video: Any, body: dict[str, Any]) -> None:
    assert isinstance(video, Video)
    assert video.to_dict() == body, "every field, extra ones included, round-trips"
    assert isinstance(video.id, str) and video.id
    if "created_at" in body:
        assert isinstance(video.created_at, int)
    if "progress" in body:
        assert isinstance(video.progress, int) and 0 <= video.progress <= 100
    status = video.status.value if isinstance(video.status, VideoStatus) else video.status
    assert status == body["status"]
    assert video.additional_properties == {
        k: v for k, v in body.items() if k not in Video.__annotations__ and k != "object"
    }


# -- bodies the spec allows ----------------------------------------------------------------------


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("method", ["retrieve", "create", "remix"])
@examples(30)
@given(body=VIDEO_BODIES)
def test_every_allowed_video_parses_and_round_trips(flavour: str, method: str, body: Any) -> None:
    assert errors_of(VIDEO_VALIDATOR, body) == []
    router = _router(video=json_answer(200, body))
    args: tuple[Any, ...] = ("video_1",) if method in ("retrieve", "remix") else ()
    kwargs = {"prompt": "cat"} if method in ("create", "remix") else {}
    deviations: list[Any] = []
    video = call(flavour, _handler(router), method, *args, deviations=deviations, **kwargs)
    _assert_video(video, body)
    assert deviations == [], "a body the spec allows is no deviation"


@pytest.mark.parametrize("flavour", FLAVOURS)
@examples(30)
@given(body=LIST_BODIES)
def test_every_allowed_list_page_parses(flavour: str, body: Any) -> None:
    seen: list[httpx.Request] = []
    last = {"object": "list", "data": [], "has_more": False}

    def pages(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return json_answer(200, body if len(seen) == 1 else last)

    deviations: list[Any] = []
    videos = call(flavour, _handler(_router(list=pages)), "list", deviations=deviations)
    assert deviations == []
    assert len(videos) == len(body["data"])
    for video, item in zip(videos, body["data"], strict=True):
        _assert_video(video, item)
    if (
        body.get("has_more") is not False
        and body["data"]
        and (body.get("has_more") is True or body.get("last_id"))
    ):
        # The next page continues after the last id the page named (or its last video).
        assert len(seen) == 2
        cursor = body.get("last_id") or body["data"][-1]["id"]
        assert seen[1].url.params["after"] == cursor
    else:
        assert len(seen) == 1


@pytest.mark.parametrize("flavour", FLAVOURS)
@examples(20)
@given(body=DELETED_BODIES)
def test_every_allowed_delete_answer_parses(flavour: str, body: Any) -> None:
    result = call(flavour, _handler(_router(delete=json_answer(200, body))), "delete", "video_1")
    assert isinstance(result, DeletedVideo)
    assert result.to_dict() == body


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize(
    ("operation", "status"), DOCUMENTED_ERRORS, ids=[f"{o}-{s}" for o, s in DOCUMENTED_ERRORS]
)
@examples(4)
@given(body=ERROR_BODIES, request_id=st.from_regex(r"req_[a-z0-9]{1,20}", fullmatch=True))
def test_every_documented_error_maps_to_its_class(
    flavour: str, operation: str, status: int, body: Any, request_id: str
) -> None:
    method, args, _, _ = OPERATIONS[operation]

    def answer(request: httpx.Request) -> httpx.Response:
        if (
            request.method == "GET"
            and not request.url.path.endswith("/content")
            and operation == "downloadVideoContent"
        ):
            return json_answer(200, VIDEO)  # the client's follow-up read after a 409
        return json_answer(status, body, {"x-request-id": request_id})

    kwargs: dict[str, Any] = {"prompt": "cat"} if method in ("create", "remix") else {}
    with tempfile.TemporaryDirectory() as tmp:
        if method == "download_content":
            args = (*args, Path(tmp) / "out.mp4")
        with pytest.raises(DeerAPIError) as info:
            call(flavour, answer, method, *args, **kwargs)
        if method == "download_content":
            assert list(Path(tmp).iterdir()) == [], "a failed download leaves no file"
    error = info.value
    if method in ("create", "remix") and status in (500, 502):
        assert isinstance(error, JobMayExistError), "a 500/502 on a POST may have started a job"
        assert error.status_code == status and error.request_id == request_id
        assert error.idempotency_key
        error = error.cause
    assert type(error) is BY_STATUS[status]
    assert isinstance(error, APIStatusError)
    detail = body["error"]
    assert error.status_code == status
    assert error.request_id == request_id
    if detail["message"]:
        assert error.error_message == detail["message"]
    else:
        assert error.error_message, "an empty message still gives a useful one"
    assert error.type == (detail.get("type") or None)
    assert error.param == (detail.get("param") or None)
    assert error.code == (detail.get("code") or None)


# -- bodies the spec forbids ---------------------------------------------------------------------

REQUIRED = SPEC["components"]["schemas"]["Video"]["required"]
WRONG_TYPES: dict[str, list[Any]] = {
    "id": [None, 7, "", ["video_1"]],
    "object": [None, 1, {"a": 1}],
    "created_at": [None, "1758941485", 1.5, True, []],
    "status": [None, 3, {"state": "queued"}],
    "model": [None, 2, ["sora-2"]],
    "progress": [None, "50", -1, 101, 12.5, False],
    "seconds": [None, 4, ["4"]],
    "size": [None, 720, {"w": 720}],
    "completed_at": ["soon", 1.5, {}],
    "error": ["boom", 5, {"code": "x"}, {"code": 1, "message": "m"}],
    "expires_at": ["later", [], 2.5],
    "remixed_from_video_id": [5, {}, []],
    "prompt": [5, [], {}],
}


@st.composite
def videos_missing_a_required_field(draw: st.DrawFn) -> Any:
    body = dict(draw(VIDEO_BODIES))
    del body[draw(st.sampled_from(REQUIRED))]
    assert errors_of(VIDEO_VALIDATOR, body) != [], body
    return body


@st.composite
def videos_with_a_wrong_type(draw: st.DrawFn) -> Any:
    body = dict(draw(VIDEO_BODIES))
    name = draw(st.sampled_from(sorted(WRONG_TYPES)))
    body[name] = draw(st.sampled_from(WRONG_TYPES[name]))
    assert errors_of(VIDEO_VALIDATOR, body) != [], body
    return body


forbidden_videos = st.one_of(videos_missing_a_required_field(), videos_with_a_wrong_type())


NOT_A_VIDEO = [
    b"",
    b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
    b'{"id": "video_1", "object": "vid',
    b"[]",
    b"null",
    b'"video"',
    b"42",
    b'{"error": {"message": "200 but an error"}}',
    b"\xff\xfe\x00garbage",
]


def _expect_clear_error(flavour: str, method: str, response: httpx.Response) -> DeerAPIError:
    args: tuple[Any, ...] = ("video_1",) if method in ("retrieve", "remix") else ()
    kwargs = {"prompt": "cat"} if method in ("create", "remix") else {}
    try:
        result = call(flavour, lambda request: response, method, *args, **kwargs)
    except DeerAPIError as exc:
        assert str(exc), "the error says what went wrong"
        if method in ("create", "remix"):
            assert isinstance(exc, JobMayExistError), "a 200 to a POST means the job may exist"
        return exc
    raise AssertionError(f"an unusable body was accepted: {result!r}")


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("method", ["retrieve", "create"])
@pytest.mark.parametrize("content", NOT_A_VIDEO, ids=range(len(NOT_A_VIDEO)))
def test_non_video_bodies_give_a_clear_error(flavour: str, method: str, content: bytes) -> None:
    _expect_clear_error(
        flavour,
        method,
        httpx.Response(200, content=content, headers={"content-type": "application/json"}),
    )


@pytest.mark.parametrize("flavour", FLAVOURS)
@examples(30)
@given(body=forbidden_videos)
def test_videos_the_spec_forbids_never_crash_the_client(flavour: str, body: Any) -> None:
    """Never an unrelated crash: whatever happens is a result or a DeerAPIError."""
    with contextlib.suppress(DeerAPIError):
        call(flavour, lambda request: json_answer(200, body), "retrieve", "video_1")


@pytest.mark.parametrize("flavour", FLAVOURS)
@examples(20)
@given(body=videos_missing_a_required_field())
def test_videos_missing_a_required_field_are_rejected(flavour: str, body: Any) -> None:
    _expect_clear_error(flavour, "retrieve", json_answer(200, body))


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_wrong_typed_fields_are_refused_only_where_the_client_needs_them(flavour: str) -> None:
    """One forbidden value at a time, in an otherwise valid video: a wrong ``id``/``status`` is
    a clear error; anything else is returned, with a deviation recorded at that field."""
    wrong = []
    for name, values in WRONG_TYPES.items():
        for value in values:
            body = {**VIDEO, name: value}
            assert errors_of(VIDEO_VALIDATOR, body) != []
            if name in REQUIRED:
                try:
                    _expect_clear_error(flavour, "retrieve", json_answer(200, body))
                except AssertionError:
                    wrong.append(f"{name}={value!r} accepted")
                continue
            deviations: list[Any] = []
            try:
                video = call(
                    flavour,
                    lambda request, body=body: json_answer(200, body),
                    "retrieve",
                    "video_1",
                    deviations=deviations,
                )
            except DeerAPIError as exc:
                wrong.append(f"{name}={value!r} refused: {exc}")
                continue
            if video.id != VIDEO["id"] or [d.path.split(".")[0] for d in deviations] != [name]:
                wrong.append(f"{name}={value!r}: deviations {[str(d) for d in deviations]}")
    assert wrong == [], wrong


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize(
    "body",
    [
        {"object": "list", "has_more": False},
        {"object": "list", "data": None, "has_more": False},
        {"object": "list", "data": [{"id": "v"}], "has_more": False},
        {"object": "list", "data": "[]", "has_more": False},
        [],
    ],
    ids=range(5),
)
def test_list_pages_without_usable_data_give_a_clear_error(flavour: str, body: Any) -> None:
    with pytest.raises(DeerAPIError):
        call(flavour, lambda request: json_answer(200, body), "list")


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize(
    "body",
    [
        {"id": "v", "object": "video.deleted"},
        {"id": 1, "object": "video.deleted", "deleted": True},
        "ok",
        {},
    ],
    ids=range(4),
)
def test_delete_answers_without_id_or_deleted_give_a_clear_error(flavour: str, body: Any) -> None:
    with pytest.raises(DeerAPIError):
        call(flavour, lambda request: json_answer(200, body), "delete", "video_1")


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("status", [400, 404, 429, 500, 502, 503])
@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"<html><title>Gateway Timeout</title><body>upstream</body></html>",
        b"{not json",
        b'{"error": 5}',
        b"[1,2]",
    ],
    ids=["empty", "html", "broken-json", "error-not-object", "array"],
)
def test_error_bodies_the_spec_forbids_still_map_to_the_status_class(
    flavour: str, status: int, content: bytes
) -> None:
    answer = httpx.Response(
        status, content=content, headers={"content-type": "text/html", "x-request-id": "req_9"}
    )
    with pytest.raises(APIStatusError) as info:
        call(flavour, lambda request: answer, "retrieve", "video_1")
    assert type(info.value) is BY_STATUS[status]
    assert info.value.request_id == "req_9"
    assert info.value.error_message
    if b"<title>" in content:
        assert "Gateway Timeout" in info.value.error_message


@pytest.mark.parametrize("name", ["Video", "VideoList", "DeletedVideo", "ErrorResponse"])
def test_generated_bodies_are_what_the_spec_allows(name: str) -> None:
    """Sanity: the strategies produce schema-valid bodies (so a failure above is the client's)."""
    v = validator(SPEC, name)

    @examples(20)
    @given(body=body_strategy(SPEC, name))
    def check(body: Any) -> None:
        assert errors_of(v, body) == []
        json.dumps(body)

    check()
