"""The batch runner: many video jobs, each paid for at most once, downloaded as soon as done.

Async first (:func:`run_batch`); :func:`run_batch_sync` wraps it for blocking code. Every job
goes through the ledger (:mod:`deerapi_videos.ledger`), every request through one
:class:`~._scheduler.Scheduler`:

1. Each line is validated and its images read before anything is sent; an invalid line is a
   final failure, a repeated one (same ``id``, or same fingerprint without ids) is one job.
2. Jobs the ledger already finished are not touched (a missing or resized output file is
   downloaded again: downloads are free). Jobs a killed run left ``submitting`` are
   reconciled, in one listing for all of them (or re-sent with their key when the server is
   trusted to honour it), never re-sent blindly.
3. A job takes a slot of the scheduler's job window, is submitted (the budget is checked in the
   same ledger transaction that marks it ``submitting``), polled at its estimated end
   (:mod:`._eta`), and gives its slot back when the server is done with it. Its download starts
   at once, at most ``download_concurrency`` at a time.
4. Failures are classified (:func:`deerapi_videos.ledger.classify_failure`): a final one ends
   the job; one that may pass is retried in this run up to ``max_attempts`` times (rate limits
   do not count: the scheduler paces them) and otherwise left ``retry_later`` for the next run;
   an authentication or quota error stops the whole batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx
from deerapi_videos import AsyncDeerAPI, DeerAPIError, InvalidParameterError, JobMayExistError
from deerapi_videos.ledger import (
    AsyncLedgeredVideos,
    Budget,
    BudgetExceededError,
    Failure,
    JobLedger,
    JobRequest,
    JobState,
    LedgerJob,
    Reconciliation,
    Spent,
    classify_failure,
    prepare_request,
)

from ._eta import DurationPrior, PollPlan
from ._input import BatchJob
from ._scheduler import ScheduledTransport, Scheduler

__all__ = [
    "EXIT_AMBIGUOUS",
    "EXIT_FAILED",
    "EXIT_INCOMPLETE",
    "EXIT_OK",
    "BatchOptions",
    "BatchProgress",
    "BatchResult",
    "JobOutcome",
    "run_batch",
    "run_batch_sync",
]

EXIT_OK = 0  # every job's video is saved
EXIT_FAILED = 1  # some jobs failed for good (or the batch stopped on an API error)
EXIT_INCOMPLETE = 4  # some jobs may still succeed: run the same command again
EXIT_AMBIGUOUS = 5  # some jobs may have been paid for without a recorded answer: decide

_REQUEST_ID_HEADERS = ("x-request-id", "x-oneapi-request-id")


@dataclass(frozen=True)
class BatchOptions:
    """How to run a batch (the CLI's options).

    Attributes:
        out_dir: where videos are saved (created if missing).
        ledger_path: the ledger file; None keeps it in memory (nothing survives the process:
            for measurements only).
        concurrency: the most jobs running on the server at once (the scheduler may use fewer
            after 429s).
        budget: video seconds and jobs the whole ledger may spend, across runs.
        trust_idempotency_keys: the server returns the same job for a repeated key; uncertain
            jobs are re-sent with it instead of reconciled by listing.
        resubmit_ambiguous: send ambiguous jobs again (each may be paid twice).
        reconcile_grace: seconds after a lost POST before a listing is believed.
        max_attempts: tries per job per run for failures that may pass (not rate limits).
        poll_timeout: the longest this run follows one job, in seconds.
        download_concurrency: downloads at once.
        durability: the ledger's ``"full"`` (fsync per commit) or ``"normal"``.
        rate: a starting request rate (requests per second); None learns it.
        min_poll_interval: the least time between two reads of one job.
        first_poll: when to read a job first while the batch knows no durations yet.
        report_path: where to write the JSON report (None: no file).
    """

    out_dir: Path
    ledger_path: Path | None
    concurrency: int = 8
    budget: Budget = field(default_factory=Budget)
    trust_idempotency_keys: bool = False
    resubmit_ambiguous: bool = False
    reconcile_grace: float = 10.0
    max_attempts: int = 3
    poll_timeout: float = 3600.0
    download_concurrency: int = 8
    durability: str = "full"
    rate: float | None = None
    min_poll_interval: float = 0.5
    first_poll: float = 1.0
    report_path: Path | None = None


@dataclass(frozen=True)
class BatchProgress:
    """A snapshot for a progress display."""

    total: int
    counts: Mapping[str, int]
    spent: Spent
    budget: Budget
    requests: int
    too_many: int
    paused: float
    window: float
    active: int
    elapsed: float


@dataclass
class JobOutcome:
    """What became of one line (a row of the report)."""

    line: int
    job_key: str | None
    id: str | None
    output: str | None
    state: str
    video_id: str | None = None
    path: str | None = None
    sha256: str | None = None
    size_bytes: int | None = None
    video_seconds: int | None = None
    error_kind: str | None = None
    reason: str | None = None
    error: str | None = None
    idempotency_key: str | None = None
    post_attempts: int = 0
    duplicate_of: int | None = None
    request_ids: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in self.__dict__.items() if v not in (None, ())}
        if self.request_ids:
            data["request_ids"] = list(self.request_ids)
        return data


@dataclass
class BatchResult:
    """The outcome of a run: one :class:`JobOutcome` per line, totals, requests, exit code."""

    outcomes: list[JobOutcome]
    spent: Spent
    budget: Budget
    requests: dict[str, Any]
    elapsed: float
    exit_code: int
    ledger: str | None
    out_dir: str
    stopped: str | None = None

    @property
    def totals(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for outcome in self.outcomes:
            counts[outcome.state] = counts.get(outcome.state, 0) + 1
        return counts

    def as_dict(self) -> dict[str, Any]:
        return {
            "exit_code": self.exit_code,
            "totals": self.totals,
            "jobs": len(self.outcomes),
            "spent": {"video_seconds": self.spent.seconds, "jobs": self.spent.jobs},
            "budget": {"video_seconds": self.budget.seconds, "jobs": self.budget.jobs},
            "requests": self.requests,
            "elapsed_seconds": round(self.elapsed, 3),
            "ledger": self.ledger,
            "out_dir": self.out_dir,
            "stopped": self.stopped,
            "outcomes": [outcome.as_dict() for outcome in self.outcomes],
        }


@dataclass
class _Item:
    job: BatchJob
    key: str | None = None
    request: JobRequest | None = None
    references: object = None
    output: str | None = None
    phase: str = "queued"
    ledger_job: LedgerJob | None = None
    duplicate_of: int | None = None
    invalid: str | None = None
    slot: bool = False
    resend: bool = False
    failures: int = 0
    plan: PollPlan | None = None
    note: str | None = None


def _status(video: Any) -> str:
    raw = getattr(video, "status", None)
    return str(getattr(raw, "value", raw)).strip().lower()


def _progress(video: Any) -> int | None:
    value = getattr(video, "progress", None)
    if type(value) is int:
        return value
    if isinstance(value, float) and math.isfinite(value):
        return int(value)
    return None


class _Submissions:
    """The gate new POSTs pass: a reconcile closes it and waits for the POSTs on their way, so
    no job this process is starting can show up in its listing looking like a lost one."""

    def __init__(self) -> None:
        self._open = asyncio.Event()
        self._open.set()
        self._idle = asyncio.Event()
        self._idle.set()
        self._sending = 0

    @contextlib.asynccontextmanager
    async def post(self) -> AsyncIterator[None]:
        await self._open.wait()
        self._sending += 1  # no await between the gate and this count
        self._idle.clear()
        try:
            yield
        finally:
            self._sending -= 1
            if self._sending == 0:
                self._idle.set()

    @contextlib.asynccontextmanager
    async def closed(self) -> AsyncIterator[None]:
        self._open.clear()
        try:
            await self._idle.wait()
            yield
        finally:
            self._open.set()


class _Reconciler:
    """Settles uncertain jobs together: one listing serves every job waiting at the time."""

    def __init__(
        self,
        ledgered: AsyncLedgeredVideos,
        on_failure: Callable[[Failure], None],
        submissions: _Submissions,
    ):
        self._ledgered = ledgered
        self._on_failure = on_failure
        self._submissions = submissions
        self._waiting: dict[str, asyncio.Future[Reconciliation | None]] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._failures = 0

    async def settle(self, key: str) -> Reconciliation | None:
        future = self._waiting.get(key)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._waiting[key] = future
        self._wake.set()
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())
        return await future

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while self._waiting:
            await self._wake.wait()
            self._wake.clear()
            await asyncio.sleep(0.05)  # let the other waiters of this moment join
            self._waiting = {k: f for k, f in self._waiting.items() if not f.done()}
            keys = list(self._waiting)
            if not keys:
                continue
            try:
                async with self._submissions.closed():
                    decisions = await self._ledgered.reconcile(keys)
            except DeerAPIError as exc:
                failure = classify_failure(exc)
                self._on_failure(failure)
                self._failures += 1
                if failure.fatal or self._failures >= 5:
                    for future in self._waiting.values():
                        if not future.done():
                            future.set_result(None)
                    self._waiting.clear()
                    return
                loop.call_later(min(2.0**self._failures, 30.0), self._wake.set)
                continue
            self._failures = 0
            next_wake = math.inf
            for key in keys:
                future = self._waiting[key]
                decision = decisions.get(key)
                if decision is not None and decision.outcome == "wait":
                    next_wake = min(next_wake, decision.wait)
                    continue
                del self._waiting[key]
                if not future.done():
                    future.set_result(decision)
            if next_wake < math.inf:
                loop.call_later(max(next_wake, 0.05), self._wake.set)

    async def close(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class _Runner:
    def __init__(
        self,
        jobs: Sequence[BatchJob],
        options: BatchOptions,
        *,
        api_key: str | None,
        base_url: str | None,
        on_progress: Callable[[BatchProgress], None] | None,
        progress_interval: float,
    ) -> None:
        self.options = options
        self.items = [_Item(job) for job in jobs]
        self.on_progress = on_progress
        self.progress_interval = progress_interval
        self.scheduler = Scheduler(concurrency=options.concurrency, rate=options.rate)
        self.prior = DurationPrior()
        self.stopped: Failure | None = None
        self._api_key = api_key
        self._base_url = base_url
        self._by_idempotency: dict[str, str] = {}
        self._by_video: dict[str, str] = {}
        self._notes: list[tuple[str, str, str]] = []
        self._started = time.monotonic()
        self._downloads = asyncio.Semaphore(max(1, options.download_concurrency))
        self._submissions = _Submissions()
        self._budget_reached = False

    # -- setting up --------------------------------------------------------------------------

    def _open_ledger(self) -> JobLedger:
        path = self.options.ledger_path
        durability: Literal["full", "normal"] = (
            "normal" if self.options.durability == "normal" else "full"
        )
        if path is None:
            return JobLedger(":memory:", durability="normal", exclusive=False)
        path.parent.mkdir(parents=True, exist_ok=True)
        return JobLedger(path, durability=durability)

    def _client(self) -> AsyncDeerAPI:
        pool = self.options.concurrency + self.options.download_concurrency + 16
        transport = ScheduledTransport(
            self.scheduler,
            observer=self._observe,
            limits=httpx.Limits(max_connections=pool, max_keepalive_connections=min(pool, 64)),
        )
        # No pool timeout: a batch's requests wait their turn in the scheduler however long
        # the account's limits say (the batch bounds each job's wait itself).
        timeout = httpx.Timeout(60.0, connect=10.0, pool=None)
        return AsyncDeerAPI(
            api_key=self._api_key, base_url=self._base_url, timeout=timeout, transport=transport
        )

    def _prepare(self, ledger: JobLedger) -> None:
        """Validate every line, read its images, register it (blocking: run in a thread)."""
        seen: dict[str, int] = {}
        for item in self.items:
            job = item.job
            try:
                refs: object = None
                if len(job.references) == 1:
                    refs = job.references[0]
                elif job.references:
                    refs = list(job.references)
                request, references = prepare_request(
                    prompt=job.prompt,
                    model=job.model,
                    seconds=job.seconds,
                    size=job.size,
                    input_reference=refs,
                )
            except InvalidParameterError as exc:
                item.invalid, item.phase = str(exc), "invalid"
                continue
            key = job.id or request.fingerprint
            if key in seen:
                item.duplicate_of, item.phase = seen[key], "duplicate"
                continue
            seen[key] = job.line
            item.key, item.request, item.references = key, request, references
            item.output = job.output or job.default_output(request.fingerprint)
        registering = [item for item in self.items if item.key is not None]
        registered = ledger.register_many(
            [(item.request, item.key, item.output) for item in registering if item.request]
        )
        for item, record in zip(registering, registered, strict=True):
            if isinstance(record, InvalidParameterError):
                item.invalid, item.phase, item.key = str(record), "invalid", None
            else:
                item.ledger_job = record
        outputs: dict[str, int] = {}
        for item in self.items:
            if item.output is None:
                continue
            if item.output in outputs:
                item.invalid = f"output {item.output!r} is also line {outputs[item.output]}'s"
                item.phase, item.key = "invalid", None
                continue
            outputs[item.output] = item.job.line
        for item in self.items:
            job_row = item.ledger_job
            if item.key is None or job_row is None:
                continue
            self._by_idempotency[job_row.idempotency_key] = item.key
            if job_row.video_id:
                self._by_video[job_row.video_id] = item.key
            target = self._target(item)
            _remove_partials(target)
            if job_row.state is JobState.DOWNLOADED:
                recorded = job_row.output_path == str(target)
                if not recorded or not _same_size(target, job_row.size_bytes):
                    item.ledger_job = ledger.reopen_download(
                        item.key, "the saved file is missing or changed"
                    )
            item.phase = _phase_of(item.ledger_job.state if item.ledger_job else None)

    def _target(self, item: _Item) -> Path:
        assert item.output is not None
        return self.options.out_dir / item.output

    # -- observing the wire ------------------------------------------------------------------

    def _observe(self, kind: str, request: httpx.Request, response: httpx.Response) -> None:
        headers = response.headers
        request_id = next((headers[h] for h in _REQUEST_ID_HEADERS if h in headers), None)
        if not request_id:
            return
        key: str | None = None
        if kind == "submit":
            key = self._by_idempotency.get(request.headers.get("idempotency-key", ""))
        elif kind in ("poll", "download"):
            parts = [p for p in request.url.path.split("/") if p]
            if "videos" in parts:
                index = parts.index("videos") + 1
                if index < len(parts):
                    key = self._by_video.get(parts[index])
        if key is not None:
            self._notes.append((key, request_id, f"{kind} {response.status_code}"))

    async def _flush_notes(self, ledger: JobLedger) -> None:
        notes, self._notes = self._notes, []
        if notes:
            await asyncio.to_thread(ledger.note_requests, notes)

    # -- the run -----------------------------------------------------------------------------

    async def run(self) -> BatchResult:
        ledger = await asyncio.to_thread(self._open_ledger)
        client: AsyncDeerAPI | None = None
        background: list[asyncio.Task[None]] = []
        reconciler: _Reconciler | None = None
        try:
            self.options.out_dir.mkdir(parents=True, exist_ok=True)
            await asyncio.to_thread(self._prepare, ledger)
            client = self._client()
            ledgered = AsyncLedgeredVideos(
                client,
                ledger,
                trust_idempotency_keys=self.options.trust_idempotency_keys,
                reconcile_grace=self.options.reconcile_grace,
            )
            reconciler = _Reconciler(ledgered, self._note_failure, self._submissions)
            background.append(asyncio.create_task(self._flusher(ledger)))
            if self.on_progress is not None:
                background.append(asyncio.create_task(self._ticker(ledger)))
            order = sorted(
                (item for item in self.items if item.key is not None),
                key=lambda item: (item.phase not in ("running", "completed"), item.job.line),
            )
            tasks = [
                asyncio.create_task(self._drive(item, ledger, ledgered, reconciler, client))
                for item in order
            ]
            try:
                await asyncio.gather(*tasks)
            except BaseException:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                raise
            if self.on_progress is not None:
                self.on_progress(self.snapshot(ledger))  # the last state, drawn once more
            return await self._result(ledger)
        finally:
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            if reconciler is not None:
                await reconciler.close()
            with contextlib.suppress(Exception):
                await self._flush_notes(ledger)
            if client is not None:
                await client.close()
            ledger.close()

    def _note_failure(self, failure: Failure) -> None:
        if failure.fatal and self.stopped is None:
            self.stopped = failure

    async def _flusher(self, ledger: JobLedger) -> None:
        while True:
            await asyncio.sleep(1.0)
            await self._flush_notes(ledger)

    async def _ticker(self, ledger: JobLedger) -> None:
        assert self.on_progress is not None
        while True:
            self.on_progress(self.snapshot(ledger))
            await asyncio.sleep(self.progress_interval)

    def snapshot(self, ledger: JobLedger) -> BatchProgress:
        counts: dict[str, int] = {}
        for item in self.items:
            counts[item.phase] = counts.get(item.phase, 0) + 1
        stats = self.scheduler.stats
        return BatchProgress(
            total=len(self.items),
            counts=counts,
            spent=ledger.spent(),
            budget=self.options.budget,
            requests=stats.total,
            too_many=stats.too_many,
            paused=self.scheduler.paused_for("poll"),
            window=self.scheduler.window,
            active=self.scheduler.active,
            elapsed=time.monotonic() - self._started,
        )

    async def _drive(
        self,
        item: _Item,
        ledger: JobLedger,
        ledgered: AsyncLedgeredVideos,
        reconciler: _Reconciler,
        client: AsyncDeerAPI,
    ) -> None:
        assert item.key is not None
        key = item.key
        try:
            while self.stopped is None:
                job = ledger.require(key)
                item.ledger_job = job
                item.phase = _phase_of(job.state)
                state = job.state
                if state in (JobState.DOWNLOADED, JobState.FAILED):
                    return
                if state is JobState.AMBIGUOUS and not self.options.resubmit_ambiguous:
                    return
                if state in (JobState.SUBMITTING, JobState.UNCERTAIN) and not item.resend:
                    if item.slot:
                        await self._release(item)
                    item.phase = "reconciling"
                    decision = await reconciler.settle(key)
                    if decision is None:
                        return  # the listing failed for good; the job stays uncertain
                    item.resend = decision.outcome == "resend"
                    continue
                if state in (JobState.RUNNING, JobState.COMPLETED):
                    if state is JobState.RUNNING and not await self._follow(item, ledger, client):
                        return
                    done = ledger.require(key).state is JobState.COMPLETED
                    if done and not await self._download(item, ledgered):
                        return
                    continue
                if not await self._submit(item, ledger, ledgered):
                    return
        finally:
            if item.slot:
                await self._release(item)

    async def _release(self, item: _Item) -> None:
        item.slot = False
        self.scheduler.release_slot()

    async def _submit(self, item: _Item, ledger: JobLedger, ledgered: AsyncLedgeredVideos) -> bool:
        """Send the job's POST; False when this run is done with the job."""
        assert item.key is not None
        if self._budget_reached and self.options.budget.jobs is not None:
            item.phase = "over_budget"
            return False
        if not item.slot:
            item.phase = "queued"
            await self.scheduler.acquire_slot()
            item.slot = True
        if self.stopped is not None:
            return False
        item.phase = "submitting"
        async with self._submissions.post():
            try:
                claimed = await asyncio.to_thread(
                    ledger.claim,
                    item.key,
                    budget=self.options.budget,
                    resubmit_ambiguous=self.options.resubmit_ambiguous,
                    resend_uncertain=item.resend,
                )
            except BudgetExceededError as exc:
                item.phase, item.note = "over_budget", str(exc)
                self._budget_reached = True
                return False
            except InvalidParameterError as exc:  # e.g. ambiguous without --resubmit-ambiguous
                item.note = str(exc)
                return False
            item.resend = False
            try:
                video = await ledgered.post(claimed, item.references, max_retries=0)
            except JobMayExistError:
                return True  # recorded uncertain: the loop reconciles it
            except DeerAPIError as exc:
                failure: Failure | None = classify_failure(exc)
            else:
                failure = None
        if failure is not None:
            self._note_failure(failure)
            if failure.kind == "final" or failure.fatal:
                return False
            await self._release(item)  # a narrower window takes effect on the next try
            return await self._backoff(item, failure)
        self._by_video[str(video.id)] = item.key
        self.scheduler.job_accepted()
        item.plan = PollPlan(
            time.monotonic(),
            prior=self.prior.estimate(self._settings(item)),
            min_interval=self.options.min_poll_interval,
            initial=self.options.first_poll,
        )
        return True

    async def _backoff(self, item: _Item, failure: Failure) -> bool:
        """Wait before trying a step again; False when its attempts in this run are used up."""
        if failure.reason == "rate limited":
            await asyncio.sleep(max(self.scheduler.paused_for("submit"), 0.05))
            return True
        item.failures += 1
        if item.failures >= self.options.max_attempts:
            item.phase = "retry_later"
            return False
        delay = failure.retry_after if failure.retry_after is not None else 2.0**item.failures
        await asyncio.sleep(min(delay, 30.0))
        return True

    def _settings(self, item: _Item) -> tuple[str | None, ...]:
        request = item.request
        assert request is not None
        return (request.model, request.seconds, request.size)

    async def _follow(self, item: _Item, ledger: JobLedger, client: AsyncDeerAPI) -> bool:
        """Poll a running job until it ends; False when this run is done with the job."""
        assert item.key is not None
        job = ledger.require(item.key)
        video_id = job.video_id
        assert video_id is not None
        self._by_video[video_id] = item.key
        if not item.slot:
            await self.scheduler.acquire_slot()
            item.slot = True
        item.phase = "running"
        plan = item.plan or PollPlan(
            time.monotonic(),
            prior=None,
            min_interval=self.options.min_poll_interval,
            initial=self.options.first_poll,
        )
        item.plan = plan
        deadline = time.monotonic() + self.options.poll_timeout
        while self.stopped is None:
            now = time.monotonic()
            if now >= deadline:
                item.phase = "retry_later"
                return False
            await asyncio.sleep(min(plan.next_delay(now), max(deadline - now, 0.0)))
            try:
                video = await client.videos.retrieve(video_id, max_retries=0)
            except DeerAPIError as exc:
                failure = classify_failure(exc)
                self._note_failure(failure)
                if failure.kind == "final":
                    await asyncio.to_thread(ledger.record_failure, item.key, failure)
                    return False
                plan.failed_read(time.monotonic())
                continue
            now = time.monotonic()
            status = _status(video)
            plan.observe(now, status, _progress(video))
            job = await asyncio.to_thread(ledger.record_status, item.key, video)
            if job.state is JobState.COMPLETED:
                self.prior.observe(self._settings(item), plan.estimated_duration(now))
                await self._release(item)
                return True
            if job.state is JobState.FAILED:
                await self._release(item)
                return False
        return False

    async def _download(self, item: _Item, ledgered: AsyncLedgeredVideos) -> bool:
        """Save the video; False when this run is done with the job."""
        assert item.key is not None
        item.phase = "downloading"
        async with self._downloads:
            target = self._target(item)
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                await ledgered.download_content(item.key, target, max_retries=2)
            except DeerAPIError as exc:
                failure = classify_failure(exc)
                self._note_failure(failure)
                if failure.kind == "final":
                    return False
                return await self._backoff(item, failure)
        return True

    async def _result(self, ledger: JobLedger) -> BatchResult:
        await self._flush_notes(ledger)
        outcomes: list[JobOutcome] = []
        for item in self.items:
            job = item.job
            if item.invalid is not None or item.key is None:
                state = "duplicate" if item.duplicate_of is not None else "invalid"
                outcomes.append(
                    JobOutcome(
                        line=job.line,
                        job_key=None,
                        id=job.id,
                        output=item.output,
                        state=state,
                        error_kind="final" if state == "invalid" else None,
                        reason="invalid input" if state == "invalid" else None,
                        error=item.invalid,
                        duplicate_of=item.duplicate_of,
                    )
                )
                continue
            row = ledger.require(item.key)
            state = str(row.state)
            if item.phase == "over_budget" and row.state is JobState.PENDING:
                state = "over_budget"
            outcomes.append(
                JobOutcome(
                    line=job.line,
                    job_key=row.job_key,
                    id=job.id,
                    output=item.output,
                    state=state,
                    video_id=row.video_id,
                    path=row.output_path,
                    sha256=row.sha256,
                    size_bytes=row.size_bytes,
                    video_seconds=row.video_seconds,
                    error_kind=row.error_kind,
                    reason=row.error_reason or ("budget" if state == "over_budget" else None),
                    error=row.error or item.note,
                    idempotency_key=row.idempotency_key if row.may_have_job else None,
                    post_attempts=row.post_attempts,
                    request_ids=row.request_ids,
                )
            )
        result = BatchResult(
            outcomes=outcomes,
            spent=ledger.spent(),
            budget=self.options.budget,
            requests=self.scheduler.stats.as_dict(),
            elapsed=time.monotonic() - self._started,
            exit_code=EXIT_OK,
            ledger=None if self.options.ledger_path is None else str(self.options.ledger_path),
            out_dir=str(self.options.out_dir),
            stopped=None if self.stopped is None else self.stopped.message,
        )
        result.exit_code = exit_code_for(result)
        if self.options.report_path is not None:
            write_report(self.options.report_path, result)
        return result


def exit_code_for(result: BatchResult) -> int:
    """5 if any job is ambiguous, else 4 if any may still succeed on a rerun, else 1 if any
    failed for good (or the batch stopped on an API error), else 0."""
    states = {outcome.state for outcome in result.outcomes}
    if "ambiguous" in states:
        return EXIT_AMBIGUOUS
    if result.stopped is not None:
        return EXIT_FAILED
    unfinished = {"pending", "submitting", "uncertain", "running", "completed", "retry_later"}
    if states & (unfinished | {"over_budget"}):
        return EXIT_INCOMPLETE
    if states & {"failed", "invalid"}:
        return EXIT_FAILED
    return EXIT_OK


def write_report(path: Path, result: BatchResult) -> None:
    """Write the JSON report atomically (a temporary file renamed into place)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_text(json.dumps(result.as_dict(), indent=2) + "\n", encoding="utf-8")
    os.replace(temp, path)


def _phase_of(state: JobState | None) -> str:
    if state is None:
        return "queued"
    return {
        JobState.PENDING: "queued",
        JobState.SUBMITTING: "reconciling",
        JobState.UNCERTAIN: "reconciling",
        JobState.AMBIGUOUS: "ambiguous",
        JobState.RUNNING: "running",
        JobState.COMPLETED: "completed",
        JobState.DOWNLOADED: "downloaded",
        JobState.FAILED: "failed",
        JobState.RETRY_LATER: "queued",
    }[state]


def _same_size(path: Path, size: int | None) -> bool:
    try:
        return size is not None and path.stat().st_size == size
    except OSError:
        return False


def _remove_partials(target: Path) -> None:
    """Remove temporary files a killed download left beside ``target`` (never ``target``)."""
    if not target.parent.is_dir():
        return
    for stale in target.parent.glob(f".{target.name}.*.part"):
        with contextlib.suppress(OSError):
            stale.unlink()


async def run_batch(
    jobs: Sequence[BatchJob],
    options: BatchOptions,
    *,
    api_key: str | None = None,
    base_url: str | None = None,
    on_progress: Callable[[BatchProgress], None] | None = None,
    progress_interval: float = 0.25,
) -> BatchResult:
    """Run (or resume) a batch; see the module docstring.

    Args:
        jobs: the lines of the batch (:func:`load_jobs`).
        options: how to run it.
        api_key, base_url: as :class:`~deerapi_videos.AsyncDeerAPI` (environment by default).
        on_progress: called with a :class:`BatchProgress` every ``progress_interval`` seconds.

    Raises:
        LedgerBusyError: another process runs a batch on the same ledger.
        DeerAPIError: no API key, or an unusable base URL.
    """
    runner = _Runner(
        jobs,
        options,
        api_key=api_key,
        base_url=base_url,
        on_progress=on_progress,
        progress_interval=progress_interval,
    )
    return await runner.run()


def run_batch_sync(
    jobs: Sequence[BatchJob],
    options: BatchOptions,
    *,
    api_key: str | None = None,
    base_url: str | None = None,
    on_progress: Callable[[BatchProgress], None] | None = None,
    progress_interval: float = 0.25,
) -> BatchResult:
    """:func:`run_batch` for blocking code.

    Runs its own event loop without making it the thread's current one. Ctrl-C cancels the
    run cleanly (a POST on the wire is recorded uncertain) and then raises
    ``KeyboardInterrupt``.
    """
    with asyncio.Runner(loop_factory=asyncio.new_event_loop) as runner:
        return runner.run(
            run_batch(
                jobs,
                options,
                api_key=api_key,
                base_url=base_url,
                on_progress=on_progress,
                progress_interval=progress_interval,
            )
        )
