"""Shared helpers: loopback servers in child processes, medians, and the result table."""

from __future__ import annotations

import contextlib
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
PYTHON = sys.executable
API_KEY = "sk-bench-not-a-secret"


@contextlib.contextmanager
def child_server(args: list[str], timeout: float = 30.0) -> Iterator[tuple[str, int, int]]:
    """Start ``python <args>`` that prints ``PORT n``; yield (base_url, port, pid); stop it after.

    The child stops when its stdin closes, and is killed if it has not after 5 s.
    """
    proc = subprocess.Popen(
        [PYTHON, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=None,
        text=True,
        cwd=HERE.parent,
    )
    try:
        deadline = time.monotonic() + timeout
        port = 0
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError(f"server {args} exited with {proc.poll()} before listening")
            if line.startswith("PORT "):
                port = int(line.split()[1])
                break
        if not port:
            raise RuntimeError(f"server {args} did not print its port within {timeout}s")
        yield f"http://127.0.0.1:{port}", port, proc.pid
    finally:
        with contextlib.suppress(Exception):
            assert proc.stdin is not None
            proc.stdin.close()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def canned_server() -> contextlib.AbstractContextManager[tuple[str, int, int]]:
    return child_server([str(HERE / "canned_server.py")])


def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def spread(xs: list[float]) -> str:
    """Interquartile range as ``±x%`` of the median (robust to a few noisy rounds)."""
    if len(xs) < 4:
        return ""
    q = statistics.quantiles(xs, n=4)
    m = statistics.median(xs)
    return f"IQR ±{(q[2] - q[0]) / 2 / m * 100:.0f}%" if m else ""


@dataclass
class Row:
    section: str
    what: str
    value: str
    ratio: str = ""
    target: str = ""
    verdict: str = ""  # "met", "MISSED", "" (no target), "n/a"
    note: str = ""


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)

    def add(self, *args: str, **kw: str) -> Row:
        row = Row(*args, **kw)
        self.rows.append(row)
        print(f"  [{row.section}] {row.what}: {row.value} {row.ratio} {row.verdict}", flush=True)
        return row

    def table(self) -> str:
        heads = ("section", "measurement", "value", "ratio", "target", "verdict", "note")
        cells = [
            (r.section, r.what, r.value, r.ratio, r.target, r.verdict, r.note) for r in self.rows
        ]
        widths = [
            max(len(h), *(len(c[i]) for c in cells)) if cells else len(h)
            for i, h in enumerate(heads)
        ]
        line = "| " + " | ".join(h.ljust(w) for h, w in zip(heads, widths, strict=True)) + " |"
        sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
        out = [line, sep]
        for c in cells:
            out.append("| " + " | ".join(v.ljust(w) for v, w in zip(c, widths, strict=True)) + " |")
        return "\n".join(out)


def verdict(ok: bool | None) -> str:
    if ok is None:
        return "n/a"
    return "met" if ok else "MISSED"


def env_for_child() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("DEERAPI_KEY", None)
    env.pop("OPENAI_API_KEY", None)
    env.pop("PYTHONSTARTUP", None)
    return env


def have(module: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def ours_available() -> bool:
    """True once the client has landed (``DeerAPI`` importable)."""
    try:
        import deerapi_videos

        return hasattr(deerapi_videos, "DeerAPI") and hasattr(deerapi_videos, "AsyncDeerAPI")
    except Exception:
        return False
