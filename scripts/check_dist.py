"""Check the distribution as users get it: build, ``twine check``, the wheel's files, and a smoke
test of the built wheel installed in a fresh virtual environment.

    python scripts/check_dist.py              # build into a temporary folder, check, clean up
    python scripts/check_dist.py --out dist   # keep the sdist and wheel (the release job does)

Steps (each prints a heading; any failure exits non-zero):

1. ``python -m build``: the sdist, then the wheel built from that sdist (so the sdist is proven
   complete), each in an isolated build environment.
2. ``twine check --strict`` on both.
3. The wheel's contents, per top-level folder, checked against what must ship (every package
   pyproject.toml lists, ``py.typed`` for every package, the spec, the model
   table, the entry points) and must not (tests, caches).
4. A fresh virtual environment with the wheel and its ``[mock,cli]`` extras, then, from an empty
   folder: ``import deerapi_videos`` (from site-packages, ``__version__`` equal to the wheel's),
   ``create_and_poll`` and ``download_content`` against the bundled mock served on loopback, and
   ``deerapi-videos --help``.

Needs ``build`` and ``twine`` (the ``dev`` extra) and network access to install the wheel's
dependencies, as a user would.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import tomllib
import venv
import zipfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
with (ROOT / "pyproject.toml").open("rb") as _fh:
    # Every package the wheel is configured to ship, e.g. "overlays/deerapi_videos".
    PACKAGES = tuple(
        Path(path).name
        for path in tomllib.load(_fh)["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    )
TYPED = PACKAGES  # every package ships py.typed: users type-check against each of them
REQUIRED_FILES = (
    *(f"{package}/__init__.py" for package in PACKAGES),
    *(f"{package}/py.typed" for package in TYPED),
    "deerapi_videos/openapi.yaml",
    "deerapi_videos/models.json",
    "deerapi_videos_mock/pytest_plugin.py",
)
FORBIDDEN_PARTS = ("contract_tests", "__pycache__", ".pyc", "benchmarks", "scripts/")

SMOKE_TEST = """
import sys
from pathlib import Path

import deerapi_videos
from deerapi_videos import DeerAPI
from deerapi_videos_mock import MockDeerAPI

expected_version, prefix = sys.argv[1], sys.argv[2]
package = Path(deerapi_videos.__file__).resolve()
assert package.is_relative_to(Path(prefix).resolve()), f"imported from {package}, not the venv"
assert deerapi_videos.__version__ == expected_version, deerapi_videos.__version__
print(f"import deerapi_videos: {deerapi_videos.__version__} from {package.parent}")

mock = MockDeerAPI(advance_on_retrieve=8)  # a job ends on its first read
with mock.serve() as base_url, DeerAPI(base_url=base_url, api_key=mock.api_key) as client:
    states = []
    video = client.videos.create_and_poll(
        prompt="a cat on a piano", seconds="4", on_progress=lambda v: states.append(v.status)
    )
    path = client.videos.download_content(video.id, "cat.mp4")
data = path.read_bytes()
assert video.status == "completed" and data[4:8] == b"ftyp", (video.status, data[:8])
print(f"create_and_poll against the mock at {base_url}: {video.id} {video.status} "
      f"(seen: {', '.join(states)}; {len(mock.paid_jobs)} job, {len(mock.requests)} requests)")
