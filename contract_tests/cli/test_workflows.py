"""The GitHub Actions workflows parse and have the structure CI and the nightly run need.

They cannot run here; this checks what a YAML load and the workflow schema's basics can show,
plus the project-specific promises: CI runs the tox environments on every push, the nightly run
is scheduled, reads the key from a secret and uploads the reports.
"""

from __future__ import annotations

import configparser
from typing import Any

import pytest
import yaml

from contract_tests.paths import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"
STEP_KEYS = {"uses", "run"}


def _load(name: str) -> dict[Any, Any]:
    data = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    assert isinstance(data, dict), name
    return data


def _on(workflow: dict[Any, Any]) -> dict[str, Any]:
    # YAML 1.1 reads a bare `on:` key as the boolean True.
    on = workflow.get("on", workflow.get(True))
    assert on is not None, "workflow has no `on`"
    return (
        on
        if isinstance(on, dict)
        else {str(k): None for k in ([on] if isinstance(on, str) else on)}
    )


def _steps(workflow: dict[Any, Any]) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = []
    for job in workflow["jobs"].values():
        steps.extend(job["steps"])
    return steps


@pytest.mark.parametrize("name", ["ci.yml", "nightly.yml"])
def test_workflow_structure(name: str) -> None:
    workflow = _load(name)
    assert workflow.get("name")
    _on(workflow)
    jobs = workflow.get("jobs")
    assert isinstance(jobs, dict) and jobs
    for job_id, job in jobs.items():
        assert isinstance(job, dict), job_id
        assert job.get("runs-on"), f"{job_id}: runs-on"
        steps = job.get("steps")
        assert isinstance(steps, list) and steps, f"{job_id}: steps"
        for step in steps:
            keys = STEP_KEYS & set(step)
            assert len(keys) == 1, f"{job_id}: a step needs exactly one of uses/run: {step}"
            if "uses" in step:
                action, _, ref = str(step["uses"]).partition("@")
                assert action and ref, f"{job_id}: pin a version: {step['uses']}"


def _tox_envs() -> set[str]:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(ROOT / "tox.ini", encoding="utf-8")
    return {s.split(":", 1)[1] for s in parser.sections() if s.startswith("testenv:")}


def test_ci_runs_every_check_on_push() -> None:
    workflow = _load("ci.yml")
    assert "push" in _on(workflow)
    text = (WORKFLOWS / "ci.yml").read_text(encoding="utf-8")
    matrix = workflow["jobs"]["tox"]["strategy"]["matrix"]["env"]
    assert set(matrix) == {"tests", "lint", "types", "spec", "drift"}
    assert "tox -e ${{ matrix.env }}" in text
    assert set(matrix) <= _tox_envs(), "every env CI calls is defined in tox.ini"


def test_nightly_checks_the_live_api_and_uploads_reports() -> None:
    workflow = _load("nightly.yml")
    on = _on(workflow)
    crons = [entry["cron"] for entry in on["schedule"]]
    assert crons and all(len(c.split()) == 5 for c in crons)
    steps = _steps(workflow)
    runs = [s for s in steps if "run" in s and "conformance" in s["run"]]
    assert runs, "a step runs the conformance check"
    run = runs[0]
    assert run["env"]["DEERAPI_KEY"] == "${{ secrets.DEERAPI_KEY }}"
    assert "--base-url" in run["run"] and "--yes" in run["run"]
    assert "conformance" in _tox_envs()
    upload = [s for s in steps if str(s.get("uses", "")).startswith("actions/upload-artifact@")]
    assert upload, "the reports are uploaded"
    assert upload[0]["if"] == "always()"
    assert upload[0]["with"]["path"].rstrip("/") == "reports"


def test_no_secret_is_echoed() -> None:
    for path in WORKFLOWS.glob("*.yml"):
        for line in path.read_text(encoding="utf-8").splitlines():
            if "secrets." in line:
                assert line.strip().startswith("DEERAPI_KEY:"), f"{path.name}: {line}"
