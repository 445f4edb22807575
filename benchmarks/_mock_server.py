"""Serve the project's MockDeerAPI in its own process for the concurrency benchmark.

    python benchmarks/_mock_server.py STATS_JSON [--speed S] [--job-duration D]
                                      [--content-size N] [--poll-after-ms MS]

Prints ``PORT <n>`` once listening; when stdin closes it writes the mock's counters (requests
by operation and status, paid jobs) to STATS_JSON and exits.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys

API_KEY = "sk-bench-not-a-secret"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("stats")
    parser.add_argument("--speed", type=float, default=40.0)
    parser.add_argument("--job-duration", type=float, default=8.0)
    parser.add_argument("--content-size", type=int, default=256 * 1024)
    parser.add_argument("--poll-after-ms", type=int, default=None)
    args = parser.parse_args()

    from deerapi_videos_mock import MockDeerAPI, ScaledClock

    mock = MockDeerAPI(
        api_key=API_KEY,
        clock=ScaledClock(speed=args.speed),
        job_duration=args.job_duration,
        content_size=args.content_size,
        poll_after_ms=args.poll_after_ms,
    )
    with mock.serve(host="127.0.0.1", port=0) as base_url:
        print(f"PORT {base_url.rsplit(':', 1)[1]}", flush=True)
        sys.stdin.read()  # until the parent closes our stdin
    counts = collections.Counter(f"{r.method} {_shape(r.path)} {r.status}" for r in mock.requests)
    with open(args.stats, "w") as f:
        json.dump({"requests": dict(counts), "paid_jobs": len(mock.paid_jobs)}, f)


def _shape(path: str) -> str:
    parts = path.strip("/").split("/")
    if len(parts) >= 3:
        parts[2] = "{id}"
    return "/" + "/".join(parts)


if __name__ == "__main__":
    main()
