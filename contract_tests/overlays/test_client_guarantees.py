"""Cost-safety guarantees of the client, sync and async (respx in place of the network).

Only ``DeerAPIError`` leaves a call; after a paid job exists every error names it; polling goes
on through transient failures within its deadline, never faster than its floor; errors pickle
without the key; ids that cannot address exactly one video are refused before sending.
"""

from __future__ import annotations

import gzip
import json
import pickle
from typing import Any

import httpx
import pytest
import respx
from deerapi_videos import (
    AuthenticationError,
    DeerAPIError,
    JobMayExistError,
    PollTimeoutError,
    RateLimitError,
    VideoFailedError,
)

from contract_tests.builders import video_body

pytestmark = pytest.mark.asyncio

POLL_FLOOR = 0.5


def _video(status: str = "queued", **extra: Any) -> httpx.Response:
    return httpx.Response(200, json=video_body("video_9", status=status, **extra))


def _error(status: int, code: str, headers: dict[str, str] | None = None) -> httpx.Response:
    body = {"error": {"message": f"{code} happened", "type": "x", "param": None, "code": code}}
    return httpx.Response(status, json=body, headers=headers or {})


# -- once a POST succeeded, every error of the call names the job --------------------------------


@pytest.mark.parametrize(
    "failure",
    [
        _error(401, "invalid_api_key"),
        _error(403, "forbidden"),
        _error(400, "bad"),
    ],
    ids=["401", "403", "400"],
)
async def test_create_and_poll_errors_after_the_post_carry_the_video_id(
    api: Any, mock: respx.MockRouter, failure: httpx.Response
) -> None:
    post = mock.post("/v1/videos").mock(return_value=_video())
    mock.get("/v1/videos/video_9").mock(return_value=failure)
    with pytest.raises(DeerAPIError) as info:
        await api.videos.create_and_poll(prompt="a cat")
    assert info.value.video_id == "video_9"
    assert info.value.idempotency_key is not None
    assert info.value.idempotency_key.startswith("dvk_")
    assert any("video_9" in note for note in getattr(info.value, "__notes__", []))
    assert post.call_count == 1


@pytest.mark.parametrize(
    "transient",
    [
        _error(404, "video_not_found"),
        _error(429, "rate_limit_exceeded"),
        _error(500, "server_error"),
        _error(502, "bad_gateway"),
        httpx.Response(200, text="<html>proxy warming up</html>"),
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
    ],
    ids=["404", "429", "500", "502", "html-200", "connect-error", "read-timeout"],
)
async def test_create_and_poll_reads_through_transient_failures(
    api: Any, mock: respx.MockRouter, transient: Any, sleeps: list[float]
) -> None:
    mock.post("/v1/videos").mock(return_value=_video())
    get = mock.get("/v1/videos/video_9").mock(
        side_effect=[transient] * 4 + [_video("in_progress", progress=50), _video("completed")]
    )
    video = await api.videos.create_and_poll(prompt="a cat", max_retries=0)
    assert video.status == "completed"
    assert get.call_count == 6
    assert all(delay >= POLL_FLOOR for delay in sleeps)


async def test_a_404_after_the_grace_ends_the_wait_with_the_id(
    api: Any, mock: respx.MockRouter
) -> None:
    mock.post("/v1/videos").mock(return_value=_video())
    mock.get("/v1/videos/video_9").mock(return_value=_error(404, "video_not_found"))
    with pytest.raises(DeerAPIError) as info:
        await api.videos.create_and_poll(prompt="a cat", max_retries=0)
    assert info.value.video_id == "video_9"


async def test_plain_poll_does_not_wait_out_a_404(api: Any, mock: respx.MockRouter) -> None:
    route = mock.get("/v1/videos/video_9").mock(return_value=_error(404, "video_not_found"))
    with pytest.raises(DeerAPIError) as info:
        await api.videos.poll("video_9", max_retries=0)
    assert info.value.video_id == "video_9"
    assert route.call_count == 1


