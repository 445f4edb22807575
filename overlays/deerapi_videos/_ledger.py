"""The job ledger: what was asked, what may have been paid for, and what came of it.

One SQLite file (standard library, WAL; the claim before each POST is synced to disk before the
POST is sent), so the knowledge that keeps a rerun from paying twice outlives the process (and
a power loss): the idempotency key and the video id no longer die with it.

- **Identity.** A job is named by the caller's key, or by the fingerprint of what it asks for:
  for a create, the model, prompt, seconds, size and the SHA-256 of each reference image, with
  the model table's defaults filled in (so ``model=None`` and ``model="sora-2"`` are one job);
  for a remix, the source video id, the prompt and the model as given. The fingerprint names
  the kind (``create`` or ``remix``), so a remix never shares a create's identity. A caller key
  reused with other parameters is refused.
- **Before a POST** the job's state becomes ``submitting`` together with its idempotency key,
  the time and a charge against the budget, in one committed transaction. **After each step**
  the outcome is recorded: video id, request ids, status, progress, expiry, output path and
  checksum, errors. Every change also appends to ``events`` (an audit trail).
- **A POST whose answer was not recorded** (``submitting`` found by a new process, or a
  :class:`JobMayExistError`) is ``uncertain`` and never re-sent blindly: it is reconciled, by
  re-sending the same idempotency key where the server is known to honour it, else by listing
  the account's jobs (:func:`decide_by_listing`), or it becomes ``ambiguous`` for the caller
  to decide.
- **The budget** (video seconds and jobs) is checked in the same transaction that marks a job
  ``submitting``, so concurrent submitters never overspend it. A job's charge is released
  when its POST provably started nothing (an error answer, a reconcile that finds no job). A
  remix is charged the seconds it inherits from its source (see :meth:`JobRequest.remix`).

Only the I/O-free parts live here (storage, identity, decisions); the resources that send
requests are :mod:`._async._ledgered` and its generated sync twin. One process owns a ledger
at a time (an advisory lock beside the file); see the README for sharing one between hosts.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from ._errors import (
    APIConnectionError,
    APIStatusError,
    AuthenticationError,
    ContentExpiredError,
    DeerAPIError,
    DownloadError,
    InvalidParameterError,
    JobMayExistError,
    NotFoundError,
    PermissionDeniedError,
    PollTimeoutError,
    RateLimitError,
    ResponseValidationError,
    VideoFailedError,
)
from ._models import model_table
from ._retry import NOT_BY_WAITING

__all__ = [
    "OPEN_STATES",
    "AmbiguousJobError",
    "Budget",
    "BudgetExceededError",
    "Failure",
    "JobLedger",
    "JobRequest",
    "JobState",
    "LedgerBusyError",
    "LedgerJob",
    "Listed",
    "Reconciliation",
    "Spent",
    "billed_seconds",
    "classify_failure",
    "decide_by_listing",
    "file_sha256",
    "listed_from_video",
    "same_settings",
]

#: The layout of the ledger file. 1: creates only. 2: ``jobs.kind`` and
#: ``jobs.source_video_id`` (remixes); a version 1 file is migrated when opened.
SCHEMA_VERSION = 2
Durability = Literal["full", "normal"]
#: What a job's POST does: ``POST /v1/videos`` or ``POST /v1/videos/{source}/remix``.
JobKind = Literal["create", "remix"]


class JobState(StrEnum):
    """Where a job is (``LedgerJob.state``)."""

    PENDING = "pending"  # recorded; no POST sent (or provably none started a job)
    SUBMITTING = "submitting"  # recorded before the POST: its answer is on the way
    UNCERTAIN = "uncertain"  # the POST may have started a job whose answer was lost
    AMBIGUOUS = "ambiguous"  # reconciling could not tell; the caller decides
    RUNNING = "running"  # the job exists (video id known): queued or in progress
    COMPLETED = "completed"  # the job completed; its content is not saved yet
    DOWNLOADED = "downloaded"  # content saved at output_path, checksum recorded
    FAILED = "failed"  # ended for good: a retry would fail the same way
    RETRY_LATER = "retry_later"  # failed before any job existed, in a way that may pass


#: States in which a paid job exists or may exist.
_JOB_MAY_EXIST = frozenset(
    {JobState.SUBMITTING, JobState.UNCERTAIN, JobState.AMBIGUOUS, JobState.RUNNING}
)
#: States a run can still move forward without the caller deciding anything.
OPEN_STATES = frozenset(
    {
        JobState.PENDING,
        JobState.SUBMITTING,
        JobState.UNCERTAIN,
        JobState.RUNNING,
        JobState.COMPLETED,
        JobState.RETRY_LATER,
    }
)


class BudgetExceededError(DeerAPIError):
    """Submitting this job would (or might) spend more than the budget allows; nothing was sent.

    ``reason`` replaces the usual explanation when the job's cost is not known (a remix of a
    video whose length the ledger cannot bound).
    """

    def __init__(
        self, job_key: str, needed: int, spent: Spent, budget: Budget, reason: str | None = None
    ) -> None:
        self.job_key = job_key
        self.needed = needed
        self.spent = spent
        self.budget = budget
        self.reason = reason
        why = reason or f"{needed} more video second(s) would exceed the budget"
        super().__init__(
            f"job {job_key}: {why} ({budget.describe()}; spent or reserved: {spent.seconds} s "
            f"in {spent.jobs} job(s)); nothing was sent"
        )


class AmbiguousJobError(JobMayExistError):
    """A POST may have started a job and reconciling could not tell whether it did.

    Nothing is re-sent automatically. Check the account's jobs (``videos.list()``); to pay the
    risk of a second job, resubmit (``resubmit_ambiguous=True``, ``--resubmit-ambiguous``):
    the same ``idempotency_key`` is sent, so a server that honours it still starts one job.
    """

    def __init__(self, job_key: str, idempotency_key: str, reason: str) -> None:
        self.job_key = job_key
        self.reason = reason
        super().__init__(
            f"job {job_key} is ambiguous: {reason}",
            idempotency_key=idempotency_key,
            request_id=None,
            status_code=None,
            cause=DeerAPIError(reason),
        )


class LedgerBusyError(DeerAPIError):
    """Another process holds the ledger (one process owns a ledger file at a time)."""


@dataclass(frozen=True)
class Budget:
    """Limits on what a ledger may spend: video seconds and jobs (None: no limit)."""

    seconds: int | None = None
    jobs: int | None = None

    def describe(self) -> str:
        parts = []
        if self.seconds is not None:
            parts.append(f"{self.seconds} video seconds")
        if self.jobs is not None:
            parts.append(f"{self.jobs} jobs")
        return ", ".join(parts) or "no limit"


@dataclass(frozen=True)
class Spent:
    """Video seconds and jobs that are paid for or may be (reserved before each POST)."""

    seconds: int
    jobs: int


@dataclass(frozen=True)
class JobRequest:
    """What a job asks for, normalised so equal requests have equal fingerprints.

    A create (:meth:`create`): ``references`` are the SHA-256 hex digests of the images'
    bytes, in order; ``model``, ``seconds`` and ``size`` carry the model table's defaults where
    the caller gave none.

    A remix (:meth:`remix`, ``kind="remix"``): ``source_video_id`` is the video remixed,
    ``model`` the model as the caller gave it (None: the server picks, normally the source's),
    ``seconds``, ``size`` and ``source_model`` what it should inherit from its source where the
    ledger made the source (else None; for reports, not for matching a listing: the server
    decides what a remix inherits), and ``charge`` the video seconds it is charged (None:
    unknown, see :meth:`remix`).
    """

    prompt: str
    model: str | None
    seconds: str | None
    size: str | None
    references: tuple[str, ...] = ()
    reference_names: tuple[str, ...] = ()
    kind: JobKind = "create"
    source_video_id: str | None = None
    source_model: str | None = None
    charge: int | None = None

    @classmethod
    def create(
        cls,
        *,
        prompt: str,
        model: object = None,
        seconds: object = None,
        size: object = None,
        images: Sequence[bytes] = (),
        image_names: Sequence[str] = (),
    ) -> JobRequest:
        """The request of a create (``POST /v1/videos``), the model table's defaults filled in.

        Args:
            prompt: what the video shows.
            model: the model id (the table's default model when None).
            seconds: the length (the model's default when None).
            size: the size (the model's default when None).
            images: the reference images' bytes, in order.
            image_names: their file names (kept for reports; not part of the identity).
        """
        table = model_table()
        model_id = _text(model) or table.default_model
        spec = table.get(model_id)
        seconds_text = _text(seconds)
        size_text = _text(size)
        if spec is not None:
            seconds_text = seconds_text or spec.default_seconds
            size_text = size_text or spec.default_size
        return cls(
            prompt=prompt,
            model=model_id,
            seconds=seconds_text,
            size=size_text,
            references=tuple(hashlib.sha256(image).hexdigest() for image in images),
            reference_names=tuple(image_names),
        )

    @classmethod
    def remix(
        cls,
        *,
        source_video_id: str,
        prompt: str,
        model: object = None,
        source: LedgerJob | None = None,
    ) -> JobRequest:
        """The request of a remix (``POST /v1/videos/{source_video_id}/remix``).

        A remix takes its length and size from its source, which the request does not name,
        so what it is charged depends on what the ledger knows:

        - ``source`` (the ledger's job whose video is ``source_video_id``) is known: the
          seconds that job is charged (its seconds, size and model are kept for reports);
        - else, ``model`` is in the model table: the longest length that model takes (it makes
          no longer video);
        - else the length is unknown (``charge`` None): the job is counted as the longest length
          any known model takes, and :meth:`JobLedger.claim` refuses it under a budget in
          video seconds. Once the server answers, the ledger charges the length it reports.

        Args:
            source_video_id: the video to remix (already validated).
            prompt: what to change (already validated).
            model: the model as the caller gives it (None: the server's choice).
            source: the ledger's job that made ``source_video_id``, if any.
        """
        model_id = _text(model)
        seconds: str | None = None
        size: str | None = None
        source_model: str | None = None
        charge: int | None = None
        if source is not None:
            params = source.params
            seconds = _text(params.get("seconds"))
            size = _text(params.get("size"))
            source_model = _text(params.get("model")) or _text(params.get("source_model"))
            charge = source.video_seconds
        else:
            spec = model_table().get(model_id) if model_id is not None else None
            if spec is not None:
                charge = max(int(s) for s in spec.seconds)
        return cls(
            prompt=prompt,
            model=model_id,
            seconds=seconds,
            size=size,
            kind="remix",
            source_video_id=source_video_id,
            source_model=source_model,
            charge=charge,
        )

    @property
    def fingerprint(self) -> str:
        """``fp_`` and the SHA-256 of the identity: the kind and what the POST asks for."""
        document: dict[str, Any]
        if self.kind == "remix":
            # What the remix inherits is left out: it depends on what the ledger knew of the
            # source when the job was registered, not on what the caller asked for.
            document = {
                "v": 1,
                "operation": "remix",
                "source_video_id": self.source_video_id,
                "prompt": self.prompt,
                "model": self.model,
            }
        else:
            document = {
                "v": 1,
                "operation": "create",
                "prompt": self.prompt,
                "model": self.model,
                "seconds": self.seconds,
                "size": self.size,
                "references": list(self.references),
            }
        text = json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return "fp_" + hashlib.sha256(text.encode("utf-8")).hexdigest()

    @property
    def video_seconds(self) -> int:
        """The video seconds reserved against the budget before the POST."""
        if self.kind == "remix":
            return self.charge if self.charge is not None else _longest_seconds()
        return billed_seconds(self.model, self.seconds)

    def params(self) -> dict[str, Any]:
        """What the ledger keeps of the request (``LedgerJob.params``)."""
        if self.kind == "remix":
            return {
                "prompt": self.prompt,
                "model": self.model,
                "seconds": self.seconds,
                "size": self.size,
                "source_video_id": self.source_video_id,
                "source_model": self.source_model,
                "charge": self.charge,
            }
        return {
            "prompt": self.prompt,
            "model": self.model,
            "seconds": self.seconds,
            "size": self.size,
            "references": list(self.references),
            "reference_names": list(self.reference_names),
        }


def _text(value: object) -> str | None:
    if value is None:
        return None
    raw = getattr(value, "value", value)
    text = str(raw)
    return text or None


def billed_seconds(model: str | None, seconds: str | None) -> int:
    """The video seconds a job is charged for: its ``seconds``, else the model's default, else
    (an unknown model without ``seconds``) the longest length any known model takes."""
    if seconds is not None and seconds.isdigit():
        return int(seconds)
    spec = model_table().get(model)
    if spec is not None:
        return int(spec.default_seconds)
    return _longest_seconds()


def _longest_seconds() -> int:
    return max(int(s) for s in model_table().seconds)


@dataclass(frozen=True)
class LedgerJob:
    """One job as the ledger knows it (a row of ``jobs``).

    ``kind`` says what its POST does (``"create"`` or ``"remix"``); a remix's
    ``source_video_id`` is the video it remixes (None for a create).
    """

    job_key: str
    fingerprint: str
    idempotency_key: str
    state: JobState
    params: Mapping[str, Any]
    label: str | None
    video_seconds: int
    charges: int
    post_attempts: int
    post_started_at: float | None
    answered_at: float | None
    video_id: str | None
    status: str | None
    progress: int | None
    server_created_at: int | None
    expires_at: int | None
    output_path: str | None
    sha256: str | None
    size_bytes: int | None
    error_kind: str | None
    error_reason: str | None
    error_code: str | None
    error: str | None
    request_ids: tuple[str, ...]
    created: float
    updated: float
    kind: JobKind = "create"
    source_video_id: str | None = None

    @property
    def may_have_job(self) -> bool:
        return self.state in _JOB_MAY_EXIST or self.video_id is not None


@dataclass(frozen=True)
class Failure:
    """How a failed step is classified.

    ``kind``: ``"uncertain"`` (a POST may have started a job), ``"retry_later"`` (a later
    attempt may succeed: capacity, rate limits, a 5xx before any job existed, the network),
    ``"final"`` (it would fail the same way: invalid input, moderation, a failed job, expired
    content, permissions). ``reason`` is a short word for reports; ``fatal`` means every other
    job would fail the same way (a wrong API key, an exhausted quota).
    """

    kind: Literal["uncertain", "retry_later", "final"]
    reason: str
    message: str
    code: str | None = None
    request_id: str | None = None
    retry_after: float | None = None
    fatal: bool = False


_MODERATION_WORDS = ("moderation", "content_policy", "safety", "policy_violation")


def classify_failure(error: BaseException, *, kind: JobKind = "create") -> Failure:
    """Classify what a create, a remix, a read or a download raised (see :class:`Failure`).

    ``kind`` is the job's: a remix refused with 409 (its source is not completed yet) started
    nothing and may pass once the source completes (``retry_later``), where a 409 to a create
    (an idempotency key reused with another body) would fail the same way again.
    """
    message = str(error)
    request_id = getattr(error, "request_id", None)
    request_id = request_id if isinstance(request_id, str) else None
    code = getattr(error, "code", None)
    code = code if isinstance(code, str) else None

    def make(
        kind: Literal["uncertain", "retry_later", "final"],
        reason: str,
        *,
        fatal: bool = False,
        retry_after: float | None = None,
    ) -> Failure:
        return Failure(kind, reason, message, code, request_id, retry_after, fatal)

    if isinstance(error, JobMayExistError):
        return make("uncertain", "answer lost")
    if isinstance(error, InvalidParameterError):
        return make("final", "invalid input")
    if isinstance(error, VideoFailedError):
        moderation = any(word in (error.code or "").lower() for word in _MODERATION_WORDS)
        return make("final", "moderation" if moderation else "job failed")
    if isinstance(error, ContentExpiredError):
        return make("final", "content expired")
    if isinstance(error, AuthenticationError):
        return make("final", "authentication", fatal=True)
    if isinstance(error, RateLimitError):
        if error.code in NOT_BY_WAITING:
            return make("final", "quota", fatal=True)
        return make("retry_later", "rate limited", retry_after=error.retry_after)
    if isinstance(error, PermissionDeniedError):
        return make("final", "permission denied")
    if isinstance(error, NotFoundError):
        return make("final", "not found")
    if isinstance(error, APIStatusError):
        lowered = (error.code or "").lower()
        if any(word in lowered for word in _MODERATION_WORDS):
            return make("final", "moderation")
        if error.status_code >= 500 or error.status_code == 408:
            return make("retry_later", "server error", retry_after=error.retry_after)
        if error.status_code == 409 and kind == "remix":
            return make("retry_later", "source not completed")
        return make("final", f"refused ({error.status_code})")
    if isinstance(error, APIConnectionError):
        return make("retry_later", "network")
    if isinstance(error, DownloadError | PollTimeoutError | ResponseValidationError):
        return make("retry_later", type(error).__name__)
    return make("final", "unexpected error")


# -- reconciling by listing ----------------------------------------------------------------------


@dataclass(frozen=True)
class Listed:
    """What reconciling needs from a listed video.

    ``remixed_from_video_id`` is the source of a remix (None: not a remix, or not reported).
    ``remix_reported`` says whether the server sent the field at all (``null`` for a create):
    where it does not (a gateway that leaves empty fields out), a listed video may be a remix
    of any source, and that uncertainty must not make a remix look as if it started nothing.
    """

    id: str
    created_at: int | None
    model: str | None
    seconds: str | None
    size: str | None
    prompt: str | None = None
    remixed_from_video_id: str | None = None
    remix_reported: bool = True


_ABSENT = object()


def listed_from_video(video: Any) -> Listed:
    """A :class:`Listed` from a generated ``Video`` (absent fields are None)."""

    def text(name: str) -> str | None:
        value = getattr(video, name, None)
        value = getattr(value, "value", value)
        return value if isinstance(value, str) else None

    created = getattr(video, "created_at", None)
    # ``null`` is a report ("not a remix"); a missing field (the generated model's UNSET, or no
    # attribute at all) is none.
    source = getattr(video, "remixed_from_video_id", _ABSENT)
    return Listed(
        id=str(video.id),
        created_at=created if type(created) is int else None,
        model=text("model"),
        seconds=text("seconds"),
        size=text("size"),
        prompt=text("prompt"),
        remixed_from_video_id=text("remixed_from_video_id"),
        remix_reported=source is None or isinstance(source, str),
    )


@dataclass(frozen=True)
class Reconciliation:
    """What became of an uncertain job.

    ``outcome``: ``"adopted"`` (its job was found: ``video_id``), ``"not_started"`` (no job
    exists: it may be sent again, with the same key), ``"resend"`` (the server honours
    ``Idempotency-Key``: re-send the same key), ``"ambiguous"`` (the caller decides),
    ``"wait"`` (too soon after the POST to trust a listing: ask again after ``wait``
    seconds).
    """

    job_key: str
    outcome: Literal["adopted", "not_started", "resend", "ambiguous", "wait"]
    reason: str
    video_id: str | None = None
    wait: float = 0.0


def _settings(job: LedgerJob) -> dict[str, str | None]:
    """The model, seconds and size a job's video must show in a listing (None: any)."""
    params = job.params
    if job.kind == "remix":
        # Only what the request itself fixes. What a remix inherits is the server's to decide:
        # a wrong guess would make the remix a lost POST started look like no job at all.
        return {"model": _text(params.get("model")), "seconds": None, "size": None}
    return {
        "model": _text(params.get("model")),
        "seconds": _text(params.get("seconds")),
        "size": _text(params.get("size")),
    }


def _matches(job: LedgerJob, video: Listed) -> bool:
    """Whether ``video`` could be the job ``job``'s POST started (unknown fields match)."""
    settings = _settings(job)

    def same(name: str, value: str | None) -> bool:
        wanted = settings[name]
        return wanted is None or value is None or wanted == value

    if video.prompt is not None and video.prompt != job.params.get("prompt"):
        return False
    if job.kind == "remix":
        if video.remix_reported and video.remixed_from_video_id != job.source_video_id:
            return False  # a create, or a remix of another video
    elif video.remixed_from_video_id:
        return False  # a remix is never the answer to a create
    return (
        same("model", video.model) and same("seconds", video.seconds) and same("size", video.size)
    )


def same_settings(one: LedgerJob, other: LedgerJob) -> bool:
    """Whether the two jobs' videos could look alike in a listing (model, seconds, size).

    Only the settings are compared, not the kind or a remix's source: a listing that does not
    report ``remixed_from_video_id`` cannot tell those apart.
    """
    a, b = _settings(one), _settings(other)
    for name in ("model", "seconds", "size"):
        if a[name] is not None and b[name] is not None and a[name] != b[name]:
            return False
    return True


def decide_by_listing(
    jobs: Sequence[LedgerJob],
    listed: Sequence[Listed],
    *,
    anchors: Mapping[str, int | None],
    claimed: Iterable[str],
    exhaustive: bool,
    oldest_seen: int | None,
) -> dict[str, Reconciliation]:
    """Decide each uncertain job from a listing of the account's jobs (newest first).

    A job ``J`` can only have been created at or after its *anchor*: the server ``created_at``
    of the newest job whose answer the ledger recorded before ``J``'s POST was sent (None: no
    such job, so any age is possible). Its *candidates* are listed jobs no ledger job owns
    (``claimed``), created at or after the anchor, whose model, seconds and size (and prompt,
    where the server echoes it) match; for a create, that are not remixes; for a remix, whose
    ``remixed_from_video_id`` is its source (or not reported: see :class:`Listed`). Then:

    - the listing did not reach back to the anchor (``oldest_seen`` is not older than it and
      the listing was not ``exhaustive``): ambiguous, more candidates may exist;
    - no candidate: the POST started nothing: ``not_started``;
    - exactly one, the job has an anchor and no other uncertain job could claim it:
      ``adopted`` (without an anchor an old job of the account could be the candidate);
    - otherwise ambiguous (jobs with the same settings cannot be told apart without the prompt).

    The one assumption: no other client of the same API key starts jobs with the same settings
    while this one reconciles (such a job could be adopted). Where that cannot be ruled out,
    use a server that honours ``Idempotency-Key`` (``trust_idempotency_keys``).
    """
    owned = set(claimed)
    pool = [video for video in listed if video.id not in owned]
    candidates: dict[str, list[Listed]] = {}
    for job in jobs:
        anchor = anchors.get(job.job_key)
        candidates[job.job_key] = [
            video
            for video in pool
            if _matches(job, video)
            and (anchor is None or video.created_at is None or video.created_at >= anchor)
        ]
    wanted_by: dict[str, int] = {}
    for found in candidates.values():
        for video in found:
            wanted_by[video.id] = wanted_by.get(video.id, 0) + 1
    decisions: dict[str, Reconciliation] = {}
    for job in jobs:
        key = job.job_key
        anchor = anchors.get(key)
        found = candidates[key]
        covered = exhaustive or (
            anchor is not None and oldest_seen is not None and oldest_seen < anchor
        )
        if not covered:
            decisions[key] = Reconciliation(
                key,
                "ambiguous",
                "the job list could not be read back far enough to rule out a job started by "
                "the lost POST",
            )
        elif not found:
            decisions[key] = Reconciliation(
                key, "not_started", "no job with its settings appeared after the POST"
            )
        elif anchor is None:
            # Nothing bounds when its job was created: an older job of the account with the
            # same settings looks the same as the one the lost POST may have started.
            decisions[key] = Reconciliation(
                key,
                "ambiguous",
                f"{len(found)} unclaimed job(s) with the same settings exist and none of the "
                "ledger's jobs was answered before its POST, so their age proves nothing",
            )
        elif len(found) == 1 and wanted_by[found[0].id] == 1:
            decisions[key] = Reconciliation(
                key,
                "adopted",
                "the only unclaimed job with its settings created after the POST",
                video_id=found[0].id,
            )
        else:
            decisions[key] = Reconciliation(
                key,
                "ambiguous",
                f"{len(found)} unclaimed job(s) with the same settings could be the one its "
                "POST started",
            )
    return decisions


# -- the ledger ----------------------------------------------------------------------------------

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS jobs (
    job_key TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    state TEXT NOT NULL,
    params TEXT NOT NULL,
    label TEXT,
    video_seconds INTEGER NOT NULL,
    charges INTEGER NOT NULL DEFAULT 0,
    post_attempts INTEGER NOT NULL DEFAULT 0,
    post_started_at REAL,
    answered_at REAL,
    video_id TEXT UNIQUE,
    status TEXT,
    progress INTEGER,
    server_created_at INTEGER,
    expires_at INTEGER,
    output_path TEXT,
    sha256 TEXT,
    size_bytes INTEGER,
    error_kind TEXT,
    error_reason TEXT,
    error_code TEXT,
    error TEXT,
    request_ids TEXT NOT NULL DEFAULT '[]',
    created REAL NOT NULL,
    updated REAL NOT NULL,
    kind TEXT NOT NULL DEFAULT 'create',
    source_video_id TEXT
);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    job_key TEXT NOT NULL,
    at REAL NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_job ON events (job_key);
CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs (state);
"""

_COLUMNS = (
    "job_key, fingerprint, idempotency_key, state, params, label, video_seconds, charges, "
    "post_attempts, post_started_at, answered_at, video_id, status, progress, "
    "server_created_at, expires_at, output_path, sha256, size_bytes, error_kind, error_reason, "
    "error_code, error, request_ids, created, updated, kind, source_video_id"
)
#: How a file of each older schema version is brought to the next one (in one transaction).
_MIGRATIONS: dict[int, tuple[str, ...]] = {
    # 1 -> 2: remixes. Every job of a version 1 file is a create.
    1: (
        "ALTER TABLE jobs ADD COLUMN kind TEXT NOT NULL DEFAULT 'create'",
        "ALTER TABLE jobs ADD COLUMN source_video_id TEXT",
    ),
}
_MAX_REQUEST_IDS = 50


def _row_to_job(row: sqlite3.Row) -> LedgerJob:
    return LedgerJob(
        job_key=row["job_key"],
        fingerprint=row["fingerprint"],
        idempotency_key=row["idempotency_key"],
        state=JobState(row["state"]),
        params=json.loads(row["params"]),
        label=row["label"],
        video_seconds=row["video_seconds"],
        charges=row["charges"],
        post_attempts=row["post_attempts"],
        post_started_at=row["post_started_at"],
        answered_at=row["answered_at"],
        video_id=row["video_id"],
        status=row["status"],
        progress=row["progress"],
        server_created_at=row["server_created_at"],
        expires_at=row["expires_at"],
        output_path=row["output_path"],
        sha256=row["sha256"],
        size_bytes=row["size_bytes"],
        error_kind=row["error_kind"],
        error_reason=row["error_reason"],
        error_code=row["error_code"],
        error=row["error"],
        request_ids=tuple(json.loads(row["request_ids"])),
        created=row["created"],
        updated=row["updated"],
        kind="remix" if row["kind"] == "remix" else "create",
        source_video_id=row["source_video_id"],
    )


def _unknown_charge(job: LedgerJob) -> bool:
    """Whether the job is a remix whose length the ledger could not bound (not yet answered)."""
    return job.kind == "remix" and job.video_id is None and job.params.get("charge") is None


def _status_text(video: Any) -> str:
    raw = getattr(video, "status", None)
    return str(getattr(raw, "value", raw)).strip().lower()


def _int_or_none(value: Any) -> int | None:
    return value if type(value) is int else None


def new_idempotency_key() -> str:
    return f"dvk_{uuid.uuid4().hex}"


def file_sha256(path: str | os.PathLike[str]) -> tuple[str, int]:
    """SHA-256 hex digest and size of a file (blocking: async code runs it in a thread)."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


@dataclass
class _Lock:
    path: Path
    handle: Any = None

    def acquire(self) -> None:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: no advisory lock
            return
        handle = open(self.path, "a+b")  # noqa: SIM115 - held open for the ledger's lifetime
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            raise LedgerBusyError(
                f"the ledger {self.path.with_suffix('')} is in use by another process (one "
                "process owns a ledger at a time); wait for it, or use another ledger file"
            ) from None
        self.handle = handle

    def release(self) -> None:
        if self.handle is not None:
            self.handle.close()  # closing the file releases the lock
            self.handle = None


class JobLedger:
    """A durable record of paid video jobs, in one SQLite file.

    Args:
        path: the ledger file (created if missing, with its directory's ``-wal``/``-shm``
            companions and a ``.lock`` file beside it).
        durability: ``"full"`` (default) syncs every commit to disk, so a power loss cannot
            forget a POST that was sent; ``"normal"`` survives a killed process but may lose the
            last commits on power loss (faster).
        exclusive: hold an advisory lock for the ledger's lifetime (default). A job found
            ``submitting`` when an exclusive ledger opens belonged to a process that died with
            its POST in flight: it becomes ``uncertain``.

    Thread-safe: one connection behind a lock; async code calls it from worker threads.
    Use as a context manager, or call :meth:`close`.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        durability: Durability = "full",
        exclusive: bool = True,
    ) -> None:
        if durability not in ("full", "normal"):
            raise InvalidParameterError("durability", "must be 'full' or 'normal'")
        self.path = Path(path)
        self._lock = threading.RLock()  # the write connection and its open transaction
        self._commit_lock = threading.Lock()  # one committer at a time
        self._open = False  # a transaction is open on the write connection
        self._batch = 0  # the number of the open (or last) transaction
        self._committed = 0  # the number of the last transaction committed (or failed)
        self._batch_durable = False  # the open transaction holds a write that must be synced
        self._failed: dict[int, sqlite3.Error | OSError] = {}
        #: Jobs whose POST this process is sending right now.
        self._inflight: set[str] = set()
        self._file_lock = _Lock(Path(str(self.path) + ".lock"))
        if exclusive:
            self._file_lock.acquire()
        self._durability = durability
        self._memory = str(path) == ":memory:"
        self._wal_dir_synced = False
        try:
            self._db = sqlite3.connect(
                str(self.path), isolation_level=None, check_same_thread=False, timeout=30.0
            )
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode=WAL")
            # NORMAL: a commit writes the log without syncing it; the commits that must reach
            # the disk sync it themselves (see _write), with durability "full".
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            # Reads get a connection of their own: in WAL mode they never wait for a commit's
            # fsync (an in-memory ledger has one connection, so it shares it).
            self._reader = self._db
            self._read_lock: threading.RLock | threading.Lock = self._lock
            if not self._memory:
                self._reader = sqlite3.connect(
                    str(self.path), isolation_level=None, check_same_thread=False, timeout=30.0
                )
                self._reader.row_factory = sqlite3.Row
                self._read_lock = threading.Lock()
            with self._write() as db:
                self._prepare_schema(db)
                if exclusive:
                    self._recover(db)
        except BaseException:
            self._file_lock.release()
            raise

    # -- plumbing ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def _write(self, durable: bool = True) -> Iterator[_Tx]:
        """One write: its statements run in the open transaction (inside a savepoint, so a
        failing write undoes only itself), then it waits until a commit covers them.

        **Group commit.** Writers from several threads share commits: while one commit syncs
        to disk, the writes that arrive meanwhile join the next transaction, and whichever of
        them commits first commits them all. A write returns only once committed.

        **What is synced.** Only what paying depends on is synced to disk at its commit (with
        ``durability "full"``): the claim before a POST, a saved download, registrations.
        Every other record (answers, statuses, failures, reconciliations, request ids) is
        committed without its own fsync (``durable=False``). In WAL mode commits are appended
        in order and a synced commit syncs all earlier ones, so a power loss can only drop a
        tail of such records, and what a lost tail leaves behind is a state the ledger already
        handles: a POST found ``submitting`` is reconciled, a lost status is read again. A
        killed process loses nothing committed either way.
        """
        with self._lock:
            if not self._open:
                self._db.execute("BEGIN IMMEDIATE")
                self._open = True
                self._batch += 1
                self._batch_durable = False
            batch = self._batch
            self._db.execute("SAVEPOINT one_write")
            tx = _Tx(self._db)
            try:
                yield tx
                tx.flush_events()
            except BaseException:
                self._db.execute("ROLLBACK TO one_write")
                self._db.execute("RELEASE one_write")
                raise
            self._db.execute("RELEASE one_write")
            self._batch_durable = self._batch_durable or durable
        self._commit(batch)

    def _commit(self, batch: int) -> None:
        """Commit the transaction holding ``batch`` unless another writer already did."""
        with self._commit_lock:
            if self._committed < batch:
                with self._lock:
                    try:
                        self._db.execute("COMMIT")
                        if self._batch_durable and self._durability == "full":
                            self._sync_wal()
                    except (sqlite3.Error, OSError) as exc:
                        with contextlib.suppress(sqlite3.Error):
                            self._db.execute("ROLLBACK")
                        self._failed[self._batch] = exc
                    finally:
                        self._open = False
                        self._committed = self._batch
            failure = self._failed.get(batch)
        if failure is not None:
            raise DeerAPIError(f"the ledger {self.path} could not commit: {failure}") from failure

    def _sync_wal(self) -> None:
        """Sync the write-ahead log to disk: what ``synchronous=FULL`` does at every commit,
        done here for the commits that need it (the connection runs with ``NORMAL``)."""
        if self._memory:
            return
        wal = f"{self.path}-wal"
        fd = os.open(wal, os.O_RDONLY)
        try:
            os.fsync(fd)  # syncs the file, whichever descriptor wrote it
        finally:
            os.close(fd)
        if not self._wal_dir_synced:  # the first time: the log's directory entry too
            directory = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
            self._wal_dir_synced = True

    def _read(self, sql: str, args: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._read_lock:
            return list(self._reader.execute(sql, args).fetchall())

    def close(self) -> None:
        with self._lock, self._read_lock:
            for connection in {id(self._db): self._db, id(self._reader): self._reader}.values():
                with contextlib.suppress(sqlite3.Error):
                    connection.close()
            self._file_lock.release()

    def __enter__(self) -> JobLedger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _prepare_schema(self, db: _Tx) -> None:
        """Create the tables of a new file; migrate an older file forward (in the open
        transaction, so a failed migration leaves the file as it was).

        Raises:
            DeerAPIError: the file has a newer schema version than this client reads.
        """
        found = db.one("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'meta'")
        version = (
            db.one("SELECT value FROM meta WHERE key = 'schema_version'")
            if found is not None
            else None
        )
        if version is None:
            db.executescript_in_tx(_SCHEMA)
            db.execute(
                "INSERT INTO meta (key, value) VALUES ('schema_version', ?)",
                (str(SCHEMA_VERSION),),
            )
            return
        current = int(version[0])
        if current > SCHEMA_VERSION:
            raise DeerAPIError(
                f"the ledger {self.path} has schema version {current}, this client reads "
                f"version {SCHEMA_VERSION} and older: use a newer deerapi-videos"
            )
        if current < SCHEMA_VERSION:
            for step in range(current, SCHEMA_VERSION):
                for statement in _MIGRATIONS[step]:
                    db.execute(statement)
            db.execute(
                "UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),)
            )
        # Idempotent (IF NOT EXISTS): tables and indexes of the current schema that the file
        # lacks, after the migrations have added the columns they may refer to.
        db.executescript_in_tx(_SCHEMA)

    def _recover(self, db: _Tx) -> None:
        for row in db.all("SELECT job_key FROM jobs WHERE state = ?", (JobState.SUBMITTING,)):
            db.update(
                row["job_key"],
                "uncertain",
                {"state": JobState.UNCERTAIN, "error_kind": "uncertain"},
                reason="found submitting: the process that sent the POST stopped before its "
                "answer was recorded",
            )

    # -- reading -----------------------------------------------------------------------------

    def get(self, job_key: str) -> LedgerJob | None:
        rows = self._read(f"SELECT {_COLUMNS} FROM jobs WHERE job_key = ?", (job_key,))
        return _row_to_job(rows[0]) if rows else None

    def require(self, job_key: str) -> LedgerJob:
        job = self.get(job_key)
        if job is None:
            raise InvalidParameterError("job_key", f"{job_key!r} is not in the ledger")
        return job

    def jobs(self, states: Iterable[JobState] | None = None) -> list[LedgerJob]:
        if states is None:
            rows = self._read(f"SELECT {_COLUMNS} FROM jobs ORDER BY created, job_key")
        else:
            wanted = [str(s) for s in states]
            marks = ",".join("?" * len(wanted))
            rows = self._read(
                f"SELECT {_COLUMNS} FROM jobs WHERE state IN ({marks}) ORDER BY created, job_key",
                wanted,
            )
        return [_row_to_job(row) for row in rows]

    def spent(self) -> Spent:
        rows = self._read(
            "SELECT COALESCE(SUM(video_seconds * charges), 0), COALESCE(SUM(charges), 0) FROM jobs"
        )
        return Spent(int(rows[0][0]), int(rows[0][1]))

    def events(self, job_key: str | None = None) -> list[tuple[str, float, str, dict[str, Any]]]:
        """The audit trail: ``(job_key, unix time, kind, detail)``, oldest first."""
        if job_key is None:
            rows = self._read("SELECT job_key, at, kind, detail FROM events ORDER BY seq")
        else:
            rows = self._read(
                "SELECT job_key, at, kind, detail FROM events WHERE job_key = ? ORDER BY seq",
                (job_key,),
            )
        return [(r[0], r[1], r[2], json.loads(r[3])) for r in rows]

    def job_for_video(self, video_id: str) -> LedgerJob | None:
        """The job whose video is ``video_id`` (None: the ledger did not make it)."""
        rows = self._read(f"SELECT {_COLUMNS} FROM jobs WHERE video_id = ?", (video_id,))
        return _row_to_job(rows[0]) if rows else None

    def claimed_video_ids(self) -> set[str]:
        return {r[0] for r in self._read("SELECT video_id FROM jobs WHERE video_id IS NOT NULL")}

    def anchor_for(self, job: LedgerJob) -> int | None:
        """The server ``created_at`` of the newest job answered before ``job``'s POST began."""
        if job.post_started_at is None:
            return None
        rows = self._read(
            "SELECT MAX(server_created_at) FROM jobs WHERE answered_at IS NOT NULL "
            "AND answered_at < ? AND server_created_at IS NOT NULL AND job_key != ?",
            (job.post_started_at, job.job_key),
        )
        value = rows[0][0]
        return int(value) if value is not None else None

    def in_flight(self, job_key: str) -> bool:
        return job_key in self._inflight

    # -- writing -----------------------------------------------------------------------------

    def register(
        self,
        request: JobRequest,
        job_key: str | None = None,
        *,
        label: str | None = None,
    ) -> LedgerJob:
        """The job for ``request`` (named ``job_key``, else by its fingerprint); recorded
        ``pending`` with a new idempotency key if the ledger does not know it yet.

        Raises:
            InvalidParameterError: ``job_key`` names a job with other parameters.
        """
        result = self.register_many([(request, job_key, label)])[0]
        if isinstance(result, InvalidParameterError):
            raise result
        return result

    def register_many(
        self, entries: Sequence[tuple[JobRequest, str | None, str | None]]
    ) -> list[LedgerJob | InvalidParameterError]:
        """:meth:`register` for many ``(request, job_key, label)`` in one transaction; a job
        that cannot be registered gets its error in the result instead of a record."""
        now = time.time()
        results: list[LedgerJob | InvalidParameterError] = []
        with self._write() as db:
            for request, job_key, label in entries:
                try:
                    results.append(self._register(db, request, job_key, label, now))
                except InvalidParameterError as exc:
                    results.append(exc)
        return results

    def _register(
        self, db: _Tx, request: JobRequest, job_key: str | None, label: str | None, now: float
    ) -> LedgerJob:
        key = job_key or request.fingerprint
        if not key or len(key) > 500:
            raise InvalidParameterError("job_key", "must be 1 to 500 characters")
        row = db.one(f"SELECT {_COLUMNS} FROM jobs WHERE job_key = ?", (key,))
        if row is not None:
            job = _row_to_job(row)
            if job.fingerprint != request.fingerprint:
                what = (
                    "prompt, model, seconds, size or reference images"
                    if job.kind == request.kind == "create"
                    else "kind, source video, prompt or model"
                )
                raise InvalidParameterError(
                    "job_key",
                    f"{key!r} was recorded with other parameters ({what}); give another key "
                    "for another job",
                )
            if label is not None and job.label != label:
                db.execute(
                    "UPDATE jobs SET label = ?, updated = ? WHERE job_key = ?", (label, now, key)
                )
                return self._replace(job, label=label)
            return job
        db.execute(
            "INSERT INTO jobs (job_key, fingerprint, idempotency_key, state, params, label, "
            "video_seconds, created, updated, kind, source_video_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                key,
                request.fingerprint,
                new_idempotency_key(),
                JobState.PENDING,
                json.dumps(request.params(), ensure_ascii=False),
                label,
                request.video_seconds,
                now,
                now,
                request.kind,
                request.source_video_id,
            ),
        )
        db.event(
            key,
            "registered",
            {
                "fingerprint": request.fingerprint,
                "label": label,
                "kind": request.kind,
                "source_video_id": request.source_video_id,
            },
        )
        found = db.one(f"SELECT {_COLUMNS} FROM jobs WHERE job_key = ?", (key,))
        assert found is not None
        return _row_to_job(found)

    @staticmethod
    def _replace(job: LedgerJob, **changes: Any) -> LedgerJob:
        import dataclasses

        return dataclasses.replace(job, **changes)

    def claim(
        self,
        job_key: str,
        *,
        budget: Budget | None = None,
        resubmit_ambiguous: bool = False,
        resend_uncertain: bool = False,
    ) -> LedgerJob:
        """Mark the job ``submitting`` (committed) right before its POST; returns it.

        A ``pending`` or ``retry_later`` job is charged once against ``budget``; an
        ``ambiguous`` one only with ``resubmit_ambiguous`` (and charged again: it may be paid
        twice); an ``uncertain`` one only with ``resend_uncertain`` (the server honours its
        idempotency key, so no new charge). A remix whose length is unknown (see
        :meth:`JobRequest.remix`) is refused under a budget in video seconds.

        Raises:
            BudgetExceededError: the charge would (or might) pass ``budget``; nothing changes.
            InvalidParameterError: the job is in a state that must not be sent.
        """
        now = time.time()
        with self._write() as db:
            row = db.one(f"SELECT {_COLUMNS} FROM jobs WHERE job_key = ?", (job_key,))
            if row is None:
                raise InvalidParameterError("job_key", f"{job_key!r} is not in the ledger")
            job = _row_to_job(row)
            if job_key in self._inflight:
                raise InvalidParameterError(
                    "job_key", f"job {job_key} is being submitted by another call right now"
                )
            charge = 0
            if job.state in (JobState.PENDING, JobState.RETRY_LATER) or (
                job.state is JobState.AMBIGUOUS and resubmit_ambiguous
            ):
                charge = 1
            elif not (job.state is JobState.UNCERTAIN and resend_uncertain):
                raise InvalidParameterError(
                    "job_key", f"job {job_key} is {job.state}; it must not be sent again"
                )
            if charge and budget is not None:
                spent = db.spent()
                if budget.seconds is not None and _unknown_charge(job):
                    raise BudgetExceededError(
                        job_key,
                        job.video_seconds,
                        spent,
                        budget,
                        reason=f"the length of a remix of {job.source_video_id} is unknown (the "
                        "ledger did not make that video and no model in the model table was "
                        "given), so it cannot be held to a budget in video seconds",
                    )
                over_seconds = (
                    budget.seconds is not None
                    and spent.seconds + job.video_seconds > budget.seconds
                )
                over_jobs = budget.jobs is not None and spent.jobs + 1 > budget.jobs
                if over_seconds or over_jobs:
                    raise BudgetExceededError(job_key, job.video_seconds, spent, budget)
            db.update(
                job_key,
                "submitting",
                {
                    "state": JobState.SUBMITTING,
                    "charges": job.charges + charge,
                    "post_attempts": job.post_attempts + 1,
                    "post_started_at": now,
                    "error_kind": None,
                    "error_reason": None,
                    "error_code": None,
                    "error": None,
                },
                idempotency_key=job.idempotency_key,
                attempt=job.post_attempts + 1,
                from_state=str(job.state),
            )
            self._inflight.add(job_key)
        return self.require(job_key)

    def release(self, job_key: str) -> None:
        """Forget that this process is sending ``job_key`` (after its POST ended)."""
        self._inflight.discard(job_key)

    @contextlib.contextmanager
    def _finishing(self, job_key: str) -> Iterator[None]:
        """The job's POST is over once the block (its record) is done, whatever happens."""
        try:
            yield
        finally:
            self._inflight.discard(job_key)

    def in_flight_jobs(self) -> list[LedgerJob]:
        """The jobs whose POST this process is sending right now."""
        return [job for key in list(self._inflight) if (job := self.get(key)) is not None]

    def record_created(
        self, job_key: str, video: Any, *, request_id: str | None = None, how: str = "created"
    ) -> LedgerJob:
        """A POST's answer (or a reconcile that found the job): the video exists.

        A remix is charged from then on the ``seconds`` the answer reports (its charge before
        was what the ledger knew of its source, or a bound).
        """
        now = time.time()
        status = _status_text(video)
        seconds = _text(getattr(video, "seconds", None))
        # Out of ``in flight`` only once recorded: a reconcile that sees neither the job in
        # flight nor its video claimed would take its video for another job's.
        with self._finishing(job_key), self._write(durable=False) as db:
            charged: dict[str, Any] = {}
            if seconds is not None and seconds.isdigit():
                row = db.one("SELECT kind FROM jobs WHERE job_key = ?", (job_key,))
                if row is not None and row["kind"] == "remix":
                    charged["video_seconds"] = int(seconds)
            db.update(
                job_key,
                how,
                {
                    "video_id": str(video.id),
                    "answered_at": now,
                    "server_created_at": _int_or_none(getattr(video, "created_at", None)),
                    "error_kind": None,
                    "error_reason": None,
                    "error_code": None,
                    "error": None,
                    **charged,
                    **self._status_changes(video),
                },
                request_id=request_id,
                video_id=str(video.id),
                status=status,
                video_seconds=charged.get("video_seconds"),
            )
        return self.require(job_key)

    @staticmethod
    def _status_changes(video: Any) -> dict[str, Any]:
        status = _status_text(video)
        changes: dict[str, Any] = {
            "status": status,
            "progress": _int_or_none(getattr(video, "progress", None)),
        }
        expires = _int_or_none(getattr(video, "expires_at", None))
        if expires is not None:
            changes["expires_at"] = expires
        if status == "completed":
            changes["state"] = JobState.COMPLETED
        elif status in ("failed", "expired", "cancelled", "canceled"):
            error = getattr(video, "error", None)
            code = getattr(error, "code", None)
            message = getattr(error, "message", None)
            code = code if isinstance(code, str) and code else status
            moderation = any(word in code.lower() for word in _MODERATION_WORDS)
            changes.update(
                state=JobState.FAILED,
                error_kind="final",
                error_reason="moderation" if moderation else "job failed",
                error_code=code,
                error=message if isinstance(message, str) else f"the job ended {status}",
            )
        else:
            changes["state"] = JobState.RUNNING
        return changes

    def record_status(
        self, job_key: str, video: Any, *, request_id: str | None = None
    ) -> LedgerJob:
        """A read of the job: its status, progress and expiry."""
        job = self.require(job_key)
        changes = self._status_changes(video)
        if job.state is JobState.DOWNLOADED:
            changes.pop("state", None)
        with self._write(durable=False) as db:
            db.update(
                job_key,
                "status" if changes.get("state") == job.state else "state",
                changes,
                request_id=request_id,
                status=changes["status"],
                progress=changes["progress"],
                quiet=changes.get("state", job.state) == job.state,
            )
        return self.require(job_key)

    def record_uncertain(self, job_key: str, error: BaseException | str) -> LedgerJob:
        """The POST may have started a job and its answer was lost."""
        request_id = getattr(error, "request_id", None)
        with self._finishing(job_key), self._write(durable=False) as db:
            db.update(
                job_key,
                "uncertain",
                {
                    "state": JobState.UNCERTAIN,
                    "error_kind": "uncertain",
                    "error_reason": "answer lost",
                    "error": str(error),
                },
                request_id=request_id if isinstance(request_id, str) else None,
            )
        return self.require(job_key)

    def record_reconciled(self, decision: Reconciliation, video: Any = None) -> LedgerJob:
        """Apply a :class:`Reconciliation` (``adopted`` needs the listed ``video``)."""
        key = decision.job_key
        if decision.outcome == "adopted":
            assert video is not None
            return self.record_created(key, video, how="adopted")
        if decision.outcome in ("resend", "wait"):
            return self.require(key)
        with self._write(durable=False) as db:
            row = db.one("SELECT state, charges FROM jobs WHERE job_key = ?", (key,))
            assert row is not None
            if decision.outcome == "not_started":
                db.update(
                    key,
                    "not_started",
                    {
                        "state": JobState.PENDING,
                        "charges": max(0, int(row["charges"]) - 1),
                        "error_kind": None,
                        "error_reason": None,
                        "error": None,
                    },
                    reason=decision.reason,
                )
            else:
                db.update(
                    key,
                    "ambiguous",
                    {
                        "state": JobState.AMBIGUOUS,
                        "error_kind": "ambiguous",
                        "error_reason": "ambiguous",
                        "error": decision.reason,
                    },
                    reason=decision.reason,
                )
        return self.require(key)

    def record_failure(self, job_key: str, failure: Failure, *, sent: bool = True) -> LedgerJob:
        """A step failed (:func:`classify_failure`).

        Before any job exists (no video id): a final failure is ``failed``, a passing one
        ``retry_later``, and the POST's charge is released (its answer proves no job started).
        Once a job exists, a final failure is ``failed`` and a passing one leaves the state as
        it is (the next run resumes from it) with the error noted.
        """
        job = self.require(job_key)
        changes: dict[str, Any] = {
            "error_kind": failure.kind,
            "error_reason": failure.reason,
            "error_code": failure.code,
            "error": failure.message,
        }
        if job.video_id is None and job.state in (
            JobState.SUBMITTING,
            JobState.PENDING,
            JobState.RETRY_LATER,
        ):
            changes["state"] = JobState.FAILED if failure.kind == "final" else JobState.RETRY_LATER
            if job.state is JobState.SUBMITTING:
                changes["charges"] = max(0, job.charges - 1)
        elif failure.kind == "final" and job.state not in (JobState.UNCERTAIN, JobState.AMBIGUOUS):
            # (An uncertain job keeps its state whatever failed: a job may exist.)
            changes["state"] = JobState.FAILED
        with self._finishing(job_key), self._write(durable=False) as db:
            db.update(
                job_key,
                "failure",
                changes,
                request_id=failure.request_id,
                failure_kind=failure.kind,
                reason=failure.reason,
                code=failure.code,
            )
        return self.require(job_key)

    def record_download(
        self, job_key: str, path: str | os.PathLike[str], sha256: str, size: int
    ) -> LedgerJob:
        """The content is saved at ``path`` with this checksum: the job is done."""
        with self._write() as db:
            db.update(
                job_key,
                "downloaded",
                {
                    "state": JobState.DOWNLOADED,
                    "output_path": str(path),
                    "sha256": sha256,
                    "size_bytes": size,
                    "error_kind": None,
                    "error_reason": None,
                    "error_code": None,
                    "error": None,
                },
                path=str(path),
                sha256=sha256,
                bytes=size,
            )
        return self.require(job_key)

    def reopen_download(self, job_key: str, reason: str) -> LedgerJob:
        """A recorded download is missing or changed on disk: back to ``completed``."""
        with self._write(durable=False) as db:
            db.update(
                job_key, "download_lost", {"state": JobState.COMPLETED, "sha256": None}, why=reason
            )
        return self.require(job_key)

    def note_requests(self, notes: Sequence[tuple[str, str, str]]) -> None:
        """Record request ids seen on the wire: ``(job_key, request_id, what)`` each."""
        if not notes:
            return
        with self._write(durable=False) as db:
            for job_key, request_id, what in notes:
                db.add_request_id(job_key, request_id)
                db.event(job_key, "request", {"request_id": request_id, "what": what})

    def set_meta(self, key: str, value: str) -> None:
        with self._write() as db:
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def get_meta(self, key: str) -> str | None:
        rows = self._read("SELECT value FROM meta WHERE key = ?", (key,))
        return str(rows[0][0]) if rows else None


class _Tx:
    """The statements of one write transaction, and the events it appends."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        self._events: list[tuple[str, float, str, str]] = []

    def execute(self, sql: str, args: Sequence[Any] = ()) -> sqlite3.Cursor:
        return self._db.execute(sql, args)

    def executescript_in_tx(self, script: str) -> None:
        for statement in script.split(";"):
            if statement.strip():
                self._db.execute(statement)

    def one(self, sql: str, args: Sequence[Any] = ()) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self._db.execute(sql, args).fetchone()
        return row

    def all(self, sql: str, args: Sequence[Any] = ()) -> list[sqlite3.Row]:
        return list(self._db.execute(sql, args).fetchall())

    def spent(self) -> Spent:
        row = self._db.execute(
            "SELECT COALESCE(SUM(video_seconds * charges), 0), COALESCE(SUM(charges), 0) FROM jobs"
        ).fetchone()
        return Spent(int(row[0]), int(row[1]))

    def event(self, job_key: str, kind: str, detail: Mapping[str, Any]) -> None:
        clean = {k: v for k, v in detail.items() if v is not None}
        self._events.append((job_key, time.time(), kind, json.dumps(clean, default=str)))

    def add_request_id(self, job_key: str, request_id: str) -> None:
        row = self.one("SELECT request_ids FROM jobs WHERE job_key = ?", (job_key,))
        if row is None:
            return
        ids = json.loads(row[0])
        if request_id in ids:
            return
        ids = [*ids, request_id][-_MAX_REQUEST_IDS:]
        self.execute(
            "UPDATE jobs SET request_ids = ? WHERE job_key = ?", (json.dumps(ids), job_key)
        )

    def update(
        self,
        job_key: str,
        kind: str,
        changes: Mapping[str, Any],
        *,
        request_id: str | None = None,
        quiet: bool = False,
        **detail: Any,
    ) -> None:
        names = list(changes)
        assignments = ", ".join(f"{name} = ?" for name in names)
        values = [str(v) if isinstance(v, JobState) else v for v in changes.values()]
        cursor = self.execute(
            f"UPDATE jobs SET {assignments}, updated = ? WHERE job_key = ?",
            [*values, time.time(), job_key],
        )
        if cursor.rowcount != 1:
            raise InvalidParameterError("job_key", f"{job_key!r} is not in the ledger")
        if request_id:
            self.add_request_id(job_key, request_id)
        if not quiet:
            state = changes.get("state")
            self.event(
                job_key,
                kind,
                {"state": str(state) if state is not None else None, "request_id": request_id}
                | detail,
            )

    def flush_events(self) -> None:
        if self._events:
            self._db.executemany(
                "INSERT INTO events (job_key, at, kind, detail) VALUES (?, ?, ?, ?)",
                self._events,
            )
            self._events.clear()
