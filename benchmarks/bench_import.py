"""Import time of deerapi_videos vs httpx vs openai, and which heavy modules come along.

Every measurement is a fresh interpreter. Two figures per module, both medians over interleaved
rounds (start-up, httpx, deerapi_videos, openai, and the client-only variants, rotating):

- wall: ``python -c "import x"`` minus ``python -c "pass"`` (what a user waits for);
- importtime: the cumulative microseconds ``python -X importtime`` reports for ``x`` itself
  (less noisy; excludes interpreter start-up and modules ``site`` already loaded).

"client-only install" marks click/rich/pygments unimportable first: httpx imports its own
command line when those are installed (they are here, for our CLI), which inflates httpx.
"""

from __future__ import annotations

import json
import subprocess
import time

from _common import PYTHON, Report, env_for_child, median, ours_available, spread, verdict

MODULES = ("httpx", "deerapi_videos", "openai")
# Modules the client must never pull in: the mock and the tooling the CLI and tests use.
HEAVY = (
    "deerapi_videos_mock",
    "deerapi_videos_cli",
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


def _importtime(code: str, module: str) -> tuple[float, list[tuple[int, str]]]:
    """(cumulative µs for ``module``, [(self µs, name)] of everything it imported)."""
    out = subprocess.run(
        [PYTHON, "-X", "importtime", "-c", code],
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


def heavy_modules_after(module: str, prefix: str = "") -> tuple[list[str], int]:
    code = prefix + (
        f"import sys, json; n0 = len(sys.modules); import {module}; "
        "print(json.dumps([sorted(k for k, v in sys.modules.items() if v is not None), "
        "len(sys.modules) - n0]))"
    )
    out = subprocess.run(
        [PYTHON, "-c", code], check=True, env=env_for_child(), capture_output=True, text=True
    ).stdout
    loaded, added = json.loads(out)
    bad = sorted({h for h in HEAVY for m in loaded if m == h or m.startswith(h + ".")})
    return bad, added


# httpx imports its command line (click, rich, pygments) when they are installed, as they are in
# this dev venv (the [cli] extra). Marking them unimportable simulates a client-only install.
NO_CLI = "import sys; sys.modules.update(click=None, rich=None, pygments=None); "


def _group(name: str) -> str:
    parts = name.split(".")
    return ".".join(parts[:2]) if parts[0].startswith("deerapi_videos") else parts[0]


def run(report: Report, quick: bool) -> None:
    rounds = 8 if quick else 30
    # label -> (code run by ``python -c``, module whose importtime row is read)
    variants: dict[str, tuple[str, str]] = {"start-up": ("pass", "")}
    for m in MODULES:
        variants[m] = (f"import {m}", m)
    for m in ("httpx", "deerapi_videos"):
        variants[f"{m}, client-only install"] = (NO_CLI + f"import {m}", m)
    labels = list(variants)
    for code, _ in variants.values():  # compile .pyc files and warm the page cache first
        _wall(code)
    walls: dict[str, list[float]] = {v: [] for v in labels}
    cums: dict[str, list[float]] = {v: [] for v in labels}
    extra: dict[str, list[float]] = {}
    for r in range(rounds):
        order = labels[r % len(labels) :] + labels[: r % len(labels)]
        for v in order:
            walls[v].append(_wall(variants[v][0]))
        selves: dict[str, list[tuple[int, str]]] = {}
        for v in order:
            code, module = variants[v]
            if module:
                cum, sv = _importtime(code, module)
                cums[v].append(cum)
                selves[v] = sv
        # What importing us costs beyond httpx, by package (self times, this round).
        seen = {n for _, n in selves["httpx"]}
        groups: dict[str, float] = {}
        for us, n in selves["deerapi_videos"]:
            if n not in seen:
                groups[_group(n)] = groups.get(_group(n), 0.0) + us
        for g, us in groups.items():
            extra.setdefault(g, []).append(us)

    base = median(walls["start-up"])
    report.add(
        "import",
        "interpreter start-up (python -c pass)",
        f"{base * 1e3:.1f} ms",
        note=spread(walls["start-up"]),
    )
    for v in labels[1:]:
        ref = "httpx, client-only install" if "client-only" in v else "httpx"
        net = [w - base for w in walls[v]]
        ref_net = median([w - base for w in walls[ref]])
        w, c, ref_c = median(net), median(cums[v]), median(cums[ref])
        ours = v.startswith("deerapi_videos")
        ok_w = ok_c = None
        target = ""
        if ours:
            target = "<= 1.5x httpx"
            if ours_available():
                ok_w, ok_c = w / ref_net <= 1.5, c / ref_c <= 1.5
            else:
                target += " (client not landed yet)"
        report.add(
            "import",
            f"import {v} (wall - start-up)",
            f"{w * 1e3:.1f} ms",
            ratio=f"{w / ref_net:.2f}x",
            target=target,
            verdict=verdict(ok_w) if ours else "",
            note=f"{rounds} rounds, {spread(net)}",
        )
        report.add(
            "import",
            f"import {v} (-X importtime cumulative)",
            f"{c / 1e3:.1f} ms",
            ratio=f"{c / ref_c:.2f}x",
            target=target,
            verdict=verdict(ok_c) if ours else "",
            note=spread(cums[v]),
        )
    total = {g: median(v + [0.0] * (rounds - len(v))) for g, v in extra.items()}
    top = sorted(total.items(), key=lambda kv: -kv[1])[:8]
    if top:
        report.add(
            "import",
            "deerapi_videos beyond httpx, self time by package",
            f"{sum(total.values()) / 1e3:.1f} ms",
            note=", ".join(f"{g} {us / 1e3:.1f}" for g, us in top),
        )
    bad, added = heavy_modules_after("deerapi_videos")
    via_httpx, added_httpx = heavy_modules_after("httpx")
    ours_bad = sorted(set(bad) - set(via_httpx))
    bad_nocli, _ = heavy_modules_after("deerapi_videos", NO_CLI)
    report.add(
        "import",
        "heavy modules loaded by import deerapi_videos, beyond httpx's own",
        "none" if not ours_bad else ", ".join(ours_bad),
        target="none (mock, cli, schemathesis, starlette, click, rich, hypothesis, yaml, ...)",
        verdict=verdict(not ours_bad),
        note=f"{added} modules added (httpx alone: {added_httpx}); httpx itself loads "
        f"{', '.join(via_httpx) or 'none'} here (its CLI, as click+rich are installed); "
        f"client-only install: {', '.join(bad_nocli) or 'none'}",
    )
