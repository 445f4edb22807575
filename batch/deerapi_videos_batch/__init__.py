"""Many video jobs, none paid twice: the batch runner behind ``deerapi-videos batch``.

Built on the client's public API (:mod:`deerapi_videos` and :mod:`deerapi_videos.ledger`);
nothing here is imported by the client. ::

    from pathlib import Path
    from deerapi_videos_batch import BatchOptions, load_jobs, run_batch_sync

    jobs = load_jobs("jobs.jsonl")                 # or .csv
    result = run_batch_sync(jobs, BatchOptions(out_dir=Path("videos"),
                                               ledger_path=Path("jobs.ledger.sqlite")))
    print(result.totals, result.exit_code)        # run it again to resume

``run_batch`` is the same, awaitable. Every request of a batch goes through one
:class:`Scheduler` (pauses on 429, AIMD on the request rate and on the jobs in flight). A
blocking client shared by threads gets the same scheduling from :class:`SyncScheduledTransport`::

    from deerapi_videos import DeerAPI
    from deerapi_videos_batch import Scheduler, SyncScheduledTransport

    client = DeerAPI(transport=SyncScheduledTransport(Scheduler(concurrency=8)))
"""

from ._eta import DurationPrior, PollPlan
from ._input import BatchInputError, BatchJob, load_jobs
from ._runner import (
    EXIT_AMBIGUOUS,
    EXIT_FAILED,
    EXIT_INCOMPLETE,
    EXIT_OK,
    BatchOptions,
    BatchProgress,
    BatchResult,
    JobOutcome,
    exit_code_for,
    run_batch,
    run_batch_sync,
    write_report,
)
from ._scheduler import (
    ScheduledTransport,
    Scheduler,
    SchedulerStats,
    SyncScheduledTransport,
    parse_duration,
    request_kind,
)

__all__ = [
    "EXIT_AMBIGUOUS",
    "EXIT_FAILED",
    "EXIT_INCOMPLETE",
    "EXIT_OK",
    "BatchInputError",
    "BatchJob",
    "BatchOptions",
    "BatchProgress",
    "BatchResult",
    "DurationPrior",
    "JobOutcome",
    "PollPlan",
    "ScheduledTransport",
    "Scheduler",
    "SchedulerStats",
    "SyncScheduledTransport",
    "exit_code_for",
    "load_jobs",
    "parse_duration",
    "request_kind",
    "run_batch",
    "run_batch_sync",
    "write_report",
]
