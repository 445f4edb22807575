"""Template patches (scripts/codegen/templates/*.patch) and their documentation, PATCHES.md.

Each patch applies cleanly to the pinned upstream template, generation uses exactly the patched
upstream templates, and PATCHES.md documents exactly the patch files present. What each patch
does is pinned by test_generator_traps.py.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from contract_tests.paths import GENERATED, ROOT

sys.path.insert(0, str(ROOT / "scripts"))
import regenerate

HERE = Path(__file__).resolve().parent
PATCHES_MD = regenerate.CODEGEN / "PATCHES.md"
PATCHES = sorted(regenerate.TEMPLATES.glob("*.patch"))
UPSTREAM_VERSION = regenerate.PINS[regenerate.UPSTREAM]
GIT = shutil.which("git")


def _target(patch: Path) -> str:
    return regenerate.parse_patch(patch.read_text(encoding="utf-8"), patch.name)[0]


def _sections() -> dict[str, str]:
    """PATCHES.md's sections, keyed by heading (``templates/<name>.patch``)."""
    parts = re.split(r"^## (.+)\n", PATCHES_MD.read_text(encoding="utf-8"), flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def _git_apply_all(root: Path) -> dict[str, str]:
    """Apply every patch, in name order, with ``git apply`` to pristine upstream copies in root."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env["GIT_CEILING_DIRECTORIES"] = str(root.parent)  # never treat root as inside a repository
    for patch in PATCHES:
        copy = root / _target(patch)
        if not copy.exists():
            copy.parent.mkdir(parents=True, exist_ok=True)
            copy.write_text(regenerate.upstream_template(_target(patch)), "utf-8", newline="")
        proc = subprocess.run(
            [str(GIT), "apply", "--verbose", str(patch)],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 0, f"{patch.name}:\n{proc.stderr}"
        assert "offset" not in proc.stderr, f"{patch.name}:\n{proc.stderr}"
    base = root / regenerate.UPSTREAM_TEMPLATES
    return {
        p.relative_to(base).as_posix(): p.read_text(encoding="utf-8")
        for p in base.rglob("*")
        if p.is_file()
    }


def test_patches_md_lists_exactly_the_patch_files_present() -> None:
    present = {p.relative_to(regenerate.CODEGEN).as_posix() for p in PATCHES}
    assert present
    assert set(_sections()) == present


@pytest.mark.parametrize("patch", PATCHES, ids=lambda p: p.name)
def test_each_patch_is_documented(patch: Path) -> None:
    section = _sections()[f"templates/{patch.name}"]
    assert f"- Upstream file: `{_target(patch)}`\n" in section
    assert "- Change: " in section and "- Why: " in section
    pinned_by = re.findall(r"`(test_\w+)`", section.partition("- Pinned by: ")[2])
    defined = {
        name
        for test_file in HERE.glob("test_*.py")
        for name in re.findall(r"^def (test_\w+)", test_file.read_text(), flags=re.MULTILINE)
    }
    assert pinned_by and set(pinned_by) <= defined
    description = patch.read_text(encoding="utf-8").partition("\n--- a/")[0]
    assert f"openapi-python-client {UPSTREAM_VERSION}" in description


def test_patches_md_names_the_pinned_upstream_version() -> None:
    assert f"openapi-python-client {UPSTREAM_VERSION} (pinned" in PATCHES_MD.read_text()


@pytest.mark.skipif(GIT is None, reason="needs git to cross-check the patch application")
def test_each_patch_applies_cleanly_to_the_pinned_upstream(tmp_path: Path) -> None:
    # git apply, with no offset, gives the same templates as regenerate's own application.
    by_git = _git_apply_all(tmp_path)
    assert by_git == regenerate.patched_templates()
    for template, text in by_git.items():
        assert text != regenerate.upstream_template(regenerate.UPSTREAM_TEMPLATES + template)


def test_generation_uses_exactly_the_patched_upstream_templates(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    handed_over: dict[str, str] = {}
    real_run = subprocess.run

    def spy(args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        templates = Path(args[args.index("--custom-template-path") + 1])
        handed_over.update(
            (p.relative_to(templates).as_posix(), p.read_text(encoding="utf-8"))
            for p in templates.rglob("*")
            if p.is_file()
        )
        return real_run(args, **kwargs)

    monkeypatch.setattr(subprocess, "run", spy)
    out = regenerate.generate_into(tmp_path / "gen")
    monkeypatch.undo()
    expected = _git_apply_all(tmp_path / "git") if GIT else regenerate.patched_templates()
    assert handed_over == expected
    assert {regenerate.UPSTREAM_TEMPLATES + t for t in handed_over} == {_target(p) for p in PATCHES}
    assert regenerate.compare(out, GENERATED) == []


def test_a_patch_is_applied_at_its_recorded_line_only() -> None:
    patch = PATCHES[0]
    target, hunks = regenerate.parse_patch(patch.read_text(encoding="utf-8"), patch.name)
    upstream = regenerate.upstream_template(target)
    regenerate.apply_patch(upstream, hunks, patch.name)
    for shift in (-1, 1):
        moved = [(start + shift, before, after) for start, before, after in hunks]
        with pytest.raises(regenerate.PatchError, match="does not apply"):
            regenerate.apply_patch(upstream, moved, patch.name)


def test_a_patch_that_no_longer_applies_stops_generation(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # As after an upstream change: one context line of one patch no longer matches.
    patches = tmp_path / "templates"
    patches.mkdir()
    for patch in PATCHES:
        shutil.copy(patch, patches)
    first = patches / PATCHES[0].name
    text = first.read_text(encoding="utf-8")
    context = re.search(r"^@@.*\n (.*)$", text, flags=re.MULTILINE)
    assert context is not None
    first.write_text(text[: context.end(1)] + " # reworded" + text[context.end(1) :])
    monkeypatch.setattr(regenerate, "TEMPLATES", patches)
    with pytest.raises(regenerate.PatchError, match=rf"{re.escape(first.name)}: .* does not apply"):
        regenerate.generate_into(tmp_path / "out")
    assert not (tmp_path / "out" / regenerate.PACKAGE).exists()


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("just prose\n", "expected '--- a/<file>'"),
        ("--- a/x\n+++ b/y\n@@ -1 +1 @@\n-a\n+b\n", "expected '--- a/<file>'"),
        ("--- a/x\n+++ b/x\n", "no hunks"),
        ("--- a/x\n+++ b/x\n@@ -1,2 +1,2 @@\n-a\n+b\n", "cut short"),
        ("--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n\\ No newline at end of file\n", "hunk header"),
        ("--- a/x\n+++ b/x\n@@ -1,2 +1,2 @@\n-a\n+b\n*c\n", "not a context"),
    ],
)
def test_a_malformed_patch_is_refused(text: str, problem: str) -> None:
    with pytest.raises(regenerate.PatchError, match=re.escape(problem)):
        regenerate.parse_patch(text, "bad.patch")


def test_an_edited_upstream_template_is_refused(tmp_path: Path) -> None:
    path = _target(PATCHES[0])
    installed = importlib.metadata.distribution(regenerate.UPSTREAM)
    entry = next(f for f in installed.files or () if f.as_posix() == path)
    assert entry.hash is not None
    # A stand-in installation holding that one file, with the wheel's RECORD line for it.
    info = tmp_path / f"openapi_python_client-{UPSTREAM_VERSION}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {regenerate.UPSTREAM}\nVersion: {UPSTREAM_VERSION}\n"
    )
    (info / "RECORD").write_text(f"{path},{entry.hash.mode}={entry.hash.value},{entry.size}\n")
    copy = tmp_path / path
    copy.parent.mkdir(parents=True)
    copy.write_bytes(Path(str(entry.locate())).read_bytes())
    dist = importlib.metadata.PathDistribution(info)
    assert regenerate.upstream_template(path, dist) == regenerate.upstream_template(path)
    copy.write_bytes(copy.read_bytes() + b"{# local edit #}\n")
    with pytest.raises(regenerate.PatchError, match="RECORD"):
        regenerate.upstream_template(path, dist)
