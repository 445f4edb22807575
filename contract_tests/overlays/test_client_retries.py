"""Retries on GET/DELETE: the Retry-After table and the retries-taken table (sync and async)."""

from __future__ import annotations

import email.utils
import time
from typing import Any

import httpx
import pytest
import respx
from deerapi_videos import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    InternalServerError,
    PollTimeoutError,
    RateLimitError,
    _clock,
)

pytestmark = pytest.mark.asyncio

VIDEO = {
    "id": "video_1",
    "object": "video",
    "created_at": 1,
    "status": "queued",
    "model": "sora-2",
    "progress": 0,
    "seconds": "4",
    "size": "720x1280",
}
CAP = 8.0
BACKOFF = "backoff"  # expected delay: within [0, initial 0.5s] on the first retry
NO_RETRY = "no-retry"


def _http_date(offset: float) -> str:
    # Resolved when the test runs (collection may be long before).
    return f"@date{offset:+}"


def _resolve(headers: dict[str, str]) -> dict[str, str]:
    out = {}
    for name, value in headers.items():
        if value.startswith("@date"):
            value = email.utils.formatdate(time.time() + float(value[5:]), usegmt=True)
        out[name] = value
    return out


# (id, response headers, expected: float seconds | BACKOFF | (NO_RETRY, retry_after))
RETRY_AFTER_TABLE: list[tuple[str, dict[str, str], Any]] = [
    ("int-0", {"Retry-After": "0"}, 0.0),
    ("int-1", {"Retry-After": "1"}, 1.0),
    ("int-3", {"Retry-After": "3"}, 3.0),
    ("int-at-cap", {"Retry-After": "8"}, 8.0),
    ("float", {"Retry-After": "1.5"}, 1.5),
    ("spaces", {"Retry-After": "  2  "}, 2.0),
    ("over-cap", {"Retry-After": "9"}, (NO_RETRY, 9.0)),
    ("hour", {"Retry-After": "3600"}, (NO_RETRY, 3600.0)),
    ("negative", {"Retry-After": "-1"}, BACKOFF),
    ("negative-float", {"Retry-After": "-0.5"}, BACKOFF),
    ("garbage", {"Retry-After": "soon"}, BACKOFF),
    ("empty", {"Retry-After": ""}, BACKOFF),
    ("blank", {"Retry-After": "   "}, BACKOFF),
    ("inf", {"Retry-After": "inf"}, BACKOFF),
    ("nan", {"Retry-After": "nan"}, BACKOFF),
    ("huge-exponent", {"Retry-After": "1e999"}, BACKOFF),
    ("date-future", {"Retry-After": _http_date(4)}, ("approx", 4.0)),
    ("date-past", {"Retry-After": _http_date(-3600)}, 0.0),
    ("date-far-future", {"Retry-After": _http_date(7200)}, (NO_RETRY, "approx-7200")),
    ("date-garbage", {"Retry-After": "Mon, 99 Foo 2025 99:99:99 GMT"}, BACKOFF),
    ("ms-1500", {"retry-after-ms": "1500"}, 1.5),
    ("ms-0", {"retry-after-ms": "0"}, 0.0),
    ("ms-over-cap", {"retry-after-ms": "20000"}, (NO_RETRY, 20.0)),
    ("ms-negative", {"retry-after-ms": "-5"}, BACKOFF),
    ("ms-garbage", {"retry-after-ms": "fast"}, BACKOFF),
    ("ms-wins", {"retry-after-ms": "250", "Retry-After": "5"}, 0.25),
    ("ms-garbage-falls-to-seconds", {"retry-after-ms": "x", "Retry-After": "2"}, 2.0),
    ("absent", {}, BACKOFF),
]


