"""Serve the project's mock behind its limits (``LimitedMock``) in its own process.

    python benchmarks/_limited_mock_server.py STATS_JSON [--rate R] [--burst B]
        [--max-running N] [--speed S] [--job-duration D] [--spread X]
        [--content-size N] [--no-headers] [--no-replay]

Prints ``PORT <n>`` once listening; when stdin closes it writes the mock's counters (requests
by operation and status, 429s, POSTs, paid jobs per prompt, duplicates) to STATS_JSON.
"""

from __future__ import annotations

import argparse
import json
import sys

API_KEY = "sk-bench-not-a-secret"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("stats")
    parser.add_argument("--rate", type=float, default=None)
    parser.add_argument("--burst", type=int, default=10)
    parser.add_argument("--max-running", type=int, default=None)
    parser.add_argument("--speed", type=float, default=60.0)
    parser.add_argument("--job-duration", type=float, default=60.0)
    parser.add_argument("--spread", type=float, default=0.3)
    parser.add_argument("--content-size", type=int, default=64 * 1024)
    parser.add_argument("--no-headers", action="store_true")
    parser.add_argument("--no-replay", action="store_true")
    args = parser.parse_args()

    from deerapi_videos_mock import LimitedMock, Limits, MockDeerAPI, ScaledClock

    mock = MockDeerAPI(
        api_key=API_KEY,
        clock=ScaledClock(speed=args.speed),
        job_duration=args.job_duration,
        content_size=args.content_size,
        seed=None,
    )
    limits = Limits(
        rate=args.rate,
        burst=args.burst,
        max_running_jobs=args.max_running,
        rate_limit_headers=not args.no_headers,
        idempotency_replay=not args.no_replay,
        duration_spread=args.spread,
        seed=1,
    )
    limited = LimitedMock(mock, limits)
    with limited.serve(host="127.0.0.1", port=0) as base_url:
        print(f"PORT {base_url.rsplit(':', 1)[1]}", flush=True)
        sys.stdin.read()  # until the parent closes our stdin
    stats = limited.stats()
    stats["paid_by_prompt"] = dict(limited.paid_by_prompt())
    with open(args.stats, "w") as f:
        json.dump(stats, f)


if __name__ == "__main__":
    main()
