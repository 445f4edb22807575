"""Streaming a video's content to disk, safely.

The body is written in chunks to a temporary file beside the target (same directory, so the
final rename is atomic), fsync'ed, and renamed into place only when complete and its size equals
the announced one (``Content-Length``, or the total in ``Content-Range``). Memory use does not
depend on the file size.

What is saved is checked to be the content asked for: the request sends ``Accept`` for the
variant's media type; a success answer whose ``Content-Type`` is an error page (JSON, HTML,
text) or another media type is a :class:`DownloadError` carrying the server's message, and the
first bytes must carry the variant's signature (MP4 ``ftyp``, ``RIFF....WEBP``, JPEG ``FF D8
FF``). Nothing is renamed into place unless both hold.

An interrupted body is a failed attempt of the request path. The next attempt resumes with
``Range: bytes=N-`` only when the server advertised ``Accept-Ranges: bytes`` (or already answered
206) and gave a validator for ``If-Range`` (a strong ``ETag``, else ``Last-Modified``): if the
file changed in between, the server sends it whole instead of a range of the new version. A 206
must start at byte N and announce the same total as before; anything else restarts from byte 0,
so a file is never spliced from two versions. When retries run out, :class:`DownloadError` is
raised; the temporary file is removed and nothing is left at the target path. A disk error
(full, read-only) is a :class:`DownloadError` too.

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
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from ._auth import Redactor
from ._errors import DownloadError, InvalidParameterError, error_message_of

__all__ = ["MEDIA_TYPES", "WRITE_BLOCK", "DownloadState", "Mp4Boxes", "ProgressCallback"]

ProgressCallback = Callable[[int, int | None], object]
# Received chunks are written in blocks of about this size (one thread hop each when async).
WRITE_BLOCK = 1 << 20
# Start writeback every this many bytes (see DownloadState._start_writeback).
_WRITEBACK_EVERY = 8 << 20
_FADVISE = getattr(os, "posix_fadvise", None)
_FCHMOD = getattr(os, "fchmod", None)
_UMASK_LOCK = threading.Lock()
_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$", re.IGNORECASE)

#: The media type each variant is served as (also sent as ``Accept``).
MEDIA_TYPES = {"video": "video/mp4", "thumbnail": "image/webp", "spritesheet": "image/jpeg"}
# Media types any variant may arrive as: a gateway that does not know better.
_GENERIC_TYPES = frozenset({"", "application/octet-stream", "binary/octet-stream"})
_SIGNATURE_BYTES = 12
#: Bytes a download body must bring per read timeout; fewer means it has stalled.
MIN_PACE = 1024


def _has_signature(variant: str, head: bytes) -> bool:
    if variant == "video":
        return head[4:8] == b"ftyp"
    if variant == "thumbnail":
        return head[:4] == b"RIFF" and head[8:12] == b"WEBP"
    if variant == "spritesheet":
        return head[:3] == b"\xff\xd8\xff"
    return True


class Mp4Boxes:
    """Follows an MP4's top-level boxes as its bytes stream by, to tell a whole file from a cut one.

    An MP4 is a sequence of boxes, each opening with its size; a file cut short (a lying
    ``Content-Length``, a proxy's truncation) ends inside a box. Costs a few operations per box,
    not per byte.
    """

    def __init__(self) -> None:
        self.offset = 0  # file offset of the bytes fed so far
        self.next_box = 0  # file offset where the next box header starts
        self.to_end = False  # a box of size 0 runs to the end of the file
        self.kinds: set[bytes] = set()  # the top-level box types seen
        self._header = b""

    def feed(self, chunk: bytes) -> None:
        start = self.offset
        self.offset += len(chunk)
        while not self.to_end and self.next_box < self.offset:
            at = self.next_box - start
            if at < 0:  # the header began in an earlier chunk
                at = 0
            self._header += chunk[at : at + 16 - len(self._header)]
            if len(self._header) < 8:
                return
            size = int.from_bytes(self._header[:4], "big")
            self.kinds.add(self._header[4:8])
            if size == 1:
                if len(self._header) < 16:
                    return
                size = int.from_bytes(self._header[8:16], "big")
            if size == 0:
                self.to_end = True
                return
            if size < 8:
                self.next_box = -1  # not a box: the file is not an MP4
                self.to_end = True
                return
            self.next_box += size
            self._header = b""
            start_of_header = self.next_box - start
            if start_of_header >= len(chunk):
                return

    def complete(self) -> bool:
        """Whether the bytes fed end where a box ends, with the movie's boxes all there."""
        if not {b"ftyp", b"moov", b"mdat"} <= self.kinds:
            return False  # a cut at a box boundary still lacks the metadata or the media
        if self.to_end:
            return self.next_box >= 0
        return self.next_box == self.offset


def _media_type(response: httpx.Response) -> str:
    value: str = response.headers.get("content-type", "")
    return value.split(";")[0].strip().lower()


def new_file_mode() -> int:
    """The mode a new file gets from ``open()``: ``0o666`` less the process umask.

    The temporary file comes from ``mkstemp`` (``0o600``: private while incomplete); the finished
    file is given this mode before its rename, like any other file the user creates. Linux shows
    the umask in ``/proc/self/status``; elsewhere it can only be read by setting it, so it is set
    to ``0o077`` for that instant (a file another thread creates meanwhile is at worst private).
    """
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _UMASK_LOCK:
        mask = os.umask(0o077)
        os.umask(mask)
    return 0o666 & ~mask


def _target_path(path: str | os.PathLike[str]) -> Path:
    target = Path(path)
    if target.is_dir():
        raise InvalidParameterError("path", f"{str(target)!r} is a directory; give a file path")
    if not target.parent.is_dir():
        raise InvalidParameterError("path", f"directory {str(target.parent)!r} does not exist")
    return target


class DownloadState:
    """One download's file, checks and progress, across its attempts.

    Args:
        path: the target file.
        on_bytes: the caller's progress callback.
        variant: what is downloaded (``video``, ``thumbnail``, ``spritesheet``).
        redact: removes the key from text a server sends back.
        stall_after: the read timeout: a body that brings fewer than :data:`MIN_PACE` bytes in
            that many seconds has stalled (a server trickling bytes would otherwise hold the
            download for ever, each read arriving just in time).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        on_bytes: ProgressCallback | None,
        variant: str,
        redact: Redactor,
        stall_after: float | None = None,
    ) -> None:
        self.target = _target_path(path)
        self.on_bytes = on_bytes
        self.variant = variant
        self.redact = redact
        self.stall_after = stall_after
        self._window_start = 0.0
        self._window_bytes = 0
        self.done = 0
        self.total: int | None = None
        self.ranges_supported = False
        self.validator: str | None = None  # for If-Range: a strong ETag or Last-Modified
        self.started = False  # a success status arrived at least once
        # The first bytes of the current body, until the signature is checked (then None).
        self._head: bytes | None = b""
        self._boxes = Mp4Boxes() if variant == "video" else None
        try:
            fd, name = tempfile.mkstemp(
                dir=self.target.parent, prefix=f".{self.target.name}.", suffix=".part"
            )
        except OSError as exc:
            raise InvalidParameterError(
                "path", f"cannot write in {str(self.target.parent)!r}: {exc.strerror or exc}"
            ) from exc
        self.temp_path = Path(name)
        self._file = os.fdopen(fd, "wb")
        self._written_back = 0  # bytes up to which writeback was last started
        self.finished = False

    # -- per attempt ------------------------------------------------------------------------

    def before_attempt(self, request: httpx.Request, attempt: int) -> None:
        request.headers["Accept"] = MEDIA_TYPES.get(self.variant, "*/*")
        if self.done > 0 and self.ranges_supported and self.validator is not None:
            request.headers["Range"] = f"bytes={self.done}-"
            request.headers["If-Range"] = self.validator
        else:
            request.headers.pop("Range", None)
            request.headers.pop("If-Range", None)
            if self.done > 0:
                self._restart()

    def refused(self, response: httpx.Response, first_bytes: bytes) -> DownloadError:
        """The error for a success answer that :meth:`begin` refused (``first_bytes`` of it)."""
        wanted = MEDIA_TYPES.get(self.variant, "")
        text = first_bytes[:4096].decode("utf-8", "replace")
        message = error_message_of(self.redact.body(text))  # JSON escapes decoded, then redacted
        said = f": {message}" if message else ""
        return DownloadError(
            f"the server answered {response.status_code} with {_media_type(response)!r} "
            f"instead of the {self.variant} ({wanted}){said}; nothing was saved",
            bytes_received=0,
            expected=None,
        )

    def _remember_validator(self, response: httpx.Response) -> None:
        etag = response.headers.get("etag", "").strip()
        if etag and not etag.startswith("W/"):
            self.validator = etag
        else:
            modified = response.headers.get("last-modified", "").strip()
            self.validator = modified or None

    def begin(self, response: httpx.Response) -> bool:
        """Check a success response before writing its body; False: refuse it (see refused)."""
        self.started = True
        media_type = _media_type(response)
        wanted = MEDIA_TYPES.get(self.variant)
        if wanted is not None and media_type != wanted and media_type not in _GENERIC_TYPES:
            return False
        # A resumed body (206) starts mid-file: only a whole body carries the signature.
        self._head = None if response.status_code == 206 else b""
        self._window_start = time.monotonic()
        self._window_bytes = 0
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
            total = int(match.group(3)) if match.group(3) != "*" else None
            if total != self.total:
                # Another total: another file. Start over rather than splice two versions.
                self.ranges_supported = False
                raise httpx.RemoteProtocolError(
                    f"the resumed file has {total} bytes, the first answer had {self.total}",
                    request=response.request,
                )
        else:
            if self.done > 0:  # a full body while we hold a part: Range ignored, or a new file
                self._restart()
            self.total = length_value if encoded in ("", "identity") else None
            self._remember_validator(response)
        self._report()
        return True

    def inspect(self, chunk: bytes) -> None:
        """Check the body's first bytes against the variant's signature; follow MP4 boxes;
        raise ``httpx.ReadTimeout`` when the body has stalled (a failed attempt: retried)."""
        self._keep_pace(len(chunk))
        if self._boxes is not None:
            self._boxes.feed(chunk)
        if self._head is None:
            return
        self._head += chunk[: _SIGNATURE_BYTES - len(self._head)]
        if len(self._head) >= _SIGNATURE_BYTES:
            self._verify_head()

    def _keep_pace(self, size: int) -> None:
        if self.stall_after is None:
            return
        self._window_bytes += size
        now = time.monotonic()
        if now - self._window_start < self.stall_after:
            return
        if self._window_bytes < MIN_PACE:
            raise httpx.ReadTimeout(
                f"the download stalled: {self._window_bytes} bytes in "
                f"{now - self._window_start:.1f}s (at least {MIN_PACE} expected)"
            )
        self._window_start, self._window_bytes = now, 0

    def _verify_head(self) -> None:
        head, self._head = self._head, None
        if head is None or _has_signature(self.variant, head):
            return
        raise DownloadError(
            f"the body is not a {self.variant}: it starts with {head[:12]!r}, not the "
            f"{MEDIA_TYPES.get(self.variant, self.variant)} signature; nothing was saved",
            bytes_received=self.done,
            expected=self.total,
        )

    def write_only(self, data: bytes) -> None:
        """Write without reporting: the async client runs this in a worker thread and reports
        progress on the event loop itself (:meth:`report`), so callbacks never run in a thread."""
        try:
            self._file.write(data)
        except OSError as exc:
            raise self._disk_error(exc) from exc
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
        if self._head is not None:
            self._verify_head()  # a body shorter than the signature
        if self._boxes is not None and not self._boxes.complete():
            raise DownloadError(
                f"the video is cut short: its {self.done} bytes end inside an MP4 box (the "
                "server's Content-Length or a proxy truncated it); nothing was saved",
                bytes_received=self.done,
                expected=self.total,
            )
        if _FCHMOD is not None:
            with contextlib.suppress(OSError):  # a file system without modes keeps its own
                _FCHMOD(self._file.fileno(), new_file_mode())
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            os.replace(self.temp_path, self.target)
        except OSError as exc:
            raise self._disk_error(exc) from exc
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

    def _disk_error(self, exc: OSError) -> DownloadError:
        return DownloadError(
            f"could not write {str(self.target)!r}: {exc.strerror or exc}; nothing was saved",
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
        self._head = b""
        if self._boxes is not None:
            self._boxes = Mp4Boxes()
        self._written_back = 0
        self._report()

    def _report(self) -> None:
        if self.on_bytes is not None:
            self.on_bytes(self.done, self.total)
