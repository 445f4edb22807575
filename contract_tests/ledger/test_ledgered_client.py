"""The opt-in ledger for the plain client, sync and async, against the mock on loopback."""

from __future__ import annotations

from pathlib import Path

import pytest
from deerapi_videos import AsyncDeerAPI, JobMayExistError, VideoFailedError
from deerapi_videos.ledger import (
    AmbiguousJobError,
    AsyncLedgeredVideos,
    Budget,
    BudgetExceededError,
    JobLedger,
    JobRequest,
    JobState,
    file_sha256,
)
from deerapi_videos_mock import Fault, LimitedMock, Limits, MockDeerAPI

from .conftest import KEY
from .conftest import jobs_on as _jobs


def test_creating_the_same_job_again_returns_the_recorded_one(
    mock: MockDeerAPI, served: str, tmp_path: Path
) -> None:
    client, ledger, jobs = _jobs(served, tmp_path / "l.sqlite")
    with client, ledger:
        first = jobs.create(prompt="a cat", seconds=4, job_key="cat")
        again = jobs.create(prompt="a cat", seconds="4", job_key="cat")
        by_fingerprint = jobs.create(prompt="a dog")
        same_dog = jobs.create(prompt="a dog", model="sora-2", seconds="4", size="720x1280")
    assert again.id == first.id and same_dog.id == by_fingerprint.id
    assert len(mock.paid_jobs) == 2
    # A new process (a new ledger object on the same file) does not pay again either.
    client, ledger, jobs = _jobs(served, tmp_path / "l.sqlite")
    with client, ledger:
        assert jobs.create(prompt="a cat", seconds=4, job_key="cat").id == first.id
    assert len(mock.paid_jobs) == 2


def test_poll_and_download_record_the_outcome_and_checksum(
    mock: MockDeerAPI, served: str, tmp_path: Path
) -> None:
    client, ledger, jobs = _jobs(served, tmp_path / "l.sqlite")
    with client, ledger:
        jobs.create(prompt="a cat", job_key="cat")
        mock.complete_all()
        assert str(jobs.poll("cat").status.value) == "completed"
        path = jobs.download_content("cat", tmp_path / "cat.mp4")
        job = ledger.require("cat")
        assert job.state is JobState.DOWNLOADED
        assert (job.sha256, job.size_bytes) == file_sha256(path)
        before = len(mock.requests)
        jobs.download_content("cat", tmp_path / "cat.mp4")  # recorded and intact: not fetched
        assert len(mock.requests) == before


def test_a_lost_answer_whose_job_exists_is_adopted_not_paid_again(
    mock: MockDeerAPI, served: str, tmp_path: Path
) -> None:
    client, ledger, jobs = _jobs(served, tmp_path / "l.sqlite", reconcile_grace=0.0)
    with client, ledger:
        jobs.create(prompt="first", job_key="first")
        mock.inject(Fault.drop_after(operations="createVideo"))
        with pytest.raises(JobMayExistError) as caught:
            jobs.create(prompt="a bird", seconds=8, job_key="bird")
        assert caught.value.idempotency_key == ledger.require("bird").idempotency_key
        assert ledger.require("bird").state is JobState.UNCERTAIN
        video = jobs.create(prompt="a bird", seconds=8, job_key="bird")
        assert ledger.require("bird").video_id == video.id
    assert len(mock.paid_jobs) == 2
    adopted = mock.get(video.id)
    assert adopted is not None and adopted.prompt == "a bird"


def test_a_lost_post_that_started_nothing_is_sent_again_with_its_key(
    mock: MockDeerAPI, served: str, tmp_path: Path
) -> None:
    client, ledger, jobs = _jobs(served, tmp_path / "l.sqlite", reconcile_grace=0.0)
    with client, ledger:
        mock.inject(Fault.drop_before(operations="createVideo"))
        with pytest.raises(JobMayExistError):
            jobs.create(prompt="a fish", job_key="fish", max_retries=0)
        key = ledger.require("fish").idempotency_key
        video = jobs.create(prompt="a fish", job_key="fish")
    assert len(mock.paid_jobs) == 1 and mock.paid_jobs[0].idempotency_key == key
    assert mock.paid_jobs[0].id == video.id


