"""Video jobs and their lifecycle on the mock's clock.

A job of duration ``D`` (mock seconds) is ``queued`` for the first ``D/8``, then ``in_progress``
with ``progress`` rising linearly, then ``completed`` at ``D`` (``completed_at`` set,
``expires_at`` the model's content lifetime later: one hour for Veo 3, as the model table says,
one day otherwise). A job marked to fail turns ``failed`` at ``D/2`` with an ``error`` object,
keeping the progress it had reached. ``D == 0`` finishes jobs at creation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

__all__ = [
    "EXPIRY_SECONDS",
    "FAIL_MARKER",
    "JobFailure",
    "JobState",
    "MockVideo",
    "failure_from_prompt",
]

#: Seconds between ``completed_at`` and ``expires_at`` for a model whose lifetime the model
#: table does not give (Sora 2: the server decides; the mock says one day).
EXPIRY_SECONDS = 86_400

#: Put this in a prompt to make the job fail: ``[mock:fail]`` or ``[mock:fail=<code>]``.
FAIL_MARKER = re.compile(r"\[mock:fail(?:=([A-Za-z0-9_.:-]+))?\]")

_FAILURE_MESSAGES = {
    "moderation_blocked": "The prompt was blocked by the content policy.",
    "generation_failed": "Video generation failed.",
}


@dataclass(frozen=True)
class JobFailure:
    """Why a job fails: the ``error`` object of a ``failed`` video."""

    code: str = "generation_failed"
    message: str | None = None

    def as_dict(self) -> dict[str, str]:
        message = self.message or _FAILURE_MESSAGES.get(self.code, f"The job failed ({self.code}).")
        return {"code": self.code, "message": message}


def failure_from_prompt(prompt: str) -> JobFailure | None:
    """The failure a prompt asks for with the ``[mock:fail...]`` marker, if any."""
    match = FAIL_MARKER.search(prompt)
    if match is None:
        return None
    return JobFailure(code=match.group(1) or "generation_failed")


@dataclass(frozen=True)
class JobState:
    status: str
    progress: int
    completed_at: int | None
    expires_at: int | None
    error: dict[str, str] | None

    @property
    def terminal(self) -> bool:
        return self.status in ("completed", "failed")


@dataclass(eq=False)
class MockVideo:
    """A job the mock knows about. ``paid_jobs`` holds these (deleted ones included)."""

    id: str
    operation: str
    prompt: str
    model: str
    seconds: str
    size: str
    created: float
    duration: float
    seq: int
    remixed_from_video_id: str | None = None
    #: The first reference image (see ``input_references`` for all of them).
    input_reference: bytes | None = None
    failure: JobFailure | None = None
    idempotency_key: str | None = None
    deleted: bool = False
    #: Mock seconds added to this job's age (``advance_on_retrieve``, ``complete``).
    boost: float = 0.0
    #: Clock time the job ended, when a boost (not the clock) ended it.
    finished_at: float | None = None
    #: Every reference image, in the order sent (Veo: first frame, last frame).
    input_references: tuple[bytes, ...] = ()
    #: Seconds from ``completed_at`` to ``expires_at``.
    expires_after: int = EXPIRY_SECONDS

    @property
    def created_at(self) -> int:
        return int(self.created)

    @property
    def _end_age(self) -> float:
        return self.duration / 2 if self.failure is not None else self.duration

    def age(self, now: float) -> float:
        return max(0.0, now - self.created) + self.boost

    def state(self, now: float) -> JobState:
        age = self.age(now)
        d = self.duration
        if age >= self._end_age:
            end = self.finished_at
            if end is None:
                end = self.created + self._end_age - self.boost
            end_i = max(self.created_at, int(end))
            if self.failure is not None:
                return JobState(
                    "failed", self._progress(self._end_age), None, None, self.failure.as_dict()
                )
            return JobState("completed", 100, end_i, end_i + self.expires_after, None)
        if age < d / 8:
            return JobState("queued", 0, None, None, None)
        return JobState("in_progress", self._progress(age), None, None, None)

    def _progress(self, age: float) -> int:
        start = self.duration / 8
        span = self.duration - start
        if span <= 0:
            return 0
        return max(0, min(99, int(100 * (age - start) / span)))

    def boost_by(self, seconds: float, now: float) -> None:
        """Age this job by ``seconds`` (jobs that already ended do not change)."""
        if seconds <= 0 or self.state(now).terminal:
            return
        self.boost += seconds
        if self.age(now) >= self._end_age:
            self.finished_at = now

    def finish(self, now: float) -> None:
        """End the job now: ``completed``, or ``failed`` if it was marked to fail."""
        self.boost_by(max(0.0, self._end_age - self.age(now)) + 1e-9, now)

    def expired(self, now: float) -> bool:
        """Whether the job completed and its content's ``expires_at`` has passed."""
        state = self.state(now)
        return state.expires_at is not None and now >= state.expires_at

    def to_dict(self, now: float, shape: str = "full") -> dict[str, Any]:
        """The API's video object: ``full`` (12 fields) or ``remix`` (the remix page's 9)."""
        st = self.state(now)
        body: dict[str, Any] = {
            "id": self.id,
            "object": "video",
            "created_at": self.created_at,
            "status": st.status,
            "completed_at": st.completed_at,
            "error": st.error,
            "expires_at": st.expires_at,
            "model": self.model,
            "progress": st.progress,
            "remixed_from_video_id": self.remixed_from_video_id,
            "seconds": self.seconds,
            "size": self.size,
        }
        if shape == "remix":
            for key in ("completed_at", "error", "expires_at"):
                del body[key]
        return body