@pytest.mark.parametrize("status", [429, 503])
@pytest.mark.parametrize(
    ("headers", "expected"),
    [pytest.param(h, e, id=i) for i, h, e in RETRY_AFTER_TABLE],
)
async def test_retry_after_table(
    api: Any,
    mock: respx.MockRouter,
    sleeps: list[float],
    status: int,
    headers: dict[str, str],
    expected: Any,
) -> None:
    route = mock.get("/v1/videos/video_1").mock(
        side_effect=[
            httpx.Response(status, headers=_resolve(headers)),
            httpx.Response(200, json=VIDEO),
        ]
    )
    if isinstance(expected, tuple) and expected[0] == NO_RETRY:
        with pytest.raises(APIStatusError) as info:
            await api.videos.retrieve("video_1")
        assert route.call_count == 1
        assert sleeps == []
        if expected[1] == "approx-7200":
            assert info.value.retry_after == pytest.approx(7200, abs=5)
        else:
            assert info.value.retry_after == expected[1]
        assert isinstance(info.value, RateLimitError if status == 429 else InternalServerError)
        return
    result = await api.videos.retrieve("video_1")
    assert result.id == "video_1"
    assert route.call_count == 2
    assert len(sleeps) == 1
    if expected == BACKOFF:
        assert 0.0 <= sleeps[0] <= 0.5
    elif isinstance(expected, tuple):
        assert sleeps[0] == pytest.approx(expected[1], abs=1.5)
    else:
        assert sleeps[0] == pytest.approx(expected)


async def test_retry_after_is_on_the_rate_limit_error(api: Any, mock: respx.MockRouter) -> None:
    mock.get("/v1/videos/video_1").mock(
        return_value=httpx.Response(429, headers={"Retry-After": "2"})
    )
    with pytest.raises(RateLimitError) as info:
        await api.videos.retrieve("video_1", max_retries=0)
    assert info.value.retry_after == 2.0


# -- retries taken ----------------------------------------------------------------------------

FAULTS: list[tuple[str, Any]] = [
    ("408", 408),
    ("429", 429),
    ("500", 500),
    ("502", 502),
    ("503", 503),
    ("504", 504),
    ("ConnectError", httpx.ConnectError("refused")),
    ("ConnectTimeout", httpx.ConnectTimeout("connect timed out")),
    ("PoolTimeout", httpx.PoolTimeout("pool timed out")),
    ("ReadTimeout", httpx.ReadTimeout("read timed out")),
    ("ReadError", httpx.ReadError("connection reset")),
    ("RemoteProtocolError", httpx.RemoteProtocolError("peer closed")),
    ("WriteError", httpx.WriteError("broken pipe")),
]


def _failure(fault: Any) -> Any:
    if isinstance(fault, int):
        return httpx.Response(fault, json={"error": {"message": f"fault {fault}"}})
    return fault


def _expected_error(fault: Any) -> type[Exception]:
    if isinstance(fault, int):
        return {408: APIStatusError, 429: RateLimitError}.get(fault, InternalServerError)
    if isinstance(fault, httpx.TimeoutException):
        return APITimeoutError
    return APIConnectionError


def _combos() -> list[Any]:
    """(operation, where max_retries is set, max_retries, failures before success)."""
    combos = []
    for m in range(4):  # per client: 0..3 retries, 0..m+1 failures (m+1 = one too many)
        combos += [("retrieve", "client", m, n) for n in range(m + 2)]
    for m in (0, 2):  # per call, overriding the client's 2
        combos += [("retrieve", "call", m, n) for n in range(m + 2)]
    combos += [("delete", "client", 2, n) for n in range(4)]
    return [pytest.param(*c, id=f"{c[0]}-{c[1]}-max{c[2]}-fail{c[3]}") for c in combos]


