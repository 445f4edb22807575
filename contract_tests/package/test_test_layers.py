"""Tests use the packages' public APIs, except a suite testing a private module of its own layer.

The suite folder decides which package's private modules it may import (a module is private when
a component of its dotted name starts with ``_``), as import-linter's contracts decide it for the
packages themselves (``lint-imports``).
"""

from __future__ import annotations

import ast
from pathlib import Path

from contract_tests.paths import ROOT

TESTS = ROOT / "contract_tests"
PACKAGES = (
    "deerapi_videos_generated",
    "deerapi_videos_mock",
    "deerapi_videos_conformance",
    "deerapi_videos_batch",
    "deerapi_videos_cli",
    "deerapi_videos",
)
#: Suite folder -> the package whose private modules it tests.
OWN_LAYER = {
    "generated": "deerapi_videos_generated",
    "overlays": "deerapi_videos",
    "ledger": "deerapi_videos",
    "mock": "deerapi_videos_mock",
    "conformance": "deerapi_videos_conformance",
    "batch": "deerapi_videos_batch",
    "cli": "deerapi_videos_cli",
}


def _package_of(module: str) -> str | None:
    return next((p for p in PACKAGES if module == p or module.startswith(p + ".")), None)


def private_imports(path: Path) -> list[str]:
    """``module`` names imported by ``path`` that are private to some package of ours."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for name in names:
            package = _package_of(name)
            if package is None:
                continue
            rest = name[len(package) :].lstrip(".")
            if any(part.startswith("_") and not part.startswith("__") for part in rest.split(".")):
                found.append(name)
    return found


def violations() -> list[str]:
    out = []
    for path in sorted(TESTS.rglob("*.py")):
        suite = path.relative_to(TESTS).parts[0]
        own = OWN_LAYER.get(suite)
        for name in private_imports(path):
            if _package_of(name) != own:
                out.append(f"{path.relative_to(ROOT)} imports {name}")
    return out


def test_suites_import_only_public_modules_of_other_layers() -> None:
    assert violations() == []


def test_the_check_sees_a_private_import(tmp_path: Path) -> None:
    planted = tmp_path / "planted.py"
    planted.write_text("from deerapi_videos_mock._app import asset_for\nimport deerapi_videos\n")
    assert private_imports(planted) == [
        "deerapi_videos_mock._app",
        "deerapi_videos_mock._app.asset_for",
    ]
