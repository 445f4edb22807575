"""A scriptable, deliberately hostile HTTP/1.1 server on loopback (stdlib ``socket`` + threads).

:class:`HostileServer` binds ``127.0.0.1`` on a free port and answers every request with what a
*behaviour* decides. A behaviour is a function ``(request, state) -> Reply | Script | None``:

- :class:`Reply`: a well-formed response (status, headers, body). When it answers a POST that
  creates a job, its ``issued_id`` records the video id the server handed out.
- :class:`Script`: raw steps written as they come: ``bytes`` are sent, a ``float`` sleeps that
  many seconds, :data:`CLOSE` closes the connection, :data:`HANG` holds it open, silent, until the
  server stops. A script may be an endless generator (a trickle).
- ``None``: the well-behaved :func:`baseline` answer.

Every request is logged (:class:`Received`: method, target, headers, body, monotonic time, what
status was served) so tests can count POSTs, compare idempotency keys and measure read rates.
:data:`BEHAVIOURS` names them all, for parametrized tests.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from types import TracebackType
from urllib.parse import parse_qs, urlsplit

__all__ = [
    "BEHAVIOURS",
    "CLOSE",
    "HANG",
    "MP4",
    "SEED_ID",
    "Behaviour",
    "HostileServer",
    "Received",
    "Reply",
    "Script",
    "State",
    "baseline",
]

SEED_ID = "video_hostile_seed"  # the video that "already exists" (retrieve, poll, download...)
# A small, structurally whole MP4: ``ftyp``, a ``moov`` holding a minimal ``mvhd`` (1000 units per
# second, 4 s), a ``free`` box and a 4 KiB ``mdat``. Every top-level box ends where the next starts.
_MVHD = struct.pack(
    ">I4sI4IIH10x9I24xI",
    108,
    b"mvhd",
    0,  # version 0, no flags
    *(0, 0, 1000, 4000),  # created, modified, timescale, duration
    0x00010000,  # rate 1.0
    0x0100,  # volume 1.0
    *(0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000),  # the identity matrix
    2,  # next track id
)
MP4 = (
    b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41"
    + (8 + len(_MVHD)).to_bytes(4, "big")
    + b"moov"
    + _MVHD
    + b"\x00\x00\x00\x08free"
    + (4096 + 8).to_bytes(4, "big")
    + b"mdat"
    + bytes(range(256)) * 16
)
CREATED_AT = 1_760_000_000


class _Marker:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


CLOSE = _Marker("CLOSE")
HANG = _Marker("HANG")
Step = bytes | float | _Marker


@dataclass
class Received:
    """One request as the server read it; ``status``/``issued_id`` say what it was answered."""

    method: str
    target: str  # path and query, as sent
    headers: dict[str, str]  # lower-case names; values decoded as latin-1
    body: bytes
    t: float  # time.monotonic() when the request head had arrived
    conn: int  # connection number (from 1)
    status: int | None = None  # the status served (None: no status line was meant to be sent)
    issued_id: str | None = None  # the video id of a job created by an intact 2xx answer

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def query(self) -> dict[str, str]:
        return {k: v[-1] for k, v in parse_qs(urlsplit(self.target).query).items()}

    @property
    def host(self) -> str:
        return self.headers.get("host", "")


@dataclass
class Reply:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str | bytes]] = field(default_factory=list)
    issued_id: str | None = None

    def encode(self, *, content_length: int | None = None) -> bytes:
        try:
            phrase = HTTPStatus(self.status).phrase
        except ValueError:
            phrase = "Whatever"
        headers = list(self.headers)
        names = {name.lower() for name, _ in headers}
        if "content-length" not in names and "transfer-encoding" not in names:
            length = len(self.body) if content_length is None else content_length
            headers.append(("Content-Length", str(length)))
        if "x-request-id" not in names:
            headers.append(("x-request-id", "req_hostile"))
        lines = [f"HTTP/1.1 {self.status} {phrase}".encode()]
        for name, value in headers:
            raw = value if isinstance(value, bytes) else value.encode("utf-8")
            lines.append(name.encode("ascii") + b": " + raw)
        return b"\r\n".join(lines) + b"\r\n\r\n" + self.body


@dataclass
class Script:
    steps: Iterable[Step]
    status: int | None = None  # for the log: the status line the steps carry, if any


class State:
    """Per-server state the behaviours share (they run under the server's lock)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._counts: dict[str, int] = {}
        self._ids = itertools.count(1)

    def count(self, key: str) -> int:
        """How many times ``key`` was counted, this time included (1 for the first)."""
        self._counts[key] = self._counts.get(key, 0) + 1
        return self._counts[key]

    def new_id(self) -> str:
        return f"video_hostile_{next(self._ids):04d}"


Behaviour = Callable[[Received, State], "Reply | Script | None"]

# -- the well-behaved API -----------------------------------------------------------------------


def video(vid: str, status: str = "completed", progress: int = 100, **extra: object) -> dict:
    done = status == "completed"
    return {
        "id": vid,
        "object": "video",
        "model": "sora-2",
        "status": status,
        "progress": progress,
        "created_at": CREATED_AT,
        "completed_at": CREATED_AT + 60 if done else None,
        "expires_at": CREATED_AT + 86_400 if done else None,
        "error": None,
        "remixed_from_video_id": None,
        "seconds": "4",
        "size": "720x1280",
        "prompt": "a hostile cat",
        **extra,
    }


def json_reply(status: int, obj: object, headers: Iterable[tuple[str, str]] = ()) -> Reply:
    body = json.dumps(obj).encode()
    return Reply(status, body, [("Content-Type", "application/json"), *headers])


def error_reply(
    status: int,
    message: str,
    code: str | None = None,
    *,
    kind: str = "invalid_request_error",
    headers: Iterable[tuple[str, str | bytes]] = (),
) -> Reply:
    """The OpenAI-style error envelope."""
    error = {"message": message, "type": kind, "param": None, "code": code}
    reply = json_reply(status, {"error": error})
    reply.headers.extend(headers)
    return reply


def baseline(req: Received, st: State) -> Reply:
    """A correct DeerAPI: jobs complete at once, content is :data:`MP4`, one page of one video."""
    parts = req.path.strip("/").split("/")
    if parts[:2] != ["v1", "videos"]:
        return error_reply(404, f"no route {req.path}")
    match req.method, parts[2:]:
        case "POST", []:
            vid = st.new_id()
            reply = json_reply(200, video(vid, "queued", 0))
            reply.issued_id = vid
            return reply
        case "GET", []:
            page = {"object": "list", "data": [video(SEED_ID)], "has_more": False}
            return json_reply(200, page | {"first_id": SEED_ID, "last_id": SEED_ID})
        case "GET", [vid]:
            return json_reply(200, video(vid))
        case "DELETE", [vid]:
            return json_reply(200, {"id": vid, "object": "video.deleted", "deleted": True})
        case "GET", [_vid, "content"]:
            return Reply(200, MP4, [("Content-Type", "video/mp4")])
        case "POST", [vid, "remix"]:
            new = st.new_id()
            reply = json_reply(200, video(new, "queued", 0, remixed_from_video_id=vid))
            reply.issued_id = new
            return reply
    return error_reply(404, f"no route {req.method} {req.path}")


# -- hostile behaviours -------------------------------------------------------------------------


def lying_length_short(req: Received, st: State) -> Script:
    """Content-Length 16 bytes short of the body, then the connection closes."""
    r = baseline(req, st)
    return Script([r.encode(content_length=max(len(r.body) - 16, 0)), CLOSE], r.status)


def lying_length_long(req: Received, st: State) -> Script:
    """Content-Length 64 bytes more than the body, which ends with a close."""
    r = baseline(req, st)
    return Script([r.encode(content_length=len(r.body) + 64), 0.05, CLOSE], r.status)


def trickle(req: Received, st: State) -> Script:
    """One byte every 0.2 s, forever: no single read ever waits a whole second."""
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n"

    def steps() -> Iterable[Step]:
        for byte in itertools.chain(head, itertools.repeat(ord(" "))):
            yield bytes([byte])
            yield 0.2

    return Script(steps(), 200)


def truncated_close(req: Received, st: State) -> Script:
    """The right Content-Length, half the body, close."""
    r = baseline(req, st)
    data = r.encode()
    return Script([data[: len(data) - len(r.body) // 2 - 1], CLOSE], r.status)


def gzip_plain_json(req: Received, st: State) -> Script:
    """``Content-Encoding: gzip`` on a body that is not gzip."""
    r = baseline(req, st)
    r.headers.append(("Content-Encoding", "gzip"))
    return Script([r.encode()], r.status)


def bad_chunked(req: Received, st: State) -> Script:
    """``Transfer-Encoding: chunked`` with a chunk size that is not hex."""
    r = baseline(req, st)
    r.headers.append(("Transfer-Encoding", "chunked"))
    head = r.encode()[: -len(r.body) or None]
    return Script([head + b"zz\r\n" + r.body + b"\r\n0\r\n\r\n", CLOSE], r.status)


def not_http(req: Received, st: State) -> Script:
    """Not HTTP at all: a garbage status line, then close."""
    return Script([b"SSH-2.0-OpenSSH_9.6 \xff\xfe this is not HTTP\r\n\r\n", CLOSE])


def redirect_loop(req: Received, st: State) -> Reply:
    return Reply(302, headers=[("Location", req.target)])


def redirect_other_host(req: Received, st: State) -> Reply:
    """302 to another origin (``localhost``), which serves the baseline under ``/elsewhere``."""
    if req.path.startswith("/elsewhere/"):
        return baseline(dataclasses.replace(req, target=req.target[len("/elsewhere") :]), st)
    return Reply(302, headers=[("Location", f"http://localhost:{st.port}/elsewhere{req.target}")])


def json_error_on_content(req: Received, st: State) -> Reply | None:
    """200 with an ``application/json`` error envelope where the MP4 should be."""
    if req.path.endswith("/content"):
        return error_reply(200, "The video is not ready", code="video_not_ready")
    return None


def html_error_200(req: Received, st: State) -> Reply:
    """200 with a gateway's HTML error page, on every endpoint."""
    page = (
        b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>oops</body></html>"
    )
    return Reply(200, page, [("Content-Type", "text/html; charset=utf-8")])


def not_found_after_create(req: Received, st: State) -> Reply | None:
    """The first GET of a video answers 404 (read-after-write lag), later ones succeed."""
    if req.method == "GET" and req.path.startswith("/v1/videos/") and st.count("get") == 1:
        return error_reply(404, "No video found with that id", code="video_not_found")
    return None


def rate_limit_retry_after_20(req: Received, st: State) -> Reply:
    return error_reply(
        429, "Rate limit reached", "rate_limit_exceeded", headers=[("Retry-After", "20")]
    )


def insufficient_quota(req: Received, st: State) -> Reply:
    message = "You exceeded your current quota, please check your plan and billing details."
    return error_reply(429, message, "insufficient_quota", kind="insufficient_quota")


def server_error_burst(req: Received, st: State) -> Reply | None:
    """Every other request fails with a 5xx (503, 502, 500, 504 in turn) and an HTML page."""
    n = st.count("all")
    if n % 2 == 0:
        return None
    status = (503, 502, 500, 504)[(n // 2) % 4]
    page = f"<html><head><title>{status} Server Error</title></head></html>".encode()
    return Reply(status, page, [("Content-Type", "text/html")])


def poll_after_zero(req: Received, st: State) -> Reply | None:
    """``openai-poll-after-ms: 0`` on a job that stays ``in_progress`` forever."""
    hint = [("openai-poll-after-ms", "0")]
    parts = req.path.strip("/").split("/")
    if req.method == "GET" and len(parts) == 3:
        return json_reply(200, video(parts[2], "in_progress", 42), hint)
    if req.method == "GET" and req.path.endswith("/content"):
        return error_reply(409, "The video is not completed yet", code="video_not_ready")
    if req.method == "POST":
        reply = baseline(req, st)
        reply.headers.extend(hint)
        return reply
    return None


def list_cursor_cycle(req: Received, st: State) -> Reply | None:
    """Pages A (last_id x) -> after=x -> B (last_id y) -> after=y -> A ... for ever."""
    if req.method != "GET" or req.path != "/v1/videos":
        return None
    ids = ["video_page_b", "video_cursor_y"]
    if req.query.get("after") != "video_cursor_x":
        ids = ["video_page_a", "video_cursor_x"]
    page = {"object": "list", "data": [video(i) for i in ids], "has_more": True}
    return json_reply(200, page | {"first_id": ids[0], "last_id": ids[1]})


def echo_authorization(req: Received, st: State) -> Reply:
    """401 whose JSON echoes the Authorization header: raw, ``\\/``-escaped and ``\\u``-escaped."""
    auth = req.headers.get("authorization", "")
    escaped = "".join(c if c.isalnum() or c == " " else f"\\u{ord(c):04x}" for c in auth)
    body = (
        '{"error":{"message":"Incorrect API key provided: ' + escaped + '",'
        '"type":"invalid_request_error","param":null,"code":"invalid_api_key"},'
        '"debug":{"authorization":' + json.dumps(auth).replace("/", "\\/") + ","
        '"url":"http:\\/\\/127.0.0.1\\/v1\\/videos"}}'
    )
    return Reply(401, body.encode(), [("Content-Type", "application/json")])


def _odd_retry_after(value: bytes) -> Behaviour:
    """Every other request: 503 with an odd ``Retry-After`` (and a non-ASCII request id)."""

    def behaviour(req: Received, st: State) -> Reply | None:
        if st.count("all") % 2 == 0:
            return None
        odd = [("Retry-After", value), ("x-request-id", "req_h\u00f6stile_\u2603")]
        return error_reply(503, "Service temporarily unavailable", headers=odd)

    return behaviour


def never_answer(req: Received, st: State) -> Script:
    """Read the request, then say nothing until the server stops."""
    return Script([HANG])


BEHAVIOURS: dict[str, Behaviour] = {
    "baseline": lambda req, st: None,
    "lying_length_short": lying_length_short,
    "lying_length_long": lying_length_long,
    "trickle": trickle,
    "truncated_close": truncated_close,
    "gzip_plain_json": gzip_plain_json,
    "bad_chunked": bad_chunked,
    "not_http": not_http,
    "redirect_loop": redirect_loop,
    "redirect_other_host": redirect_other_host,
    "json_error_on_content": json_error_on_content,
    "html_error_200": html_error_200,
    "not_found_after_create": not_found_after_create,
    "rate_limit_retry_after_20": rate_limit_retry_after_20,
    "insufficient_quota": insufficient_quota,
    "server_error_burst": server_error_burst,
    "poll_after_zero": poll_after_zero,
    "list_cursor_cycle": list_cursor_cycle,
    "echo_authorization": echo_authorization,
    "retry_after_non_ascii": _odd_retry_after("\u221e s".encode()),
    "retry_after_huge": _odd_retry_after(b"9" * 24),
    "retry_after_negative": _odd_retry_after(b"-5"),
    "retry_after_nan": _odd_retry_after(b"nan"),
    "never_answer": never_answer,
}


# -- the server ---------------------------------------------------------------------------------


class HostileServer:
    """``with HostileServer("trickle") as server: ... server.base_url ... server.requests()``."""

    def __init__(self, behaviour: str | Behaviour = "baseline") -> None:
        self.behaviour = BEHAVIOURS[behaviour] if isinstance(behaviour, str) else behaviour
        self._log: list[Received] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._conns: dict[int, socket.socket] = {}
        self._threads: list[threading.Thread] = []
        self._listener: socket.socket | None = None
        self._acceptor: threading.Thread | None = None
        self.port = 0

    # -- lifecycle --

    def __enter__(self) -> HostileServer:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        listener.settimeout(0.01)
        self._listener = listener
        self.port = listener.getsockname()[1]
        self.state = State(self.port)
        self._acceptor = threading.Thread(target=self._accept_loop, name="hostile-accept")
        self._acceptor.daemon = True
        self._acceptor.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop accepting, cut every open connection, and join the threads. Idempotent."""
        self._stop.set()
        if self._acceptor is not None:
            self._acceptor.join(5)
        if self._listener is not None:
            self._listener.close()
        with self._lock:
            conns = list(self._conns.values())
            threads = list(self._threads)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for thread in threads:
            thread.join(5)

    def alive_threads(self) -> int:
        """Server threads still running (0 once :meth:`stop` has returned, or it hung)."""
        with self._lock:
            threads = [*self._threads, *([self._acceptor] if self._acceptor else [])]
        return sum(thread.is_alive() for thread in threads)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def requests(self) -> list[Received]:
        """A copy of the request log, in arrival order."""
        with self._lock:
            return list(self._log)

    # -- serving --

    def _accept_loop(self) -> None:
        assert self._listener is not None
        for number in itertools.count(1):
            while not self._stop.is_set():
                try:
                    conn, _ = self._listener.accept()
                except TimeoutError:
                    continue
                except OSError:
                    return
                break
            else:
                return
            conn.settimeout(None)
            with self._lock:
                if self._stop.is_set():
                    conn.close()
                    return
                self._conns[number] = conn
                thread = threading.Thread(target=self._serve, args=(conn, number))
                thread.daemon = True
                self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket, number: int) -> None:
        try:
            buffer = b""
            while not self._stop.is_set():
                request, buffer = self._read_request(conn, buffer, number)
                if request is None:
                    return
                with self._lock:
                    answer = self.behaviour(request, self.state) or baseline(request, self.state)
                    if isinstance(answer, Reply):
                        request.status, request.issued_id = answer.status, answer.issued_id
                    else:
                        request.status = answer.status
                    self._log.append(request)
                if not self._play(conn, answer):
                    return
                if request.headers.get("connection", "").lower() == "close":
                    return
        except OSError:
            return
        finally:
            with self._lock:
                self._conns.pop(number, None)
            conn.close()

    def _read_request(
        self, conn: socket.socket, buffer: bytes, number: int
    ) -> tuple[Received | None, bytes]:
        while b"\r\n\r\n" not in buffer:
            data = conn.recv(65536)
            if not data:
                return None, b""
            buffer += data
        arrived = time.monotonic()
        head, buffer = buffer.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        method, target, _version = [*lines[0].split(" ", 2), "", ""][:3]
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0") or 0)
        while len(buffer) < length:
            data = conn.recv(65536)
            if not data:
                return None, b""
            buffer += data
        body, buffer = buffer[:length], buffer[length:]
        return Received(method, target, headers, body, arrived, number), buffer

    def _play(self, conn: socket.socket, answer: Reply | Script) -> bool:
        """Write an answer; False when the connection must end."""
        if isinstance(answer, Reply):
            conn.sendall(answer.encode())
            return True
        for step in answer.steps:
            if isinstance(step, bytes):
                conn.sendall(step)
            elif isinstance(step, float):
                if self._stop.wait(step):
                    return False
            elif step is HANG:
                self._stop.wait()
                return False
            else:
                return False
        return True
