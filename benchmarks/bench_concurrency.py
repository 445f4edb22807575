"""500 concurrent create_and_poll + download jobs against the mock: ours vs raw httpx asyncio.

The mock (``deerapi_videos_mock``, uvicorn + starlette) runs in its own process on a scaled
clock (8 mock-second jobs, 40x: about 0.2 s real), sends an ``openai-poll-after-ms`` hint of
50 ms, and serves 256 KiB videos. Each run gets a fresh mock and a fresh client process
(``_concurrency_worker.py``); runs alternate ours / raw. We report wall time, jobs/s, client
CPU per job, the client's worst event-loop stall, the mock's request counts, and the client's
TCP connections to the mock after it closed (target: none).
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

from _common import (
    HERE,
    PYTHON,
    Report,
    child_server,
    env_for_child,
    median,
    ours_available,
    verdict,
)

JOBS = 500
CONTENT = 256 * 1024
MOCK_ARGS = [
    "--speed",
    "40",
    "--job-duration",
    "8",
    "--content-size",
    str(CONTENT),
    "--poll-after-ms",
    "50",
]
NAMES = {
    "httpx": "raw httpx asyncio loop",
    "ours": "AsyncDeerAPI",
    "httpx_gated": "raw httpx + GatedTransport(100)",
    "ours_gated": "AsyncDeerAPI + GatedTransport(100)",
    "ours_gated_nofsync": "AsyncDeerAPI + GatedTransport(100), fsync off (diagnostic)",
}


def _one(impl: str, jobs: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="bench-cc-") as d:
        stats_path = Path(d) / "stats.json"
        workdir = Path(d) / "out"
        workdir.mkdir()
        with child_server([str(HERE / "_mock_server.py"), str(stats_path), *MOCK_ARGS]) as (
            base_url,
            port,
            _pid,
        ):
            proc = subprocess.run(
                [
                    PYTHON,
                    str(HERE / "_concurrency_worker.py"),
                    impl,
                    base_url,
                    str(port),
                    str(jobs),
                    str(workdir),
                ],
                capture_output=True,
                text=True,
                env=env_for_child(),
                timeout=600,
            )
        if proc.returncode != 0:
            raise RuntimeError(f"{impl} worker failed: {proc.stderr.strip().splitlines()[-3:]}")
        result: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
        result["mock"] = json.loads(stats_path.read_text())
        return result


def run(report: Report, quick: bool) -> None:
    if not ours_available():
        report.add("concurrency", "AsyncDeerAPI", "client not importable yet", verdict="n/a")
        return
    try:
        import deerapi_videos_mock  # noqa: F401
    except ImportError as exc:
        report.add("concurrency", "mock", f"not importable: {exc}", verdict="n/a")
        return
    impls = ["httpx", "ours", "httpx_gated", "ours_gated", "ours_gated_nofsync"]
    rounds, jobs = (1, 100) if quick else (3, JOBS)
    results: dict[str, list[dict[str, object]]] = {i: [] for i in impls}
    for r in range(rounds):
        for impl in impls[r % len(impls) :] + impls[: r % len(impls)]:
            os.sync()
            results[impl].append(_one(impl, jobs))
    base_wall = median([float(x["wall"]) for x in results["httpx"]])  # type: ignore[arg-type]
    for impl in impls:
        rs = results[impl]
        wall = median([float(x["wall"]) for x in rs])  # type: ignore[arg-type]
        cpu = median([float(x["cpu"]) for x in rs])  # type: ignore[arg-type]
        stall = max(float(x["max_stall_ms"]) for x in rs)  # type: ignore[arg-type]
        p99 = median([float(x["p99_stall_ms"]) for x in rs])  # type: ignore[arg-type]
        files_ok = all(
            x["files"] == jobs and x["sizes"] == [CONTENT] and not x["stray"] for x in rs
        )
        left = [x["left_open"] for x in rs]
        during = rs[-1]["open_during"]
        reqs = rs[-1]["mock"]["requests"]  # type: ignore[index]
        total_reqs = sum(reqs.values())  # type: ignore[union-attr]
        retrieves = sum(v for k, v in reqs.items() if k.startswith("GET /v1/videos/{id} "))  # type: ignore[union-attr]
        non200 = {k: v for k, v in reqs.items() if not k.endswith(" 200")}  # type: ignore[union-attr]
        report.add(
            "concurrency",
            f"{jobs} jobs wall, {NAMES[impl]}",
            f"{wall:.2f} s ({jobs / wall:.0f} jobs/s)",
            ratio=f"{wall / base_wall:.2f}x",
            note=f"{rounds} run(s); files ok: {files_ok}; {total_reqs} requests "
            f"({retrieves / jobs:.1f} retrieves/job)" + (f"; non-200: {non200}" if non200 else ""),
        )
        report.add(
            "concurrency",
            f"client CPU per job, {NAMES[impl]}",
            f"{cpu / jobs * 1e3:.2f} ms",
            note=f"event loop stall max {stall:.0f} ms, p99 {p99:.1f} ms",
        )
        report.add(
            "concurrency",
            f"TCP connections left open after close, {NAMES[impl]}",
            "none" if not any(left) else str(left),
            target="none",
            verdict=verdict(not any(left)),
            note=f"while open: {during}",
        )
