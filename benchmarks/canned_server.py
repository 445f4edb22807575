"""A minimal, fast HTTP/1.1 server with canned DeerAPI video answers, for benchmarks only.

It isolates *client* overhead: no validation, no state, no framework. It runs in its own
process (``python benchmarks/canned_server.py``) so its CPU never shares the client's GIL.
It prints ``PORT <n>`` on stdout once listening and serves until stdin closes or it is killed.

Routes (any bearer token is accepted; the token is never read):

- ``GET  /v1/videos/{id}``          a completed Video object with that id
- ``POST /v1/videos``               a queued Video object (the multipart body is read, not parsed)
- ``GET  /v1/videos``               a one-item VideoList
- ``DELETE /v1/videos/{id}``        a DeletedVideo
- ``GET  /v1/videos/{id}/content``  ``video/mp4`` bytes; the size is taken from an id of the form
  ``video_bytes_<N>`` (default 1 MiB). The body is generated chunk by chunk with flow control,
  never built in memory, and ``Range: bytes=N-`` is answered with 206.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys

CHUNK = 1 << 20  # 1 MiB of payload reused for every chunk written
_BLOCK = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + os.urandom(CHUNK - 24)
DEFAULT_CONTENT = 1 << 20


def _video(video_id: str, status: str) -> bytes:
    done = status == "completed"
    return json.dumps(
        {
            "id": video_id,
            "object": "video",
            "created_at": 1758941485,
            "status": status,
            "completed_at": 1758941602 if done else None,
            "error": None,
            "expires_at": 1759027885 if done else None,
            "model": "sora-2",
            "progress": 100 if done else 0,
            "remixed_from_video_id": None,
            "seconds": "4",
            "size": "720x1280",
        },
        separators=(",", ":"),
    ).encode()


def _response(status: str, body: bytes, ctype: bytes = b"application/json") -> bytes:
    return (
        b"HTTP/1.1 " + status.encode() + b"\r\n"
        b"content-type: " + ctype + b"\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\n"
        b"x-request-id: req_canned\r\n"
        b"\r\n" + body
    )


class _Flow:
    """Pause/resume signalling for streaming large bodies with transport backpressure."""

    def __init__(self) -> None:
        self.ok = asyncio.Event()
        self.ok.set()


class CannedProtocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None
        self.flow = _Flow()
        self.streaming: asyncio.Task[None] | None = None
        self.counter = 0

    # -- asyncio.Protocol -------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.set_write_buffer_limits(high=4 * CHUNK, low=CHUNK)

    def connection_lost(self, exc: Exception | None) -> None:
        self.flow.ok.set()
        if self.streaming is not None:
            self.streaming.cancel()

    def pause_writing(self) -> None:
        self.flow.ok.clear()

    def resume_writing(self) -> None:
        self.flow.ok.set()

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if self.streaming is None:
            self._process()

    # -- request handling -------------------------------------------------------------------
    def _process(self) -> None:
        while self.transport is not None and not self.transport.is_closing():
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buf[:end]).decode("latin-1")
            lines = head.split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers: dict[str, str] = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            pos = end + 4
            if headers.get("transfer-encoding", "").lower() == "chunked":
                consumed = self._chunked_length(pos)
                if consumed is None:
                    return
                pos = consumed
            else:
                length = int(headers.get("content-length", "0") or 0)
                if len(self.buf) < pos + length:
                    return
                pos += length
            del self.buf[:pos]
            close = headers.get("connection", "").lower() == "close"
            self._dispatch(method, target, headers, close)
            if close:
                return
            if self.streaming is not None:
                return

    def _chunked_length(self, pos: int) -> int | None:
        while True:
            line_end = self.buf.find(b"\r\n", pos)
            if line_end < 0:
                return None
            size = int(bytes(self.buf[pos:line_end]).split(b";")[0], 16)
            pos = line_end + 2
            if size == 0:
                trailer_end = self.buf.find(b"\r\n\r\n", pos - 2)
                return None if trailer_end < 0 else trailer_end + 4
            if len(self.buf) < pos + size + 2:
                return None
            pos += size + 2

    def _dispatch(self, method: str, target: str, headers: dict[str, str], close: bool) -> None:
        assert self.transport is not None
        path = target.split("?", 1)[0]
        parts = path.strip("/").split("/")
        out: bytes
        if method == "GET" and len(parts) == 3 and parts[:2] == ["v1", "videos"]:
            out = _response("200 OK", _video(parts[2], "completed"))
        elif method == "POST" and parts == ["v1", "videos"]:
            self.counter += 1
            out = _response("200 OK", _video(f"video_canned_{self.counter}", "queued"))
        elif method == "GET" and parts == ["v1", "videos"]:
            body = b'{"object":"list","data":[' + _video("video_canned_1", "completed")
            body += b'],"first_id":"video_canned_1","last_id":"video_canned_1","has_more":false}'
            out = _response("200 OK", body)
        elif method == "DELETE" and len(parts) == 3 and parts[:2] == ["v1", "videos"]:
            out = _response(
                "200 OK",
                json.dumps({"id": parts[2], "object": "video.deleted", "deleted": True}).encode(),
            )
        elif method in ("GET", "HEAD") and len(parts) == 4 and parts[3] == "content":
            self._start_stream(parts[2], headers, head_only=method == "HEAD", close=close)
            return
        else:
            out = _response(
                "404 Not Found",
                b'{"error":{"message":"no route","type":"invalid_request_error",'
                b'"param":null,"code":null}}',
            )
        self.transport.write(out)
        if close:
            self.transport.close()

    def _start_stream(
        self, video_id: str, headers: dict[str, str], head_only: bool, close: bool
    ) -> None:
        assert self.transport is not None
        total = DEFAULT_CONTENT
        if video_id.startswith("video_bytes_"):
            total = int(video_id.removeprefix("video_bytes_"))
        start = 0
        rng = headers.get("range", "")
        status = "200 OK"
        extra = b""
        if rng.startswith("bytes=") and rng.endswith("-"):
            start = min(int(rng[6:-1]), total)
            status = "206 Partial Content"
            extra = f"content-range: bytes {start}-{total - 1}/{total}\r\n".encode()
        length = total - start
        head = (
            b"HTTP/1.1 " + status.encode() + b"\r\n"
            b"content-type: video/mp4\r\n"
            b"content-length: " + str(length).encode() + b"\r\n"
            b"accept-ranges: bytes\r\n" + extra + b"x-request-id: req_canned\r\n\r\n"
        )
        self.transport.write(head)
        if head_only:
            return
        self.streaming = asyncio.get_running_loop().create_task(self._stream(start, length, close))

    async def _stream(self, start: int, length: int, close: bool) -> None:
        assert self.transport is not None
        view = memoryview(_BLOCK)
        offset = start % CHUNK
        remaining = length
        try:
            while remaining > 0:
                await self.flow.ok.wait()
                if self.transport.is_closing():
                    return
                n = min(CHUNK - offset, remaining)
                self.transport.write(view[offset : offset + n])
                remaining -= n
                offset = 0
        finally:
            self.streaming = None
        if close:
            self.transport.close()
        elif self.buf:
            self._process()


async def _main(host: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(CannedProtocol, host, port, backlog=1024)
    bound = server.sockets[0].getsockname()[1]
    print(f"PORT {bound}", flush=True)
    stop = asyncio.Event()

    def _stdin_closed() -> None:
        stop.set()

    # Stop when the parent closes our stdin (or dies), so no server outlives its benchmark.
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    async def _watch() -> None:
        await reader.read()
        _stdin_closed()

    watcher = loop.create_task(_watch())
    async with server:
        await stop.wait()
    watcher.cancel()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        parser.error("loopback only")
    asyncio.run(_main(args.host, args.port))


if __name__ == "__main__":
    main()
