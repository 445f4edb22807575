"""The job ledger (opt-in): durable records that keep a rerun from paying twice.

Every guarantee of the plain client lives in one process's memory: the idempotency key and the
video id die with it. A :class:`JobLedger` writes them to one SQLite file before and after each
step, so a script that crashes or is killed after its POST can be run again::

    from deerapi_videos import DeerAPI
    from deerapi_videos.ledger import JobLedger, LedgeredVideos

    with DeerAPI() as client, JobLedger("videos.sqlite") as ledger:
        jobs = LedgeredVideos(client, ledger)
        cat = jobs.create(prompt="a cat on a piano", seconds="4", job_key="cat")  # paid once
        jobs.poll("cat")
        jobs.download_content("cat", "cat.mp4")     # path and SHA-256 recorded
        jobs.remix(cat.id, prompt="at night", job_key="cat-night")  # a remix: paid once too

Running it again returns the recorded job (a free ``retrieve``) instead of starting another.
Remixes are paid jobs too and get the same record (``jobs.remix(video_id, prompt=...,
job_key=...)``), charged against a budget the length they inherit from their source. A POST
whose answer was lost is reconciled (same ``Idempotency-Key`` where the server honours it, else
by listing the account's jobs) or reported as :class:`AmbiguousJobError`, never re-sent
blindly. ``AsyncLedgeredVideos`` is the same for :class:`~deerapi_videos.AsyncDeerAPI`. The
batch runner (``deerapi-videos batch``) always uses a ledger.
"""

from ._async.ledgered import LedgeredVideos as AsyncLedgeredVideos
from ._async.ledgered import prepare_request
from ._ledger import (
    OPEN_STATES,
    AmbiguousJobError,
    Budget,
    BudgetExceededError,
    Failure,
    JobLedger,
    JobRequest,
    JobState,
    LedgerBusyError,
    LedgerJob,
    Listed,
    Reconciliation,
    Spent,
    billed_seconds,
    classify_failure,
    decide_by_listing,
    file_sha256,
    listed_from_video,
    same_settings,
)
from ._sync.ledgered import LedgeredVideos

__all__ = [
    "OPEN_STATES",
    "AmbiguousJobError",
    "AsyncLedgeredVideos",
    "Budget",
    "BudgetExceededError",
    "Failure",
    "JobLedger",
    "JobRequest",
    "JobState",
    "LedgerBusyError",
    "LedgerJob",
    "LedgeredVideos",
    "Listed",
    "Reconciliation",
    "Spent",
    "billed_seconds",
    "classify_failure",
    "decide_by_listing",
    "file_sha256",
    "listed_from_video",
    "prepare_request",
    "same_settings",
]
