"""The job ledger without any request: identity, states, budget, recovery, reconciling."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from deerapi_videos import (
    APIConnectionError,
    AuthenticationError,
    BadRequestError,
    ContentExpiredError,
    DeerAPIError,
    DownloadError,
    InternalServerError,
    InvalidParameterError,
    JobMayExistError,
    RateLimitError,
    VideoFailedError,
)
from deerapi_videos.ledger import (
    Budget,
    BudgetExceededError,
    JobLedger,
    JobRequest,
    JobState,
    LedgerBusyError,
    Listed,
    classify_failure,
    decide_by_listing,
)


def request(prompt: str = "a cat", **kw: Any) -> JobRequest:
    return JobRequest.create(prompt=prompt, **kw)


def video(video_id: str, status: str = "queued", created_at: int = 100, **kw: Any) -> Any:
    fields: dict[str, Any] = {"progress": 0, "expires_at": None, **kw}
    return SimpleNamespace(id=video_id, status=status, created_at=created_at, **fields)


@pytest.fixture
def ledger(tmp_path: Path) -> JobLedger:
    with JobLedger(tmp_path / "jobs.sqlite") as opened:
        yield opened


# -- identity ----------------------------------------------------------------------------------


def test_the_fingerprint_fills_in_the_model_tables_defaults() -> None:
    plain = request("a cat")
    explicit = request("a cat", model="sora-2", seconds=4, size="720x1280")
    assert plain.fingerprint == explicit.fingerprint
    assert plain.video_seconds == 4
    assert request("a cat", seconds="8").fingerprint != plain.fingerprint
    assert request("a dog").fingerprint != plain.fingerprint


def test_the_fingerprint_covers_the_reference_images_bytes() -> None:
    one = request("a cat", images=[b"\x89PNG first"])
    other = request("a cat", images=[b"\x89PNG other"])
    assert one.fingerprint != other.fingerprint
    assert one.fingerprint == request("a cat", images=[b"\x89PNG first"]).fingerprint


def test_an_unknown_model_without_seconds_is_charged_the_longest_length() -> None:
    assert request("x", model="someone-elses-model").video_seconds == 12


def test_registering_the_same_job_twice_returns_the_first_record(ledger: JobLedger) -> None:
    first = ledger.register(request(), "cat")
    again = ledger.register(request(model="sora-2"), "cat")
    assert again.idempotency_key == first.idempotency_key
    assert again.state is JobState.PENDING
    by_fingerprint = ledger.register(request("a dog"))
    assert by_fingerprint.job_key == request("a dog").fingerprint


def test_a_caller_key_reused_with_other_parameters_is_refused(ledger: JobLedger) -> None:
    ledger.register(request("a cat"), "shot-1")
    with pytest.raises(InvalidParameterError, match="other parameters"):
        ledger.register(request("a dog"), "shot-1")


# -- states, budget ----------------------------------------------------------------------------


def test_a_claim_is_committed_before_the_post_with_its_key(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite"
    with JobLedger(path) as ledger:
        job = ledger.register(request(), "cat")
        claimed = ledger.claim("cat")
        # Another connection (another process) already sees it: it is on disk.
        with sqlite3.connect(path) as other:
            row = other.execute(
                "SELECT state, idempotency_key, charges FROM jobs WHERE job_key = 'cat'"
            ).fetchone()
    assert row == ("submitting", job.idempotency_key, 1)
    assert claimed.post_attempts == 1 and claimed.post_started_at is not None


def test_a_finished_or_in_flight_job_cannot_be_claimed(ledger: JobLedger) -> None:
    ledger.register(request(), "cat")
    ledger.claim("cat")
    with pytest.raises(InvalidParameterError, match="being submitted"):
        ledger.claim("cat")
    ledger.record_created("cat", video("video_1"))
    with pytest.raises(InvalidParameterError, match="running"):
        ledger.claim("cat")


def test_the_budget_in_video_seconds_is_never_exceeded(ledger: JobLedger) -> None:
    budget = Budget(seconds=12)
    for name, seconds in (("a", "8"), ("b", "4"), ("c", "4")):
        ledger.register(request(name, seconds=seconds), name)
    ledger.claim("a", budget=budget)
    ledger.claim("b", budget=budget)
    with pytest.raises(BudgetExceededError) as caught:
        ledger.claim("c", budget=budget)
    assert caught.value.spent.seconds == 12
    assert ledger.require("c").state is JobState.PENDING
    assert ledger.spent().seconds == 12


def test_a_post_that_provably_started_nothing_gives_its_charge_back(ledger: JobLedger) -> None:
    budget = Budget(jobs=1)
    ledger.register(request("a"), "a")
    ledger.register(request("b"), "b")
    ledger.claim("a", budget=budget)
    refused = BadRequestError("bad", status_code=400)
    job = ledger.record_failure("a", classify_failure(refused))
    assert job.state is JobState.FAILED and job.charges == 0
    ledger.claim("b", budget=budget)  # the budget has room again


def test_concurrent_claims_never_overspend_the_budget(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite"
    with JobLedger(path) as ledger:
        for index in range(40):
            ledger.register(request(f"job {index}"), f"j{index}")
        won: list[str] = []
        lock = threading.Lock()

        def worker(keys: list[str]) -> None:
            for key in keys:
                try:
                    ledger.claim(key, budget=Budget(seconds=40))
                except BudgetExceededError:
                    continue
                with lock:
                    won.append(key)

        threads = [
            threading.Thread(target=worker, args=([f"j{i}" for i in range(s, 40, 4)],))
            for s in range(4)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(won) == 10
        assert ledger.spent().seconds == 40


def test_an_exclusive_ledger_is_held_by_one_process_at_a_time(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite"
    with JobLedger(path), pytest.raises(LedgerBusyError):
        JobLedger(path)
    JobLedger(path).close()  # released on close


def test_a_post_left_submitting_by_a_dead_process_becomes_uncertain(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite"
    with JobLedger(path) as ledger:
        ledger.register(request(), "cat")
        ledger.claim("cat")
    with JobLedger(path) as reopened:
        job = reopened.require("cat")
        assert job.state is JobState.UNCERTAIN
        assert job.charges == 1  # may have been paid: still counted
        kinds = [event[2] for event in reopened.events("cat")]
    assert kinds == ["registered", "submitting", "uncertain"]


def test_every_step_is_recorded_with_its_outcome(ledger: JobLedger, tmp_path: Path) -> None:
    ledger.register(request(), "cat")
    ledger.claim("cat")
    ledger.record_created("cat", video("video_1"), request_id="req_1")
    ledger.record_status("cat", video("video_1", "in_progress", progress=40))
    done = ledger.record_status(
        "cat",
        SimpleNamespace(
            id="video_1", status="completed", progress=100, created_at=100, expires_at=999
        ),
    )
    assert (done.state, done.expires_at) == (JobState.COMPLETED, 999)
    ledger.note_requests([("cat", "req_2", "poll 200")])
    saved = ledger.record_download("cat", tmp_path / "cat.mp4", "ab" * 32, 1234)
    assert saved.state is JobState.DOWNLOADED
    assert (saved.sha256, saved.size_bytes) == ("ab" * 32, 1234)
    assert saved.request_ids == ("req_1", "req_2")
    assert saved.video_id == "video_1"


def test_a_failed_job_records_its_code(ledger: JobLedger) -> None:
    ledger.register(request(), "cat")
    ledger.claim("cat")
    failed = SimpleNamespace(
        id="video_1",
        status="failed",
        progress=50,
        created_at=1,
        expires_at=None,
        error=SimpleNamespace(code="moderation_blocked", message="blocked"),
    )
    job = ledger.record_created("cat", failed)
    assert (job.state, job.error_reason, job.error_code) == (
        JobState.FAILED,
        "moderation",
        "moderation_blocked",
    )


# -- classification ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "kind", "reason"),
    [
        (VideoFailedError("v", "failed", "moderation_blocked", "no"), "final", "moderation"),
        (VideoFailedError("v", "failed", "generation_failed", "no"), "final", "job failed"),
        (InvalidParameterError("seconds", "bad"), "final", "invalid input"),
        (BadRequestError("bad", status_code=400), "final", "refused (400)"),
        (ContentExpiredError("v", 1, BadRequestError("x", status_code=404)), "final", None),
        (RateLimitError("slow down", status_code=429), "retry_later", "rate limited"),
        (InternalServerError("down", status_code=503), "retry_later", "server error"),
        (APIConnectionError("refused"), "retry_later", "network"),
        (DownloadError("cut", bytes_received=1, expected=2), "retry_later", None),
        (
            JobMayExistError(
                "lost", idempotency_key="k", request_id=None, status_code=None, cause=ValueError()
            ),
            "uncertain",
            "answer lost",
        ),
    ],
)
def test_failures_are_classified_retryable_later_or_final(
    error: Exception, kind: str, reason: str | None
) -> None:
    failure = classify_failure(error)
    assert failure.kind == kind
    if reason is not None:
        assert failure.reason == reason


def test_a_wrong_key_or_an_empty_quota_stops_the_whole_batch() -> None:
    assert classify_failure(AuthenticationError("no", status_code=401)).fatal
    quota = RateLimitError("quota", status_code=429, code="insufficient_quota")
    assert classify_failure(quota).fatal and classify_failure(quota).kind == "final"
    assert not classify_failure(RateLimitError("slow", status_code=429)).fatal


# -- reconciling by listing --------------------------------------------------------------------


def _uncertain(ledger: JobLedger, key: str, **kw: Any) -> Any:
    ledger.register(request(key, **kw), key)
    ledger.claim(key)
    return ledger.record_uncertain(key, "lost")


def _listed(video_id: str, created_at: int, seconds: str = "4", size: str = "720x1280") -> Listed:
    return Listed(video_id, created_at, "sora-2", seconds, size)


def test_no_matching_job_after_the_anchor_means_the_post_started_nothing(
    ledger: JobLedger,
) -> None:
    job = _uncertain(ledger, "a")
    listed = [_listed("v_old", 50), _listed("v_other", 120, seconds="8")]
    decision = decide_by_listing(
        [job], listed, anchors={"a": 100}, claimed=(), exhaustive=False, oldest_seen=50
    )["a"]
    assert decision.outcome == "not_started"


def test_the_one_unclaimed_match_is_adopted(ledger: JobLedger) -> None:
    job = _uncertain(ledger, "a")
    listed = [_listed("v_mine", 130), _listed("v_known", 125), _listed("v_old", 50)]
    decision = decide_by_listing(
        [job], listed, anchors={"a": 100}, claimed={"v_known"}, exhaustive=True, oldest_seen=50
    )["a"]
    assert (decision.outcome, decision.video_id) == ("adopted", "v_mine")


def test_jobs_that_cannot_be_told_apart_are_ambiguous(ledger: JobLedger) -> None:
    a, b = _uncertain(ledger, "a"), _uncertain(ledger, "b")
    listed = [_listed("v1", 130), _listed("v2", 131)]
    decisions = decide_by_listing(
        [a, b], listed, anchors={"a": 100, "b": 100}, claimed=(), exhaustive=True, oldest_seen=1
    )
    assert {d.outcome for d in decisions.values()} == {"ambiguous"}


def test_a_listing_that_stops_short_of_the_anchor_proves_nothing(ledger: JobLedger) -> None:
    job = _uncertain(ledger, "a")
    decision = decide_by_listing(
        [job], [], anchors={"a": None}, claimed=(), exhaustive=False, oldest_seen=None
    )["a"]
    assert decision.outcome == "ambiguous"


def test_a_server_that_echoes_prompts_tells_same_settings_apart(ledger: JobLedger) -> None:
    a, b = _uncertain(ledger, "a"), _uncertain(ledger, "b")
    listed = [
        Listed("v1", 130, "sora-2", "4", "720x1280", prompt="b"),
        Listed("v2", 131, "sora-2", "4", "720x1280", prompt="a"),
    ]
    decisions = decide_by_listing(
        [a, b], listed, anchors={"a": 100, "b": 100}, claimed=(), exhaustive=True, oldest_seen=1
    )
    assert (decisions["a"].video_id, decisions["b"].video_id) == ("v2", "v1")


def test_the_anchor_is_the_newest_job_answered_before_the_post(ledger: JobLedger) -> None:
    ledger.register(request("first"), "first")
    ledger.claim("first")
    ledger.record_created("first", video("v_first", created_at=500))
    job = _uncertain(ledger, "second")
    assert ledger.anchor_for(job) == 500


def test_without_an_anchor_an_old_lookalike_is_never_adopted(ledger: JobLedger) -> None:
    job = _uncertain(ledger, "a")
    decision = decide_by_listing(
        [job],
        [_listed("v_old", 5)],
        anchors={"a": None},
        claimed=(),
        exhaustive=True,
        oldest_seen=5,
    )["a"]
    assert decision.outcome == "ambiguous"
    nothing = decide_by_listing(
        [job], [], anchors={"a": None}, claimed=(), exhaustive=True, oldest_seen=None
    )["a"]
    assert nothing.outcome == "not_started"


# -- the file's schema ---------------------------------------------------------------------------

#: The layout of a version 1 ledger file (creates only), as released.
_SCHEMA_V1 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE jobs (
    job_key TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, idempotency_key TEXT NOT NULL UNIQUE,
    state TEXT NOT NULL, params TEXT NOT NULL, label TEXT, video_seconds INTEGER NOT NULL,
    charges INTEGER NOT NULL DEFAULT 0, post_attempts INTEGER NOT NULL DEFAULT 0,
    post_started_at REAL, answered_at REAL, video_id TEXT UNIQUE, status TEXT, progress INTEGER,
    server_created_at INTEGER, expires_at INTEGER, output_path TEXT, sha256 TEXT,
    size_bytes INTEGER, error_kind TEXT, error_reason TEXT, error_code TEXT, error TEXT,
    request_ids TEXT NOT NULL DEFAULT '[]', created REAL NOT NULL, updated REAL NOT NULL
);
CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, job_key TEXT NOT NULL, at REAL NOT NULL,
    kind TEXT NOT NULL, detail TEXT NOT NULL
);
CREATE INDEX events_by_job ON events (job_key);
CREATE INDEX jobs_by_state ON jobs (state);
INSERT INTO meta VALUES ('schema_version', '1');
"""


