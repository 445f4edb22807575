"""Wall time of the default conformance run (``deerapi-videos conformance``, bundled mock).

Run in a scratch working directory (so reports it writes land there), without DEERAPI_KEY in the
environment, bounded by a timeout. Quick mode runs it once; the full run takes the median of 3.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from _common import PYTHON, Report, env_for_child, median, verdict

TIMEOUT = 900.0


def _command() -> list[str] | None:
    exe = shutil.which("deerapi-videos", path=str(Path(PYTHON).parent))
    if exe is None:
        return None
    probe = subprocess.run(
        [exe, "conformance", "--help"],
        capture_output=True,
        text=True,
        env=env_for_child(),
        timeout=60,
    )
    return [exe, "conformance"] if probe.returncode == 0 else None


def run(report: Report, quick: bool) -> None:
    cmd = _command()
    if cmd is None:
        report.add(
            "conformance", "deerapi-videos conformance", "command not available yet", verdict="n/a"
        )
        return
    rounds = 1 if quick else 3
    walls: list[float] = []
    codes: list[int] = []
    tail = ""
    for _ in range(rounds):
        with tempfile.TemporaryDirectory(prefix="bench-conf-") as d:
            t0 = time.perf_counter()
            try:
                proc = subprocess.run(
                    cmd, cwd=d, capture_output=True, text=True, env=env_for_child(), timeout=TIMEOUT
                )
            except subprocess.TimeoutExpired:
                report.add(
                    "conformance",
                    "default run on the mock",
                    f"> {TIMEOUT:.0f} s (timed out)",
                    verdict="n/a",
                )
                return
            walls.append(time.perf_counter() - t0)
            codes.append(proc.returncode)
            tail = (proc.stdout.strip().splitlines() or [""])[-1][:90]
    report.add(
        "conformance",
        "default run on the mock, wall",
        f"{median(walls):.1f} s",
        note=f"{rounds} run(s), exit codes {codes}; last line: {tail}",
        verdict="" if all(c == 0 for c in codes) else verdict(False),
        target="exit 0",
    )
