"""Kill ``deerapi-videos batch`` with SIGKILL at random moments, rerun it until it is done.

Used by the crash test of the default suite (a few kills) and by
``benchmarks/bench_batch.py`` (20 or more). The mock runs in the calling process (a loopback
server in a thread) so it outlives every kill; each batch run is a fresh subprocess.

After every kill the harness checks that no file under an output name is partial (every
``*.mp4`` in the output folder has the mock's full size and starts like an MP4), and notes what
the killed run was doing: the ledger's job states at the kill (``submitting``: a POST in
flight; ``running``: polling; ``completed``: downloading).
"""

from __future__ import annotations

import collections
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deerapi_videos_mock import LimitedMock, Limits, MockDeerAPI, ScaledClock

API_KEY = "sk-crash-test"
CLI = [sys.executable, "-c", "from deerapi_videos_cli import main; main()"]
FINAL_EXITS = (0, 1, 5)


@dataclass
class CrashReport:
    """What happened across the runs."""

    kills: int = 0
    runs: int = 0
    exit_codes: list[int] = field(default_factory=list)
    phases: collections.Counter[str] = field(default_factory=collections.Counter)
    partial_files: list[str] = field(default_factory=list)
    final_report: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def last_exit(self) -> int | None:
        return self.exit_codes[-1] if self.exit_codes else None


def make_mock(
    *,
    replay: bool,
    speed: float = 60.0,
    job_duration: float = 30.0,
    content_size: int = 256 * 1024,
    bandwidth: float | None = 2_000_000,
    rate: float | None = 200.0,
    post_delay: float = 0.1,
) -> LimitedMock:
    """A mock whose jobs take about ``job_duration / speed`` real seconds (+/- 30%), whose
    creates are answered ``post_delay`` s after their job started (a kill in between loses
    the answer of a paid job) and whose downloads stream at ``bandwidth`` bytes per second."""
    mock = MockDeerAPI(
        api_key=API_KEY,
        clock=ScaledClock(speed=speed),
        job_duration=job_duration,
        content_size=content_size,
        seed=None,
        chunk_size=16 * 1024,
    )
    limits = Limits(
        rate=rate,
        burst=20,
        idempotency_replay=replay,
        duration_spread=0.3,
        download_bytes_per_second=bandwidth,
        create_answer_delay=post_delay,
        seed=None,
    )
    return LimitedMock(mock, limits)


def write_jobs(path: Path, count: int) -> list[str]:
    """``count`` jobs with distinct prompts and mixed settings; returns the prompts."""
    prompts = []
    with path.open("w", encoding="utf-8") as fh:
        for index in range(count):
            prompt = f"crash test job {index}"
            prompts.append(prompt)
            record = {
                "id": f"job-{index:03d}",
                "prompt": prompt,
                "seconds": ("4", "8", "12")[index % 3],
                "size": ("720x1280", "1280x720")[(index // 3) % 2],
            }
            fh.write(json.dumps(record) + "\n")
    return prompts


def _states(ledger: Path) -> collections.Counter[str]:
    if not ledger.exists():
        return collections.Counter()
    with sqlite3.connect(f"file:{ledger}?mode=ro", uri=True, timeout=5) as db:
        return collections.Counter(row[0] for row in db.execute("SELECT state FROM jobs"))


def partial_outputs(out_dir: Path, size: int) -> list[str]:
    """Files under output names that are not a whole video of ``size`` bytes."""
    bad = []
    if not out_dir.is_dir():
        return bad
    for path in out_dir.glob("*.mp4"):
        data = path.read_bytes()
        if len(data) != size or data[4:8] != b"ftyp":
            bad.append(f"{path.name}: {len(data)} bytes")
    return bad


def run_with_kills(
    limited: LimitedMock,
    base_url: str,
    workdir: Path,
    jobs: Path,
    *,
    kills: int,
    seed: int,
    extra_args: tuple[str, ...] = (),
    kill_window: float = 0.8,
    max_clean_runs: int = 6,
    run_timeout: float = 120.0,
) -> CrashReport:
    """Run the batch, SIGKILL it ``kills`` times at random moments (right after one of its
    first requests arrives, or within ``kill_window`` s of its first), then rerun it without
    kills until it ends with a final exit code (0, 1 or 5) or ``max_clean_runs`` runs pass."""
    rng = random.Random(seed)
    out_dir = workdir / "out"
    ledger = workdir / "jobs.ledger.sqlite"
    report_path = workdir / "report.json"
    env = {
        **os.environ,
        "DEERAPI_KEY": API_KEY,
        "DEERAPI_BASE_URL": base_url,
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    args = [
        *CLI,
        "batch",
        str(jobs),
        "--out",
        str(out_dir),
        "--ledger",
        str(ledger),
        "--report",
        str(report_path),
        *extra_args,
    ]
    size = limited.mock.content_size or 0
    result = CrashReport()
    started = time.monotonic()
    attempts = 0
    while result.kills < kills and attempts < kills * 3:
        attempts += 1
        before = limited.arrived
        process = subprocess.Popen(
            args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        result.runs += 1
        # The kills take turns: right after one of the run's creates reached the mock (a POST
        # whose job has started and whose answer is on its way), right after its n-th request
        # of any kind (often a poll, or a download the mock streams slowly), and at a random
        # time within ``kill_window``.
        mode = result.kills % 3
        posts_wanted = limited.arrived_posts + rng.randint(1, 3)
        requests_wanted = before + (rng.randint(1, 8) if mode == 1 else 1)
        deadline = time.monotonic() + run_timeout
        while process.poll() is None and time.monotonic() < deadline:
            if mode == 0 and limited.arrived_posts >= posts_wanted:
                break
            if mode > 0 and limited.arrived >= requests_wanted:
                break
            time.sleep(0.002)
        time.sleep(rng.uniform(0.0, 0.03) if mode < 2 else rng.uniform(0.0, kill_window))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.wait()
            result.kills += 1
            for state, count in _states(ledger).items():
                if state in ("submitting", "running", "completed") and count:
                    result.phases[state] += 1
        else:
            result.exit_codes.append(process.returncode)
        result.partial_files += partial_outputs(out_dir, size)
        if process.returncode in FINAL_EXITS:
            break  # nothing left to interrupt
    for _ in range(max_clean_runs):
        completed = subprocess.run(
            args, env=env, capture_output=True, text=True, timeout=run_timeout, check=False
        )
        result.runs += 1
        result.exit_codes.append(completed.returncode)
        result.partial_files += partial_outputs(out_dir, size)
        if completed.returncode in FINAL_EXITS:
            break
    if report_path.exists():
        result.final_report = json.loads(report_path.read_text(encoding="utf-8"))
    result.seconds = time.monotonic() - started
    return result