print(f"download_content: {path.name}, {len(data)} bytes, MP4 ({data[4:8].decode()})")
"""


def step(title: str) -> None:
    print(f"\n--- {title}", flush=True)


def run(args: Sequence[str | Path], cwd: Path = ROOT, capture: bool = False) -> str:
    """Run a command; exit with its output on failure."""
    result = subprocess.run(
        [str(a) for a in args], cwd=cwd, text=True, capture_output=capture, check=False
    )
    if result.returncode != 0:
        if capture:
            sys.stderr.write(result.stdout + result.stderr)
        sys.exit(f"check_dist: failed ({result.returncode}): {' '.join(map(str, args))}")
    return result.stdout if capture else ""


def build(out: Path) -> tuple[Path, Path]:
    step(f"python -m build --outdir {out}")
    run([sys.executable, "-m", "build", "--outdir", out, ROOT])
    wheels, sdists = sorted(out.glob("*.whl")), sorted(out.glob("*.tar.gz"))
    if len(wheels) != 1 or len(sdists) != 1:
        sys.exit(f"check_dist: expected one wheel and one sdist in {out}, found {wheels + sdists}")
    return wheels[0], sdists[0]


def twine_check(*files: Path) -> None:
    step("twine check --strict")
    run([sys.executable, "-m", "twine", "check", "--strict", *files])


def wheel_version(wheel: Path) -> str:
    return wheel.name.split("-")[1]


def check_contents(wheel: Path) -> None:
    step(f"contents of {wheel.name}")
    with zipfile.ZipFile(wheel) as archive:
        infos = [i for i in archive.infolist() if not i.is_dir()]
        entry_points = archive.read(
            f"deerapi_videos-{wheel_version(wheel)}.dist-info/entry_points.txt"
        ).decode()
    names = [i.filename for i in infos]
    files, size = Counter[str](), Counter[str]()
    for info in infos:
        top = info.filename.split("/", 1)[0]
        files[top] += 1
        size[top] += info.file_size
    for top in sorted(files):
        print(f"  {top + '/':45} {files[top]:4} files {size[top] / 1024:9.1f} KiB")
    print(f"  {'total':45} {sum(files.values()):4} files {sum(size.values()) / 1024:9.1f} KiB")
    for name in names:
        print(f"    {name}")
    problems = [f"missing {f}" for f in REQUIRED_FILES if f not in names]
    problems += [f"should not ship {n}" for n in names if any(p in n for p in FORBIDDEN_PARTS)]
    for needed in ("deerapi-videos = deerapi_videos_cli:main", "deerapi_videos_mock.pytest_plugin"):
        if needed not in entry_points:
            problems.append(f"entry point {needed!r} missing")
    if problems:
        sys.exit("check_dist: the wheel is wrong:\n  " + "\n  ".join(problems))
    print("  every package, py.typed (each package), spec, model table, entry points: ok")


def smoke_test(wheel: Path, work: Path) -> None:
    step("fresh virtual environment: pip install 'deerapi_videos-...whl[mock,cli]'")
    env_dir = work / "venv"
    started = time.monotonic()
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    bindir = env_dir / ("Scripts" if os.name == "nt" else "bin")
    python = bindir / ("python.exe" if os.name == "nt" else "python")
    pip: list[str | Path] = [python, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    run([*pip, "install", "-q", f"{wheel}[mock,cli]"])
    print(f"  installed in {time.monotonic() - started:.1f}s")

    step("smoke test, from an empty folder")
    empty = work / "empty"
    empty.mkdir()
    script = work / "smoke_test.py"
    script.write_text(SMOKE_TEST, encoding="utf-8")
    print(run([python, "-W", "error", script, wheel_version(wheel), env_dir], empty, True), end="")
    cli = bindir / ("deerapi-videos.exe" if os.name == "nt" else "deerapi-videos")
    usage = run([cli, "--help"], empty, capture=True)
    if "Usage: deerapi-videos" not in usage:
        sys.exit(f"check_dist: unexpected `deerapi-videos --help` output:\n{usage}")
    print(f"deerapi-videos --help: {usage.splitlines()[0]}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--out", type=Path, help="keep the sdist and wheel in this folder (new or empty)"
    )
    args = parser.parse_args(argv)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="check_dist-") as tmp:
        work = Path(tmp)
        out: Path = args.out.resolve() if args.out is not None else work / "dist"
        if out.exists() and any(out.iterdir()):
            sys.exit(f"check_dist: {out} is not empty")
        wheel, sdist = build(out)
        twine_check(sdist, wheel)
        check_contents(wheel)
        smoke_test(wheel, work)
    print(f"\ncheck_dist: ok in {time.monotonic() - started:.1f}s ({sdist.name}, {wheel.name})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
