"""The shared scheduler for threads: ``DeerAPI(transport=SyncScheduledTransport(scheduler))``."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from deerapi_videos import DeerAPI, InvalidParameterError
from deerapi_videos.ledger import JobLedger, LedgeredVideos
from deerapi_videos_batch import Scheduler, SyncScheduledTransport

from ._arrivals import Arrivals
from .conftest import API_KEY, Served


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
                return videos.poll(f"job-{i}", timeout=60.0).status
            finally:
                scheduler.release_slot()

        statuses = _in_threads(6, job)
    assert statuses == ["completed"] * 6
    assert len(served.mock.requests_for("createVideo")) == 6
    during = arrivals.sent_during_the_pause(0.55)
    assert during == []  # no thread sent anything while the pause lasted
    assert scheduler.stats.pauses == 1
