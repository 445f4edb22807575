"""Per-call overhead of retrieve and create: ours vs raw httpx vs the OpenAI SDK.

All contestants talk to the same canned server, which runs in its own process. Rounds are
interleaved (the order rotates every round) so background load hits every contestant alike;
each round times N sequential calls on one warm keep-alive connection. We report the median
over rounds of wall time per call and of this process's CPU time per call (client cost only:
the server's CPU is in another process).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from _common import API_KEY, Report, canned_server, median, ours_available, spread, verdict
from _png import png

VIDEO_ID = "video_68d7512d07848190b3e45da0ecbebcde004da08e1e0678d5"
SIZE = "720x1280"
FRAME = png(720, 1280)
PREREAD = "raw httpx, body pre-read"
FORM = {"prompt": "a cat on a piano", "model": "sora-2", "seconds": "4", "size": SIZE}


@dataclass
class Contestant:
    name: str
    retrieve: Callable[[], object]
    create: Callable[[], object]
    close: Callable[[], None]


def raw_httpx(base_url: str) -> Contestant:
    import httpx

    client = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {API_KEY}"})

    def retrieve() -> object:
        r = client.get(f"/v1/videos/{VIDEO_ID}")
        r.raise_for_status()
        return r.json()

    def create() -> object:
        r = client.post(
            "/v1/videos",
            data=FORM,
            files={"input_reference": ("frame.png", FRAME, "image/png")},
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        r.raise_for_status()
        return r.json()

    return Contestant("raw httpx", retrieve, create, client.close)


def raw_httpx_preread(base_url: str) -> Contestant:
    """create only: the same request, but the multipart body is read into memory before sending
    (``build_request`` + ``read`` + ``send``), as our client does so every retry sends the same
    bytes. httpx then writes it in one go instead of one socket write per multipart piece."""
    import httpx

    client = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {API_KEY}"})

    def create() -> object:
        request = client.build_request(
            "POST",
            "/v1/videos",
            data=FORM,
            files={"input_reference": ("frame.png", FRAME, "image/png")},
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        request.read()
        r = client.send(request)
        r.raise_for_status()
        return r.json()

    return Contestant(PREREAD, create, create, client.close)


def openai_sdk(base_url: str) -> Contestant:
    import openai

    client = openai.OpenAI(api_key=API_KEY, base_url=f"{base_url}/v1")

    def retrieve() -> object:
        return client.videos.retrieve(VIDEO_ID)

    def create() -> object:
        return client.videos.create(
            prompt=FORM["prompt"],
            model="sora-2",
            seconds="4",
            size=SIZE,
            input_reference=("frame.png", FRAME, "image/png"),
        )

    return Contestant(f"openai {openai.__version__}", retrieve, create, client.close)


def ours(base_url: str) -> Contestant:
    from deerapi_videos import DeerAPI

    client = DeerAPI(api_key=API_KEY, base_url=base_url)

    def retrieve() -> object:
        return client.videos.retrieve(VIDEO_ID)

    def create() -> object:
        return client.videos.create(
            prompt=FORM["prompt"],
            model="sora-2",
            seconds="4",
            size=SIZE,
            input_reference=("frame.png", FRAME, "image/png"),
        )

    return Contestant("deerapi_videos", retrieve, create, client.close)


def _time_calls(fn: Callable[[], object], n: int) -> tuple[float, float]:
    """(wall µs per call, CPU µs per call) over n calls."""
    c0 = time.process_time()
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    t1 = time.perf_counter()
    c1 = time.process_time()
    return (t1 - t0) / n * 1e6, (c1 - c0) / n * 1e6


def run(report: Report, quick: bool) -> None:
    rounds, calls = (9, 150) if quick else (21, 400)
    with canned_server() as (base_url, _port, _pid):
        common = [raw_httpx(base_url), openai_sdk(base_url)]
        if ours_available():
            common.insert(1, ours(base_url))
        else:
            report.add("overhead", "deerapi_videos", "client not importable yet", verdict="n/a")
        preread = raw_httpx_preread(base_url)
        try:
            for op in ("retrieve", "create"):
                contestants = common + ([preread] if op == "create" else [])
                for c in contestants:  # warm-up: connections, caches, lazy imports
                    _time_calls(getattr(c, op), 50)
                wall: dict[str, list[float]] = {c.name: [] for c in contestants}
                cpu: dict[str, list[float]] = {c.name: [] for c in contestants}
                for r in range(rounds):
                    order = (
                        contestants[r % len(contestants) :] + contestants[: r % len(contestants)]
                    )
                    for c in order:
                        w, p = _time_calls(getattr(c, op), calls)
                        wall[c.name].append(w)
                        cpu[c.name].append(p)
                _report_op(report, op, contestants, wall, cpu, rounds, calls)
        finally:
            for c in [*common, preread]:
                c.close()


def _report_op(
    report: Report,
    op: str,
    contestants: list[Contestant],
    wall: dict[str, list[float]],
    cpu: dict[str, list[float]],
    rounds: int,
    calls: int,
) -> None:
    base = contestants[0].name
    bw, bc = median(wall[base]), median(cpu[base])
    for c in contestants:
        w, p = median(wall[c.name]), median(cpu[c.name])
        target, ok = "", None
        if c.name == "deerapi_videos":
            target, ok = "<= 1.15x raw", w / bw <= 1.15
        elif c.name.startswith("openai"):
            target = "(1.3-1.8x typical)"
        report.add(
            "overhead",
            f"{op} wall/call, {c.name}",
            f"{w:.0f} µs",
            ratio=f"{w / bw:.2f}x" if c.name != base else "1.00x",
            target=target,
            verdict=verdict(ok) if ok is not None else "",
            note=f"{rounds}x{calls} calls, {spread(wall[c.name])}"
            + (
                f"; {w / median(wall[PREREAD]):.2f}x raw pre-read"
                if c.name == "deerapi_videos" and PREREAD in wall
                else ""
            ),
        )
    for c in contestants:
        p = median(cpu[c.name])
        report.add(
            "overhead",
            f"{op} client CPU/call, {c.name}",
            f"{p:.0f} µs",
            ratio=f"{p / bc:.2f}x" if c.name != base else "1.00x",
            note=spread(cpu[c.name])
            + (
                f"; {p / median(cpu[PREREAD]):.2f}x raw pre-read"
                if c.name == "deerapi_videos" and PREREAD in cpu
                else ""
            ),
        )
