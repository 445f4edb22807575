"""Progress display (rich.progress): a job's status and percentage, and download bytes/rate/ETA.

Both displays are callbacks the client calls (``poll(on_progress=...)``,
``download_content(on_bytes=...)``); when output is not interactive they still track the last
state (the Ctrl-C message needs it) but draw nothing.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

__all__ = ["DownloadProgress", "WaitProgress"]


def _status_text(status: Any) -> str:
    value = getattr(status, "value", status)
    return str(value) if value is not None else "unknown"


class WaitProgress:
    """A bar showing a job's status and percentage while ``poll`` waits for it."""

    def __init__(self, video_id: str, *, enabled: bool, console: Console | None = None) -> None:
        self.video_id = video_id
        self.status = "queued"
        self.progress = 0
        self.updates = 0
        self._bar = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            TextColumn("{task.fields[status]:<12}"),
            BarColumn(),
            TaskProgressColumn(),
            TimeElapsedColumn(),
            console=console or Console(stderr=True),
            disable=not enabled,
            transient=False,
        )
        self._task: TaskID | None = None

    def __enter__(self) -> WaitProgress:
        self._bar.start()
        self._task = self._bar.add_task(self.video_id, total=100, status=self.status)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._bar.stop()

    def __call__(self, video: Any) -> None:
        """The ``on_progress`` callback: record and draw the job's status and percentage."""
        self.updates += 1
        self.status = _status_text(getattr(video, "status", None))
        raw = getattr(video, "progress", None)
        if isinstance(raw, int | float):
            self.progress = max(0, min(100, int(raw)))
        if self._task is not None:
            self._bar.update(self._task, completed=self.progress, status=self.status)


class DownloadProgress:
    """A bar showing bytes done, transfer rate and time remaining while a download streams."""

    def __init__(self, label: str, *, enabled: bool, console: Console | None = None) -> None:
        self.label = label
        self.done = 0
        self.total: int | None = None
        self._bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=console or Console(stderr=True),
            disable=not enabled,
        )
        self._task: TaskID | None = None

    def __enter__(self) -> DownloadProgress:
        self._bar.start()
        self._task = self._bar.add_task(self.label, total=None)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._bar.stop()

    def __call__(self, done: int, total: int | None) -> None:
        """The ``on_bytes`` callback: bytes written so far and the expected size, if known."""
        self.done = done
        self.total = total
        if self._task is not None:
            self._bar.update(self._task, completed=done, total=total)