def _version_1_file(path: Path) -> JobLedger:
    """Write a version 1 file holding one running create, ``cat``, and open it."""
    cat = request("a cat")
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        db.executescript(_SCHEMA_V1)
        db.execute(
            "INSERT INTO jobs (job_key, fingerprint, idempotency_key, state, params, "
            "video_seconds, charges, video_id, created, updated) "
            "VALUES ('cat', ?, 'dvk_old', 'running', ?, 4, 1, 'video_cat', 1.0, 1.0)",
            (cat.fingerprint, json.dumps(cat.params())),
        )
    return JobLedger(path)


def test_a_version_1_file_is_migrated_and_keeps_its_jobs(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    with _version_1_file(path) as ledger:
        old = ledger.require("cat")
        assert (old.kind, old.source_video_id, old.state) == ("create", None, JobState.RUNNING)
        # The same create is the recorded job (same identity, same key), not a new one.
        assert ledger.register(request("a cat"), "cat").idempotency_key == "dvk_old"
        assert ledger.spent().seconds == 4
        remix = JobRequest.remix(source_video_id="video_cat", prompt="blue", source=old)
        assert ledger.register(remix, "blue").kind == "remix"
    with contextlib.closing(sqlite3.connect(path)) as db:
        version = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    assert version == ("2",)
    with JobLedger(path) as reopened:  # opening a migrated file again changes nothing
        assert reopened.require("blue").source_video_id == "video_cat"
        assert reopened.require("blue").video_seconds == 4  # its source's length


def test_a_file_of_a_newer_version_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite"
    with JobLedger(path):
        pass
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(DeerAPIError, match="newer"):
        JobLedger(path)
    with contextlib.closing(sqlite3.connect(path)) as db:
        version = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    assert version == ("99",)
