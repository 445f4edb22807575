"""The shared scheduler for threads: ``DeerAPI(transport=SyncScheduledTransport(scheduler))``."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from deerapi_videos import AsyncDeerAPI, DeerAPI, InvalidParameterError, PollTimeoutError
from deerapi_videos.ledger import JobLedger, LedgeredVideos
from deerapi_videos_batch import ScheduledTransport, Scheduler, SyncScheduledTransport
from deerapi_videos_mock import Fault, Limits

from contract_tests.asyncio_support import run_isolated

from ._arrivals import Arrivals
from .conftest import API_KEY, PAUSE, Served, serve_limited


def _headers(**values: str) -> httpx.Headers:
    return httpx.Headers({k.replace("_", "-"): v for k, v in values.items()})


def _in_threads(count: int, work: object) -> list[object]:
    assert callable(work)
    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(work, range(count)))


def test_one_429_pauses_every_thread() -> None:
    scheduler = Scheduler(concurrency=8)
    scheduler.before_request_blocking("poll")
    scheduler.after_response("poll", 429, _headers(retry_after_ms="300"), "rate_limit_exceeded")
    started = time.monotonic()
    kinds = ("poll", "download", "submit", "list")
    left = _in_threads(4, lambda i: scheduler.before_request_blocking(kinds[i]))
    waited = [float(t) - started for t in left]  # type: ignore[arg-type]
    assert min(waited) >= 0.28
    assert scheduler.stats.rate_limited == 1 and scheduler.stats.pauses == 1


def test_waiting_threads_leave_downloads_first_then_polls_then_new_jobs() -> None:
    scheduler = Scheduler(concurrency=4)
    scheduler.before_request_blocking("poll")
    scheduler.after_response("poll", 429, _headers(retry_after_ms="300"))
    order: list[str] = []
    kinds = ("submit", "poll", "submit", "download")

    def one(i: int) -> None:
        scheduler.before_request_blocking(kinds[i])
        order.append(kinds[i])
        # Answer at once, as a fast server would: the next in line may go.
        scheduler.after_response(kinds[i], 200, _headers())

    _in_threads(4, one)
    assert order == ["download", "poll", "submit", "submit"]


def test_a_thread_interrupted_while_waiting_gives_its_place_up() -> None:
    scheduler = Scheduler(concurrency=4)
    scheduler.before_request_blocking("poll")
    scheduler.after_response("poll", 429, _headers(retry_after_ms="200"))
    clock_calls = 0
    real_clock = scheduler._clock

    def failing_once() -> float:
        nonlocal clock_calls
        clock_calls += 1
        if clock_calls == 1:
            raise KeyboardInterrupt  # stands in for Ctrl-C arriving while the thread waits
        return real_clock()

    scheduler._clock = failing_once
    with pytest.raises(KeyboardInterrupt):
        scheduler.before_request_blocking("download")
    scheduler._clock = real_clock
    assert scheduler._thread_queue == []
    # The next request is not stuck behind the abandoned place.
    scheduler.before_request_blocking("poll")


def test_the_job_window_blocks_threads_until_a_slot_is_released() -> None:
    scheduler = Scheduler(concurrency=2)
    scheduler.acquire_slot_blocking()
    scheduler.acquire_slot_blocking()
    got = threading.Event()

    def third() -> None:
        scheduler.acquire_slot_blocking()
        got.set()

    thread = threading.Thread(target=third)
    thread.start()
    assert not got.wait(0.2)  # the window is full
    scheduler.release_slot()
    assert got.wait(2.0)
    thread.join()
    assert scheduler.active == 2


def test_a_client_takes_a_transport_or_an_http_client_not_both() -> None:
    transport = SyncScheduledTransport(Scheduler(concurrency=1))
    with pytest.raises(InvalidParameterError, match="transport"):
        DeerAPI(api_key=API_KEY, http_client=httpx.Client(), transport=transport)


# -- end to end: threads sharing one blocking client ---------------------------------------


def test_a_429_to_one_thread_pauses_the_requests_of_every_thread(
    paused: tuple[Served, Arrivals], tmp_path: Path
) -> None:
    served, arrivals = paused
    scheduler = Scheduler(concurrency=6)
    client = DeerAPI(
        api_key=API_KEY,
        base_url=served.base_url,
        transport=SyncScheduledTransport(scheduler),
    )
    with client, JobLedger(tmp_path / "threads.sqlite") as ledger:
        videos = LedgeredVideos(client, ledger)

        def job(i: int) -> str:
            scheduler.acquire_slot_blocking()
            try:
                videos.create(prompt=f"thread job {i}", job_key=f"job-{i}")
                scheduler.job_accepted()
                # Reads every 0.5 s: without a shared pause, the others' next reads would
                # land inside it.
                return videos.poll(f"job-{i}", timeout=60.0, poll_interval=0.5).status
            finally:
                scheduler.release_slot()

        statuses = _in_threads(6, job)
    assert statuses == ["completed"] * 6
    assert len(served.mock.requests_for("createVideo")) == 6
    during = arrivals.sent_during_the_pause(PAUSE - 0.05)
    assert during == []  # no thread sent anything while the pause lasted
    assert scheduler.stats.pauses == 1


# -- a pause never holds a call past its own time limits -------------------------------------


@pytest.fixture
def long_pause(tmp_path: Path) -> Iterator[Served]:
    """A mock whose first read is answered 429 with ``Retry-After: 20``: a pause for all."""
    for served in serve_limited(tmp_path, Limits(rate=500.0, burst=100), job_duration=600.0):
        served.mock.inject(
            Fault.rate_limit(retry_after="20", operations=("retrieveVideo",), times=1)
        )
        yield served


def test_a_long_pause_ends_a_blocking_poll_at_its_deadline(long_pause: Served) -> None:
    scheduler = Scheduler(concurrency=2)
    transport = SyncScheduledTransport(scheduler)
    with DeerAPI(api_key=API_KEY, base_url=long_pause.base_url, transport=transport) as client:
        first = client.videos.create(prompt="answered 429")
        video = client.videos.create(prompt="held by the pause")
        with pytest.raises(PollTimeoutError):  # Retry-After 20 > its deadline: no use waiting
            client.videos.poll(first.id, timeout=2.0)
        started = time.monotonic()
        with pytest.raises(PollTimeoutError) as caught:
            client.videos.poll(video.id, timeout=2.0)
        waited = time.monotonic() - started
    assert caught.value.video_id == video.id
    assert 1.5 < waited < 4.0  # the deadline, not the 20 s pause
    assert scheduler.paused_for("poll") > 10  # the pause itself stands for everyone else
    assert scheduler._thread_queue == []  # the waiter gave its place up


def test_a_long_pause_ends_an_awaited_poll_at_its_deadline(long_pause: Served) -> None:
    scheduler = Scheduler(concurrency=2)

    async def scenario() -> tuple[str, float, str]:
        transport = ScheduledTransport(scheduler)
        async with AsyncDeerAPI(
            api_key=API_KEY, base_url=long_pause.base_url, transport=transport
        ) as client:
            first = await client.videos.create(prompt="answered 429")
            video = await client.videos.create(prompt="held by the pause")
            with pytest.raises(PollTimeoutError):
                await client.videos.poll(first.id, timeout=2.0)
            started = time.monotonic()
            with pytest.raises(PollTimeoutError) as caught:
                await client.videos.poll(video.id, timeout=2.0)
            return video.id, time.monotonic() - started, caught.value.video_id

    video_id, waited, error_id = run_isolated(scenario())
    assert error_id == video_id
    assert 1.5 < waited < 4.0
    assert scheduler.stats.requests["poll"] >= 1


def test_a_waiting_thread_gives_up_after_its_pool_timeout() -> None:
    scheduler = Scheduler(concurrency=2)
    scheduler.before_request_blocking("poll")
    scheduler.after_response("poll", 429, _headers(retry_after="20"))
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        scheduler.before_request_blocking("poll", timeout=0.3)
    assert 0.25 < time.monotonic() - started < 1.0
    assert scheduler._thread_queue == []


def test_a_scheduler_serves_tasks_or_threads_not_both() -> None:
    scheduler = Scheduler(concurrency=2)
    scheduler.before_request_blocking("poll")

    async def from_a_task() -> None:
        await scheduler.before_request("poll")

    with pytest.raises(RuntimeError, match="already serves threads"):
        run_isolated(from_a_task())
    with pytest.raises(RuntimeError, match="already serves threads"):
        run_isolated(scheduler.acquire_slot())
