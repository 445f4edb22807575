"""When to read a running job again: from what its progress says about the time left.

Polling every job every second is what turns a batch into a flood of reads. Here each read is
timed to land when the job should be done:

- After a read with rising ``progress`` the job's rate is known (from the two latest distinct
  readings, the POST counting as 0%): the next read is planned at the estimated end, plus 2%
  (the client's rule, :func:`deerapi_videos.polling.estimated_end`).
- Before that, the batch's own finished jobs of the same model, seconds and size say how long
  such a job takes (:class:`DurationPrior`, a quantile of their estimated durations): the first
  read is planned at that time after the POST.
- With neither, reads back off from ``initial`` by x1.5 up to ``max_interval``.
- Reads of one job are never closer than ``min_interval`` (the client's 0.5 s) nor further
  apart than ``max_interval``.
"""

from __future__ import annotations

import bisect
from collections.abc import Hashable

from deerapi_videos.polling import MIN_INTERVAL, estimated_end

__all__ = ["DurationPrior", "PollPlan"]


class DurationPrior:
    """Estimated durations of the batch's finished jobs, by settings (model, seconds, size)."""

    def __init__(self, quantile: float = 0.75, keep: int = 200) -> None:
        self.quantile = quantile
        self.keep = keep
        self._seen: dict[Hashable, list[float]] = {}
        self._order: dict[Hashable, list[float]] = {}

    def observe(self, key: Hashable, duration: float) -> None:
        if duration <= 0:
            return
        seen = self._seen.setdefault(key, [])
        ordered = self._order.setdefault(key, [])
        seen.append(duration)
        bisect.insort(ordered, duration)
        if len(seen) > self.keep:
            ordered.remove(seen.pop(0))

    def estimate(self, key: Hashable) -> float | None:
        ordered = self._order.get(key)
        if not ordered:
            return None
        index = min(len(ordered) - 1, int(self.quantile * len(ordered)))
        return ordered[index]


class PollPlan:
    """The reads of one job: record each (:meth:`observe`), ask when the next is due."""

    def __init__(
        self,
        submitted_at: float,
        *,
        prior: float | None = None,
        min_interval: float = MIN_INTERVAL,
        max_interval: float = 60.0,
        initial: float = 1.0,
        margin: float = 0.02,
    ) -> None:
        self.submitted_at = submitted_at
        self.prior = prior
        self.min_interval = min_interval
        self.max_interval = max_interval
        self.margin = margin
        self._backoff = initial
        self.readings: list[tuple[float, int]] = [(submitted_at, 0)]
        self.last_read: float | None = None
        self.reads = 0

    def observe(self, now: float, status: str, progress: int | None) -> None:
        self.reads += 1
        self.last_read = now
        rising = progress is not None and (
            progress > self.readings[-1][1] or len(self.readings) == 1
        )
        if status == "in_progress" and progress is not None and rising:
            self.readings.append((now, progress))

    def failed_read(self, now: float) -> None:
        self.last_read = now
        self._backoff = min(self._backoff * 1.5, self.max_interval)

    def eta(self) -> float | None:
        """When the job should end (same clock as ``now``), if its progress says (the
        client's rule: :func:`deerapi_videos.polling.estimated_end`)."""
        return estimated_end(self.readings, self.margin)

    def estimated_duration(self, finished_at: float) -> float:
        """How long the job took, for :class:`DurationPrior`.

        With a rate from its progress: the ETA, clipped between the last read before the end
        and the read that saw it. Without (the first read already saw it done): the middle of
        that interval. The middle is low for a job that ended just before the read, which is
        what keeps the prior honest: a prior that is too long sees every job done at its first
        read and learns shorter durations, one that is too short reads jobs still running and
        learns their ETAs, so it settles at its quantile of the true durations.
        """
        lower = self.readings[-1][0] if len(self.readings) > 1 else self.submitted_at
        eta = self.eta()
        if eta is None:
            return (lower + finished_at) / 2 - self.submitted_at
        return min(max(eta, lower), finished_at) - self.submitted_at

    def next_delay(self, now: float) -> float:
        """Seconds until the next read is due."""
        target: float | None = self.eta()
        if target is None and self.prior is not None:
            planned = self.submitted_at + self.prior
            if planned > now + 1e-3 and self.reads == 0:
                target = planned
        if target is None or target <= now:
            delay = self._backoff if self.reads > 0 else max(self._backoff, 0.0)
            if self.reads > 0 and self.prior is not None:
                delay = min(delay, max(self.prior * 0.25, self.min_interval))
            self._backoff = min(self._backoff * 1.5, self.max_interval)
        else:
            delay = target - now
        if self.last_read is not None:
            delay = max(delay, self.last_read + self.min_interval - now)
        return min(max(delay, 0.0), self.max_interval)
