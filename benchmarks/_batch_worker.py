"""One batch of N jobs in a fresh process; prints one JSON line.

    python benchmarks/_batch_worker.py IMPL BASE_URL N CONCURRENCY WORKDIR

IMPL is ``batch``, ``batch_memory``, ``openai``, ``threads`` or ``threads_plain``.

``batch``: ``deerapi_videos_batch.run_batch`` with its ledger on disk (durability ``full``).
``batch_memory``: the same with the ledger in memory (no file, no fsync): the baseline for the
ledger's overhead. ``openai``: the obvious alternative, ``asyncio.gather`` over the OpenAI
SDK's ``videos.create_and_poll`` + ``download_content`` (bytes written to a file), at most
CONCURRENCY at once (a semaphore), with the SDK's defaults (2 retries, 1 s polls); its create
gets ``Content-Type: multipart/form-data`` (without a file the SDK sends JSON, which the API
refuses). ``threads``: CONCURRENCY threads sharing one blocking ``DeerAPI`` that sends through
``SyncScheduledTransport``, each job through ``LedgeredVideos`` (ledger on disk): create, poll
(the client's own polling: the server's hint, else its backoff), download; a job holds a slot
of the scheduler's window from its create to its download. ``threads_plain``: the same threads
and ledger with a plain ``DeerAPI`` (no shared scheduler).

Job ``i`` has the prompt ``bench job i`` and seconds 4, 8, 12 in turn. Reported: wall time,
videos saved (by job index), failures by exception type.
"""

from __future__ import annotations

import asyncio
import collections
import json
import sys
import time
from pathlib import Path

API_KEY = "sk-bench-not-a-secret"
SECONDS = ("4", "8", "12")


async def run_batch(base_url: str, n: int, concurrency: int, workdir: Path, disk: bool) -> dict:
    from deerapi_videos_batch import BatchJob, BatchOptions, run_batch

    jobs = [
        BatchJob(line=i + 1, prompt=f"bench job {i}", id=f"job-{i:05d}", seconds=SECONDS[i % 3])
        for i in range(n)
    ]
    options = BatchOptions(
        out_dir=workdir / "out",
        ledger_path=workdir / "jobs.ledger.sqlite" if disk else None,
        concurrency=concurrency,
    )
    started = time.perf_counter()
    result = await run_batch(jobs, options, api_key=API_KEY, base_url=base_url)
    wall = time.perf_counter() - started
    saved = sorted(int(o.id.split("-")[1]) for o in result.outcomes if o.state == "downloaded")
    return {
        "wall": wall,
        "saved": saved,
        "failures": {k: v for k, v in result.totals.items() if k != "downloaded"},
        "exit_code": result.exit_code,
        "client": result.requests,
    }


async def run_openai(base_url: str, n: int, concurrency: int, workdir: Path) -> dict:
    from openai import AsyncOpenAI

    client = AsyncOpenAI(api_key=API_KEY, base_url=base_url + "/v1")
    gate = asyncio.Semaphore(concurrency)
    saved: list[int] = []
    failures: collections.Counter[str] = collections.Counter()
    out = workdir / "out"
    out.mkdir(parents=True, exist_ok=True)

    async def job(i: int) -> None:
        async with gate:
            try:
                video = await client.videos.create_and_poll(
                    prompt=f"bench job {i}",
                    model="sora-2",
                    seconds=SECONDS[i % 3],
                    # The SDK sends JSON unless a file is attached; the API takes multipart.
                    # This header is the SDK's own way to force a multipart body.
                    extra_headers={"Content-Type": "multipart/form-data"},
                )
                if video.status != "completed":
                    failures[f"status {video.status}"] += 1
                    return
                content = await client.videos.download_content(video.id)
                (out / f"job-{i:05d}.mp4").write_bytes(content.content)
                saved.append(i)
            except Exception as exc:  # the alternative's failures are what we count
                failures[type(exc).__name__] += 1

    started = time.perf_counter()
    await asyncio.gather(*(job(i) for i in range(n)))
    wall = time.perf_counter() - started
    await client.close()
    return {"wall": wall, "saved": sorted(saved), "failures": dict(failures), "exit_code": None}


def run_threads(base_url: str, n: int, concurrency: int, workdir: Path, scheduled: bool) -> dict:
    from concurrent.futures import ThreadPoolExecutor

    import httpx
    from deerapi_videos import DeerAPI
    from deerapi_videos.ledger import JobLedger, LedgeredVideos
    from deerapi_videos_batch import Scheduler, SyncScheduledTransport

    scheduler = Scheduler(concurrency=concurrency)
    limits = httpx.Limits(max_connections=concurrency + 8, max_keepalive_connections=concurrency)
    transport = (
        SyncScheduledTransport(scheduler, limits=limits)
        if scheduled
        else httpx.HTTPTransport(limits=limits)
    )
    out = workdir / "out"
    out.mkdir(parents=True, exist_ok=True)
    saved: list[int] = []
    failures: collections.Counter[str] = collections.Counter()

    def job(i: int) -> None:
        key = f"job-{i:05d}"
        if scheduled:
            scheduler.acquire_slot_blocking()
        try:
            videos.create(prompt=f"bench job {i}", seconds=SECONDS[i % 3], job_key=key)
            if scheduled:
                scheduler.job_accepted()
            video = videos.poll(key, timeout=3600.0)
            if video.status != "completed":
                failures[f"status {video.status}"] += 1
                return
            videos.download_content(key, out / f"{key}.mp4")
            saved.append(i)
        except Exception as exc:  # counted, as for the other contestants
            failures[type(exc).__name__] += 1
        finally:
            if scheduled:
                scheduler.release_slot()

    started = time.perf_counter()
    with (
        DeerAPI(api_key=API_KEY, base_url=base_url, transport=transport) as client,
        JobLedger(workdir / "jobs.ledger.sqlite") as ledger,
        ThreadPoolExecutor(concurrency) as pool,
    ):
        videos = LedgeredVideos(client, ledger)
        list(pool.map(job, range(n)))
    wall = time.perf_counter() - started
    stats = scheduler.stats
    return {
        "wall": wall,
        "saved": sorted(saved),
        "failures": dict(failures),
        "exit_code": None,
        "client": {
            "rate_limited": stats.rate_limited,
            "concurrency_limited": stats.concurrency_limited,
        },
    }


def main() -> None:
    impl, base_url, n, concurrency, workdir = sys.argv[1:6]
    path = Path(workdir)
    if impl == "openai":
        result = asyncio.run(run_openai(base_url, int(n), int(concurrency), path))
    elif impl.startswith("threads"):
        result = run_threads(base_url, int(n), int(concurrency), path, impl == "threads")
    else:
        result = asyncio.run(
            run_batch(base_url, int(n), int(concurrency), path, disk=impl == "batch")
        )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
