"""Crash safety: a batch killed with SIGKILL at random moments, then rerun until done.

The small form of the benchmark's crash run (``benchmarks/bench_batch.py --only crash``): a
few kills each, with the mock honouring ``Idempotency-Key`` and with replay switched off.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from deerapi_videos_mock import LimitedMock

from .crash_harness import make_mock, run_with_kills, write_jobs

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")

JOBS = 12
KILLS = 3


@pytest.fixture(params=[True, False], ids=["replay-on", "replay-off"])
def replay(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


@pytest.fixture
def limited(replay: bool) -> Iterator[tuple[LimitedMock, str]]:
    mock = make_mock(replay=replay)
    with mock.serve() as base_url:
        yield mock, base_url


def test_killed_batches_pay_once_per_job_and_never_leave_a_partial_file(
    limited: tuple[LimitedMock, str], replay: bool, tmp_path: Path
) -> None:
    mock, base_url = limited
    jobs = tmp_path / "jobs.jsonl"
    prompts = write_jobs(jobs, JOBS)
    # With replay on, the batch is told the server honours keys; with it off, it is not (the
    # default), so it must reconcile by listing or report the job ambiguous.
    extra = ("--trust-idempotency-keys",) if replay else ("--reconcile-grace", "0.3")
    run = run_with_kills(
        mock,
        base_url,
        tmp_path,
        jobs,
        kills=KILLS,
        seed=7 if replay else 11,
        extra_args=(*extra, "--concurrency", "4"),
        kill_window=0.6,
    )
    assert run.kills >= 1, run
    assert run.partial_files == []
    assert run.last_exit in (0, 5), run
    report = run.final_report
    by_id = {o["id"]: o for o in report["outcomes"]}
    assert mock.duplicates() == 0, mock.paid_by_prompt()
    for index, prompt in enumerate(prompts):
        outcome = by_id[f"job-{index:03d}"]
        if outcome["state"] == "downloaded":
            video = mock.mock.get(outcome["video_id"])  # the right job, not a look-alike
            assert video is not None and video.prompt == prompt
        else:
            assert outcome["state"] == "ambiguous" and outcome["idempotency_key"], outcome
    if replay:
        assert run.last_exit == 0
        # Exactly one paid POST per job; repeated POSTs were replays of its key.
        for key, (_, paid) in mock.post_counts().items():
            assert paid <= 1, key
        assert len(mock.mock.paid_jobs) == JOBS
