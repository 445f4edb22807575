"""How many reads ``videos.poll`` makes per job, with and without planning by progress.

    python benchmarks/bench_polling.py

Runs the client's own polling decisions (``deerapi_videos._polling.Poller``: what to wait after
each read) on a virtual clock against jobs shaped like the bundled mock's: ``queued`` for the
first eighth of their duration, then ``in_progress`` with ``progress`` rising linearly, then
``completed``. No server hint, no fixed interval (the client's defaults). For each duration it
prints the reads until the job was seen completed and the lag between the end and that read,
with the estimated end (:func:`deerapi_videos.polling.estimated_end`) and with it switched off
(the backoff alone: 1 s growing x1.5 to 10 s). Figures, not a test.
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import Report
from deerapi_videos import _polling

DURATIONS = (10.0, 30.0, 60.0, 120.0, 300.0, 600.0)


def _state(duration: float, age: float) -> tuple[str, int]:
    queued = duration / 8
    if age >= duration:
        return "completed", 100
    if age < queued:
        return "queued", 0
    return "in_progress", int((age - queued) / (duration - queued) * 100)


def reads_for(duration: float) -> tuple[int, float]:
    """Reads until the job is seen completed, and how long after its end that read came."""
    poller = _polling.Poller(
        "video_bench", timeout=3600.0, poll_interval=None, on_progress=None, started=0.0
    )
    now, reads = 0.0, 0
    while True:
        status, progress = _state(duration, now)
        reads += 1
        video = SimpleNamespace(id="video_bench", status=status, progress=progress, error=None)
        if poller.observe(video) is not None:  # type: ignore[arg-type]
            return reads, now - duration
        now += poller.next_delay(httpx.Headers(), now)


def main() -> int:
    report = Report()
    for duration in DURATIONS:
        planned, planned_lag = reads_for(duration)
        with mock.patch.object(_polling, "estimated_end", lambda *a, **k: None):
            backoff, backoff_lag = reads_for(duration)
        report.add(
            "polling",
            f"reads of a {duration:g} s job (lag after its end)",
            f"{planned} ({planned_lag:.1f} s)",
            ratio=f"{planned / backoff:.2f}x",
            note=f"backoff alone: {backoff} reads ({backoff_lag:.1f} s)",
        )
    print(report.table())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
