"""The shared scheduler (pauses, AIMD, pacing, priorities) and the ETA-spaced polls."""

from __future__ import annotations

import asyncio
import email.utils
import time

import httpx
import pytest
from deerapi_videos_batch import DurationPrior, PollPlan, Scheduler, parse_duration

from ._arrivals import Arrivals
from .conftest import PAUSE, Served, prompts


def _headers(**values: str) -> httpx.Headers:
    return httpx.Headers({k.replace("_", "-"): v for k, v in values.items()})


# -- pauses ------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_one_429_pauses_every_sender() -> None:
    scheduler = Scheduler(concurrency=8)
    await scheduler.before_request("poll")
    scheduler.after_response("poll", 429, _headers(retry_after_ms="300"), "rate_limit_exceeded")
    started = time.monotonic()
    left = await asyncio.gather(
        *(scheduler.before_request(kind) for kind in ("poll", "download", "submit", "list"))
    )
    waited = [t - started for t in left]
    assert min(waited) >= 0.28
    assert scheduler.stats.rate_limited == 1 and scheduler.stats.pauses == 1


@pytest.mark.asyncio
async def test_a_running_jobs_429_holds_back_new_jobs_only_and_narrows_the_window() -> None:
    scheduler = Scheduler(concurrency=10)
    for _ in range(6):
        await scheduler.acquire_slot()
    sent = await scheduler.before_request("submit")
    scheduler.after_response(
        "submit", 429, _headers(retry_after_ms="400"), "concurrency_limit_exceeded", sent
    )
    assert scheduler.window == pytest.approx(5.4)
    # Another 429 to a request already on its way at the cut does not cut again.
    scheduler.after_response(
        "submit", 429, _headers(retry_after_ms="400"), "concurrency_limit_exceeded", sent - 1
    )
    assert scheduler.window == pytest.approx(5.4)
    started = time.monotonic()
    poll_left = await scheduler.before_request("poll")
    assert poll_left - started < 0.3  # polls go on (the pause on new jobs is 0.4 s)
    submit_left = await scheduler.before_request("submit")
    assert submit_left - started >= 0.38
    scheduler.job_accepted()
    assert scheduler.window == pytest.approx(5.4 + 1 / 5.4)


@pytest.mark.asyncio
async def test_the_job_window_holds_a_task_until_a_slot_is_released() -> None:
    scheduler = Scheduler(concurrency=2)
    await scheduler.acquire_slot()
    await scheduler.acquire_slot()
    third = asyncio.ensure_future(scheduler.acquire_slot())
    done, _ = await asyncio.wait([third], timeout=0.2)
    assert not done  # the window is full
    scheduler.release_slot()
    await asyncio.wait_for(third, timeout=2.0)
    assert scheduler.active == 2


@pytest.mark.asyncio
async def test_waiting_requests_leave_downloads_first_then_polls_then_new_jobs() -> None:
    scheduler = Scheduler(concurrency=4)
    await scheduler.before_request("poll")
    scheduler.after_response("poll", 429, _headers(retry_after_ms="100"))
    order: list[str] = []

    async def one(kind: str) -> None:
        await scheduler.before_request(kind)
        order.append(kind)

    await asyncio.gather(*(one(kind) for kind in ("submit", "poll", "submit", "download")))
    assert order == ["download", "poll", "submit", "submit"]


# -- pacing ------------------------------------------------------------------------------------


def test_the_servers_rate_headers_cap_the_pace() -> None:
    scheduler = Scheduler(concurrency=4)
    assert scheduler.pace() is None  # unknown: unpaced
    full = _headers(
        x_ratelimit_limit_requests="10",
        x_ratelimit_remaining_requests="9",
        x_ratelimit_reset_requests="20ms",
    )
    scheduler.after_response("poll", 200, full)
    assert scheduler.pace() is None  # a nearly full bucket says nothing of the refill rate
    drained = _headers(
        x_ratelimit_limit_requests="10",
        x_ratelimit_remaining_requests="2",
        x_ratelimit_reset_requests="0.150s",
    )
    scheduler.after_response("poll", 200, drained)
    assert scheduler.pace() == pytest.approx(0.98 * 7.5 / 0.15)


