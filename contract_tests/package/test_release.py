"""Release readiness that can be checked without a release: the version has one home, the
changelog follows Keep a Changelog, and the release workflow publishes only tags, only through
trusted publishing, and only what ``scripts/check_dist.py`` checked.

The build itself (``python -m build``, ``twine check``, the wheel in a fresh venv) runs in
``.ci/run`` through ``scripts/check_dist.py``: it needs the network and ~20 s, too slow here.
"""

from __future__ import annotations

import re
import tomllib
from typing import Any

import deerapi_videos
import yaml

from contract_tests.paths import ROOT

WORKFLOW = ROOT / ".github" / "workflows" / "release.yml"
CHANGELOG = ROOT / "CHANGELOG.md"


def _project() -> dict[str, Any]:
    with (ROOT / "pyproject.toml").open("rb") as fh:
        return tomllib.load(fh)["project"]  # type: ignore[no-any-return]


def _workflow() -> dict[Any, Any]:
    data = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_version_has_one_home() -> None:
    assert deerapi_videos.__version__ == _project()["version"]
    assert "dynamic" not in _project() or "version" not in _project()["dynamic"]
    pattern = re.compile(r"^__version__\s*=", re.MULTILINE)
    for path in (ROOT / "overlays").rglob("*.py"):
        assert not pattern.search(path.read_text(encoding="utf-8")), f"a version in {path}"


def test_changelog_keeps_a_changelog() -> None:
    text = CHANGELOG.read_text(encoding="utf-8")
    assert "https://keepachangelog.com/" in text
    versions = re.findall(r"^## \[([^\]]+)\](?: - (\d{4}-\d{2}-\d{2}))?$", text, re.MULTILINE)
    assert versions[0] == ("Unreleased", "")
    released = [v for v, date in versions[1:] if date]
    assert len(released) == len(versions) - 1, "every version section is dated"
    assert _project()["version"] in [v for v, _ in versions]
    for heading in re.findall(r"^### (.+)$", text, re.MULTILINE):
        assert heading in {"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"}


def test_release_runs_on_version_tags_only() -> None:
    workflow = _workflow()
    on = workflow.get("on", workflow.get(True))  # YAML 1.1 reads `on` as True
    assert on == {"push": {"tags": ["v*"]}}
    assert workflow["permissions"] == {"contents": "read"}


def test_release_publishes_with_trusted_publishing_never_a_token() -> None:
    workflow = _workflow()
    publish = workflow["jobs"]["publish"]
    assert publish["needs"] == "build"
    assert publish["environment"]["name"] == "pypi"
    assert publish["permissions"] == {"id-token": "write"}
    uses = [step.get("uses", "") for step in publish["steps"]]
    assert any(u.startswith("pypa/gh-action-pypi-publish@") for u in uses)
    for step in publish["steps"]:
        assert not {"password", "user", "api-token"} & set(step.get("with", {})), step
    text = WORKFLOW.read_text(encoding="utf-8")
    assert "secrets." not in text and "PYPI_TOKEN" not in text.upper()
    # Only the publish job may ask for an OIDC token.
    for name, job in workflow["jobs"].items():
        if name != "publish":
            assert "id-token" not in job.get("permissions", {}), name


def test_release_publishes_what_check_dist_checked() -> None:
    build = _workflow()["jobs"]["build"]
    runs = "\n".join(step.get("run", "") for step in build["steps"])
    assert "python scripts/check_dist.py --out dist" in runs
    assert 'GITHUB_REF_NAME" != "v$version"' in runs and "CHANGELOG.md" in runs
    dev = _project()["optional-dependencies"]["dev"]
    for pin in re.findall(r'"((?:build|twine)==[^"]+)"', runs):
        assert pin in dev, f"{pin} differs from the dev extra's pin"
    for job in _workflow()["jobs"].values():
        for step in job["steps"]:
            if "uses" in step:
                action, _, ref = str(step["uses"]).partition("@")
                assert action and ref, f"pin a version: {step['uses']}"
