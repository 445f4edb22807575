"""Batches under a rate limit, crash safety, and what the ledger costs (figures, not tests).

    python benchmarks/bench_batch.py                      # all three sections, about 8 min
    python benchmarks/bench_batch.py --quick              # fewer jobs and kills
    python benchmarks/bench_batch.py --only throughput --jobs 1000 --rate 50 --concurrency 64
    python benchmarks/bench_batch.py --only throughput --contestants threads,threads_plain

- **throughput**: N jobs (seconds 4/8/12 in turn) on the mock in its own process
  (``_limited_mock_server.py``): a token bucket of ``--rate`` requests/s (burst 10) with
  ``x-ratelimit-*`` headers, jobs of 60 mock seconds +/- 30% on a 60x clock (about 1 s real),
  64 KiB videos. The floor is what the rate limit allows at the least requests a job needs
  (a create, one read that sees it completed, one download: 3): ``3 N / rate``. Contestants, each
  on a fresh mock and in a fresh process (``_batch_worker.py``): the batch runner; the same
  without rate headers (it learns the rate from 429s alone); the same with the mock capping
  running jobs at 24 per key; and the obvious alternative, ``asyncio.gather`` over the OpenAI
  SDK's ``videos.create_and_poll`` + ``download_content`` at the same concurrency. And the
  blocking client: as many threads as ``--concurrency`` sharing one ``DeerAPI`` through
  ``SyncScheduledTransport`` (each job through ``LedgeredVideos``), and the same threads with a
  plain ``DeerAPI``.
- **crash**: ``deerapi-videos batch`` killed with SIGKILL at random moments (at least 20 kills),
  rerun until done, against a mock that honours ``Idempotency-Key`` (the batch told so with
  ``--trust-idempotency-keys``) and one with replay switched off (the batch not told).
- **overhead**: the same batch with the ledger on disk (durability ``full``: every claim before a
  POST and every saved download synced to disk) and in memory, interleaved rounds, no rate
  limit (so nothing hides the ledger's cost), medians.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import HERE, PYTHON, Report, child_server, env_for_child, median, verdict

MIN_REQUESTS_PER_JOB = 3
NAMES = {
    "batch": "deerapi-videos batch runner",
    "batch_noheaders": "batch runner, no rate headers (learns from 429s)",
    "batch_cap": "batch runner, mock caps running jobs at 24",
    "openai": "asyncio.gather over openai 2.3.0 create_and_poll + download_content",
    "threads": "threads sharing a blocking DeerAPI through SyncScheduledTransport",
    "threads_plain": "threads sharing a plain blocking DeerAPI (no scheduler)",
}
OURS = ("batch", "batch_noheaders", "batch_cap", "threads")


def _run_one(
    impl: str, jobs: int, concurrency: int, mock_args: list[str], worker_impl: str | None = None
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as d:
        stats_path = Path(d) / "stats.json"
        workdir = Path(d) / "work"
        workdir.mkdir()
        with child_server([str(HERE / "_limited_mock_server.py"), str(stats_path), *mock_args]) as (
            base_url,
            _port,
            _pid,
        ):
            proc = subprocess.run(
                [
                    PYTHON,
                    str(HERE / "_batch_worker.py"),
                    worker_impl or impl,
                    base_url,
                    str(jobs),
                    str(concurrency),
                    str(workdir),
                ],
                capture_output=True,
                text=True,
                env=env_for_child(),
                timeout=3600,
            )
        if proc.returncode != 0:
            raise RuntimeError(f"{impl} worker failed: {proc.stderr.strip().splitlines()[-5:]}")
        result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
        result["mock"] = json.loads(stats_path.read_text())
        return result


def _figures(result: dict[str, Any], jobs: int) -> dict[str, Any]:
    mock = result["mock"]
    saved = set(result["saved"])
    paid = {int(p.rsplit(" ", 1)[1]): c for p, c in mock["paid_by_prompt"].items()}
    duplicates = sum(c - 1 for c in paid.values() if c > 1)
    lost = sum(1 for i in paid if i not in saved)
    total = mock["total_requests"]
    return {
        "saved": len(saved),
        "requests": total,
        "per_video": total / max(len(saved), 1),
        "too_many": mock["429"],
        "too_many_pct": 100.0 * mock["429"] / max(total, 1),
        "duplicates": duplicates,
        "lost": lost,
        "not_run": jobs - len(paid),
        "failures": result["failures"],
    }


def throughput(
    report: Report, jobs: int, rate: float, concurrency: int, contestants: set[str] | None = None
) -> None:
    base = [
        "--rate",
        str(rate),
        "--burst",
        "10",
        "--speed",
        "60",
        "--job-duration",
        "60",
        "--spread",
        "0.3",
        "--content-size",
        str(64 * 1024),
    ]
    runs = {
        "batch": (base, "batch"),
        "batch_noheaders": ([*base, "--no-headers"], "batch"),
        "batch_cap": ([*base, "--max-running", "24"], "batch"),
        "openai": (base, "openai"),
        "threads": (base, "threads"),
        "threads_plain": (base, "threads_plain"),
    }
    if contestants:
        runs = {name: run for name, run in runs.items() if name in contestants}
    floor = (MIN_REQUESTS_PER_JOB * jobs - 10) / rate
    print(f"   floor: {MIN_REQUESTS_PER_JOB} x {jobs} requests at {rate:g}/s = {floor:.1f} s")
    for impl, (args, worker) in runs.items():
        print(f"   {impl} ...", flush=True)
        result = _run_one(impl, jobs, concurrency, args, worker)
        f = _figures(result, jobs)
        wall = float(result["wall"])
        ours = impl in OURS
        batch = impl.startswith("batch")
        report.add(
            "batch",
            f"{jobs} jobs at {rate:g} req/s, wall, {NAMES[impl]}",
            f"{wall:.1f} s",
            ratio=f"{wall / floor:.2f}x floor",
            target="<= 1.25x floor" if impl == "batch" else "",
            verdict=verdict(wall <= 1.25 * floor) if impl == "batch" else "",
            note=f"floor {floor:.1f} s; {f['saved']} of {jobs} videos saved; "
            f"failures {f['failures'] or 'none'}",
        )
        report.add(
            "batch",
            f"requests per saved video, {NAMES[impl]}",
            f"{f['per_video']:.2f}",
            # The target is the batch runner's (its reads are spaced by ETA); threads
            # poll with the client's own backoff.
            target="<= 4" if batch else "",
            verdict=verdict(f["per_video"] <= 4) if batch else "",
            note=f"{f['requests']} requests",
        )
        report.add(
            "batch",
            f"requests answered 429, {NAMES[impl]}",
            f"{f['too_many_pct']:.2f}%",
            target="<= 2%" if ours else "",
            verdict=verdict(f["too_many_pct"] <= 2) if ours else "",
            note=f"{f['too_many']} of {f['requests']}"
            + (
                f"; client saw {result['client']['rate_limited']} rate, "
                f"{result['client']['concurrency_limited']} running-jobs 429s"
                if ours
                else ""
            ),
        )
        report.add(
            "batch",
            f"duplicated paid jobs / lost (paid, not saved), {NAMES[impl]}",
            f"{f['duplicates']} / {f['lost']}",
            target="0 / 0" if ours else "",
            verdict=verdict(f["duplicates"] == 0 and f["lost"] == 0) if ours else "",
            note=f"{f['not_run']} job(s) never started",
        )


def crash(report: Report, jobs: int, kills: int) -> None:
    from contract_tests.batch.crash_harness import make_mock, run_with_kills, write_jobs

    for replay in (True, False):
        name = "replay on (--trust-idempotency-keys)" if replay else "replay off"
        with tempfile.TemporaryDirectory(prefix="bench-crash-") as d:
            workdir = Path(d)
            path = workdir / "jobs.jsonl"
            prompts = write_jobs(path, jobs)
            limited = make_mock(replay=replay, job_duration=45.0, bandwidth=1_000_000)
            extra = ("--trust-idempotency-keys",) if replay else ("--reconcile-grace", "0.5")
            print(f"   crash, {name} ...", flush=True)
            with limited.serve() as base_url:
                run = run_with_kills(
                    limited,
                    base_url,
                    workdir,
                    path,
                    kills=kills,
                    seed=2026 if replay else 2027,
                    extra_args=(*extra, "--concurrency", "3"),
                    kill_window=0.5,
                )
            outcomes = run.final_report.get("outcomes", [])
            states = collections.Counter(o["state"] for o in outcomes)
            wrong = 0
            for outcome in outcomes:
                if outcome["state"] == "downloaded":
                    video = limited.mock.get(outcome["video_id"])
                    index = int(outcome["id"].split("-")[1])
                    wrong += video is None or video.prompt != prompts[index]
            paid_per_key = collections.Counter(p.key for p in limited.posts if p.paid).most_common(
                1
            )
            most = paid_per_key[0][1] if paid_per_key else 0
            resent = sum(1 for posts, _ in limited.post_counts().values() if posts > 1)
            ambiguous = states.get("ambiguous", 0)
            report.add(
                "crash",
                f"{jobs} jobs, {name}: kills / runs",
                f"{run.kills} / {run.runs}",
                target=">= 20 kills",
                verdict=verdict(run.kills >= 20),
                note=f"jobs in flight at the kills: {dict(run.phases)} (submitting: a POST on "
                f"the wire; running: polling; completed: downloading); {run.seconds:.0f} s",
            )
            report.add(
                "crash",
                f"{jobs} jobs, {name}: duplicated paid jobs",
                str(limited.duplicates()),
                target="0",
                verdict=verdict(limited.duplicates() == 0),
                note=f"paid jobs {len(limited.mock.paid_jobs)}; most paid POSTs for one key: "
                f"{most}; keys sent again after a kill: {resent}; downloads of the wrong job: "
                f"{wrong}",
            )
            report.add(
                "crash",
                f"{jobs} jobs, {name}: final states",
                ", ".join(f"{k} {v}" for k, v in sorted(states.items())),
                target="all downloaded" if replay else "downloaded or ambiguous",
                verdict=verdict(
                    states.get("downloaded", 0) == jobs
                    if replay
                    else states.get("downloaded", 0) + ambiguous == jobs
                ),
                note=f"exit codes {run.exit_codes[-3:]}; ambiguous jobs reported with their "
                f"key: {ambiguous}",
            )
            report.add(
                "crash",
                f"{jobs} jobs, {name}: partial files at output paths",
                str(len(run.partial_files)),
                target="0",
                verdict=verdict(not run.partial_files),
                note="checked after every kill",
            )


def overhead(report: Report, jobs: int, rounds: int) -> None:
    args = ["--speed", "60", "--job-duration", "30", "--spread", "0.3"]
    walls: dict[str, list[float]] = {"batch": [], "batch_memory": []}
    for r in range(rounds):
        order = ["batch", "batch_memory"] if r % 2 == 0 else ["batch_memory", "batch"]
        for impl in order:
            os.sync()
            result = _run_one(impl, jobs, 64, args)
            walls[impl].append(float(result["wall"]))
            print(f"   {impl}: {result['wall']:.2f} s", flush=True)
    disk, memory = median(walls["batch"]), median(walls["batch_memory"])
    report.add(
        "overhead",
        f"{jobs} jobs, no rate limit, ledger in memory (baseline)",
        f"{memory:.2f} s",
        note=f"{rounds} rounds: {[round(w, 2) for w in walls['batch_memory']]}",
    )
    report.add(
        "overhead",
        f"{jobs} jobs, no rate limit, ledger on disk (WAL, claims and downloads fsynced)",
        f"{disk:.2f} s",
        ratio=f"{disk / memory:.3f}x",
        target="<= 1.05x",
        verdict=verdict(disk <= 1.05 * memory),
        note=f"{rounds} rounds: {[round(w, 2) for w in walls['batch']]}",
    )


def run(report: Report, quick: bool) -> None:
    """Entry point for ``benchmarks/run.py``-style use."""
    if quick:
        throughput(report, 200, 50.0, 64)
        crash(report, 30, 8)
        overhead(report, 200, 2)
    else:
        throughput(report, 1000, 50.0, 64)
        crash(report, 60, 22)
        overhead(report, 500, 5)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", default="throughput,crash,overhead")
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument(
        "--contestants",
        default="",
        help=f"throughput runs to make (default all: {','.join(NAMES)})",
    )
    parser.add_argument("--crash-jobs", type=int, default=60)
    parser.add_argument("--kills", type=int, default=22)
    parser.add_argument("--overhead-jobs", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    only = {s.strip() for s in args.only.split(",")}
    report = Report()
    started = time.perf_counter()
    if args.quick:
        run(report, True)
    else:
        if "throughput" in only:
            chosen = {c.strip() for c in args.contestants.split(",") if c.strip()}
            unknown = chosen - set(NAMES)
            if unknown:
                parser.error(f"--contestants: unknown {sorted(unknown)} (allowed: {list(NAMES)})")
            throughput(report, args.jobs, args.rate, args.concurrency, chosen or None)
        if "crash" in only:
            crash(report, args.crash_jobs, args.kills)
        if "overhead" in only:
            overhead(report, args.overhead_jobs, args.rounds)
    header = (
        f"command: python benchmarks/bench_batch.py {' '.join(sys.argv[1:])}; "
        f"total {time.perf_counter() - started:.0f} s"
    )
    print()
    print(header)
    print(report.table())
    if args.markdown:
        args.markdown.write_text(header + "\n\n" + report.table() + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
