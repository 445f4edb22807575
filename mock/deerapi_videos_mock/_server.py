"""Serve the mock over a real socket: uvicorn in a background thread, or in the foreground.

The server's HTTP protocol is uvicorn's h11 protocol plus a registry of open connections, so a
fault can close the connection of the request it is handling (a drop without any response, or
a download cut after ``k`` bytes): the app finds the close callable under
``scope["extensions"][ABORT_EXTENSION]``.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from typing import TYPE_CHECKING, Any

from starlette.types import ASGIApp, Receive, Scope, Send

from ._app import ABORT_EXTENSION

if TYPE_CHECKING:
    import uvicorn

__all__ = ["LoopbackServer", "bind_socket", "serve_forever", "socket_url", "with_connection_abort"]


class _Connections:
    def __init__(self) -> None:
        self.transports: dict[tuple[str, int], asyncio.BaseTransport] = {}


def _key(address: Any) -> tuple[str, int] | None:
    if isinstance(address, list | tuple) and len(address) >= 2:
        return str(address[0]), int(address[1])
    return None


def _protocol_class(connections: _Connections) -> type[asyncio.Protocol]:
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class AbortableH11Protocol(H11Protocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            key = _key(transport.get_extra_info("peername"))
            if key is not None:
                connections.transports[key] = transport

        def connection_lost(self, exc: Exception | None) -> None:
            key = _key(self.transport.get_extra_info("peername"))
            if key is not None and connections.transports.get(key) is self.transport:
                del connections.transports[key]
            super().connection_lost(exc)

    return AbortableH11Protocol


def with_connection_abort(app: ASGIApp, connections: _Connections) -> ASGIApp:
    """Wrap ``app`` so each HTTP scope carries a callable that closes its connection."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            key = _key(scope.get("client"))
            transport = connections.transports.get(key) if key is not None else None
            if transport is not None:
                extensions = dict(scope.get("extensions") or {})
                extensions[ABORT_EXTENSION] = transport.close
                scope = {**scope, "extensions": extensions}
        await app(scope, receive, send)

    return wrapped


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening-ready TCP socket bound to ``host:port`` (port 0: a free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on accepted sockets whose proto says
    # TCP, and without it every keep-alive request stalls ~40 ms (Nagle + delayed ACK).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def _config(app: ASGIApp, connections: _Connections, log_level: str) -> uvicorn.Config:
    import uvicorn

    return uvicorn.Config(
        with_connection_abort(app, connections),
        http=_protocol_class(connections),
        loop="asyncio",
        ws="none",
        lifespan="off",
        interface="asgi3",
        log_config=None,
        log_level=log_level,
        access_log=False,
        timeout_graceful_shutdown=1,
    )


def socket_url(sock: socket.socket) -> str:
    """``http://host:port`` of a bound socket."""
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


class LoopbackServer:
    """uvicorn serving an ASGI app in a daemon thread. ``start()`` returns once it listens."""

    def __init__(
        self, app: ASGIApp, host: str = "127.0.0.1", port: int = 0, log_level: str = "warning"
    ) -> None:
        import uvicorn

        self._connections = _Connections()
        self._sock = bind_socket(host, port)
        self.base_url = socket_url(self._sock)
        self.port: int = self._sock.getsockname()[1]
        self._server = uvicorn.Server(_config(app, self._connections, log_level))
        self._thread = threading.Thread(
            target=self._run, name=f"deerapi-mock-{self.port}", daemon=True
        )
        self._error: BaseException | None = None

    def _run(self) -> None:
        try:
            asyncio.run(self._server.serve(sockets=[self._sock]))
        except BaseException as exc:  # pragma: no cover - reported by start()
            self._error = exc

    def start(self, timeout: float = 10.0) -> None:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the mock server did not start: {self._error!r}")
            time.sleep(0.002)

    def stop(self, timeout: float = 5.0) -> None:
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout)
        if self._thread.is_alive():  # pragma: no cover - a stuck download
            self._server.force_exit = True
            self._thread.join(timeout)
        self._sock.close()

    def __enter__(self) -> LoopbackServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_forever(app: ASGIApp, sock: socket.socket, log_level: str = "info") -> None:
    """Serve ``app`` on the bound ``sock`` in the foreground until Ctrl-C (uvicorn's signal
    handling); closes the socket."""
    import uvicorn

    connections = _Connections()
    server = uvicorn.Server(_config(app, connections, log_level))
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
