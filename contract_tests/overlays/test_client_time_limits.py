"""Wall-clock limits hold against a server that trickles bytes (real sockets on loopback).

httpx's read timeout restarts with every byte; the client's own network backend bounds each
attempt as a whole (its timeouts added up) and every read inside ``poll`` by the deadline.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from deerapi_videos import AsyncDeerAPI, DeerAPI, DeerAPIError, PollTimeoutError

from contract_tests.asyncio_support import run_isolated

KEY = "sk-time-limits-0123"
TOLERANCE = 1.5  # seconds past a limit that still count as "ends at the limit"


class TricklingServer:
    """Answers every request with a valid response, one byte every ``pause`` seconds."""

    def __init__(self, pause: float = 0.05) -> None:
        self.pause = pause
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    def __enter__(self) -> TricklingServer:
        thread = threading.Thread(target=self._accept, daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._sock.close()
        for thread in self._threads:
            thread.join(5)

    def _accept(self) -> None:
        self._sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _serve(self, conn: socket.socket) -> None:
        body = b'{"id":"video_1","object":"video","status":"in_progress","progress":1}'
        answer = (
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        with conn:
            conn.settimeout(1)
            try:
                conn.recv(65536)
                for i in range(len(answer)):
                    if self._stop.is_set():
                        return
                    conn.sendall(answer[i : i + 1])
                    time.sleep(self.pause)
            except OSError:
                return


@pytest.fixture
def trickle() -> Iterator[TricklingServer]:
    # A whole answer takes about 9 s at 0.05 s per byte: longer than every limit below.
    with TricklingServer() as server:
        yield server


def _elapsed(call: object) -> float:
    start = time.monotonic()
    with pytest.raises(DeerAPIError) as info:
        call()  # type: ignore[operator]
    assert not isinstance(info.value, PollTimeoutError) or info.value.video_id == "video_1"
    return time.monotonic() - start


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_one_attempt_ends_when_its_timeouts_add_up(trickle: TricklingServer, kind: str) -> None:
    # timeout=0.5 gives connect, write and read 0.5 s each: the attempt ends by 1.5 s.
    def call() -> None:
        if kind == "sync":
            with DeerAPI(api_key=KEY, base_url=trickle.url, timeout=0.5, max_retries=0) as c:
                c.videos.retrieve("video_1")
        else:

            async def main() -> None:
                async with AsyncDeerAPI(
                    api_key=KEY, base_url=trickle.url, timeout=0.5, max_retries=0
                ) as c:
                    await c.videos.retrieve("video_1")

            run_isolated(main())

    assert _elapsed(call) < 1.5 + TOLERANCE


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_poll_ends_at_its_deadline(trickle: TricklingServer, kind: str) -> None:
    def call() -> None:
        if kind == "sync":
            with DeerAPI(api_key=KEY, base_url=trickle.url) as c:
                c.videos.poll("video_1", timeout=2)
        else:

            async def main() -> None:
                async with AsyncDeerAPI(api_key=KEY, base_url=trickle.url) as c:
                    await asyncio.wait_for(c.videos.poll("video_1", timeout=2), 30)

            run_isolated(main())

    assert _elapsed(call) < 2 + TOLERANCE


def test_the_backend_is_installed_in_the_clients_own_transport() -> None:
    # Pins the private httpcore attribute the limits rely on (see _deadline.install).
    with DeerAPI(api_key=KEY, base_url="http://127.0.0.1:1") as client:
        pool = client._http._transport._pool  # type: ignore[attr-defined]
        assert type(pool._network_backend).__name__ == "_Backend"


def test_a_plain_http_loopback_client_ignores_proxy_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.invalid:3128")
    monkeypatch.setenv("ALL_PROXY", "http://proxy.invalid:3128")
    with DeerAPI(api_key=KEY, base_url="http://127.0.0.1:1") as client:
        assert client._http._mounts == {}  # type: ignore[attr-defined]
    with httpx.Client() as plain:  # what the same environment does to a default httpx client
        assert plain._mounts  # type: ignore[attr-defined]