@pytest.mark.parametrize(("operation", "where", "max_retries", "failures"), _combos())
@pytest.mark.parametrize(("fault"), [pytest.param(f, id=i) for i, f in FAULTS])
async def test_retries_taken_table(
    make_api: Any,
    mock: respx.MockRouter,
    sleeps: list[float],
    operation: str,
    where: str,
    max_retries: int,
    failures: int,
    fault: Any,
) -> None:
    api = make_api(max_retries=max_retries if where == "client" else 2)
    ok = (
        httpx.Response(200, json=VIDEO)
        if operation == "retrieve"
        else httpx.Response(200, json={"id": "video_1", "object": "video.deleted", "deleted": True})
    )
    route = mock.route(
        method="GET" if operation == "retrieve" else "DELETE", path="/v1/videos/video_1"
    )
    route.mock(side_effect=[_failure(fault) for _ in range(failures)] + [ok])
    kwargs = {"max_retries": max_retries} if where == "call" else {}
    method = getattr(api.videos, operation)
    try:
        if failures <= max_retries:
            result = await method("video_1", **kwargs)
            assert result.id == "video_1"
            assert route.call_count == failures + 1
            assert len(sleeps) == failures
        else:
            with pytest.raises(_expected_error(fault)):
                await method("video_1", **kwargs)
            assert route.call_count == max_retries + 1
            assert len(sleeps) == max_retries
    finally:
        await _close(api)


async def _close(api: Any) -> None:
    result = api.client.close()
    if result is not None:
        await result


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
async def test_client_errors_are_not_retried(api: Any, mock: respx.MockRouter, status: int) -> None:
    route = mock.get("/v1/videos/video_1").mock(
        return_value=httpx.Response(status, json={"error": {"message": "no"}})
    )
    with pytest.raises(APIStatusError) as info:
        await api.videos.retrieve("video_1")
    assert info.value.status_code == status
    assert route.call_count == 1


@pytest.mark.parametrize(
    ("status", "header", "calls"),
    [
        (503, "false", 1),  # the server says do not retry
        (500, "false", 1),
        (400, "true", 3),  # the server says retry: overrides "400 is final" on a GET
        (409, "true", 3),
        (503, "maybe", 3),  # unreadable: default rules
    ],
)
async def test_x_should_retry_overrides_for_get(
    api: Any, mock: respx.MockRouter, status: int, header: str, calls: int
) -> None:
    route = mock.get("/v1/videos/video_1").mock(
        return_value=httpx.Response(status, headers={"x-should-retry": header})
    )
    with pytest.raises(APIStatusError):
        await api.videos.retrieve("video_1")
    assert route.call_count == calls


async def test_poll_deadline_is_never_overslept(
    api: Any, mock: respx.MockRouter, sleeps: list[float]
) -> None:
    # 5s requested twice would be 10s, but poll's deadline (6s) is the total budget: the retry
    # that would pass it is not slept, and the error is the poll deadline's, with the cause.
    route = mock.get("/v1/videos/video_1").mock(
        return_value=httpx.Response(503, headers={"Retry-After": "5"})
    )
    with pytest.raises(PollTimeoutError) as info:
        await api.videos.poll("video_1", timeout=6.0, max_retries=5)
    assert sleeps == [5.0]
    assert route.call_count == 2
    assert isinstance(info.value.__cause__, InternalServerError)
    assert info.value.video_id == "video_1" and info.value.status == "unknown"


async def test_per_call_timeout_is_per_attempt_not_a_deadline(
    api: Any, mock: respx.MockRouter, sleeps: list[float]
) -> None:
    # OpenAI-SDK semantics: timeout bounds each request; retries are bounded by max_retries and
    # the waits by the backoff cap and Retry-After, not by the timeout.
    route = mock.get("/v1/videos/video_1").mock(
        side_effect=[
            httpx.Response(503, headers={"Retry-After": "1"}),
            httpx.Response(503, headers={"Retry-After": "2"}),
            httpx.Response(200, json=VIDEO),
        ]
    )
    video = await api.videos.retrieve("video_1", timeout=0.5)
    assert video.id == "video_1"
    assert sleeps == [1.0, 2.0]
    assert [c.request.extensions["timeout"]["read"] for c in route.calls] == [0.5, 0.5, 0.5]


@pytest.mark.parametrize("timeout", [0.05, 0.3])
async def test_a_read_timeout_on_get_is_retried_whatever_the_timeout(
    api: Any, mock: respx.MockRouter, sleeps: list[float], timeout: float
) -> None:
    route = mock.get("/v1/videos/video_1").mock(
        side_effect=[
            httpx.ReadTimeout("slow"),
            httpx.ReadTimeout("slow"),
            httpx.Response(200, json=VIDEO),
        ]
    )
    assert (await api.videos.retrieve("video_1", timeout=timeout)).id == "video_1"
    assert route.call_count == 3 and len(sleeps) == 2
    assert all(0 <= s <= CAP for s in sleeps)


