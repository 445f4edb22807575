"""N concurrent create -> poll -> download jobs in a fresh process; prints one JSON line.

    python benchmarks/_concurrency_worker.py {ours|httpx}[_gated] BASE_URL PORT N WORKDIR

``ours`` uses ``AsyncDeerAPI.videos.create_and_poll`` + ``download_content``. ``httpx`` is the
hand-written equivalent on one ``httpx.AsyncClient`` with the same request pattern: POST, then
retrieve at once and after each wait (the server's ``openai-poll-after-ms`` hint, else 1 s
growing x1.5 to 10 s, as ours), then stream the content to a ``.part`` file and rename it.
Both use httpx's default connection limits and a 60 s timeout. The ``_gated`` variants put
:class:`GatedTransport` under the same code: at most 100 requests (the pool's size) are handed
to httpcore at once, the rest wait on an asyncio semaphore instead of in httpcore's queue.
``_nofsync`` (diagnostic, not a contestant) replaces ``os.fsync`` with a no-op in this process,
to measure what ``download_content``'s fsync, run on the event loop, costs.

Reported: wall time, this process's CPU time, the event loop's longest stall (a 5 ms ticker's
worst lateness: blocking work on the loop shows up here), files written, and this process's
TCP connections to the server port while the client is open and after it is closed.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
import uuid
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

API_KEY = "sk-bench-not-a-secret"
FORM = {"prompt": "a cat on a piano", "model": "sora-2", "seconds": "4", "size": "720x1280"}


def _connections(port: int) -> dict[str, int]:
    counts: dict[str, int] = {}
    for c in psutil.Process().net_connections(kind="tcp"):
        if c.raddr and c.raddr.port == port:
            counts[c.status] = counts.get(c.status, 0) + 1
    return counts


async def _ticker(stalls: list[float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        t0 = time.perf_counter()
        await asyncio.sleep(0.005)
        stalls.append(time.perf_counter() - t0 - 0.005)


def _http_client(gated: bool) -> object:
    import httpx
    from _gate import GatedTransport

    if not gated:
        return None
    return httpx.AsyncClient(
        transport=GatedTransport(httpx.AsyncHTTPTransport(), 100), timeout=60.0
    )


async def run_ours(
    base_url: str, port: int, n: int, workdir: Path, gated: bool
) -> dict[str, object]:
    from deerapi_videos import AsyncDeerAPI

    async with AsyncDeerAPI(
        api_key=API_KEY,
        base_url=base_url,
        timeout=60.0,
        http_client=_http_client(gated),  # type: ignore[arg-type]
    ) as client:

        async def job(i: int) -> None:
            video = await client.videos.create_and_poll(
                prompt=FORM["prompt"], model="sora-2", seconds="4", size="720x1280"
            )
            await client.videos.download_content(video.id, workdir / f"job{i}.mp4")

        await asyncio.gather(*(job(i) for i in range(n)))
        open_during = _connections(port)
    return {"open_during": open_during}


async def run_httpx(
    base_url: str, port: int, n: int, workdir: Path, gated: bool
) -> dict[str, object]:
    import httpx
    from _gate import GatedTransport

    transport = GatedTransport(httpx.AsyncHTTPTransport(), 100) if gated else None
    async with httpx.AsyncClient(
        base_url=base_url,
        headers={"Authorization": f"Bearer {API_KEY}"},
        timeout=60.0,
        transport=transport,
    ) as client:

        async def job(i: int) -> None:
            r = await client.post(
                "/v1/videos",
                files={k: (None, v) for k, v in FORM.items()},  # multipart/form-data, no file
                headers={"Idempotency-Key": str(uuid.uuid4())},
            )
            r.raise_for_status()
            video_id = r.json()["id"]
            interval = 1.0
            while True:
                r = await client.get(f"/v1/videos/{video_id}")
                r.raise_for_status()
                status = r.json()["status"]
                if status == "completed":
                    break
                if status in ("failed", "expired", "cancelled", "canceled"):
                    raise RuntimeError(f"{video_id} {status}")
                hint = r.headers.get("openai-poll-after-ms")
                if hint and hint.isdigit():
                    await asyncio.sleep(int(hint) / 1000)
                else:
                    await asyncio.sleep(interval)
                    interval = min(interval * 1.5, 10.0)
            target = workdir / f"job{i}.mp4"
            tmp = target.with_name(target.name + ".part")
            async with client.stream(
                "GET", f"/v1/videos/{video_id}/content", params={"variant": "video"}
            ) as r:
                r.raise_for_status()
                with open(tmp, "wb") as f:
                    async for chunk in r.aiter_bytes():
                        f.write(chunk)
            os.replace(tmp, target)

        await asyncio.gather(*(job(i) for i in range(n)))
        open_during = _connections(port)
    return {"open_during": open_during}


async def main_async(
    impl: str, base_url: str, port: int, n: int, workdir: Path
) -> dict[str, object]:
    stalls: list[float] = []
    stop = asyncio.Event()
    ticker = asyncio.create_task(_ticker(stalls, stop))
    if impl.endswith("_nofsync"):  # diagnostic only: what the loop-blocking fsyncs cost
        os.fsync = lambda fd: None
        impl = impl.removesuffix("_nofsync")
    runner = run_ours if impl.startswith("ours") else run_httpx
    c0 = time.process_time()
    t0 = time.perf_counter()
    result = await runner(base_url, port, n, workdir, impl.endswith("_gated"))
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0
    stop.set()
    await ticker
    stalls.sort()
    result.update(
        wall=wall,
        cpu=cpu,
        max_stall_ms=stalls[-1] * 1e3 if stalls else 0.0,
        p99_stall_ms=stalls[int(len(stalls) * 0.99)] * 1e3 if stalls else 0.0,
    )
    return result


def main() -> None:
    impl, base_url, port_s, n_s, workdir_s = sys.argv[1:6]
    port, n, workdir = int(port_s), int(n_s), Path(workdir_s)
    result = asyncio.run(main_async(impl, base_url, port, n, workdir))
    # After the client is closed: give the kernel a moment, then count what is still ours.
    deadline = time.monotonic() + 2.0
    left = _connections(port)
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = _connections(port)
    files = sorted(p for p in workdir.iterdir())
    result.update(
        left_open=left,
        files=len([p for p in files if p.suffix == ".mp4"]),
        stray=[p.name for p in files if p.suffix != ".mp4"][:5],
        sizes=sorted({p.stat().st_size for p in files}),
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
