"""Run the deerapi-videos benchmarks and print one table of figures and ratios.

    python benchmarks/run.py [--quick] [--only overhead,import,download,concurrency,conformance]
                             [--markdown FILE]

Benchmarks are not tests: nothing here asserts a timing. Every comparison is measured side by
side in one run, on loopback servers, with interleaved rounds and medians.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import time
import traceback
from importlib import metadata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Report

SECTIONS = ("overhead", "import", "download", "concurrency", "conformance")


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = []
    for dist in (
        "deerapi-videos",
        "httpx",
        "openai",
        "h11",
        "anyio",
        "uvicorn",
        "starlette",
        "psutil",
    ):
        try:
            versions.append(f"{dist} {metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{dist} -")
    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        mem = float("nan")
    return (
        f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB RAM, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}; "
        + ", ".join(versions)
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="fewer rounds, no 1 GiB download (< ~2 min)"
    )
    parser.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections")
    parser.add_argument("--markdown", type=Path, help="also write the table to this file")
    args = parser.parse_args(argv)
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = sorted(set(only) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown sections {unknown}; choose from {','.join(SECTIONS)}")

    report = Report()
    started = time.perf_counter()
    print(f"# machine: {machine()}", flush=True)
    for section in SECTIONS:
        if section not in only:
            continue
        t0 = time.perf_counter()
        print(f"== {section}", flush=True)
        try:
            module = __import__(f"bench_{section}")
            module.run(report, args.quick)
        except Exception as exc:  # a broken section must not hide the others' figures
            traceback.print_exc()
            report.add(
                section, "section failed", f"{type(exc).__name__}: {exc}"[:120], verdict="n/a"
            )
        print(f"   ({section}: {time.perf_counter() - t0:.1f} s)", flush=True)

    total = time.perf_counter() - started
    table = report.table()
    header = (
        f"date {datetime.date.today().isoformat()}; command: python benchmarks/run.py "
        + " ".join(argv if argv is not None else sys.argv[1:])
        + f"; total {total:.0f} s\nmachine: {machine()}\n"
    )
    print()
    print(header)
    print(table)
    if args.markdown:
        args.markdown.write_text(header + "\n" + table + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
