"""``LedgeredVideos``: ``client.videos`` with a durable job ledger (opt-in): creates, remixes.

Written once, by hand, for the awaitable client; ``python scripts/unasync.py`` derives the
blocking one. The public names are ``deerapi_videos.ledger.AsyncLedgeredVideos`` and
``LedgeredVideos``. What is recorded when, and how an uncertain job is reconciled, is decided
in :mod:`.._ledger`; this file only sends the requests and writes the ledger between them
(in the awaitable client, SQLite work and file reads run in worker threads).
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .. import _clock
from .._concurrency import arun_blocking
from .._config import TimeoutTypes, to_timeout
from .._download import ProgressCallback
from .._errors import DeerAPIError, InvalidParameterError, JobMayExistError, VideoFailedError
from .._ledger import (
    AmbiguousJobError,
    Budget,
    JobLedger,
    JobRequest,
    JobState,
    LedgerJob,
    Listed,
    Reconciliation,
    classify_failure,
    decide_by_listing,
    file_sha256,
    listed_from_video,
    same_settings,
)
from .._models import model_table
from .._validation import (
    validate_create_inputs,
    validate_headers,
    validate_max_retries,
    validate_prompt,
    validate_remix_model,
    validate_video_id,
)

if TYPE_CHECKING:
    from deerapi_videos_generated.models.video import Video

    from ._client import AsyncDeerAPI

__all__ = ["LedgeredVideos", "prepare_request"]

#: Seconds after a POST began before a listing is trusted to show the job it started.
DEFAULT_RECONCILE_GRACE = 10.0
#: At most this many jobs are listed to reconcile (newest first).
DEFAULT_LIST_LIMIT = 5000

_EXISTS = (JobState.RUNNING, JobState.COMPLETED, JobState.DOWNLOADED)


def prepare_request(
    *, prompt: object, model: object, seconds: object, size: object, input_reference: object
) -> tuple[JobRequest, object]:
    """Validate a create's inputs (nothing is recorded for invalid ones) and read its images.

    Returns the ledger's :class:`JobRequest` and the references to send (their bytes, read
    once). Blocking (it reads files): the awaitable client runs it in a worker thread.
    """
    text = validate_prompt(prompt)
    inputs = validate_create_inputs(
        model=model, seconds=seconds, size=size, input_reference=input_reference
    )
    images = inputs.references
    request = JobRequest.create(
        prompt=text,
        model=inputs.model,
        seconds=inputs.seconds,
        size=inputs.size,
        images=[image.content for image in images],
        image_names=[image.filename for image in images],
    )
    parts = [(image.filename, image.content, image.mime_type) for image in images]
    references: object = None
    if len(parts) == 1:
        references = parts[0]
    elif parts:
        references = parts
    return request, references


def _prepare_remix(
    ledger: JobLedger, *, video_id: object, prompt: object, model: object
) -> JobRequest:
    """Validate a remix's inputs (nothing is recorded for invalid ones); its ledger request.

    The source is looked up in the ledger: what the remix inherits from it (length, size,
    model) decides its charge (see :meth:`JobRequest.remix`).

    Raises:
        InvalidParameterError: an input is invalid, or the ledger made the source with a model
            the model table says cannot be remixed (and no other model is given).
    """
    source_id = validate_video_id(video_id)
    text = validate_prompt(prompt)
    model_value = validate_remix_model(model)
    source = ledger.job_for_video(source_id)
    if model_value is None and source is not None:
        inherited = source.params.get("model") or source.params.get("source_model")
        spec = model_table().get(inherited) if isinstance(inherited, str) else None
        if spec is not None and not spec.remix:
            raise InvalidParameterError(
                "video_id",
                f"{source_id} is the video of job {source.job_key}, made by model {spec.id!r} "
                f"({spec.family}), which cannot be remixed",
            )
    return JobRequest.remix(
        source_video_id=source_id, prompt=text, model=model_value, source=source
    )


def _check_call_options(
    timeout: TimeoutTypes | None, extra_headers: Mapping[str, str] | None, max_retries: int | None
) -> None:
    """Check the per-call options before the job is recorded (the POST checks them again).

    Raises:
        InvalidParameterError: one of them is invalid.
    """
    if timeout is not None:
        to_timeout(timeout)
    validate_headers("extra_headers", extra_headers)
    if max_retries is not None:
        validate_max_retries(max_retries)


def recorded_failure(job: LedgerJob) -> DeerAPIError:
    """The error a job that failed for good raises again (nothing is sent)."""
    if job.video_id is not None and job.error_reason in ("job failed", "moderation"):
        return VideoFailedError(
            job.video_id, job.status or "failed", job.error_code, job.error or "the job failed"
        )
    error = DeerAPIError(
        f"job {job.job_key} failed for good earlier ({job.error_reason}): {job.error}; "
        "nothing was sent"
    )
    error.video_id = job.video_id
    error.idempotency_key = job.idempotency_key
    return error


class LedgeredVideos:
    """Create, remix, follow and download video jobs through a :class:`JobLedger`.

    Creating the same job again (same ``job_key``, or the same prompt, model, seconds, size and
    reference images) returns the recorded job instead of paying for another one; so does
    remixing the same video again (same ``job_key``, or the same source, prompt and model). A
    job whose POST may have started a job without the answer being recorded is reconciled first
    (see :meth:`reconcile`), never re-sent blindly.

    Args:
        client: the client whose ``videos`` this wraps.
        ledger: the ledger (see :class:`JobLedger`).
        trust_idempotency_keys: the server returns the same job for a repeated
            ``Idempotency-Key`` (the conformance check reports whether it does): an uncertain
            job is re-sent with its key instead of reconciled by listing.
        reconcile_grace: seconds after a POST began before a listing that does not show its
            job is taken to mean that it started none.
    """

    def __init__(
        self,
        client: AsyncDeerAPI,
        ledger: JobLedger,
        *,
        trust_idempotency_keys: bool = False,
        reconcile_grace: float = DEFAULT_RECONCILE_GRACE,
        list_limit: int = DEFAULT_LIST_LIMIT,
    ) -> None:
        self.client = client
        self.ledger = ledger
        self.trust_idempotency_keys = trust_idempotency_keys
        self.reconcile_grace = reconcile_grace
        self.list_limit = list_limit
        self._videos = client.videos

    async def create(
        self,
        *,
        prompt: str,
        model: str | None = None,
        seconds: str | int | None = None,
        size: str | None = None,
        input_reference: object = None,
        job_key: str | None = None,
        label: str | None = None,
        budget: Budget | None = None,
        resubmit_ambiguous: bool = False,
        timeout: TimeoutTypes | None = None,
        extra_headers: Mapping[str, str] | None = None,
        max_retries: int | None = None,
    ) -> Video:
        """Start the job unless the ledger knows it; return the job's current state.

        Args:
            prompt: what the video shows (as ``videos.create``).
            model: the model id (as ``videos.create``).
            seconds: the length (as ``videos.create``).
            size: the size or aspect ratio (as ``videos.create``).
            input_reference: the reference image(s) (as ``videos.create``).
            job_key: the caller's name for the job; its fingerprint when None.
            label: a note kept with the job (a file name, a row number).
            budget: refuse to send a POST that would spend past it.
            resubmit_ambiguous: re-send an ambiguous job (it may be paid twice).
            timeout: per-attempt request timeout (as ``videos.create``).
            extra_headers: headers added to the request.
            max_retries: retries for the call (as ``videos.create``).

        Raises:
            InvalidParameterError: an argument is invalid, or ``job_key`` names another job;
                nothing was recorded or sent.
            AmbiguousJobError: an earlier POST may have started the job; nobody can tell.
            BudgetExceededError: the budget does not allow this job; nothing was sent.
            JobMayExistError: this POST may have started the job (recorded as uncertain).
            DeerAPIError: as ``videos.create``; a job that failed for good before raises again
                without sending anything.
        """
        _check_call_options(timeout, extra_headers, max_retries)
        request, references = await arun_blocking(
            functools.partial(
                prepare_request,
                prompt=prompt,
                model=model,
                seconds=seconds,
                size=size,
                input_reference=input_reference,
            )
        )
        job = await arun_blocking(
            functools.partial(self.ledger.register, request, job_key, label=label)
        )
        return await self.submit(
            job.job_key,
            references,
            budget=budget,
            resubmit_ambiguous=resubmit_ambiguous,
            timeout=timeout,
            extra_headers=extra_headers,
            max_retries=max_retries,
        )

    async def remix(
        self,
        video_id: str,
        *,
        prompt: str,
        model: str | None = None,
        job_key: str | None = None,
        label: str | None = None,
        budget: Budget | None = None,
        resubmit_ambiguous: bool = False,
        timeout: TimeoutTypes | None = None,
        extra_headers: Mapping[str, str] | None = None,
        max_retries: int | None = None,
    ) -> Video:
        """Start a remix of ``video_id`` unless the ledger knows it; return the job's state.

        The same promises as :meth:`create`: the job is recorded with its idempotency key
        before the POST, a rerun returns the recorded job, and a lost answer is re-sent with
        the same key (``trust_idempotency_keys``), found in the job list (a remix of
        ``video_id``: see :func:`decide_by_listing`) or reported ambiguous.

        **Budget.** A remix is as long as its source. When the ledger made ``video_id``, the
        remix is charged what that job is charged; else, with a ``model`` from the model table,
        the longest length that model takes; else its length is unknown and a budget in video
        seconds refuses it (:class:`BudgetExceededError`; give ``model`` to bound it). Once the
        server answers, the ledger charges the length it reports.

        Args:
            video_id: the completed video to remix (as ``videos.remix``).
            prompt: what to change (as ``videos.remix``).
            model: the model id (as ``videos.remix``); part of the job's identity as given.
            job_key: the caller's name for the job; its fingerprint (kind, source video,
                prompt and model) when None.
            label: a note kept with the job.
            budget: refuse to send a POST that would spend past it.
            resubmit_ambiguous: re-send an ambiguous job (it may be paid twice).
            timeout: per-attempt request timeout (as ``videos.remix``).
            extra_headers: headers added to the request.
            max_retries: retries for the call (as ``videos.remix``).

        Raises:
            InvalidParameterError: an argument is invalid, or ``job_key`` names another job;
                nothing was recorded or sent.
            AmbiguousJobError: an earlier POST may have started the job; nobody can tell.
            BudgetExceededError: the budget does not allow this job; nothing was sent.
            JobMayExistError: this POST may have started the job (recorded as uncertain).
            DeerAPIError: as ``videos.remix``; a job that failed for good before raises again
                without sending anything. A remix refused because its source is not completed
                yet (409) is not failed for good: it is sent again (same key) by a later call.
        """
        _check_call_options(timeout, extra_headers, max_retries)
        request = await arun_blocking(
            functools.partial(
                _prepare_remix, self.ledger, video_id=video_id, prompt=prompt, model=model
            )
        )
        job = await arun_blocking(
            functools.partial(self.ledger.register, request, job_key, label=label)
        )
        return await self.submit(
            job.job_key,
            budget=budget,
            resubmit_ambiguous=resubmit_ambiguous,
            timeout=timeout,
            extra_headers=extra_headers,
            max_retries=max_retries,
        )

    async def submit(
        self,
        job_key: str,
        references: object = None,
        *,
        budget: Budget | None = None,
        resubmit_ambiguous: bool = False,
        timeout: TimeoutTypes | None = None,
        extra_headers: Mapping[str, str] | None = None,
        max_retries: int | None = None,
    ) -> Video:
        """Bring a registered job (a create or a remix) to the point where it exists on the
        server.

        ``references`` are a create's images to send, as :func:`prepare_request` returns them
        (a remix has none).
        """
        job = self.ledger.require(job_key)
        if job.state in _EXISTS:
            return await self.refresh(job_key)
        if job.state is JobState.FAILED:
            raise recorded_failure(job)
        resend = False
        if job.state in (JobState.SUBMITTING, JobState.UNCERTAIN):
            if self.ledger.in_flight(job_key):
                raise InvalidParameterError(
                    "job_key", f"job {job_key} is being submitted by another call right now"
                )
            decision = await self._settle(job_key)
            if decision.outcome == "adopted":
                return await self.refresh(job_key)
            resend = decision.outcome == "resend"
            job = self.ledger.require(job_key)
        if job.state is JobState.AMBIGUOUS and not resubmit_ambiguous:
            raise AmbiguousJobError(job_key, job.idempotency_key, job.error or "ambiguous")
        claimed = await arun_blocking(
            functools.partial(
                self.ledger.claim,
                job_key,
                budget=budget,
                resubmit_ambiguous=resubmit_ambiguous,
                resend_uncertain=resend,
            )
        )
        return await self.post(
            claimed,
            references,
            timeout=timeout,
            extra_headers=extra_headers,
            max_retries=max_retries,
        )

    async def _settle(self, job_key: str) -> Reconciliation:
        """Reconcile one uncertain job, waiting out the grace period if need be."""
        started = time.time()
        slept = 0.0
        while True:
            # Judged at the time slept so far too: the testing switch skips the sleeps.
            at = max(time.time(), started + slept)
            decision = (await self.reconcile([job_key], at=at))[job_key]
            if decision.outcome != "wait":
                return decision
            await _clock.asleep(decision.wait)
            slept += decision.wait

    async def post(
        self,
        job: LedgerJob,
        references: object = None,
        *,
        timeout: TimeoutTypes | None = None,
        extra_headers: Mapping[str, str] | None = None,
        max_retries: int | None = None,
    ) -> Video:
        """Send the POST of a job :meth:`JobLedger.claim` marked ``submitting`` (its create or
        its remix); record how it went (created, uncertain, or failed and classified)."""
        params = job.params
        try:
            if job.kind == "remix":
                assert job.source_video_id is not None
                model = params.get("model")
                video = await self._videos.remix(
                    job.source_video_id,
                    prompt=str(params["prompt"]),
                    model=model if isinstance(model, str) else None,
                    idempotency_key=job.idempotency_key,
                    timeout=timeout,
                    extra_headers=extra_headers,
                    max_retries=max_retries,
                )
            else:
                video = await self._videos._create(
                    prompt=str(params["prompt"]),
                    model=params.get("model"),
                    seconds=params.get("seconds"),
                    size=params.get("size"),
                    input_reference=references,
                    idempotency_key=job.idempotency_key,
                    timeout=timeout,
                    extra_headers=extra_headers,
                    max_retries=max_retries,
                )
        except JobMayExistError as exc:
            await arun_blocking(self.ledger.record_uncertain, job.job_key, exc)
            raise
        except DeerAPIError as exc:
            failure = classify_failure(exc, kind=job.kind)
            await arun_blocking(self.ledger.record_failure, job.job_key, failure)
            raise
        except BaseException:
            # Cancelled or interrupted with the POST possibly on the wire: uncertain. Written
            # inline: a cancelled task cannot wait for a worker thread.
            self.ledger.record_uncertain(job.job_key, "interrupted while the POST was in flight")
            raise
        await arun_blocking(self.ledger.record_created, job.job_key, video)
        return video

    async def reconcile(
        self, job_keys: Sequence[str] | None = None, *, at: float | None = None
    ) -> dict[str, Reconciliation]:
        """Decide what became of uncertain jobs (all of them, or those named).

        With ``trust_idempotency_keys`` each is to be re-sent with its key (``"resend"``).
        Otherwise, once ``reconcile_grace`` seconds have passed since its POST began (else
        ``"wait"``), the account's jobs are listed once, newest first, back to the oldest point
        any of them could have been created (:func:`decide_by_listing`), and each becomes
        ``adopted``, ``not_started`` (sent again later, with the same key) or ``ambiguous``.
        The decisions are recorded. ``at``: the Unix time to judge the grace period at (now).
        """
        wanted = None if job_keys is None else set(job_keys)
        uncertain = await arun_blocking(self.ledger.jobs, (JobState.SUBMITTING, JobState.UNCERTAIN))
        jobs = [
            job
            for job in uncertain
            if not self.ledger.in_flight(job.job_key) and (wanted is None or job.job_key in wanted)
        ]
        decisions: dict[str, Reconciliation] = {}
        if self.trust_idempotency_keys:
            for job in jobs:
                decisions[job.job_key] = Reconciliation(
                    job.job_key,
                    "resend",
                    "the server honours Idempotency-Key: the same key is sent again",
                )
            return decisions
        now = time.time() if at is None else at
        ready = []
        for job in jobs:
            age = now - (job.post_started_at or 0.0)
            if age < self.reconcile_grace:
                decisions[job.job_key] = Reconciliation(
                    job.job_key,
                    "wait",
                    "too soon after the POST to trust the job list",
                    wait=self.reconcile_grace - age,
                )
            else:
                ready.append(job)
        if not ready:
            return decisions
        anchors = {job.job_key: self.ledger.anchor_for(job) for job in ready}
        known = [anchor for anchor in anchors.values() if anchor is not None]
        floor = min(known) if len(known) == len(anchors) else None
        sending = self.ledger.in_flight_jobs()
        listed, videos, exhaustive, oldest = await self._list_back_to(floor)
        # A POST of this process on its way during the listing may have started a listed job
        # that is not claimed yet: an uncertain job with the same settings waits for it (the
        # ledger releases a job from "in flight" only once its answer is recorded).
        sending += self.ledger.in_flight_jobs()
        claimed = await arun_blocking(self.ledger.claimed_video_ids)
        for job in list(ready):
            if any(same_settings(job, other) for other in sending):
                ready.remove(job)
                decisions[job.job_key] = Reconciliation(
                    job.job_key,
                    "wait",
                    "a POST with the same settings is on its way; its job may be in the list",
                    wait=0.5,
                )
        decided = decide_by_listing(
            ready,
            listed,
            anchors=anchors,
            claimed=claimed,
            exhaustive=exhaustive,
            oldest_seen=oldest,
        )
        for key, decision in decided.items():
            video = videos.get(decision.video_id) if decision.video_id is not None else None
            await arun_blocking(self.ledger.record_reconciled, decision, video)
            decisions[key] = decision
        return decisions

    async def _list_back_to(
        self, floor: int | None
    ) -> tuple[list[Listed], dict[str, Video], bool, int | None]:
        """List jobs newest first until one older than ``floor`` (or the limit, or the end)."""
        listed: list[Listed] = []
        videos: dict[str, Video] = {}
        oldest: int | None = None
        exhaustive = True
        async for video in self._videos.list(limit=100, order="desc"):
            item = listed_from_video(video)
            listed.append(item)
            videos[item.id] = video
            if item.created_at is not None:
                oldest = item.created_at if oldest is None else min(oldest, item.created_at)
                if floor is not None and item.created_at < floor:
                    exhaustive = False
                    break
            if len(listed) >= self.list_limit:
                exhaustive = False
                break
        return listed, videos, exhaustive, oldest

    async def refresh(
        self,
        job_key: str,
        *,
        timeout: TimeoutTypes | None = None,
        extra_headers: Mapping[str, str] | None = None,
        max_retries: int | None = None,
    ) -> Video:
        """Read a job that exists (``videos.retrieve``) and record its state."""
        job = self.ledger.require(job_key)
        if job.video_id is None:
            raise InvalidParameterError("job_key", f"job {job_key} has no video yet ({job.state})")
        video = await self._videos.retrieve(
            job.video_id, timeout=timeout, extra_headers=extra_headers, max_retries=max_retries
        )
        await arun_blocking(self.ledger.record_status, job_key, video)
        return video

    async def poll(
        self, job_key: str, *, timeout: float = 900.0, poll_interval: float | None = None
    ) -> Video:
        """Wait for a job to end (``videos.poll``) and record how it ended.

        Args:
            job_key: the job, as the ledger names it.
            timeout: the deadline of the whole wait, in seconds (as ``videos.poll``).
            poll_interval: seconds between reads (as ``videos.poll``; None: the server's hint,
                the job's progress, else a backoff).

        Raises:
            InvalidParameterError: the job has no video yet.
            VideoFailedError: the job ended without a video (recorded as failed).
            PollTimeoutError: the deadline passed first.
        """
        job = self.ledger.require(job_key)
        if job.video_id is None:
            raise InvalidParameterError("job_key", f"job {job_key} has no video yet ({job.state})")
        try:
            video = await self._videos.poll(
                job.video_id, timeout=timeout, poll_interval=poll_interval
            )
        except VideoFailedError as exc:
            await arun_blocking(self.ledger.record_failure, job_key, classify_failure(exc))
            raise
        await arun_blocking(self.ledger.record_status, job_key, video)
        return video

    async def download_content(
        self,
        job_key: str,
        path: str | os.PathLike[str],
        *,
        on_bytes: ProgressCallback | None = None,
        timeout: TimeoutTypes | None = None,
        extra_headers: Mapping[str, str] | None = None,
        max_retries: int | None = None,
    ) -> Path:
        """Save a completed job's video at ``path`` and record the path and its SHA-256.

        A job already downloaded to ``path`` whose file still has the recorded size is not
        fetched again.
        """
        job = self.ledger.require(job_key)
        if job.video_id is None:
            raise InvalidParameterError("job_key", f"job {job_key} has no video yet ({job.state})")
        target = Path(path)
        recorded = job.state is JobState.DOWNLOADED and job.output_path == str(target)
        if recorded and _same_size(target, job.size_bytes):
            return target
        try:
            written = await self._videos.download_content(
                job.video_id,
                target,
                on_bytes=on_bytes,
                timeout=timeout,
                extra_headers=extra_headers,
                max_retries=max_retries,
            )
        except DeerAPIError as exc:
            await arun_blocking(self.ledger.record_failure, job_key, classify_failure(exc))
            raise
        digest, size = await arun_blocking(file_sha256, written)
        await arun_blocking(self.ledger.record_download, job_key, written, digest, size)
        return written


def _same_size(path: Path, size: int | None) -> bool:
    try:
        return size is not None and path.stat().st_size == size
    except OSError:
        return False
