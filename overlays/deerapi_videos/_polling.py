"""Waiting for a job to end: what each status means and how long to wait between reads.

Pure: the sync and async resources call :meth:`Poller.observe` after every retrieve and sleep
for :meth:`Poller.next_delay`.

- ``completed`` returns the video. ``failed`` raises :class:`VideoFailedError` with the job's
  error code and message. Statuses that unambiguously end a job without a video (``expired``,
  ``cancelled``, ``canceled``) raise it too. Every other status, known or not, keeps polling:
  an unknown word is never taken as "done".
- The wait honours the server's ``openai-poll-after-ms`` hint when it is a sane number, else the
  fixed ``poll_interval``. Without either, once two reads of a running job showed its
  ``progress`` rising, the next read is planned when that rate says the job ends
  (:func:`estimated_end`, at most :data:`MAX_ETA_WAIT` ahead); otherwise, and once that time has
  passed, the wait starts at 1s and grows x1.5 up to 10s. Whatever the hint or the interval,
  reads are at least :data:`MIN_INTERVAL` apart (retries inside a read too), so a server hinting
  ``0`` cannot turn polling into a flood of requests.
- A read that fails in a way waiting can fix (connection errors and timeouts, 429 unless the
  account is out of quota, 5xx, an unreadable body, and a 404 during ``not_found_grace`` after
  the job was created: a proxy that has not caught up) does not end the wait: polling goes on
  with a growing backoff, or the server's ``Retry-After`` however long, within the deadline.
- ``timeout`` is a real deadline for the whole wait, reads included: no sleep passes it, each read
  runs with its retries inside it (``CallOptions.deadline``: every attempt's timeout is clipped
  to what is left, and no retry wait reaches it). At the deadline, or when it cuts a failing read
  short, :class:`PollTimeoutError` names the video, its last status and progress (the failure is
  its ``__cause__``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import httpx

from ._errors import (
    APIConnectionError,
    APIStatusError,
    DeerAPIError,
    InternalServerError,
    NotFoundError,
    PollTimeoutError,
    RateLimitError,
    ResponseValidationError,
    VideoFailedError,
)
from ._retry import NOT_BY_WAITING

if TYPE_CHECKING:  # the generated models load at first use, not at ``import deerapi_videos``
    from deerapi_videos_generated.models.video import Video

__all__ = [
    "DEFAULT_POLL_TIMEOUT",
    "ENDED_WITHOUT_VIDEO",
    "MAX_ETA_WAIT",
    "MIN_INTERVAL",
    "NOT_FOUND_GRACE",
    "Poller",
    "ensure_not_failed",
    "estimated_end",
    "status_of",
]

COMPLETED = "completed"
FAILED = "failed"
ENDED_WITHOUT_VIDEO = frozenset({FAILED, "expired", "cancelled", "canceled"})
POLL_AFTER_HEADER = "openai-poll-after-ms"

DEFAULT_POLL_TIMEOUT = 900.0  # seconds: the deadline of poll and create_and_poll
MIN_INTERVAL = 0.5  # seconds between reads, at the least, whatever the server hints
NOT_FOUND_GRACE = 30.0  # seconds after a create during which a 404 is a lagging proxy
INITIAL_INTERVAL = 1.0
GROWTH = 1.5
MAX_INTERVAL = 10.0
MAX_HINT = 60.0
#: The longest wait an estimated end may plan: a progress that starts slow and speeds up would
#: otherwise keep a finished job unread for minutes.
MAX_ETA_WAIT = 20.0
ETA_MARGIN = 0.02  # plan the read 2% of the time left after the estimated end


def status_of(video: Video) -> str:
    return str(video.status).strip().lower()


def progress_of(video: Video) -> int | None:
    """The job's progress, or None when the answer did not carry a usable one."""
    return video.progress if isinstance(video.progress, int) else None


def failure_of(video: Video) -> VideoFailedError:
    from deerapi_videos_generated.models.video_error import VideoError

    status = status_of(video)
    code: str | None = None
    message = f"the job ended with status {status!r} and produced no video"
    if isinstance(video.error, VideoError):
        code = video.error.code or None
        message = video.error.message or message
    elif status != FAILED:
        code = status
    return VideoFailedError(video.id, status, code, message)


def ensure_not_failed(video: Video) -> None:
    if status_of(video) in ENDED_WITHOUT_VIDEO:
        raise failure_of(video)