def test_an_uncertain_job_that_cannot_be_told_apart_is_ambiguous(
    mock: MockDeerAPI, served: str, tmp_path: Path
) -> None:
    """Without an answer recorded before it (no anchor), an older job with the same settings
    could be the one the lost POST started: nothing is adopted or sent, the key is reported."""
    mock.add_video("an older job of the account")  # same default settings
    client, ledger, jobs = _jobs(served, tmp_path / "l.sqlite", reconcile_grace=0.0)
    with client, ledger:
        mock.inject(Fault.drop_before(operations="createVideo"))
        with pytest.raises(JobMayExistError):
            jobs.create(prompt="a fox", job_key="fox", max_retries=0)
        with pytest.raises(AmbiguousJobError) as caught:
            jobs.create(prompt="a fox", job_key="fox")
        assert ledger.require("fox").state is JobState.AMBIGUOUS
        assert caught.value.idempotency_key == ledger.require("fox").idempotency_key
        assert len(mock.paid_jobs) == 0
        with pytest.raises(AmbiguousJobError):
            jobs.create(prompt="a fox", job_key="fox")  # still nothing sent
        assert len(mock.paid_jobs) == 0
        jobs.create(prompt="a fox", job_key="fox", resubmit_ambiguous=True)
        assert ledger.spent().jobs == 2  # charged twice: it may have been paid twice
    assert len(mock.paid_jobs) == 1


def test_a_server_trusted_to_honour_keys_gets_the_same_key_again(
    mock: MockDeerAPI, served: str, tmp_path: Path
) -> None:
    client, ledger, jobs = _jobs(
        served, tmp_path / "l.sqlite", trust_idempotency_keys=True, reconcile_grace=60.0
    )
    with client, ledger:
        mock.inject(Fault.drop_after(operations="createVideo"))
        with pytest.raises(JobMayExistError):
            jobs.create(prompt="a bird", job_key="bird")
        video = jobs.create(prompt="a bird", job_key="bird")
    assert len(mock.paid_jobs) == 1 and mock.paid_jobs[0].id == video.id
    assert len(mock.requests_for("listVideos")) == 0


def test_a_job_that_failed_for_good_raises_again_without_sending(
    mock: MockDeerAPI, served: str, tmp_path: Path
) -> None:
    client, ledger, jobs = _jobs(served, tmp_path / "l.sqlite")
    with client, ledger:
        jobs.create(prompt="blocked [mock:fail=moderation_blocked]", job_key="bad")
        mock.complete_all()
        with pytest.raises(VideoFailedError):
            jobs.poll("bad")
        before = len(mock.requests)
        with pytest.raises(VideoFailedError, match="moderation_blocked"):
            jobs.create(prompt="blocked [mock:fail=moderation_blocked]", job_key="bad")
        assert len(mock.requests) == before


def test_the_budget_refuses_before_anything_is_sent(
    mock: MockDeerAPI, served: str, tmp_path: Path
) -> None:
    client, ledger, jobs = _jobs(served, tmp_path / "l.sqlite")
    with client, ledger:
        jobs.create(prompt="a", seconds=8, budget=Budget(seconds=12))
        with pytest.raises(BudgetExceededError):
            jobs.create(prompt="b", seconds=8, budget=Budget(seconds=12))
    assert len(mock.paid_jobs) == 1


@pytest.mark.asyncio
async def test_the_async_twin_keeps_the_same_promises(tmp_path: Path) -> None:
    mock = MockDeerAPI(api_key=KEY, job_duration=0.0, content_size=2048)
    limited = LimitedMock(mock, Limits())
    with limited.serve() as base_url:
        async with AsyncDeerAPI(api_key=KEY, base_url=base_url) as client:
            with JobLedger(tmp_path / "l.sqlite") as ledger:
                jobs = AsyncLedgeredVideos(client, ledger)
                first = await jobs.create(prompt="a cat", job_key="cat")
                again = await jobs.create(prompt="a cat", job_key="cat")
                await jobs.download_content("cat", tmp_path / "cat.mp4")
                job = ledger.require("cat")
    assert job.state is JobState.DOWNLOADED
    assert first.id == again.id
    assert limited.post_counts() == {job.idempotency_key: (1, 1)}


def test_a_reconcile_waits_for_a_look_alike_post_of_this_process(
    mock: MockDeerAPI, served: str, tmp_path: Path
) -> None:
    """A POST of this process on its way may have started a listed job that nobody has
    claimed yet: an uncertain job with the same settings must not take it for its own."""
    client, ledger, jobs = _jobs(served, tmp_path / "l.sqlite", reconcile_grace=0.0)
    with client, ledger:
        jobs.create(prompt="an anchor", seconds=8, job_key="anchor")  # answered: an anchor
        mock.inject(Fault.drop_before(operations="createVideo"))
        with pytest.raises(JobMayExistError):
            jobs.create(prompt="lost", job_key="lost", max_retries=0)  # started nothing
        ledger.register(JobRequest.create(prompt="sending"), "sending")
        sending = ledger.claim("sending")  # the same settings as "lost"
        # Its job starts on the server; its answer is not recorded yet.
        video = client.videos.create(prompt="sending", idempotency_key=sending.idempotency_key)
        assert jobs.reconcile(["lost"])["lost"].outcome == "wait"  # not "adopted"
        ledger.record_created("sending", video)
        assert jobs.reconcile(["lost"])["lost"].outcome == "not_started"
        assert ledger.require("lost").video_id is None