async def test_a_long_retry_after_inside_a_poll_is_honoured_when_the_deadline_allows(
    api: Any, mock: respx.MockRouter, sleeps: list[float]
) -> None:
    mock.get("/v1/videos/video_9").mock(
        side_effect=[_error(429, "rate_limit_exceeded", {"Retry-After": "20"}), _video("completed")]
    )
    video = await api.videos.poll("video_9", timeout=900)
    assert video.status == "completed"
    assert 20.0 in sleeps


async def test_a_retry_after_beyond_the_deadline_ends_the_poll_as_a_timeout(
    api: Any, mock: respx.MockRouter
) -> None:
    mock.get("/v1/videos/video_9").mock(
        return_value=_error(429, "rate_limit_exceeded", {"Retry-After": "600"})
    )
    with pytest.raises(PollTimeoutError) as info:
        await api.videos.poll("video_9", timeout=60)
    assert isinstance(info.value.__cause__, RateLimitError)


async def test_insufficient_quota_is_not_retried_nor_waited_out(
    api: Any, mock: respx.MockRouter
) -> None:
    route = mock.get("/v1/videos/video_9").mock(return_value=_error(429, "insufficient_quota"))
    with pytest.raises(RateLimitError) as info:
        await api.videos.poll("video_9")
    assert info.value.code == "insufficient_quota"
    assert route.call_count == 1


async def test_a_zero_poll_hint_cannot_make_reads_faster_than_the_floor(
    api: Any, mock: respx.MockRouter, sleeps: list[float]
) -> None:
    hint = {"openai-poll-after-ms": "0"}
    route = mock.get("/v1/videos/video_9").mock(
        return_value=httpx.Response(200, json=video_body("video_9", "in_progress"), headers=hint)
    )
    with pytest.raises(PollTimeoutError):
        await api.videos.poll("video_9", timeout=10, poll_interval=0.01)
    # The last sleep only runs out the deadline (no read follows it).
    assert len(sleeps) > 2 and min(sleeps[:-1]) >= POLL_FLOOR
    assert route.call_count <= 10 / POLL_FLOOR + 1


async def test_a_failed_job_still_raises_video_failed(api: Any, mock: respx.MockRouter) -> None:
    mock.post("/v1/videos").mock(return_value=_video())
    mock.get("/v1/videos/video_9").mock(
        return_value=_video("failed", error={"code": "moderation_blocked", "message": "no"})
    )
    with pytest.raises(VideoFailedError) as info:
        await api.videos.create_and_poll(prompt="a cat")
    assert info.value.video_id == "video_9" and info.value.code == "moderation_blocked"


# -- only DeerAPIError leaves ---------------------------------------------------------------------


async def test_a_mislabelled_gzip_answer_to_create_is_a_job_that_may_exist(
    api: Any, mock: respx.MockRouter
) -> None:
    body = json.dumps(video_body("video_9")).encode()
    # stream=, not content=: httpx decodes a content= body when the response is built.
    mock.post("/v1/videos").mock(
        side_effect=lambda request: httpx.Response(
            200, stream=httpx.ByteStream(body), headers={"Content-Encoding": "gzip"}
        )
    )
    with pytest.raises(JobMayExistError) as info:
        await api.videos.create(prompt="a cat")
    assert info.value.idempotency_key.startswith("dvk_")


async def test_a_gzip_answer_that_is_gzip_is_read(api: Any, mock: respx.MockRouter) -> None:
    body = gzip.compress(json.dumps(video_body("video_9")).encode())
    mock.post("/v1/videos").mock(
        return_value=httpx.Response(200, content=body, headers={"Content-Encoding": "gzip"})
    )
    assert (await api.videos.create(prompt="a cat")).id == "video_9"


