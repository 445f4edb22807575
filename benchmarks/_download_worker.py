"""One download in a fresh process; prints a JSON line with time, bytes and peak RSS.

    python benchmarks/_download_worker.py {ours|httpx} BASE_URL VIDEO_ID OUT_PATH

Peak RSS is ``ru_maxrss`` of this process (the kernel's exact high-water mark), and
``rss_before`` is the resident size just before the download starts (after imports and client
construction), so ``peak - rss_before`` is what the download itself added.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from pathlib import Path

API_KEY = "sk-bench-not-a-secret"


def _rss_now() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def main() -> None:
    impl, base_url, video_id, out = sys.argv[1:5]
    target = Path(out)
    if impl == "httpx":
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
            os.replace(tmp, target)

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
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    print(json.dumps({"elapsed": elapsed, "bytes": size, "peak_rss": peak, "rss_before": rss_before}))


if __name__ == "__main__":
    main()