def test_rate_429s_decrease_the_pace_once_per_round_and_successes_raise_it() -> None:
    now = [100.0]
    scheduler = Scheduler(concurrency=4, rate=50.0, clock=lambda: now[0])
    scheduler.after_response("poll", 429, _headers(), sent_at=99.0)
    assert scheduler.pace() == pytest.approx(45.0)
    scheduler.after_response("poll", 429, _headers(), sent_at=99.5)  # sent before the cut
    assert scheduler.pace() == pytest.approx(45.0)
    for _ in range(45):
        scheduler.after_response("poll", 200, _headers())
    assert scheduler.pace() == pytest.approx(46.0, abs=0.05)  # about +1/s per second


def test_durations_in_rate_limit_headers_are_read() -> None:
    assert parse_duration("6m0s") == 360.0
    assert parse_duration("1h2m3.5s") == 3723.5
    assert parse_duration("20ms") == pytest.approx(0.02)
    assert parse_duration("0.5") == 0.5
    assert parse_duration("soon") is None


# -- the ETA -----------------------------------------------------------------------------------


def test_the_next_read_is_planned_at_the_estimated_end() -> None:
    plan = PollPlan(0.0)
    assert plan.next_delay(0.0) == 1.0  # nothing known: back off from 1 s
    plan.observe(1.0, "in_progress", 10)
    plan.observe(2.0, "in_progress", 30)  # 20 %/s: 70 % left, 3.5 s
    assert plan.next_delay(2.0) == pytest.approx(3.5 * 1.02)


def test_the_first_read_is_planned_from_the_batchs_finished_jobs() -> None:
    prior = DurationPrior(quantile=0.5)
    for duration in (8.0, 10.0, 12.0):
        prior.observe(("sora-2", "4"), duration)
    assert prior.estimate(("sora-2", "4")) == 10.0
    plan = PollPlan(5.0, prior=prior.estimate(("sora-2", "4")))
    assert plan.next_delay(5.0) == pytest.approx(10.0)


def test_reads_of_one_job_are_at_least_half_a_second_apart() -> None:
    plan = PollPlan(0.0, min_interval=0.5)
    plan.observe(1.0, "in_progress", 98)
    plan.observe(1.1, "in_progress", 99)  # would say: read again in 0.1 s
    assert plan.next_delay(1.1) == pytest.approx(0.5)


# -- end to end: one 429 pauses every job of the batch -----------------------------------------


def test_a_429_to_one_job_pauses_the_requests_of_every_job(
    paused: tuple[Served, Arrivals],
) -> None:
    served, arrivals = paused
    result = served.run(served.write(prompts(6)), concurrency=6)
    assert result.exit_code == 0
    during = arrivals.sent_during_the_pause(PAUSE - 0.05)
    assert during == []  # nobody sent anything while the pause lasted
    assert result.requests["pauses"] == 1


def test_an_absurd_retry_after_pauses_at_most_max_pause() -> None:
    scheduler = Scheduler(concurrency=2, max_pause=300.0)
    scheduler.after_response("poll", 429, _headers(retry_after="9" * 24))
    assert 299.0 < scheduler.paused_for("poll") <= 300.0


def test_retry_after_is_read_by_the_clients_rule_dates_included() -> None:
    scheduler = Scheduler(concurrency=2)
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    scheduler.after_response("poll", 429, _headers(retry_after=when))
    assert 25.0 < scheduler.paused_for("poll") <= 31.0
    scheduler = Scheduler(concurrency=2)
    scheduler.after_response("poll", 429, _headers(retry_after="nan"))
    assert scheduler.paused_for("poll") == pytest.approx(scheduler.default_pause, abs=0.05)