@pytest.mark.parametrize(
    "raised",
    [ValueError("odd header"), UnicodeDecodeError("utf-8", b"\xff", 0, 1, "bad"), OSError(28, "x")],
    ids=["value-error", "unicode-error", "os-error"],
)
async def test_any_exception_from_below_becomes_a_deerapi_error(
    api: Any, mock: respx.MockRouter, raised: Exception
) -> None:
    mock.get("/v1/videos/video_9").mock(side_effect=raised)
    with pytest.raises(DeerAPIError) as info:
        await api.videos.retrieve("video_9")
    assert type(raised).__name__ in str(info.value)
    assert info.value.__cause__ is raised
    assert info.value.video_id == "video_9"


async def test_a_list_iterator_raises_only_deerapi_errors(api: Any, mock: respx.MockRouter) -> None:
    mock.get("/v1/videos").mock(side_effect=RuntimeError("bug below"))
    with pytest.raises(DeerAPIError, match="RuntimeError"):
        await api.videos.list()


async def test_keyboard_interrupt_passes_through_with_the_job_to_resume(
    api: Any, mock: respx.MockRouter
) -> None:
    mock.post("/v1/videos").mock(return_value=_video())

    def interrupt(request: httpx.Request) -> httpx.Response:
        raise KeyboardInterrupt

    mock.get("/v1/videos/video_9").mock(side_effect=interrupt)
    with pytest.raises(KeyboardInterrupt) as info:
        await api.videos.create_and_poll(prompt="a cat")
    assert info.value.deerapi_video_id == "video_9"  # type: ignore[attr-defined]
    assert info.value.deerapi_idempotency_key.startswith("dvk_")  # type: ignore[attr-defined]
    assert any("video_9" in note for note in info.value.__notes__)


# -- the key ---------------------------------------------------------------------------------------


async def test_errors_pickle_without_the_key(api: Any, mock: respx.MockRouter, secret: str) -> None:
    echoed = {
        "error": {"message": f"bad key {secret.replace('-', '-')}", "code": "invalid_api_key"}
    }
    mock.get("/v1/videos/video_9").mock(
        return_value=httpx.Response(401, json=echoed, headers={"X-Echo": f"Bearer {secret}"})
    )
    mock.post("/v1/videos").mock(side_effect=httpx.ReadError(f"reset while sending {secret}"))
    errors: list[DeerAPIError] = []
    for call in (api.videos.retrieve("video_9"), api.videos.create(prompt="x")):
        with pytest.raises(DeerAPIError) as info:
            await call
        errors.append(info.value)
    assert isinstance(errors[0], AuthenticationError) and isinstance(errors[1], JobMayExistError)
    for error in errors:
        data = pickle.dumps(error)
        assert secret.encode() not in data
        copy = pickle.loads(data)
        assert type(copy) is type(error) and str(copy) == str(error)
        assert secret not in str(copy) and secret not in repr(copy.__dict__)


async def test_a_key_echoed_with_escaped_slashes_is_redacted(
    make_api: Any, mock: respx.MockRouter
) -> None:
    key = "sk-with/slash+plus"
    api = make_api(api_key=key)
    escaped = json.dumps({"error": {"message": f"key {key} rejected"}}).replace("/", "\\/")
    assert "\\/" in escaped
    mock.get("/v1/videos/video_9").mock(return_value=httpx.Response(401, content=escaped))
    with pytest.raises(AuthenticationError) as info:
        await api.videos.retrieve("video_9")
    text = str(info.value) + info.value.body + info.value.error_message
    assert key not in text and key.replace("/", "\\/") not in text


@pytest.mark.parametrize("bad", ["sk-a\x00b", "sk-a\x1bb", "sk-a\x7fb", "sk-a\u2028b", "sk-aé"])
async def test_a_key_with_a_control_or_non_ascii_character_is_refused_without_echo(
    kind: str, bad: str
) -> None:
    from contract_tests.overlays.conftest import make_client

    with pytest.raises(DeerAPIError) as info:
        make_client(kind, own_http=True, api_key=bad)
    assert bad not in str(info.value) and "sk-a" not in str(info.value)
