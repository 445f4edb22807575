"""Streaming a video's content to disk, safely.

The body is written in chunks to a temporary file beside the target (same directory, so the
final rename is atomic), fsync'ed, and renamed into place only when complete and its size equals
the announced one (``Content-Length``, or the total in ``Content-Range``). Memory use does not
depend on the file size.

An interrupted body is a failed attempt of the request path: the next attempt asks for
``Range: bytes=N-`` when the server advertised ``Accept-Ranges: bytes`` (or already answered 206)
and appends; otherwise it restarts from byte 0. When retries run out, :class:`DownloadError` is
raised; the temporary file is removed and nothing is left at the target path.

:class:`DownloadState` holds the decisions and the (blocking, small) file writes; the sync and
async resources only differ in how they iterate the response.
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

__all__ = ["DownloadState", "ProgressCallback"]

ProgressCallback = Callable[[int, int | None], object]
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

    def write(self, chunk: bytes) -> None:
        if chunk:
            self._file.write(chunk)
            self.done += len(chunk)
            self._report()

    def finish(self, request: httpx.Request) -> Path:
        """Complete the file and move it into place; a short body is an interrupted attempt."""
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
        self._report()

    def _report(self) -> None:
        if self.on_bytes is not None:
            self.on_bytes(self.done, self.total)
