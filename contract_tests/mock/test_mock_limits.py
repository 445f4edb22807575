"""The mock's limits (``LimitedMock``): request rate, running-jobs cap, replay switch, log."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from deerapi_videos_mock import LimitedMock, Limits, ManualClock, MockDeerAPI

from ._support import AUTH, KEY


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _form(prompt: str = "a cat") -> dict[str, tuple[None, str]]:
    """A multipart create body (the API takes only multipart/form-data)."""
    return {"prompt": (None, prompt)}


@pytest_asyncio.fixture
async def setup() -> AsyncIterator[tuple[LimitedMock, FakeTime, httpx.AsyncClient]]:
    clock = FakeTime()
    mock = MockDeerAPI(api_key=KEY, clock=ManualClock(), job_duration=8.0)
    limited = LimitedMock(mock, Limits(rate=2.0, burst=3, max_running_jobs=2), clock=clock)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=limited.app), base_url="http://mock", headers=AUTH
    ) as client:
        yield limited, clock, client


@pytest.mark.asyncio
async def test_the_token_bucket_answers_429_with_retry_after_and_headers(
    setup: tuple[LimitedMock, FakeTime, httpx.AsyncClient],
) -> None:
    limited, clock, client = setup
    answers = [await client.get("/v1/videos") for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[0].headers["x-ratelimit-limit-requests"] == "3"
    assert answers[0].headers["x-ratelimit-remaining-requests"] == "2"
    assert answers[2].headers["x-ratelimit-reset-requests"] == "1.500s"
    refused = answers[3]
    assert refused.json()["error"]["code"] == "rate_limit_exceeded"
    assert refused.headers["retry-after-ms"] == "500"
    assert refused.headers["retry-after"] == "1"
    assert refused.headers["x-request-id"].startswith("req_")
    assert limited.mock.requests[-1].status == 429
    clock.now += 0.5  # one token back
    assert (await client.get("/v1/videos")).status_code == 200


@pytest.mark.asyncio
async def test_a_create_beyond_the_running_jobs_cap_is_refused_until_one_ends(
    setup: tuple[LimitedMock, FakeTime, httpx.AsyncClient],
) -> None:
    limited, clock, client = setup
    for prompt in ("one", "two"):
        assert (await client.post("/v1/videos", files=_form(prompt))).status_code == 200
    clock.now += 10  # the rate limit is not what refuses the third
    third = await client.post("/v1/videos", files=_form("three"))
    assert third.status_code == 429
    assert third.json()["error"]["code"] == "concurrency_limit_exceeded"
    assert int(third.headers["x-ratelimit-remaining-requests"]) > 0
    limited.mock.complete(limited.mock.paid_jobs[0].id)
    assert (await client.post("/v1/videos", files=_form("three"))).status_code == 200
    assert limited.rejected == {"running_jobs": 1}


@pytest.mark.asyncio
async def test_the_post_log_counts_posts_and_paid_jobs_per_key() -> None:
    mock = MockDeerAPI(api_key=KEY, job_duration=8.0)
    limited = LimitedMock(mock, Limits())
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=limited.app), base_url="http://mock", headers=AUTH
    ) as client:
        for _ in range(2):
            await client.post("/v1/videos", files=_form(), headers={"Idempotency-Key": "k1"})
        await client.post("/v1/videos", files=_form("b"), headers={"Idempotency-Key": "k2"})
    assert limited.post_counts() == {"k1": (2, 1), "k2": (1, 1)}
    assert limited.duplicates() == 0 and len(mock.paid_jobs) == 2


@pytest.mark.asyncio
async def test_replay_off_makes_every_repeated_post_a_new_paid_job() -> None:
    mock = MockDeerAPI(api_key=KEY, job_duration=8.0)
    limited = LimitedMock(mock, Limits(idempotency_replay=False))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=limited.app), base_url="http://mock", headers=AUTH
    ) as client:
        for _ in range(2):
            await client.post("/v1/videos", files=_form(), headers={"Idempotency-Key": "k1"})
    assert limited.post_counts() == {"k1": (2, 2)}
    assert limited.duplicates() == 1


@pytest.mark.asyncio
async def test_job_durations_vary_within_the_spread() -> None:
    mock = MockDeerAPI(api_key=KEY, job_duration=10.0)
    limited = LimitedMock(mock, Limits(duration_spread=0.5, seed=3))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=limited.app), base_url="http://mock", headers=AUTH
    ) as client:
        for index in range(20):
            await client.post("/v1/videos", files=_form(f"job {index}"))
    durations = [video.duration for video in mock.paid_jobs]
    assert all(5.0 <= d <= 15.0 for d in durations)
    assert max(durations) - min(durations) > 3.0


def test_limits_are_checked() -> None:
    with pytest.raises(ValueError):
        Limits(rate=0)
    with pytest.raises(ValueError):
        Limits(duration_spread=1.0)
