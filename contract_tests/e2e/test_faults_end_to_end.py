"""Faults beyond single cells: over real loopback sockets, across polling, and persistent ones."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from deerapi_videos import (
    AsyncDeerAPI,
    DeerAPI,
    InternalServerError,
    JobMayExistError,
    RateLimitError,
    Video,
    VideoFailedError,
)
from deerapi_videos_mock import Fault

from contract_tests.asyncio_support import run_isolated
from contract_tests.e2e._harness import API_KEY, async_client, new_mock, sync_client


def _status(video: Video) -> str:
    return str(getattr(video.status, "value", video.status))


# -- over loopback: real connection drops and a real truncated body --------------------------------


def test_loopback_drops_and_truncation_sync(tmp_path: Path) -> None:
    mock = new_mock(job_duration=0, content_size=256 * 1024)
    with mock.serve() as base_url, DeerAPI(api_key=API_KEY, base_url=base_url) as client:
        mock.inject(Fault.drop_after(operations="createVideo"))
        with pytest.raises(JobMayExistError) as info:
            client.videos.create(prompt="a cat")
        assert len(mock.requests_for("createVideo")) == 1 and len(mock.paid_jobs) == 1
        again = client.videos.create(prompt="a cat", idempotency_key=info.value.idempotency_key)
        assert again.id == mock.paid_jobs[0].id and len(mock.paid_jobs) == 1

        mock.inject(Fault.drop_before(operations="retrieveVideo"))
        assert client.videos.retrieve(again.id).id == again.id
        assert [r.status for r in mock.requests_for("retrieveVideo")] == [0, 200]

        mock.inject(Fault.truncate(100_000))
        target = tmp_path / "v.mp4"
        client.videos.download_content(again.id, target)
        statuses = [r.status for r in mock.requests_for("downloadVideoContent")]
        assert statuses == [0, 206], "resumed with Range after the cut"
        data = target.read_bytes()
        assert len(data) == 256 * 1024 and data[4:8] == b"ftyp"
        assert [p.name for p in tmp_path.iterdir()] == ["v.mp4"]


@pytest.mark.asyncio
async def test_loopback_drops_and_truncation_async(tmp_path: Path) -> None:
    mock = new_mock(job_duration=0, content_size=256 * 1024)
    with mock.serve() as base_url:
        async with AsyncDeerAPI(api_key=API_KEY, base_url=base_url) as client:
            video = await client.videos.create(prompt="a cat")
            mock.inject(Fault.drop_after(operations="remixVideo"))
            with pytest.raises(JobMayExistError):
                await client.videos.remix(video.id, prompt="bow")
            assert len(mock.requests_for("remixVideo")) == 1 and len(mock.paid_jobs) == 2
            mock.inject(Fault.truncate(50_000, times=2))
            target = tmp_path / "v.mp4"
            await client.videos.download_content(video.id, target)
            assert [r.status for r in mock.requests_for("downloadVideoContent")] == [0, 0, 206]
            assert target.stat().st_size == 256 * 1024


def _wait_until_answered(mock: Any, operation: str, count: int) -> None:
    """Let the served mock finish a slow request the client gave up on (bounded, polled)."""
    deadline = time.monotonic() + 5.0
    while len(mock.requests_for(operation)) < count and time.monotonic() < deadline:
        time.sleep(0.01)


def test_loopback_read_timeout_on_post_is_job_may_exist() -> None:
    mock = new_mock(job_duration=0)
    with mock.serve() as base_url, DeerAPI(api_key=API_KEY, base_url=base_url) as client:
        mock.inject(Fault.slow(0.4, operations="createVideo"))
        with pytest.raises(JobMayExistError) as info:
            client.videos.create(prompt="a slow cat", timeout=0.2)
        _wait_until_answered(mock, "createVideo", 1)
    assert info.value.idempotency_key
    assert len(mock.requests_for("createVideo")) == 1, "never re-sent"
    # The mock reads the body only after the delay, by when the client has hung up: whether a
    # job started is exactly what the client cannot know. Never more than one.
    assert len(mock.paid_jobs) <= 1


def test_loopback_read_timeout_on_get_is_retried() -> None:
    mock = new_mock(job_duration=0)
    with (
        mock.serve() as base_url,
        DeerAPI(api_key=API_KEY, base_url=base_url, timeout=0.3) as client,
    ):
        video = client.videos.create(prompt="a cat")
        mock.inject(Fault.slow(0.5, operations="retrieveVideo"))
        try:
            result = client.videos.retrieve(video.id)
        finally:
            _wait_until_answered(mock, "retrieveVideo", 2)
    assert result.id == video.id
    assert len(mock.requests_for("retrieveVideo")) == 2


# -- polling through faults -----------------------------------------------------------------------


def test_unknown_status_and_extra_fields_keep_polling() -> None:
    mock = new_mock(advance_on_retrieve=1.0)
    client, _ = sync_client(mock)
    seen: list[str] = []
    with client:
        video = client.videos.create(prompt="a cat")
        mock.inject(
            Fault.unknown_status("provider_pending", times=3, operations="retrieveVideo"),
            Fault.extra_fields({"queue_position": 3}, times=2, operations="retrieveVideo"),
            Fault.status(503, times=1, operations="retrieveVideo"),
            Fault.drop_before(operations="retrieveVideo"),
        )
        done = client.videos.poll(video.id, on_progress=lambda v: seen.append(_status(v)))
    assert _status(done) == "completed"
    assert "provider_pending" in seen and seen[-1] == "completed"
    assert len(mock.paid_jobs) == 1 and len(mock.requests_for("createVideo")) == 1


@pytest.mark.asyncio
async def test_unknown_status_keeps_polling_async() -> None:
    mock = new_mock(advance_on_retrieve=1.0)
    client, _ = async_client(mock)
    async with client:
        video = await client.videos.create(prompt="a cat")
        mock.inject(Fault.unknown_status("warming_up", times=4, operations="retrieveVideo"))
        done = await client.videos.poll(video.id)
    assert _status(done) == "completed"


def test_expired_status_ends_polling_as_failed() -> None:
    mock = new_mock(advance_on_retrieve=1.0)
    client, _ = sync_client(mock)
    with client:
        video = client.videos.create(prompt="a cat")
        mock.inject(Fault.unknown_status("expired", operations="retrieveVideo"))
        with pytest.raises(VideoFailedError) as info:
            client.videos.poll(video.id)
    assert info.value.status == "expired"


# -- persistent faults: retries run out, the right error class -------------------------------------


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_persistent_html_error_page_gives_internal_server_error(flavour: str) -> None:
    mock = new_mock(job_duration=0)
    source = mock.add_video().id
    mock.inject(Fault.html_error(502, times=None))
    errors: list[BaseException] = []
    if flavour == "sync":
        client, _ = sync_client(mock)
        with client:
            for call in (
                lambda: client.videos.retrieve(source),
                lambda: client.videos.create(prompt="x"),
            ):
                try:
                    call()
                except Exception as exc:
                    errors.append(exc)
    else:

        async def run() -> None:
            client, _ = async_client(mock)
            async with client:
                for coro in (client.videos.retrieve(source), client.videos.create(prompt="x")):
                    try:
                        await coro
                    except Exception as exc:
                        errors.append(exc)

        run_isolated(run())
    get_error, post_error = errors
    assert type(get_error) is InternalServerError and get_error.status_code == 502
    assert "Bad Gateway" in get_error.error_message and get_error.request_id
    assert len(mock.requests_for("retrieveVideo")) == 3  # 1 + max_retries
    assert isinstance(post_error, JobMayExistError) and isinstance(
        post_error.cause, InternalServerError
    )
    assert len(mock.requests_for("createVideo")) == 1 and mock.paid_jobs == []


def test_rate_limit_longer_than_the_cap_is_not_retried(client_never_sleeps: list[float]) -> None:
    mock = new_mock(job_duration=0)
    mock.inject(Fault.rate_limit(retry_after="3600", operations="createVideo"))
    client, _ = sync_client(mock)
    with client, pytest.raises(RateLimitError) as info:
        client.videos.create(prompt="a cat")
    assert info.value.retry_after == 3600
    assert len(mock.requests_for("createVideo")) == 1 and mock.paid_jobs == []
    assert client_never_sleeps == []


def test_429_retry_after_is_honoured(client_never_sleeps: list[float]) -> None:
    mock = new_mock(job_duration=0)
    mock.inject(Fault.rate_limit(retry_after="2", operations="createVideo"))
    client, _ = sync_client(mock)
    with client:
        client.videos.create(prompt="a cat")
    assert client_never_sleeps == [2.0]
    assert len(mock.requests_for("createVideo")) == 2 and len(mock.paid_jobs) == 1
