"""Run the mock as a standalone server: ``python -m deerapi_videos_mock --port 4010``."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable, Iterable, Sequence

from ._clock import ScaledClock
from ._mock import DEFECTS, UNSERVABLE, MockDeerAPI
from ._shapes import SHAPES

__all__ = ["main", "run"]


def run(
    host: str = "127.0.0.1",
    port: int = 4010,
    api_key: str | None = "sk-mock",
    speed: float = 60.0,
    *,
    job_duration: float = 8.0,
    advance_on_retrieve: float = 0.0,
    content_size: int | None = None,
    seed: int | None = None,
    defects: Iterable[str] = (),
    response_shape: str = "deerapi",
    unserved: Iterable[str] = (),
    log_level: str = "info",
    announce: Callable[[str], None] | None = None,
) -> None:
    """Serve a fresh :class:`MockDeerAPI` on ``host:port`` until Ctrl-C.

    Jobs run on a :class:`ScaledClock`: one real second is ``speed`` mock seconds (with the
    defaults an 8-second job completes in about 0.13 s). ``announce`` gets the base URL once
    the socket is bound (default: print it to stderr).
    """
    from ._server import bind_socket, serve_forever, socket_url

    mock = MockDeerAPI(
        api_key=api_key,
        clock=ScaledClock(speed=speed),
        job_duration=job_duration,
        seed=seed,
        advance_on_retrieve=advance_on_retrieve,
        content_size=content_size,
        defects=defects,
        response_shape=response_shape,
        unserved=unserved,
    )
    sock = bind_socket(host, port)  # bound here so port 0 reports the real port
    url = socket_url(sock)
    if announce is None:
        print(f"mock DeerAPI listening on {url} (key: {api_key or 'any'})", file=sys.stderr)
    else:
        announce(url)
    with contextlib.suppress(KeyboardInterrupt):
        serve_forever(mock.app, sock, log_level=log_level)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m deerapi_videos_mock", description="Serve the mock DeerAPI video API."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4010)
    parser.add_argument("--api-key", default="sk-mock", help="accepted key ('' accepts any key)")
    parser.add_argument("--speed", type=float, default=60.0, help="mock seconds per real second")
    parser.add_argument("--job-duration", type=float, default=8.0, help="mock seconds per job")
    parser.add_argument("--advance-on-retrieve", type=float, default=0.0)
    parser.add_argument("--content-size", type=int, default=None, help="MP4 size in bytes")
    parser.add_argument("--seed", type=int, default=None, help="deterministic ids")
    parser.add_argument(
        "--defect", action="append", default=[], choices=sorted(DEFECTS), help="plant a defect"
    )
    parser.add_argument(
        "--response-shape", default="deerapi", choices=sorted(SHAPES), help="how answers look"
    )
    parser.add_argument(
        "--unserved",
        action="append",
        default=[],
        choices=sorted(UNSERVABLE),
        help="answer this operation as a server without the route (404)",
    )
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    run(
        args.host,
        args.port,
        args.api_key or None,
        args.speed,
        job_duration=args.job_duration,
        advance_on_retrieve=args.advance_on_retrieve,
        content_size=args.content_size,
        seed=args.seed,
        defects=args.defect,
        response_shape=args.response_shape,
        unserved=args.unserved,
        log_level=args.log_level,
    )
    return 0
