"""What the Idempotency-Key probe found: does the server return one job for a repeated key?

``openapi.yaml`` (the ``IdempotencyKey`` parameter): servers that honour the key return the job
already created for it instead of starting (and charging for) a second one; the same key with
another body answers 409. The engine (``_engine``) sends the cheapest create twice, same body,
same key, each POST armed in the budget guard, and records the answers here; the reports and
the CLI's JSON summary render them.

Outcomes:

- ``honoured``: both answers name the same job; one job was started.
- ``not_honoured``: the answers name two jobs: two were started (and, live, paid for). A
  finding, informational like the drift: the spec says what servers that honour the key do,
  it does not oblige a server to, so the verdict does not change. But a caller that re-sends
  after a lost answer (the batch's ``--trust-idempotency-keys``) pays twice on such a server.
- ``refused``: the second POST answered an error (its status and error code are kept).
- ``inconclusive``: the second POST got no answer, or a success without a video id.
- ``not_checked``: no second POST was sent: the run was told to skip the probe, the budget
  lacked two paid jobs, or the first POST failed.

Standard library only and no engine import, so the reports can render a probe by themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "PROBE_KEY_PREFIX",
    "PROBE_PAID_JOBS",
    "IdempotencyProbe",
    "ProbeAnswer",
    "ProbeOutcome",
]

ProbeOutcome = Literal["honoured", "not_honoured", "refused", "inconclusive", "not_checked"]

#: Paid jobs the probe must have room for before it sends anything: the first create, and the
#: second, which starts another job on a server that ignores the key.
PROBE_PAID_JOBS = 2

#: Every probe key starts with this, so a request log shows which POSTs were the probe's.
PROBE_KEY_PREFIX = "conformance-idempotency-probe-"

_TRUST_WARNING = (
    "callers must not rely on re-sending a create with the same key "
    "(the batch's --trust-idempotency-keys is unsafe against this server)"
)


@dataclass(frozen=True)
class ProbeAnswer:
    """How the server answered one of the probe's POSTs."""

    #: The HTTP status; None when no answer came (a network error).
    status: int | None
    #: The ``id`` of the job the answer names, if any.
    video_id: str | None = None
    #: ``error.code`` of an error answer (``error.type`` when it has no code).
    error_code: str | None = None
    request_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        return {
            "status": self.status,
            "video_id": self.video_id,
            "error_code": self.error_code,
            "request_id": self.request_id,
        }


@dataclass(frozen=True)
class IdempotencyProbe:
    """The probe's outcome, the answers it got and what became of the jobs it started."""

    outcome: ProbeOutcome
    #: Why, in a few words, for ``not_checked``, ``refused`` and ``inconclusive``.
    reason: str = ""
    #: The ``Idempotency-Key`` both POSTs carried (None: nothing was sent).
    key: str | None = None
    #: One per POST sent, in order.
    answers: tuple[ProbeAnswer, ...] = ()
    #: ``(video id, what happened to it)`` for every job the probe started, e.g. "deleted".
    cleanup: tuple[tuple[str, str], ...] = ()
    #: Live runs: paid jobs the budget had left when the probe was considered.
    budget_left: int | None = None

    @property
    def jobs(self) -> tuple[str, ...]:
        """The ids of the jobs the probe's POSTs started, each once, in the order answered."""
        return tuple(dict.fromkeys(a.video_id for a in self.answers if a.video_id is not None))

    @property
    def finding(self) -> bool:
        """Whether the outcome is one a caller must act on (the key was not honoured)."""
        return self.outcome == "not_honoured"

    @property
    def title(self) -> str:
        """The outcome in words: "honoured", "not honoured", "not checked", ..."""
        return self.outcome.replace("_", " ")

    def summary(self) -> str:
        """One plain-text sentence: the outcome, why, and the ids of the jobs started."""
        return f"{self.title}: {self.detail()}"

    def detail(self) -> str:
        """What ``summary`` says after the outcome."""
        jobs = ", ".join(self.jobs)
        if self.outcome == "honoured":
            text = (
                "the same create sent twice with one Idempotency-Key returned the same job "
                f"({jobs}): one job was started"
            )
        elif self.outcome == "not_honoured":
            text = (
                f"the same create sent twice with one Idempotency-Key started two jobs ({jobs}); "
                + _TRUST_WARNING
            )
        else:
            text = self.reason or "(no reason recorded)"
            if self.answers:
                text += f"; jobs the probe started: {jobs or 'none known'}"
        return text

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy (the CLI's ``--json`` summary)."""
        return {
            "outcome": self.outcome,
            "finding": self.finding,
            "summary": self.summary(),
            "reason": self.reason,
            "key": self.key,
            "answers": [a.to_dict() for a in self.answers],
            "jobs": list(self.jobs),
            "cleanup": dict(self.cleanup),
            "paid_jobs_needed": PROBE_PAID_JOBS,
            "budget_left": self.budget_left,
        }
