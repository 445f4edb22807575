"""Import time of deerapi_videos vs httpx vs openai, and which heavy modules come along.

Every measurement is a fresh interpreter. Two figures per module, both medians over interleaved
rounds (baseline, httpx, deerapi_videos, openai, baseline, ...):

- wall: ``python -c "import x"`` minus ``python -c "pass"`` (what a user waits for);
- importtime: the cumulative microseconds ``python -X importtime`` reports for ``x`` itself
  (less noisy; excludes interpreter start-up and modules ``site`` already loaded).
"""

from __future__ import annotations

import json
import subprocess
import time

from _common import PYTHON, Report, env_for_child, median, ours_available, spread, verdict

MODULES = ("httpx", "deerapi_videos", "openai")
# Modules the client must never pull in: the mock and the tooling the CLI and tests use.
HEAVY = (
    "deerapi_videos.mock",
    "deerapi_videos.cli",
    "deerapi_videos.testing",
    "schemathesis",
    "starlette",
    "uvicorn",
    "click",
    "rich",
    "hypothesis",
    "yaml",
    "jsonschema",
    "multipart",
    "python_multipart",
    "openai",
    "pydantic",
)


def _wall(code: str) -> float:
    t0 = time.perf_counter()
    subprocess.run([PYTHON, "-c", code], check=True, env=env_for_child(), capture_output=True)
    return time.perf_counter() - t0


def _importtime(module: str) -> tuple[float, list[tuple[int, str]]]:
    """(cumulative µs for ``module``, [(self µs, name)] of everything it imported)."""
    out = subprocess.run(
        [PYTHON, "-X", "importtime", "-c", f"import {module}"],
        check=True,
        env=env_for_child(),
        capture_output=True,
        text=True,
    ).stderr
    cumulative = 0.0
    selves: list[tuple[int, str]] = []
    inside: list[tuple[int, str]] = []
    for line in out.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cum_us, name = line.removeprefix("import time:").split("|", 2)
        raw_name = name.rstrip()
        depth = (len(raw_name) - len(raw_name.lstrip())) // 2
        clean = raw_name.strip()
        inside.append((int(self_us), clean))
        if depth == 0:
            if clean == module:
                cumulative = float(cum_us)
                selves = inside
            inside = []
    return cumulative, selves


def heavy_modules_after(module: str) -> tuple[list[str], int]:
    code = (
        f"import sys, json; n0 = len(sys.modules); import {module}; "
        "print(json.dumps([sorted(sys.modules), len(sys.modules) - n0]))"
    )
    out = subprocess.run(
        [PYTHON, "-c", code], check=True, env=env_for_child(), capture_output=True, text=True
    ).stdout
    loaded, added = json.loads(out)
    bad = sorted(
        {h for h in HEAVY for m in loaded if m == h or m.startswith(h + ".")}
    )
    return bad, added


def run(report: Report, quick: bool) -> None:
    rounds = 12 if quick else 30
    contestants = ["pass", *(f"import {m}" for m in MODULES)]
    for code in contestants:  # compile .pyc files and warm the page cache first
        _wall(code)
    walls: dict[str, list[float]] = {c: [] for c in contestants}
    cums: dict[str, list[float]] = {m: [] for m in MODULES}
    selves: dict[str, list[tuple[int, str]]] = {}
    for r in range(rounds):
        order = contestants[r % len(contestants) :] + contestants[: r % len(contestants)]
        for code in order:
            walls[code].append(_wall(code))
        for m in MODULES[r % 3 :] + MODULES[: r % 3]:
            cum, s = _importtime(m)
            cums[m].append(cum)
            selves[m] = s
    base = median(walls["pass"])
    report.add("import", "interpreter start-up (python -c pass)", f"{base * 1e3:.1f} ms", note=spread(walls["pass"]))
    net = {m: [w - base for w in walls[f"import {m}"]] for m in MODULES}
    h_wall, h_cum = median(net["httpx"]), median(cums["httpx"])
    for m in MODULES:
        w, c = median(net[m]), median(cums[m])
        target, ok = "", None
        if m == "deerapi_videos":
            target, ok = "<= 1.5x httpx", w / h_wall <= 1.5
            if not ours_available():
                target, ok = "<= 1.5x httpx (client not landed yet)", None
        report.add(
            "import",
            f"import {m} (wall - start-up)",
            f"{w * 1e3:.1f} ms",
            ratio=f"{w / h_wall:.2f}x",
            target=target,
            verdict=verdict(ok) if ok is not None else "",
            note=f"{rounds} rounds, {spread(net[m])}",
        )
        report.add(
            "import",
            f"import {m} (-X importtime cumulative)",
            f"{c / 1e3:.1f} ms",
            ratio=f"{c / h_cum:.2f}x",
            target="<= 1.5x httpx" if m == "deerapi_videos" else "",
            verdict=verdict(c / h_cum <= 1.5 if ours_available() else None)
            if m == "deerapi_videos"
            else "",
            note=spread(cums[m]),
        )
    top = sorted(selves.get("deerapi_videos", []), reverse=True)[:6]
    if top:
        report.add(
            "import",
            "slowest modules under deerapi_videos (self)",
            ", ".join(f"{n} {us / 1e3:.1f}ms" for us, n in top),
        )
    bad, added = heavy_modules_after("deerapi_videos")
    _, added_httpx = heavy_modules_after("httpx")
    report.add(
        "import",
        "heavy modules in sys.modules after import deerapi_videos",
        "none" if not bad else ", ".join(bad),
        target="none (mock, cli, schemathesis, starlette, click, rich, hypothesis, yaml, ...)",
        verdict=verdict(not bad),
        note=f"{added} modules added (httpx alone: {added_httpx})",
    )
