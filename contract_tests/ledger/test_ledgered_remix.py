"""The opt-in ledger covers remixes (``LedgeredVideos.remix``), sync and async, against the mock
on loopback: the same promises as for a create, plus a remix's own identity, reconciling and
budget."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from deerapi_videos import (
    AsyncDeerAPI,
    ConflictError,
    InvalidParameterError,
    JobMayExistError,
)
from deerapi_videos.ledger import (
    AmbiguousJobError,
    AsyncLedgeredVideos,
    Budget,
    BudgetExceededError,
    JobLedger,
    JobRequest,
    JobState,
    LedgeredVideos,
    Listed,
    decide_by_listing,
    file_sha256,
    listed_from_video,
)
from deerapi_videos.testing import no_sleep
from deerapi_videos_generated.models.video import Video
from deerapi_videos_mock import Fault, LimitedMock, Limits, MockDeerAPI

from .conftest import KEY
from .conftest import jobs_on as _jobs


def _source(mock: MockDeerAPI, jobs: LedgeredVideos, seconds: int = 4) -> str:
    """A completed video the ledger made (job ``src``): an anchor for later reconciles."""
    video = jobs.create(prompt="a source video", seconds=seconds, job_key="src")
    mock.complete_all()
    jobs.poll("src")
    return str(video.id)


def _remix_posts(mock: MockDeerAPI) -> int:
    return len(mock.requests_for("remixVideo"))


# -- identity: one job per remix, never a create's --------------------------------------------


def test_remixing_the_same_video_again_returns_the_recorded_job(
    mock: MockDeerAPI, served: str, tmp_path: Path
) -> None:
    client, ledger, jobs = _jobs(served, tmp_path / "l.sqlite")
    with client, ledger:
        source = _source(mock, jobs)
        first = jobs.remix(source, prompt="make it blue")
        again = jobs.remix(source, prompt="make it blue")
        keyed = jobs.remix(source, prompt="make it red", job_key="red")
        keyed_again = jobs.remix(source, prompt="make it red", job_key="red")
        job = ledger.job_for_video(str(first.id))
    assert again.id == first.id and keyed_again.id == keyed.id
    assert job is not None and (job.kind, job.source_video_id) == ("remix", source)
    assert _remix_posts(mock) == 2
    # A new process (a new ledger object on the same file) does not pay again either.
    client, ledger, jobs = _jobs(served, tmp_path / "l.sqlite")
    with client, ledger:
        assert jobs.remix(source, prompt="make it blue").id == first.id
    assert _remix_posts(mock) == 2
    remixes = [video for video in mock.paid_jobs if video.remixed_from_video_id == source]
    assert len(remixes) == 2


def test_a_create_and_a_remix_with_the_same_prompt_are_different_jobs(
    mock: MockDeerAPI, served: str, tmp_path: Path
) -> None:
    other = mock.add_video("another completed video").id
    client, ledger, jobs = _jobs(served, tmp_path / "l.sqlite")
    with client, ledger:
        source = _source(mock, jobs)
        created = jobs.create(prompt="make it blue")
        remixed = jobs.remix(source, prompt="make it blue")
        of_other = jobs.remix(other, prompt="make it blue")
        assert len({created.id, remixed.id, of_other.id}) == 3
        assert len({job.idempotency_key for job in ledger.jobs()}) == 4
        jobs.create(prompt="make it green", job_key="shot")
        with pytest.raises(InvalidParameterError, match="other parameters"):
            jobs.remix(source, prompt="make it green", job_key="shot")
    assert _remix_posts(mock) == 2
    assert len(mock.paid_jobs) == 5


def test_the_remix_is_recorded_with_its_key_before_its_post(
    mock: MockDeerAPI, served: str, tmp_path: Path
) -> None:
    """When the remix POST goes out, another connection (another process) already reads the
    job as ``submitting`` with the key the POST carries."""
    path = tmp_path / "l.sqlite"
    seen: list[tuple[Any, str]] = []
    client, ledger, jobs = _jobs(served, path)
    with client, ledger:
        source = _source(mock, jobs)
        videos = jobs._videos
        send = videos.remix

        def remix(video_id: str, **kw: Any) -> Any:
            with contextlib.closing(sqlite3.connect(path)) as other:
                row = other.execute(
                    "SELECT state, idempotency_key, kind, source_video_id FROM jobs "
                    "WHERE kind = 'remix'"
                ).fetchone()
            seen.append((row, kw["idempotency_key"]))
            return send(video_id, **kw)

        jobs._videos = SimpleNamespace(remix=remix)  # type: ignore[assignment]
        jobs.remix(source, prompt="make it blue", job_key="blue")
        key = ledger.require("blue").idempotency_key
    assert seen == [(("submitting", key, "remix", source), key)]


# -- the job itself: poll, refresh, download ---------------------------------------------------


def test_poll_refresh_and_download_follow_a_remix(
    mock: MockDeerAPI, served: str, tmp_path: Path
) -> None:
    client, ledger, jobs = _jobs(served, tmp_path / "l.sqlite")
    with client, ledger:
        source = _source(mock, jobs)
        video = jobs.remix(source, prompt="make it blue", job_key="blue")
        assert str(jobs.refresh("blue").status.value) in ("queued", "in_progress")
        mock.complete_all()
        assert str(jobs.poll("blue").status.value) == "completed"
        assert ledger.require("blue").state is JobState.COMPLETED
        path = jobs.download_content("blue", tmp_path / "blue.mp4")
        job = ledger.require("blue")
    assert job.state is JobState.DOWNLOADED and job.video_id == video.id
    assert (job.sha256, job.size_bytes) == file_sha256(path)


def test_a_remix_sent_before_its_source_completed_is_sent_again_later(
    mock: MockDeerAPI, served: str, tmp_path: Path
) -> None:
    """The server refuses (409) a remix of a job still running: no job started, so the remix
    is not failed for good; once the source completes, the same call sends it (same key)."""
    client, ledger, jobs = _jobs(served, tmp_path / "l.sqlite")
    with client, ledger:
        source = str(jobs.create(prompt="a source video", job_key="src").id)
        with pytest.raises(ConflictError):
            jobs.remix(source, prompt="make it blue", job_key="blue")
        job = ledger.require("blue")
        assert (job.state, job.charges) == (JobState.RETRY_LATER, 0)
        mock.complete_all()
        video = jobs.remix(source, prompt="make it blue", job_key="blue")
    remixes = [v for v in mock.paid_jobs if v.remixed_from_video_id == source]
    assert [(v.id, v.idempotency_key) for v in remixes] == [(video.id, job.idempotency_key)]


# -- a lost answer ---------------------------------------------------------------------------


def test_a_lost_remix_answer_is_found_in_the_job_list_by_its_source(
    mock: MockDeerAPI, served: str, tmp_path: Path
) -> None:
    """After the anchor, a remix of another video (same prompt and settings, nobody's job in
    the ledger) is listed next to the one the lost POST started: only the latter is adopted."""
    other = mock.add_video("another completed video").id
    client, ledger, jobs = _jobs(served, tmp_path / "l.sqlite", reconcile_grace=0.0)
    with client, ledger:
        source = _source(mock, jobs)
        client.videos.remix(other, prompt="make it blue")  # not the ledger's
        mock.inject(Fault.drop_after(operations="remixVideo"))
        with pytest.raises(JobMayExistError) as caught:
            jobs.remix(source, prompt="make it blue", job_key="blue")
        assert caught.value.idempotency_key == ledger.require("blue").idempotency_key
        assert ledger.require("blue").state is JobState.UNCERTAIN
        video = jobs.remix(source, prompt="make it blue", job_key="blue")
        job = ledger.require("blue")
    assert job.video_id == video.id and job.state is JobState.RUNNING
    assert _remix_posts(mock) == 2  # the other client's and the lost one: none re-sent
    adopted = mock.get(str(video.id))
    assert adopted is not None and adopted.remixed_from_video_id == source
    assert adopted.idempotency_key == job.idempotency_key


def test_a_lost_remix_post_that_started_nothing_is_sent_again_with_its_key(
    mock: MockDeerAPI, served: str, tmp_path: Path
) -> None:
    """Only a remix of another video appears after the anchor: the lost POST started
    nothing, and the remix is sent again with the key it was recorded with."""
    other = mock.add_video("another completed video").id
    client, ledger, jobs = _jobs(served, tmp_path / "l.sqlite", reconcile_grace=0.0)
    with client, ledger:
        source = _source(mock, jobs)
        client.videos.remix(other, prompt="make it blue")  # not the ledger's
        mock.inject(Fault.drop_before(operations="remixVideo"))
        with pytest.raises(JobMayExistError):
            jobs.remix(source, prompt="make it blue", job_key="blue", max_retries=0)
        video = jobs.remix(source, prompt="make it blue", job_key="blue")
        key = ledger.require("blue").idempotency_key
    remixes = [v for v in mock.paid_jobs if v.remixed_from_video_id == source]
    assert [(v.id, v.idempotency_key) for v in remixes] == [(video.id, key)]


def test_a_lost_remix_that_cannot_be_told_apart_is_ambiguous_with_its_key(
    mock: MockDeerAPI, served: str, tmp_path: Path
) -> None:
    """No job was answered before the lost POST (no anchor): a listed remix of the source
    could be older than it, so nothing is adopted or sent; the error carries the key."""
    source = mock.add_video("made elsewhere").id
    client, ledger, jobs = _jobs(served, tmp_path / "l.sqlite", reconcile_grace=0.0)
    with client, ledger:
        mock.inject(Fault.drop_after(operations="remixVideo"))
        with pytest.raises(JobMayExistError):
            jobs.remix(source, prompt="make it blue", job_key="blue")
        with pytest.raises(AmbiguousJobError) as caught:
            jobs.remix(source, prompt="make it blue", job_key="blue")
        job = ledger.require("blue")
        assert job.state is JobState.AMBIGUOUS
        assert caught.value.idempotency_key == job.idempotency_key
        with pytest.raises(AmbiguousJobError):
            jobs.remix(source, prompt="make it blue", job_key="blue")  # still nothing sent
        assert _remix_posts(mock) == 1
        # Paying the risk re-sends the same key: a server that honours it starts nothing new.
        video = jobs.remix(source, prompt="make it blue", job_key="blue", resubmit_ambiguous=True)
    assert _remix_posts(mock) == 2
    assert [v.id for v in mock.paid_jobs] == [video.id]


def test_a_server_trusted_to_honour_keys_gets_the_remix_again_with_the_same_key(
    mock: MockDeerAPI, served: str, tmp_path: Path
) -> None:
    client, ledger, jobs = _jobs(
        served, tmp_path / "l.sqlite", trust_idempotency_keys=True, reconcile_grace=60.0
    )
    with client, ledger:
        source = _source(mock, jobs)
        mock.inject(Fault.drop_after(operations="remixVideo"))
        with pytest.raises(JobMayExistError):
            jobs.remix(source, prompt="make it blue", job_key="blue")
        video = jobs.remix(source, prompt="make it blue", job_key="blue")
        key = ledger.require("blue").idempotency_key
    remixes = [v for v in mock.paid_jobs if v.remixed_from_video_id == source]
    assert [(v.id, v.idempotency_key) for v in remixes] == [(video.id, key)]
    assert _remix_posts(mock) == 2  # the lost POST and its re-send, one job
    assert len(mock.requests_for("listVideos")) == 0


def test_a_listed_remix_matches_by_source_and_echoed_prompt(
    tmp_path: Path,
) -> None:
    """A listed job without ``remixed_from_video_id`` (a gateway that leaves empty fields out)
    may be the remix: it stays a candidate, so the lost POST is not judged to have started
    nothing (and re-sent, paid twice). ``null`` rules it out, and so does another prompt where
    the server echoes prompts."""
    with JobLedger(tmp_path / "l.sqlite") as ledger:
        ledger.register(JobRequest.remix(source_video_id="video_src", prompt="blue"), "blue")
        ledger.claim("blue")
        job = ledger.record_uncertain("blue", "lost")
    omitted = listed_from_video(Video.from_dict(_listed_dict("video_a")))
    reported = listed_from_video(
        Video.from_dict({**_listed_dict("video_b"), "remixed_from_video_id": None})
    )
    assert (omitted.remix_reported, reported.remix_reported) == (False, True)

    def decide(listed: Listed) -> str:
        decision = decide_by_listing(
            [job], [listed], anchors={"blue": 100}, claimed=(), exhaustive=True, oldest_seen=1
        )
        return decision["blue"].outcome

    assert decide(omitted) == "adopted"
    assert decide(reported) == "not_started"
    # Where the server echoes prompts, a remix of the source with another prompt is not it.
    mine = Listed("video_c", 130, "sora-2", "4", "720x1280", "blue", "video_src")
    assert decide(mine) == "adopted"
    assert decide(Listed("video_d", 130, "sora-2", "4", "720x1280", "red", "video_src")) == (
        "not_started"
    )


def _listed_dict(video_id: str) -> dict[str, Any]:
    return {
        "id": video_id,
        "object": "video",
        "created_at": 130,
        "status": "queued",
        "model": "sora-2",
        "progress": 0,
        "seconds": "4",
        "size": "720x1280",
    }


# -- validation before anything is recorded ----------------------------------------------------


@pytest.mark.parametrize(
    ("source", "kw"),
    [
        ("", {"prompt": "make it blue"}),
        ("..", {"prompt": "make it blue"}),
        ("video_x/remix", {"prompt": "make it blue"}),
        ("SOURCE", {"prompt": "   "}),
        ("SOURCE", {"prompt": 42}),
        ("SOURCE", {"prompt": "make it blue", "model": "veo3"}),
        ("SOURCE", {"prompt": "make it blue", "model": ""}),
        ("SOURCE", {"prompt": "make it blue", "max_retries": -1}),
        ("SOURCE", {"prompt": "make it blue", "timeout": -5}),
        ("SOURCE", {"prompt": "make it blue", "extra_headers": {"X-Bad": "a\nb"}}),
    ],
)
def test_an_invalid_remix_records_nothing_and_sends_nothing(
    mock: MockDeerAPI, served: str, tmp_path: Path, source: str, kw: dict[str, Any]
) -> None:
    existing = mock.add_video("made elsewhere").id
    client, ledger, jobs = _jobs(served, tmp_path / "l.sqlite")
    with client, ledger:
        with pytest.raises(InvalidParameterError):
            jobs.remix(existing if source == "SOURCE" else source, **kw)
        assert ledger.jobs() == []
    assert mock.requests == []


def test_a_source_the_ledger_made_with_a_model_that_cannot_be_remixed_is_refused(
    mock: MockDeerAPI, served: str, tmp_path: Path
) -> None:
    client, ledger, jobs = _jobs(served, tmp_path / "l.sqlite")
    with client, ledger:
        ledger.register(JobRequest.create(prompt="a veo video", model="veo3"), "veo")
        ledger.claim("veo")
        video = SimpleNamespace(id="video_veo", status="completed", created_at=1, progress=100)
        ledger.record_created("veo", video)
        with pytest.raises(InvalidParameterError, match="cannot be remixed"):
            jobs.remix("video_veo", prompt="make it blue")
        assert [job.job_key for job in ledger.jobs()] == ["veo"]
    assert mock.requests == []


# -- the budget ----------------------------------------------------------------------------------


def test_a_remix_is_charged_its_sources_length(
    mock: MockDeerAPI, served: str, tmp_path: Path
) -> None:
    budget = Budget(seconds=20)
    client, ledger, jobs = _jobs(served, tmp_path / "l.sqlite")
    with client, ledger:
        source = _source(mock, jobs, seconds=8)
        jobs.remix(source, prompt="make it blue", job_key="blue", budget=budget)
        assert ledger.require("blue").video_seconds == 8
        assert ledger.spent().seconds == 16
        with pytest.raises(BudgetExceededError) as caught:
            jobs.remix(source, prompt="make it red", job_key="red", budget=budget)
        assert caught.value.needed == 8
        assert ledger.require("red").state is JobState.PENDING
    assert _remix_posts(mock) == 1


def test_a_remix_of_a_video_the_ledger_did_not_make_is_charged_conservatively(
    mock: MockDeerAPI, served: str, tmp_path: Path
) -> None:
    """Unknown source: with a model from the table, its longest length; without one the
    length is unknown, refused under a seconds budget and sent without one. Once answered,
    the remix is charged the length the server reports (the seeded source's 4 s)."""
    source = mock.add_video("made elsewhere", seconds="4").id
    client, ledger, jobs = _jobs(served, tmp_path / "l.sqlite")
    with client, ledger:
        with pytest.raises(BudgetExceededError, match="unknown"):
            jobs.remix(source, prompt="unbounded", job_key="u", budget=Budget(seconds=1000))
        assert _remix_posts(mock) == 0
        with pytest.raises(BudgetExceededError):
            jobs.remix(source, prompt="bounded", model="sora-2", budget=Budget(seconds=11))
        assert _remix_posts(mock) == 0
        jobs.remix(source, prompt="bounded", model="sora-2", budget=Budget(seconds=12))
        jobs.remix(source, prompt="unbounded", job_key="u", budget=Budget(jobs=5))
        assert _remix_posts(mock) == 2
        assert [job.video_seconds for job in ledger.jobs()] == [4, 4]
        assert ledger.spent().seconds == 8


def test_the_budget_reserves_a_remixs_bound_until_it_is_answered(tmp_path: Path) -> None:
    with JobLedger(tmp_path / "l.sqlite") as ledger:
        bounded = JobRequest.remix(source_video_id="video_x", prompt="p", model="sora-2")
        unknown = JobRequest.remix(source_video_id="video_x", prompt="q")
        ledger.register(bounded, "b")
        ledger.register(unknown, "u")
        ledger.claim("b", budget=Budget(seconds=12))
        ledger.claim("u", budget=Budget(jobs=2))
        assert ledger.spent().seconds == 24  # the longest any known model takes, twice
        ledger.record_created("b", SimpleNamespace(id="video_b", status="queued", seconds="8"))
        assert ledger.spent().seconds == 20


# -- the async twin ------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_the_async_twin_remixes_with_the_same_promises(tmp_path: Path) -> None:
    mock = MockDeerAPI(api_key=KEY, job_duration=0.0, content_size=2048)
    limited = LimitedMock(mock, Limits())
    with limited.serve() as base_url:
        async with AsyncDeerAPI(api_key=KEY, base_url=base_url) as client:
            with JobLedger(tmp_path / "l.sqlite") as ledger:
                jobs = AsyncLedgeredVideos(client, ledger)
                source = (await jobs.create(prompt="a cat", job_key="cat")).id
                await jobs.poll("cat")
                first = await jobs.remix(source, prompt="make it blue", job_key="blue")
                again = await jobs.remix(source, prompt="make it blue", job_key="blue")
                assert str((await jobs.poll("blue")).status.value) == "completed"
                path = await jobs.download_content("blue", tmp_path / "blue.mp4")
                job = ledger.require("blue")
                cat = ledger.require("cat")
    assert first.id == again.id
    assert (job.kind, job.source_video_id, job.state) == ("remix", source, JobState.DOWNLOADED)
    assert (job.sha256, job.size_bytes) == file_sha256(path)
    assert limited.post_counts() == {cat.idempotency_key: (1, 1), job.idempotency_key: (1, 1)}


@pytest.mark.asyncio
async def test_the_async_twin_finds_a_lost_remix_by_its_source(tmp_path: Path) -> None:
    mock = MockDeerAPI(api_key=KEY, job_duration=0.0, content_size=2048)
    other = mock.add_video("another completed video").id
    with no_sleep(), mock.serve() as base_url:
        async with AsyncDeerAPI(api_key=KEY, base_url=base_url) as client:
            with JobLedger(tmp_path / "l.sqlite") as ledger:
                jobs = AsyncLedgeredVideos(client, ledger, reconcile_grace=0.0)
                source = (await jobs.create(prompt="a cat", job_key="cat")).id
                await client.videos.remix(other, prompt="make it blue")
                mock.inject(Fault.drop_after(operations="remixVideo"))
                with pytest.raises(JobMayExistError):
                    await jobs.remix(source, prompt="make it blue", job_key="blue")
                video = await jobs.remix(source, prompt="make it blue", job_key="blue")
                job = ledger.require("blue")
    assert job.video_id == video.id
    adopted = mock.get(str(video.id))
    assert adopted is not None and adopted.remixed_from_video_id == source
    assert _remix_posts(mock) == 2
