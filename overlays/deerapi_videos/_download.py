"""Streaming a video's content to disk, safely.

The body is written in chunks to a temporary file beside the target (same directory, so the
final rename is atomic), fsync'ed, and renamed into place only when complete and its size equals
the announced one (``Content-Length``, or the total in ``Content-Range``). Memory use does not
depend on the file size.

An interrupted body is a failed attempt of the request path: the next attempt asks for
``Range: bytes=N-`` when the server advertised ``Accept-Ranges: bytes`` (or already answered 206)
and appends; otherwise it restarts from byte 0. When retries run out, :class:`DownloadError` is
raised; the temporary file is removed and nothing is left at the target path.

:class:`DownloadState` holds the decisions and the (blocking) file writes. The client gathers
chunks into blocks of :data:`WRITE_BLOCK` bytes and writes them; the async client runs those
writes and the final fsync + rename in a worker thread (``asyncio.to_thread``), so a download
does not stall the other tasks on its event loop.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path

import httpx

from ._errors import DownloadError, InvalidParameterError

__all__ = ["WRITE_BLOCK", "DownloadState", "ProgressCallback"]

ProgressCallback = Callable[[int, int | None], object]
# Received chunks are written in blocks of about this size (one thread hop each when async).
WRITE_BLOCK = 1 << 20
# Start writeback every this many bytes (see DownloadState._start_writeback).
_WRITEBACK_EVERY = 8 << 20
_FADVISE = getattr(os, "posix_fadvise", None)
_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$", re.IGNORECASE)


def _target_path(path: str | os.PathLike[str]) -> Path:
    target = Path(path)
    if target.is_dir():
        raise InvalidParameterError("path", f"{str(target)!r} is a directory; give a file path")
    if not target.parent.is_dir():
        raise InvalidParameterError("path", f"directory {str(target.parent)!r} does not exist")
    return target


class DownloadState:
    def __init__(self, path: str | os.PathLike[str], on_bytes: ProgressCallback | None) -> None:
        self.target = _target_path(path)
        self.on_bytes = on_bytes
        self.done = 0
        self.total: int | None = None
        self.ranges_supported = False
        self.started = False  # a success status arrived at least once
        fd, name = tempfile.mkstemp(
            dir=self.target.parent, prefix=f".{self.target.name}.", suffix=".part"
        )
        self.temp_path = Path(name)
        self._file = os.fdopen(fd, "wb")
        self._written_back = 0  # bytes up to which writeback was last started
        self.finished = False

    # -- per attempt ------------------------------------------------------------------------

    def before_attempt(self, request: httpx.Request, attempt: int) -> None:
        if self.done > 0 and self.ranges_supported:
            request.headers["Range"] = f"bytes={self.done}-"
        else:
            request.headers.pop("Range", None)
            if self.done > 0:
                self._restart()

    def begin(self, response: httpx.Response) -> None:
        """Check a success response before writing its body."""
        self.started = True
        if response.headers.get("accept-ranges", "").strip().lower() == "bytes":
            self.ranges_supported = True
        encoded = response.headers.get("content-encoding", "identity").strip().lower()
        length = response.headers.get("content-length")
        length_value = int(length) if length and length.strip().isdigit() else None
        if response.status_code == 206:
            self.ranges_supported = True
            match = _CONTENT_RANGE.match(response.headers.get("content-range", ""))
            if match is None or int(match.group(1)) != self.done:
                # Not the range we asked for: start over rather than splice wrong bytes.
                self.ranges_supported = False
                raise httpx.RemoteProtocolError(
                    "the server answered a different byte range than requested",
                    request=response.request,
                )
            self.total = int(match.group(3)) if match.group(3) != "*" else None
        else:
            if self.done > 0:  # a full body while we hold a part: the server ignored Range
                self._restart()
            self.total = length_value if encoded in ("", "identity") else None
        self._report()

    def write_only(self, data: bytes) -> None:
        """Write without reporting: the async client runs this in a worker thread and reports
        progress on the event loop itself (:meth:`report`), so callbacks never run in a thread."""
        self._file.write(data)
        self.done += len(data)
        if self.done - self._written_back >= _WRITEBACK_EVERY:
            self._start_writeback()

    def report(self, pending: int = 0) -> None:
        """Report progress: the bytes written plus ``pending`` received but not yet written."""
        if self.on_bytes is not None:
            self.on_bytes(self.done + pending, self.total)

    def _start_writeback(self) -> None:
        """Start writing what has arrived so far to disk, without waiting for it.

        On Linux, ``POSIX_FADV_DONTNEED`` starts asynchronous writeback of the range's dirty
        pages (and drops its clean ones from the page cache). The disk then works while the
        body is still arriving, and the ``fsync`` in :meth:`finish` mostly waits for the tail.
        Elsewhere this is a harmless hint; durability still comes from that ``fsync`` alone.
        """
        start = max(self._written_back - _WRITEBACK_EVERY, 0)
        self._written_back = self.done
        if _FADVISE is None:
            return
        self._file.flush()
        with contextlib.suppress(OSError):
            _FADVISE(self._file.fileno(), start, self.done - start, os.POSIX_FADV_DONTNEED)

    def finish(self, request: httpx.Request, tail: bytes = b"") -> Path:
        """Complete the file and move it into place; a short body is an interrupted attempt.

        The file and then its directory are fsync'ed: when this returns, the target exists
        only complete and on disk, so a crash or power loss right after a successful download
        cannot leave a truncated or empty file under the final name (on many filesystems a
        rename can reach the disk before the data it points to). Blocking: the async client
        runs it in a worker thread, with the body's last bytes as ``tail``.
        """
        if tail:
            self.write_only(tail)
        if self.total is not None and self.done != self.total:
            raise httpx.RemoteProtocolError(
                f"body ended after {self.done} of {self.total} bytes", request=request
            )
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        os.replace(self.temp_path, self.target)
        self.finished = True
        with contextlib.suppress(OSError):  # make the rename durable where the OS allows it
            dir_fd = os.open(self.target.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        return self.target

    # -- end --------------------------------------------------------------------------------

    def failed(self, cause: BaseException) -> DownloadError:
        expected = f" of {self.total}" if self.total is not None else ""
        return DownloadError(
            f"download to {str(self.target)!r} did not complete: received {self.done}{expected} "
            f"bytes before retries ran out ({cause}). No file was written.",
            bytes_received=self.done,
            expected=self.total,
        )

    def cleanup(self) -> None:
        """Remove the temporary file unless it became the target."""
        if not self._file.closed:
            self._file.close()
        if not self.finished:
            with contextlib.suppress(FileNotFoundError):
                self.temp_path.unlink()

    def _restart(self) -> None:
        self._file.seek(0)
        self._file.truncate()
        self.done = 0
        self._written_back = 0
        self._report()

    def _report(self) -> None:
        if self.on_bytes is not None:
            self.on_bytes(self.done, self.total)