def estimated_end(
    readings: Sequence[tuple[float, int]], margin: float = ETA_MARGIN
) -> float | None:
    """When a job should reach 100%, from its two latest readings, on their clock.

    Args:
        readings: ``(time, progress)`` pairs of a running job, oldest first.
        margin: a share of the time left to add (a read just after the end, not before it).

    Returns:
        The estimated end, or None with fewer than two readings or no rise between the last two.
    """
    if len(readings) < 2:
        return None
    (t0, p0), (t1, p1) = readings[-2], readings[-1]
    if t1 <= t0 or p1 <= p0:
        return None
    rate = (p1 - p0) / (t1 - t0)
    return t1 + max(100 - p1, 0) / rate * (1 + margin)


def poll_hint(headers: httpx.Headers) -> float | None:
    raw = headers.get(POLL_AFTER_HEADER)
    if raw is None or not raw.strip().isdigit():
        return None
    seconds = int(raw.strip()) / 1000.0
    return seconds if seconds <= MAX_HINT else MAX_HINT


class Poller:
    def __init__(
        self,
        video_id: str,
        *,
        timeout: float,
        poll_interval: float | None,
        on_progress: Callable[[Video], object] | None,
        started: float,
        not_found_grace: float = 0.0,
    ) -> None:
        self.video_id = video_id
        self.not_found_until = started + not_found_grace
        self.failures = 0
        self.timeout = timeout
        self.deadline = started + timeout
        self.fixed_interval = poll_interval
        self.interval = INITIAL_INTERVAL
        self.on_progress = on_progress
        self.last: Video | None = None
        self._seen: tuple[str, int | None] | None = None
        #: (time, progress) of the reads that saw the job running with a higher progress.
        self.readings: list[tuple[float, int]] = []

    def observe(self, video: Video) -> Video | None:
        """The finished video, or None to keep polling; raises when the job ended badly."""
        self.last = video
        status = status_of(video)
        seen = (status, progress_of(video))
        if seen != self._seen:
            self._seen = seen
            if self.on_progress is not None:
                self.on_progress(video)
        if status == COMPLETED:
            return video
        if status in ENDED_WITHOUT_VIDEO:
            raise failure_of(video)
        return None

    def next_delay(self, headers: httpx.Headers, now: float) -> float:
        """How long to wait before the next read; raises PollTimeoutError at the deadline."""
        remaining = self.deadline - now
        if remaining <= 0:
            raise self.timed_out()
        self._note_progress(now)
        hint = poll_hint(headers)
        end = estimated_end(self.readings)
        if hint is not None:
            delay = hint
        elif self.fixed_interval is not None:
            delay = self.fixed_interval
        elif end is not None and end > now:
            delay = min(end - now, MAX_ETA_WAIT)
        else:
            delay = self.interval
            self.interval = min(self.interval * GROWTH, MAX_INTERVAL)
        self.failures = 0
        return min(max(delay, MIN_INTERVAL), remaining)

    def _note_progress(self, now: float) -> None:
        if self.last is None or status_of(self.last) != "in_progress":
            return
        progress = progress_of(self.last)
        if progress is None or not 0 <= progress <= 100:
            return
        if not self.readings or progress > self.readings[-1][1]:
            self.readings.append((now, progress))

    def after_failed_read(self, error: DeerAPIError, now: float) -> float:
        """How long to wait after a read that failed; raises when waiting cannot help.

        Raises ``error`` itself when it is not transient, and :class:`PollTimeoutError` (with
        ``error`` as its cause) when the wait would pass the deadline.
        """
        if not self._transient(error, now):
            raise error
        self.failures += 1
        retry_after = error.retry_after if isinstance(error, APIStatusError) else None
        if retry_after is not None:
            delay = retry_after
        else:
            delay = min(INITIAL_INTERVAL * GROWTH ** (self.failures - 1), MAX_INTERVAL)
        delay = max(delay, MIN_INTERVAL)
        if delay >= self.deadline - now:
            raise self.timed_out() from error
        return delay

    def _transient(self, error: DeerAPIError, now: float) -> bool:
        if isinstance(error, PollTimeoutError | VideoFailedError):
            return False
        if isinstance(error, RateLimitError):
            return error.code not in NOT_BY_WAITING
        if isinstance(error, NotFoundError):
            return now < self.not_found_until
        return isinstance(error, APIConnectionError | InternalServerError | ResponseValidationError)

    def left(self, now: float) -> float:
        return self.deadline - now

    def on_deadline(self, cause: DeerAPIError) -> DeerAPIError:
        """What a read cut short by the deadline raises (``cause`` becomes ``__cause__``)."""
        return self.timed_out()

    def timed_out(self) -> PollTimeoutError:
        status = status_of(self.last) if self.last is not None else "unknown"
        progress = progress_of(self.last) if self.last is not None else None
        return PollTimeoutError(self.video_id, status, progress, self.timeout)
