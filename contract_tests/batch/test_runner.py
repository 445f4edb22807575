"""The batch runner against the limited mock: resume, budget, classification, ambiguity."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from deerapi_videos.ledger import JobLedger, JobState
from deerapi_videos_batch import EXIT_AMBIGUOUS, EXIT_FAILED, EXIT_INCOMPLETE, EXIT_OK
from deerapi_videos_mock import Fault, Limits

from contract_tests.builders import png

from .conftest import Served, prompts, serve_limited


def _ledger_states(served: Served) -> dict[str, str]:
    """Read without opening the ledger (an exclusive open would recover it)."""
    with sqlite3.connect(served.workdir / "jobs.ledger.sqlite") as db:
        return dict(db.execute("SELECT job_key, state FROM jobs").fetchall())


# -- resume ------------------------------------------------------------------------------------


def test_a_batch_saves_every_video_and_a_rerun_redoes_nothing(served: Served) -> None:
    path = served.write(prompts(5))
    result = served.run(path)
    assert result.exit_code == EXIT_OK
    assert result.totals == {"downloaded": 5}
    out = served.workdir / "out"
    assert sorted(p.name for p in out.glob("*.mp4")) == [f"job-{i}.mp4" for i in range(5)]
    report = json.loads((served.workdir / "report.json").read_text())
    assert report["totals"] == {"downloaded": 5}
    assert all(o["sha256"] and o["request_ids"] for o in report["outcomes"])
    requests = len(served.mock.requests)
    again = served.run(path)
    assert again.exit_code == EXIT_OK
    assert len(served.mock.requests) == requests  # not one request: everything was done
    assert len(served.mock.paid_jobs) == 5


def test_a_lost_output_file_is_downloaded_again_without_paying(served: Served) -> None:
    path = served.write(prompts(3))
    served.run(path)
    (served.workdir / "out" / "job-1.mp4").unlink()
    before = len(served.mock.requests)
    assert served.run(path).exit_code == EXIT_OK
    new = served.mock.requests[before:]
    assert [(r.method, r.path.endswith("/content")) for r in new] == [("GET", True)]
    assert (served.workdir / "out" / "job-1.mp4").exists()


def test_identical_lines_are_one_job_and_invalid_lines_fail_alone(
    served: Served, tmp_path: Path
) -> None:
    (tmp_path / "frame.png").write_bytes(png(720, 1280))
    records = [
        {"prompt": "same"},
        {"prompt": "same", "seconds": "4"},  # the default filled in: the same job
        {"prompt": "bad length", "seconds": "5"},
        {"prompt": "with a first frame", "references": "frame.png"},
    ]
    result = served.run(served.write(records))
    states = [o.state for o in result.outcomes]
    assert states == ["downloaded", "duplicate", "invalid", "downloaded"]
    assert result.outcomes[1].duplicate_of == 1
    assert "seconds" in (result.outcomes[2].error or "")
    assert result.exit_code == EXIT_FAILED
    assert len(served.mock.paid_jobs) == 2


# -- budget ------------------------------------------------------------------------------------


def test_the_video_seconds_budget_is_never_exceeded_across_reruns(served: Served) -> None:
    path = served.write(prompts(8, seconds="4"))
    result = served.run(path, concurrency=8, budget=_budget(seconds=14))
    assert result.exit_code == EXIT_INCOMPLETE
    assert len(served.mock.paid_jobs) == 3 and result.spent.seconds == 12
    assert sum(o.state == "over_budget" for o in result.outcomes) == 5
    again = served.run(path, concurrency=8, budget=_budget(seconds=14))
    assert len(served.mock.paid_jobs) == 3 and again.exit_code == EXIT_INCOMPLETE
    more = served.run(path, concurrency=8, budget=_budget(seconds=20))
    assert len(served.mock.paid_jobs) == 5 and more.spent.seconds == 20


def test_the_jobs_budget_is_never_exceeded(served: Served) -> None:
    result = served.run(served.write(prompts(6)), concurrency=6, budget=_budget(jobs=2))
    assert len(served.mock.paid_jobs) == 2 and result.spent.jobs == 2
    assert result.totals == {"downloaded": 2, "over_budget": 4}


def _budget(seconds: int | None = None, jobs: int | None = None) -> object:
    from deerapi_videos.ledger import Budget

    return Budget(seconds=seconds, jobs=jobs)


# -- classification ----------------------------------------------------------------------------


def test_a_moderation_refusal_is_final_and_never_sent_again(served: Served) -> None:
    path = served.write(
        [{"id": "ok", "prompt": "fine"}, {"id": "no", "prompt": "x [mock:fail=moderation_blocked]"}]
    )
    result = served.run(path)
    failed = result.outcomes[1]
    assert (failed.state, failed.error_kind, failed.reason) == ("failed", "final", "moderation")
    assert result.exit_code == EXIT_FAILED
    posts = len(served.mock.requests_for("createVideo"))
    assert served.run(path).exit_code == EXIT_FAILED
    assert len(served.mock.requests_for("createVideo")) == posts


def test_a_passing_server_error_is_retried_in_the_run(served: Served) -> None:
    served.mock.inject(Fault.unavailable(retry_after="0", operations=("createVideo",), times=2))
    result = served.run(served.write(prompts(1)))
    assert result.exit_code == EXIT_OK
    assert result.outcomes[0].post_attempts == 3


def test_a_lasting_server_error_is_left_for_a_later_run(served: Served) -> None:
    served.mock.inject(Fault.status(503, retry_after="0", operations=("createVideo",), times=None))
    path = served.write(prompts(1))
    result = served.run(path, max_attempts=2)
    outcome = result.outcomes[0]
    assert (outcome.state, outcome.error_kind, outcome.reason) == (
        "retry_later",
        "retry_later",
        "server error",
    )
    assert result.exit_code == EXIT_INCOMPLETE and result.spent.jobs == 0
    served.mock.clear_faults()
    assert served.run(path).exit_code == EXIT_OK


def test_a_wrong_key_stops_the_batch_before_anything_is_paid(served: Served) -> None:
    result = served.run(served.write(prompts(4)), api_key="sk-wrong")
    assert result.exit_code == EXIT_FAILED
    assert result.stopped is not None and "401" in result.stopped
    assert len(served.mock.paid_jobs) == 0
    assert len(served.mock.requests_for("createVideo")) <= 4


# -- ambiguity ---------------------------------------------------------------------------------


@pytest.fixture
def no_replay(tmp_path: Path) -> Iterator[Served]:
    yield from serve_limited(tmp_path, Limits(rate=200.0, burst=50, idempotency_replay=False))


def test_a_lost_post_that_nobody_can_place_is_reported_ambiguous_with_its_key(
    no_replay: Served,
) -> None:
    served = no_replay
    served.mock.add_video("an older job with the same settings")
    served.mock.inject(Fault.drop_after(operations=("createVideo",), times=1))
    path = served.write(prompts(1))
    result = served.run(path)
    outcome = result.outcomes[0]
    assert result.exit_code == EXIT_AMBIGUOUS
    assert outcome.state == "ambiguous" and outcome.idempotency_key
    assert len(served.mock.paid_jobs) == 1  # the lost POST's job: never sent again
    assert served.run(path).exit_code == EXIT_AMBIGUOUS
    assert len(served.mock.paid_jobs) == 1
    resubmitted = served.run(path, resubmit_ambiguous=True)
    assert resubmitted.exit_code == EXIT_OK
    assert len(served.mock.paid_jobs) == 2  # the caller chose to risk it
    assert resubmitted.spent.jobs == 2


def test_a_lost_post_whose_job_is_listed_is_adopted(no_replay: Served) -> None:
    served = no_replay
    first = {"id": "first", "prompt": "first", "seconds": "8"}
    assert served.run(served.write([first])).exit_code == EXIT_OK  # an anchor for the next
    served.mock.inject(Fault.drop_after(operations=("createVideo",), times=1))
    result = served.run(served.write([first, *prompts(1)]))
    assert result.exit_code == EXIT_OK, result.as_dict()
    assert len(served.mock.paid_jobs) == 2 and served.limited.duplicates() == 0
    for outcome in result.outcomes:
        video = served.mock.get(outcome.video_id or "")
        assert video is not None and video.prompt in ("first", "batch job 0")
    assert served.limited.paid_by_prompt() == {"first": 1, "batch job 0": 1}


def test_an_interrupted_run_leaves_its_post_uncertain_not_forgotten(served: Served) -> None:
    path = served.write(prompts(1))
    with JobLedger(served.workdir / "jobs.ledger.sqlite") as ledger:
        from deerapi_videos.ledger import JobRequest

        job = ledger.register(JobRequest.create(prompt="batch job 0"), "job-0", label="job-0.mp4")
        ledger.claim("job-0")  # ... and the process died before sending its POST
    assert _ledger_states(served) == {"job-0": "submitting"}
    result = served.run(path)
    assert result.exit_code == EXIT_OK
    assert served.mock.paid_jobs[0].idempotency_key == job.idempotency_key
    assert len(served.mock.paid_jobs) == 1
    assert result.outcomes[0].state == JobState.DOWNLOADED