async def test_client_timeout_is_per_attempt_too(
    make_api: Any, mock: respx.MockRouter, sleeps: list[float]
) -> None:
    api = make_api(timeout=0.2, max_retries=3)
    try:
        route = mock.get("/v1/videos/video_1").mock(
            return_value=httpx.Response(429, headers={"Retry-After": "3"})
        )
        with pytest.raises(RateLimitError):
            await api.videos.retrieve("video_1")
        assert route.call_count == 4 and sleeps == [3.0, 3.0, 3.0]
    finally:
        await _close(api)


async def test_each_poll_request_timeout_is_clipped_to_what_is_left(
    make_api: Any, mock: respx.MockRouter, sleeps: list[float]
) -> None:
    api = make_api(timeout=60.0)
    try:
        route = mock.get("/v1/videos/video_1").mock(
            return_value=httpx.Response(
                200,
                json={**VIDEO, "status": "in_progress"},
                headers={"openai-poll-after-ms": "2000"},
            )
        )
        with pytest.raises(PollTimeoutError):
            await api.videos.poll("video_1", timeout=5.0)
        reads = [c.request.extensions["timeout"]["read"] for c in route.calls]
        connects = [c.request.extensions["timeout"]["connect"] for c in route.calls]
        assert sum(sleeps) <= 5.0 + 1e-6, "the poll deadline is never overslept"
        assert len(reads) == 3 and sleeps[:2] == [2.0, 2.0]
        for i, read in enumerate(reads):
            left = 5.0 - sum(sleeps[:i])
            assert 0 < read <= left + 1e-6 and connects[i] <= left + 1e-6
        assert reads[0] > reads[1] > reads[2]
    finally:
        await _close(api)


async def test_a_read_cut_short_by_the_poll_deadline_is_a_poll_timeout(
    api: Any, mock: respx.MockRouter, sleeps: list[float]
) -> None:
    given: list[float] = []

    def answer(request: httpx.Request) -> httpx.Response:
        if not given:
            given.append(request.extensions["timeout"]["read"])
            return httpx.Response(200, json={**VIDEO, "status": "in_progress", "progress": 40})
        # A slow server: the read uses all the time it was given (on the virtual clock), then
        # times out, exactly at the poll deadline.
        given.append(request.extensions["timeout"]["read"])
        _clock.sleep(given[-1])
        raise httpx.ReadTimeout("slow", request=request)

    mock.get("/v1/videos/video_1").mock(side_effect=answer)
    with pytest.raises(PollTimeoutError) as info:
        await api.videos.poll("video_1", timeout=1.0, poll_interval=0.5)
    assert (info.value.status, info.value.progress) == ("in_progress", 40)
    assert isinstance(info.value.__cause__, APITimeoutError)
    assert len(given) == 2 and given[1] == pytest.approx(0.5, abs=0.05)
    assert sum(sleeps) == pytest.approx(1.0, abs=0.05), "nothing slept past the deadline"


async def test_create_and_poll_deadline_is_the_poll_timeout(
    api: Any, mock: respx.MockRouter, sleeps: list[float]
) -> None:
    post = mock.post("/v1/videos").mock(
        side_effect=[
            httpx.Response(503, headers={"Retry-After": "4"}),
            httpx.Response(200, json=VIDEO),
        ]
    )
    get = mock.get("/v1/videos/video_1").mock(return_value=httpx.Response(200, json=VIDEO))
    with pytest.raises(PollTimeoutError):
        await api.videos.create_and_poll(prompt="a cat", timeout=1.0, poll_timeout=3.0)
    assert post.call_count == 2, "the POST's timeout is per attempt: its 4s wait is allowed"
    assert post.calls[1].request.extensions["timeout"]["read"] == 1.0
    assert sleeps[0] == 4.0 and sum(sleeps[1:]) <= 3.0 + 1e-6
    assert get.call_count >= 2
