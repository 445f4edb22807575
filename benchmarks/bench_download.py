"""Download throughput and peak RSS: our download_content vs raw httpx streaming to a file.

The canned server (own process) generates the body chunk by chunk with flow control, so the
server never holds the file. Each download runs in a fresh process (``_download_worker.py``)
so peak RSS belongs to that one download. Rounds interleave ours / httpx (order alternating),
and the written file is checked for its size and deleted after every download; ``os.sync()``
runs before each download so none pays for another's write-back. Files go to a temporary
directory on disk (as a real download would), so throughput includes the page cache and,
for the fsync'ing contestants, the disk.
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
    canned_server,
    env_for_child,
    median,
    ours_available,
    spread,
    verdict,
)

MiB = 1 << 20
SIZES = {"64 MiB": 64 * MiB, "1 GiB": 1024 * MiB}
NAMES = {
    "httpx": "raw httpx stream+iter_bytes",
    "httpx_fsync": "raw httpx + fsync (same durability as ours)",
    "ours": "deerapi_videos download_content",
}


def _one(impl: str, base_url: str, size: int, workdir: Path) -> dict[str, float]:
    out = workdir / f"{impl}.mp4"
    # Start every download from the same page-cache state: earlier downloads' dirty pages
    # would otherwise be written back during (and charged to) whichever download runs next.
    os.sync()
    proc = subprocess.run(
        [
            PYTHON,
            str(HERE / "_download_worker.py"),
            impl,
            base_url,
            f"video_bytes_{size}",
            str(out),
        ],
        check=True,
        capture_output=True,
        text=True,
        env=env_for_child(),
        timeout=600,
    )
    result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    if result["bytes"] != size:
        raise RuntimeError(f"{impl} wrote {result['bytes']} bytes, expected {size}")
    out.unlink()
    leftovers = list(workdir.iterdir())
    if leftovers:
        raise RuntimeError(f"{impl} left files behind: {leftovers}")
    return result


def run(report: Report, quick: bool) -> None:
    impls = ["httpx", "httpx_fsync"] + (["ours"] if ours_available() else [])
    if "ours" not in impls:
        report.add("download", "deerapi_videos", "client not importable yet", verdict="n/a")
    plan = {"64 MiB": 3, "1 GiB": 1} if quick else {"64 MiB": 9, "1 GiB": 5}
    peaks: dict[str, dict[str, float]] = {i: {} for i in impls}
    with (
        canned_server() as (base_url, _port, _pid),
        tempfile.TemporaryDirectory(prefix="bench-dl-") as d,
    ):
        workdir = Path(d)
        for label, rounds in plan.items():
            size = SIZES[label]
            speed: dict[str, list[float]] = {i: [] for i in impls}
            peak: dict[str, list[float]] = {i: [] for i in impls}
            grow: dict[str, list[float]] = {i: [] for i in impls}
            for r in range(rounds):
                for impl in impls[r % len(impls) :] + impls[: r % len(impls)]:
                    res = _one(impl, base_url, size, workdir)
                    speed[impl].append(size / res["elapsed"] / MiB)
                    peak[impl].append(res["peak_rss"] / MiB)
                    grow[impl].append((res["peak_rss"] - res["rss_before"]) / MiB)
            base = median(speed["httpx"])
            for impl in impls:
                s = median(speed[impl])
                name = NAMES[impl]
                ok = s / base >= 0.9 if impl == "ours" else None
                report.add(
                    "download",
                    f"{label} throughput, {name}",
                    f"{s:.0f} MiB/s",
                    ratio=f"{s / base:.2f}x",
                    target=">= 0.9x raw httpx" if impl == "ours" else "",
                    verdict=verdict(ok) if ok is not None else "",
                    note="; ".join(
                        x
                        for x in (
                            f"{rounds} rounds",
                            spread(speed[impl]),
                            f"{s / median(speed['httpx_fsync']):.2f}x raw httpx + fsync"
                            if impl == "ours"
                            else "",
                        )
                        if x
                    ),
                )
                peaks[impl][label] = median(peak[impl])
                report.add(
                    "download",
                    f"{label} peak RSS, {name}",
                    f"{median(peak[impl]):.1f} MiB",
                    note=f"+{median(grow[impl]):.1f} MiB during the download",
                )
    for impl in impls:
        if len(peaks[impl]) == 2:
            diff = peaks[impl]["1 GiB"] - peaks[impl]["64 MiB"]
            name = NAMES[impl]
            report.add(
                "download",
                f"peak RSS 1 GiB minus 64 MiB, {name}",
                f"{diff:+.1f} MiB",
                target="within 10 MiB",
                verdict=verdict(abs(diff) <= 10),
            )
