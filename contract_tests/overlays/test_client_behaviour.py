"""Validation before sending, error mapping of non-JSON bodies, polling, and list pagination."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from deerapi_videos import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    DeerAPIError,
    InternalServerError,
    InvalidParameterError,
    NotFoundError,
    PermissionDeniedError,
    PollTimeoutError,
    RateLimitError,
    VideoFailedError,
)
from deerapi_videos._polling import MAX_ETA_WAIT

from contract_tests.builders import jpeg, png
from contract_tests.builders import webp as webp_vp8x

pytestmark = pytest.mark.asyncio


def webp_vp8l(width: int, height: int) -> bytes:
    bits = (width - 1) | ((height - 1) << 14)
    body = (
        b"WEBPVP8L" + (5).to_bytes(4, "little") + b"\x2f" + bits.to_bytes(4, "little") + b"\x00" * 8
    )
    return b"RIFF" + len(body).to_bytes(4, "little") + body


# -- validation -------------------------------------------------------------------------------

# (id, kwargs for create, the param named in the error, a value that must be in .allowed or None)
INVALID_CREATE: list[tuple[str, dict[str, Any], str, str | None]] = [
    ("empty-prompt", {"prompt": ""}, "prompt", None),
    ("space-prompt", {"prompt": " \t\r\n"}, "prompt", None),
    ("bytes-prompt", {"prompt": b"cat"}, "prompt", None),
    ("seconds-5", {"seconds": "5"}, "seconds", "4"),
    ("seconds-int-5", {"seconds": 5}, "seconds", "12"),
    ("seconds-bool", {"seconds": True}, "seconds", "8"),
    ("seconds-float", {"seconds": 4.0}, "seconds", "4"),
    ("size", {"size": "100x100"}, "size", "720x1280"),
    ("size-case", {"size": "720X1280"}, "size", "1280x720"),  # sora-2 (the default): no pro sizes
    ("model-empty", {"model": ""}, "model", "sora-2"),
    ("model-int", {"model": 2}, "model", "sora-2-pro"),
    ("gif", {"input_reference": b"GIF89a" + b"\x00" * 20}, "input_reference", "image/png"),
    ("text", {"input_reference": b"hello"}, "input_reference", "image/webp"),
    ("text-mode-file", {"input_reference": io.StringIO("x")}, "input_reference", None),
    (
        "mime-mismatch",
        {"input_reference": ("a.png", jpeg(720, 1280), "image/png")},
        "input_reference",
        None,
    ),
    (
        "mime-unknown",
        {"input_reference": ("a.png", png(720, 1280), "text/html")},
        "input_reference",
        "image/jpeg",
    ),
    ("png-size", {"size": "720x1280", "input_reference": png(1280, 720)}, "input_reference", None),
    (
        "jpeg-size",
        {"size": "720x1280", "input_reference": jpeg(1024, 1792)},
        "input_reference",
        None,
    ),
    (
        "webp-vp8x-size",
        {"size": "1280x720", "input_reference": webp_vp8x(720, 1280)},
        "input_reference",
        None,
    ),
    (
        "webp-vp8l-size",
        {"size": "1280x720", "input_reference": webp_vp8l(720, 1280)},
        "input_reference",
        None,
    ),
    ("missing-file", {"input_reference": Path("/nonexistent/frame.png")}, "input_reference", None),
    ("idempotency-key", {"idempotency_key": "has space"}, "idempotency_key", None),
    ("max-retries", {"max_retries": -1}, "max_retries", None),
]


@pytest.mark.parametrize(
    ("kwargs", "param", "allowed"), [pytest.param(k, p, a, id=i) for i, k, p, a in INVALID_CREATE]
)
async def test_invalid_create_is_refused_before_any_request(
    api: Any, mock: respx.MockRouter, kwargs: dict[str, Any], param: str, allowed: str | None
) -> None:
    kwargs = {"prompt": "a cat", **kwargs}
    with pytest.raises(InvalidParameterError) as info:
        await api.videos.create(**kwargs)
    assert info.value.param == param
    assert param in str(info.value)
    if allowed is not None:
        assert allowed in info.value.allowed
        assert allowed in str(info.value)
    assert isinstance(info.value, ValueError)
    assert len(mock.calls) == 0


@pytest.mark.parametrize(
    ("call", "param"),
    [
        (lambda v: v.download_content("video_1", "x.mp4", variant="gif"), "variant"),
        (lambda v: v.list(order="up"), "order"),
        (lambda v: v.list(limit=0), "limit"),
        (lambda v: v.list(limit=101), "limit"),
        (lambda v: v.retrieve(""), "video_id"),
        (lambda v: v.delete("  "), "video_id"),
        (lambda v: v.remix("video_1", prompt=""), "prompt"),
        (lambda v: v.poll("video_1", timeout=-1), "timeout"),
        (lambda v: v.retrieve("video_1", timeout=0), "timeout"),
    ],
)
async def test_other_invalid_arguments_send_nothing(
    api: Any, mock: respx.MockRouter, call: Any, param: str
) -> None:
    with pytest.raises(InvalidParameterError) as info:
        await call(api.videos)
    assert info.value.param == param
    assert len(mock.calls) == 0


@pytest.mark.parametrize(
    ("image", "size", "mime"),
    [
        (png(720, 1280), "720x1280", "image/png"),
        (jpeg(1792, 1024), "1792x1024", "image/jpeg"),
        (webp_vp8x(1024, 1792), "1024x1792", "image/webp"),
        (webp_vp8l(1280, 720), "1280x720", "image/webp"),
        (png(720, 1280), None, "image/png"),  # no size given: the model's default size
    ],
)
async def test_valid_images_and_int_seconds_are_sent(
    api: Any, mock: respx.MockRouter, video: Any, image: bytes, size: str | None, mime: str
) -> None:
    route = mock.post("/v1/videos").mock(return_value=httpx.Response(200, json=video()))
    await api.videos.create(
        prompt="a cat", model="sora-2-pro", seconds=12, size=size, input_reference=image
    )
    body = route.calls[0].request.content
    assert b'name="seconds"\r\nContent-Type: text/plain\r\n\r\n12\r\n' in body
    assert f"Content-Type: {mime}".encode() in body


async def test_caller_file_position_is_restored(
    api: Any, mock: respx.MockRouter, video: Any
) -> None:
    bad = io.BytesIO(b"prefix" + png(1280, 720))
    bad.seek(6)
    with pytest.raises(InvalidParameterError):
        await api.videos.create(prompt="a cat", size="720x1280", input_reference=bad)
    assert bad.tell() == 6, "a refused file object is not consumed"
    mock.post("/v1/videos").mock(return_value=httpx.Response(200, json=video()))
    good = io.BytesIO(png(720, 1280))
    await api.videos.create(prompt="a cat", size="720x1280", input_reference=good)
    assert good.tell() == 0


# -- errors from non-JSON bodies ----------------------------------------------------------------

HTML = "<html><head><title>502 Bad Gateway</title></head><body><h1>nginx</h1></body></html>"

ERROR_BODIES: list[tuple[str, int, str, dict[str, str], type[APIStatusError], str]] = [
    ("html-502", 502, HTML, {"content-type": "text/html"}, InternalServerError, "502 Bad Gateway"),
    ("empty-503", 503, "", {}, InternalServerError, "empty response body"),
    ("empty-401", 401, "", {}, AuthenticationError, "Unauthorized"),
    (
        "text-403",
        403,
        "forbidden by WAF",
        {"content-type": "text/plain"},
        PermissionDeniedError,
        "forbidden by WAF",
    ),
    (
        "html-no-title-404",
        404,
        "<p>Not <b>here</b></p>",
        {"content-type": "text/html"},
        NotFoundError,
        "Not here",
    ),
    (
        "json-not-envelope-409",
        409,
        '{"detail": "busy"}',
        {"content-type": "application/json"},
        ConflictError,
        "Conflict",
    ),
    ("json-string-error-400", 400, '{"error": "bad seconds"}', {}, BadRequestError, "bad seconds"),
    ("json-list-429", 429, "[1, 2]", {}, RateLimitError, "Too Many Requests"),
    ("teapot", 418, "", {}, APIStatusError, "I'm a teapot"),
]


@pytest.mark.parametrize(
    ("status", "body", "headers", "cls", "needle"),
    [pytest.param(*row[1:], id=row[0]) for row in ERROR_BODIES],
)
async def test_non_json_error_bodies(
    api: Any,
    mock: respx.MockRouter,
    logs: pytest.LogCaptureFixture,
    status: int,
    body: str,
    headers: dict[str, str],
    cls: type[APIStatusError],
    needle: str,
) -> None:
    mock.get("/v1/videos/video_1").mock(
        return_value=httpx.Response(
            status, text=body, headers={**headers, "x-request-id": "req_abc"}
        )
    )
    with pytest.raises(cls) as info:
        await api.videos.retrieve("video_1", max_retries=0)
    error = info.value
    assert type(error) is cls
    assert error.status_code == status and error.request_id == "req_abc"
    assert needle in str(error) and "req_abc" in str(error)
    assert "req_abc" in logs.text


async def test_json_error_envelope_fields(api: Any, mock: respx.MockRouter) -> None:
    envelope = {
        "error": {
            "message": "Invalid 'seconds'",
            "type": "invalid_request_error",
            "param": "seconds",
            "code": "invalid_value",
        }
    }
    mock.post("/v1/videos").mock(
        return_value=httpx.Response(400, json=envelope, headers={"x-request-id": "req_1"})
    )
    with pytest.raises(BadRequestError) as info:
        await api.videos.create(prompt="a cat")
    e = info.value
    assert (e.error_message, e.type, e.param, e.code, e.request_id) == (
        "Invalid 'seconds'",
        "invalid_request_error",
        "seconds",
        "invalid_value",
        "req_1",
    )
    assert e.headers["x-request-id"] == "req_1" and "invalid_value" in e.body


async def test_unreadable_success_on_get(api: Any, mock: respx.MockRouter) -> None:
    mock.get("/v1/videos/video_1").mock(return_value=httpx.Response(200, json={"id": "video_1"}))
    with pytest.raises(DeerAPIError, match="not a Video"):
        await api.videos.retrieve("video_1")


# -- polling ------------------------------------------------------------------------------------


def _seq(video: Any, states: list[tuple[str, int]], **kwargs: Any) -> list[httpx.Response]:
    return [httpx.Response(200, json=video(status=s, progress=p, **kwargs)) for s, p in states]


async def test_poll_until_completed_reports_changes(
    api: Any, mock: respx.MockRouter, video: Any, sleeps: list[float]
) -> None:
    states = [
        ("queued", 0),
        ("queued", 0),
        ("in_progress", 10),
        ("in_progress", 10),
        ("in_progress", 60),
        ("completed", 100),
    ]
    mock.get("/v1/videos/video_1").mock(side_effect=_seq(video, states))
    seen: list[tuple[str, int]] = []
    result = await api.videos.poll(
        "video_1", on_progress=lambda v: seen.append((str(v.status), v.progress))
    )
    assert str(result.status) == "completed"
    assert seen == [("queued", 0), ("in_progress", 10), ("in_progress", 60), ("completed", 100)]
    # The last wait is planned from the progress: 10% at t=2.5 s, 60% at t=8.125 s, so 40% more
    # takes 4.5 s (plus the 2% margin), not the 5.06 s the backoff would have waited (the reads
    # themselves take real milliseconds, hence the tolerance).
    assert sleeps == pytest.approx([1.0, 1.5, 2.25, 3.375, 4.5 * 1.02], abs=0.01)


async def test_poll_plans_a_long_job_by_its_progress_at_most_max_eta_wait_ahead(
    api: Any, mock: respx.MockRouter, video: Any, sleeps: list[float]
) -> None:
    # 1% then 2%: at 1% a second, the end is 98 s away; waits are capped, and the reads that
    # follow keep re-planning from the two latest readings.
    states = [("in_progress", 1), ("in_progress", 2), ("in_progress", 22), ("completed", 100)]
    mock.get("/v1/videos/video_1").mock(side_effect=_seq(video, states))
    await api.videos.poll("video_1", timeout=3600)
    assert sleeps == pytest.approx([1.0, MAX_ETA_WAIT, MAX_ETA_WAIT], abs=0.01)


async def test_poll_goes_back_to_backoff_once_the_estimated_end_has_passed(
    api: Any, mock: respx.MockRouter, video: Any, sleeps: list[float]
) -> None:
    states = [
        ("in_progress", 10),
        ("in_progress", 60),  # at t=1: 50% a second, done at t=1.8
        ("in_progress", 60),  # read at t=1.82: stalled; the estimate has passed
        ("in_progress", 60),
        ("completed", 100),
    ]
    mock.get("/v1/videos/video_1").mock(side_effect=_seq(video, states))
    await api.videos.poll("video_1")
    assert sleeps == pytest.approx([1.0, 0.8 * 1.02, 1.5, 2.25], abs=0.01)


@pytest.mark.parametrize(
    ("kwargs", "headers", "expected"),
    [
        ({"poll_interval": 3.0}, {}, [3.0, 3.0, 3.0]),
        ({}, {"openai-poll-after-ms": "2500"}, [2.5, 2.5, 2.5]),
    ],
    ids=["fixed-interval", "server-hint"],
)
async def test_a_fixed_interval_or_the_servers_hint_wins_over_the_estimate(
    api: Any,
    mock: respx.MockRouter,
    video: Any,
    sleeps: list[float],
    kwargs: dict[str, Any],
    headers: dict[str, str],
    expected: list[float],
) -> None:
    states = [("in_progress", 10), ("in_progress", 20), ("in_progress", 90), ("completed", 100)]
    responses = [
        httpx.Response(200, json=video(status=s, progress=p), headers=headers) for s, p in states
    ]
    mock.get("/v1/videos/video_1").mock(side_effect=responses)
    await api.videos.poll("video_1", **kwargs)
    assert sleeps == pytest.approx(expected)


async def test_poll_interval_grows_to_a_cap(
    api: Any, mock: respx.MockRouter, video: Any, sleeps: list[float]
) -> None:
    mock.get("/v1/videos/video_1").mock(
        side_effect=_seq(video, [("in_progress", 1)] * 12 + [("completed", 100)])
    )
    await api.videos.poll("video_1")
    assert max(sleeps) == 10.0 and sleeps[-1] == 10.0


async def test_poll_honours_server_hint(
    api: Any, mock: respx.MockRouter, video: Any, sleeps: list[float]
) -> None:
    mock.get("/v1/videos/video_1").mock(
        side_effect=[
            httpx.Response(
                200, json=video(status="queued"), headers={"openai-poll-after-ms": "2500"}
            ),
            httpx.Response(
                200, json=video(status="queued"), headers={"openai-poll-after-ms": "junk"}
            ),
            httpx.Response(200, json=video(status="completed", progress=100)),
        ]
    )
    await api.videos.poll("video_1")
    assert sleeps == [2.5, 1.0]


@pytest.mark.parametrize(
    ("status", "error", "code"),
    [
        (
            "failed",
            {"code": "moderation_blocked", "message": "The prompt was blocked."},
            "moderation_blocked",
        ),
        ("failed", None, None),
        ("expired", None, "expired"),
        ("cancelled", None, "cancelled"),
        ("canceled", None, "canceled"),
    ],
)
async def test_poll_ends_on_failure_states(
    api: Any, mock: respx.MockRouter, video: Any, status: str, error: Any, code: str | None
) -> None:
    mock.get("/v1/videos/video_1").mock(
        side_effect=[
            httpx.Response(200, json=video(status="in_progress", progress=5)),
            httpx.Response(200, json=video(status=status, error=error)),
        ]
    )
    with pytest.raises(VideoFailedError) as info:
        await api.videos.poll("video_1")
    assert (
        info.value.video_id == "video_1" and info.value.status == status and info.value.code == code
    )
    if error:
        assert "The prompt was blocked." in str(info.value)


async def test_unknown_status_is_never_done_and_deadline_names_the_job(
    api: Any, mock: respx.MockRouter, video: Any, sleeps: list[float]
) -> None:
    route = mock.get("/v1/videos/video_1").mock(
        return_value=httpx.Response(200, json=video(status="rendering_magic", progress=42))
    )
    with pytest.raises(PollTimeoutError) as info:
        await api.videos.poll("video_1", timeout=30)
    e = info.value
    assert (e.video_id, e.status, e.progress) == ("video_1", "rendering_magic", 42)
    assert "video_1" in str(e) and "rendering_magic" in str(e) and "42" in str(e)
    assert sum(sleeps) <= 30.0 + 1e-6, "the deadline is never overslept"
    assert route.call_count >= 5


async def test_create_and_poll_posts_once(api: Any, mock: respx.MockRouter, video: Any) -> None:
    post = mock.post("/v1/videos").mock(
        return_value=httpx.Response(200, json=video(status="queued"))
    )
    mock.get("/v1/videos/video_1").mock(
        side_effect=_seq(video, [("in_progress", 50), ("completed", 100)])
    )
    result = await api.videos.create_and_poll(prompt="a cat", poll_timeout=60)
    assert result.progress == 100 and post.call_count == 1


# -- list ---------------------------------------------------------------------------------------


async def test_list_iterates_across_pages(api: Any, mock: respx.MockRouter, video: Any) -> None:
    def page(ids: list[str], has_more: bool) -> httpx.Response:
        return httpx.Response(
            200,
            json={
                "object": "list",
                "data": [video(i) for i in ids],
                "first_id": ids[0],
                "last_id": ids[-1],
                "has_more": has_more,
            },
        )

    route = mock.get("/v1/videos").mock(
        side_effect=[page(["a", "b"], True), page(["c", "d"], True), page(["e"], False)]
    )
    videos = await api.videos.list(limit=2, order="asc")
    assert [v.id for v in videos] == ["a", "b", "c", "d", "e"]
    params = [dict(c.request.url.params) for c in route.calls]
    assert params == [
        {"limit": "2", "order": "asc"},
        {"limit": "2", "order": "asc", "after": "b"},
        {"limit": "2", "order": "asc", "after": "d"},
    ]


async def test_list_stops_on_a_cursor_that_does_not_advance(
    api: Any, mock: respx.MockRouter, video: Any
) -> None:
    stuck = httpx.Response(
        200, json={"object": "list", "data": [video("a")], "last_id": "a", "has_more": True}
    )
    mock.get("/v1/videos").mock(side_effect=[stuck, stuck, stuck])
    with pytest.raises(DeerAPIError, match="pagination cycles"):
        await api.videos.list()


async def test_list_stops_when_cursors_cycle_over_several_pages(
    api: Any, mock: respx.MockRouter, video: Any
) -> None:
    def page(last: str) -> httpx.Response:
        body = {"object": "list", "data": [video(last)], "last_id": last, "has_more": True}
        return httpx.Response(200, json=body)

    route = mock.get("/v1/videos").mock(side_effect=[page("a"), page("b"), page("c"), page("a")])
    with pytest.raises(DeerAPIError, match="after='a' again after 3 page"):
        await api.videos.list()
    assert route.call_count == 4


async def test_delete(api: Any, mock: respx.MockRouter) -> None:
    mock.delete("/v1/videos/video_1").mock(
        return_value=httpx.Response(
            200, json={"id": "video_1", "object": "video.deleted", "deleted": True}
        )
    )
    result = await api.videos.delete("video_1")
    assert result.deleted is True


_NOT_FOUND = httpx.Response(
    404, json={"error": {"message": "No video found", "type": "invalid_request_error"}}
)


@pytest.mark.parametrize(
    "lost",
    [
        httpx.ReadError("connection reset after sending"),
        httpx.RemoteProtocolError("server disconnected without sending a response"),
        httpx.ReadTimeout("timed out"),
        httpx.Response(500, json={"error": {"message": "oops"}}),
        httpx.Response(502, text="<html>Bad Gateway</html>"),
        httpx.Response(503),
    ],
    ids=["read-error", "disconnected", "read-timeout", "500", "502", "503"],
)
async def test_delete_whose_answer_was_lost_and_retry_gets_404_is_deleted(
    api: Any, mock: respx.MockRouter, lost: Any, sleeps: list[float]
) -> None:
    route = mock.delete("/v1/videos/video_1").mock(side_effect=[lost, _NOT_FOUND])
    result = await api.videos.delete("video_1")
    assert type(result).__name__ == "DeletedVideo"
    assert (result.id, result.object_, result.deleted) == ("video_1", "video.deleted", True)
    assert route.call_count == 2


async def test_delete_404_on_the_first_attempt_still_raises(
    api: Any, mock: respx.MockRouter
) -> None:
    route = mock.delete("/v1/videos/video_1").mock(return_value=_NOT_FOUND)
    with pytest.raises(NotFoundError):
        await api.videos.delete("video_1")
    assert route.call_count == 1


@pytest.mark.parametrize(
    "refused",
    [
        httpx.ConnectError("refused"),
        httpx.ConnectTimeout("no connect"),
        httpx.PoolTimeout("no free connection"),
        httpx.ProxyError("the proxy refused the tunnel"),
        httpx.Response(429),
    ],
    ids=["connect-error", "connect-timeout", "pool-timeout", "proxy-error", "429"],
)
async def test_delete_404_after_an_attempt_that_cannot_have_run_raises(
    api: Any, mock: respx.MockRouter, refused: Any
) -> None:
    # The first attempt never reached the server (or was refused), so the 404 is the truth.
    route = mock.delete("/v1/videos/video_1").mock(side_effect=[refused, _NOT_FOUND])
    with pytest.raises(NotFoundError):
        await api.videos.delete("video_1")
    assert route.call_count == 2


async def test_a_404_after_a_lost_answer_is_success_only_for_delete(
    api: Any, mock: respx.MockRouter
) -> None:
    mock.get("/v1/videos/video_1").mock(side_effect=[httpx.ReadError("reset"), _NOT_FOUND])
    with pytest.raises(NotFoundError):
        await api.videos.retrieve("video_1")
