"""`pip install .` and `pip install -e .` into fresh virtual environments give a working package."""

from __future__ import annotations

import json
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from contract_tests.paths import ROOT

PROBE = """
import json, sys
import deerapi_videos, deerapi_videos_generated
from deerapi_videos.spec import spec_path
from pathlib import Path
pkg = Path(deerapi_videos.__file__).parent
gen = Path(deerapi_videos_generated.__file__).parent
heavy = ["click", "rich", "starlette", "uvicorn", "schemathesis", "hypothesis", "yaml", "pytest"]
print(json.dumps({
    "pkg": str(pkg), "gen": str(gen), "spec": str(spec_path()),
    "typed": [(pkg / "py.typed").is_file(), (gen / "py.typed").is_file()],
    "heavy": [m for m in heavy if m in sys.modules],
}))
"""


def _install(tmp: Path, *args: str) -> dict[str, object]:
    env_dir = tmp / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    python = env_dir / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *args],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    # Run from a neutral directory so the checkout is not importable by accident.
    probe = subprocess.run(
        [str(python), "-c", PROBE], cwd=tmp, check=True, capture_output=True, text=True
    )
    return json.loads(probe.stdout)  # type: ignore[no-any-return]


@pytest.mark.skipif(sys.platform == "win32", reason="venv layout")
def test_pip_install_dot(tmp_path: Path) -> None:
    info = _install(tmp_path, str(ROOT))
    assert "site-packages" in str(info["pkg"]) and "site-packages" in str(info["gen"])
    assert "site-packages" in str(info["spec"])  # the spec ships inside the wheel
    assert info["typed"] == [True, True]
    assert info["heavy"] == []  # the client never imports the mock's, CLI's or tests' tools


@pytest.mark.skipif(sys.platform == "win32", reason="venv layout")
def test_pip_install_editable(tmp_path: Path) -> None:
    info = _install(tmp_path, "-e", str(ROOT))
    assert str(info["pkg"]).startswith(str(ROOT / "overlays"))
    assert str(info["gen"]).startswith(str(ROOT / "generated"))
    assert info["spec"] == str(ROOT / "openapi.yaml")
    assert info["heavy"] == []
