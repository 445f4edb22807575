"""One download in a fresh process; prints a JSON line with time, bytes and peak RSS.

    python benchmarks/_download_worker.py {ours|httpx} BASE_URL VIDEO_ID OUT_PATH

Peak RSS is ``VmHWM`` from ``/proc/self/status``: the kernel's exact high-water mark of this
process's own memory. (Not ``ru_maxrss``: Linux carries it across ``execve`` from the parent
that spawned us, so a big parent would hide the child's figure.) ``rss_before`` is the resident
size just before the download starts (after imports and client construction), so
``peak - rss_before`` is what the download itself added.

Implementations: ``ours`` (``download_content``), ``httpx`` (``client.stream`` + ``iter_bytes``
to a ``.part`` file, then rename: the idiomatic raw loop), ``httpx_fsync`` (the same, plus
``fsync`` of the file and its directory: the same durability ``download_content`` promises).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

API_KEY = "sk-bench-not-a-secret"


def _rss_now() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _peak_rss() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024  # kB
    raise RuntimeError("no VmHWM in /proc/self/status")


def main() -> None:
    impl, base_url, video_id, out = sys.argv[1:5]
    target = Path(out)
    if impl in ("httpx", "httpx_fsync"):
        import httpx

        client = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {API_KEY}"})

        def download() -> None:
            tmp = target.with_name(target.name + ".part")
            with client.stream(
                "GET", f"/v1/videos/{video_id}/content", params={"variant": "video"}
            ) as r:
                r.raise_for_status()
                with open(tmp, "wb") as f:
                    for chunk in r.iter_bytes():
                        f.write(chunk)
                    if impl == "httpx_fsync":
                        f.flush()
                        os.fsync(f.fileno())
            os.replace(tmp, target)
            if impl == "httpx_fsync":
                dir_fd = os.open(target.parent, os.O_RDONLY)
                try:
                    os.fsync(dir_fd)
                finally:
                    os.close(dir_fd)

    elif impl == "ours":
        from deerapi_videos import DeerAPI

        client = DeerAPI(api_key=API_KEY, base_url=base_url)  # type: ignore[assignment]

        def download() -> None:
            client.videos.download_content(video_id, target, variant="video")  # type: ignore[attr-defined]

    else:
        raise SystemExit(f"unknown implementation {impl!r}")

    rss_before = _rss_now()
    t0 = time.perf_counter()
    download()
    elapsed = time.perf_counter() - t0
    client.close()
    size = target.stat().st_size
    peak = _peak_rss()
    print(
        json.dumps({"elapsed": elapsed, "bytes": size, "peak_rss": peak, "rss_before": rss_before})
    )


if __name__ == "__main__":
    main()
