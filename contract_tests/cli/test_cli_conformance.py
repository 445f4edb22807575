"""``deerapi-videos conformance``: the default mock run, a planted defect, "as live" budgets.

Most runs here use ``--phase examples`` (the spec's own examples: about a second, deterministic);
one test runs the default command with every phase, as users and CI run it (seeded).
"""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from deerapi_videos_cli._commands import cli
from deerapi_videos_mock import MockDeerAPI

from .conftest import API_KEY, JOB_DURATION

QUICK = ("--phase", "examples", "--seed", "1")


def run(tmp_path: Path, *args: str, env: dict[str, str | None] | None = None) -> Result:
    """Run the command with its reports under ``tmp_path``; no key or URL in the environment."""
    full_env: dict[str, str | None] = {"DEERAPI_KEY": None, "DEERAPI_BASE_URL": None}
    full_env.update(env or {})
    return CliRunner().invoke(
        cli,
        [
            "conformance",
            "--junit",
            str(tmp_path / "reports" / "conformance.xml"),
            "--report",
            str(tmp_path / "reports" / "conformance.md"),
            *args,
        ],
        env=full_env,
        catch_exceptions=False,
    )


def reports(tmp_path: Path) -> tuple[ET.Element, str]:
    junit = ET.parse(tmp_path / "reports" / "conformance.xml").getroot()
    markdown = (tmp_path / "reports" / "conformance.md").read_text(encoding="utf-8")
    return junit, markdown


@pytest.fixture
def live_like() -> Iterator[tuple[MockDeerAPI, str]]:
    """A mock standing in for the live API: it answers like DeerAPI and counts paid jobs."""
    mock = MockDeerAPI(
        api_key=API_KEY,
        job_duration=JOB_DURATION,
        advance_on_retrieve=JOB_DURATION / 2,
        poll_after_ms=1,
    )
    with mock.serve("127.0.0.1", 0) as base_url:
        yield mock, str(base_url)


# -- against the bundled mock ----------------------------------------------------------------------


def test_default_run_against_the_bundled_mock_passes(tmp_path: Path) -> None:
    """The README's main command (every phase, no key, no network): exit 0, both reports.

    Seeded, so a failure here reproduces; the README's unseeded run explores more each time.
    """
    result = run(tmp_path, "--seed", "1")
    assert result.exit_code == 0, result.output
    junit, markdown = reports(tmp_path)
    assert junit.get("failures") == "0" and int(junit.get("tests", "0")) >= 60
    assert "**Result: CONFORMANT**" in markdown
    assert "(bundled mock)" in markdown
    for phase in ("examples", "coverage", "fuzzing", "stateful"):
        assert f"{phase} " in markdown.split("Cases per phase:")[1].splitlines()[0]
    assert result.stdout.startswith("CONFORMANT: ")


def test_quick_run_writes_both_reports(tmp_path: Path) -> None:
    result = run(tmp_path, *QUICK)
    assert result.exit_code == 0, result.output
    junit, markdown = reports(tmp_path)
    assert junit.tag == "testsuites" and junit.get("failures") == "0"
    cases = junit.findall("testsuite/testcase")
    operations = {c.get("classname") for c in cases}
    assert (
        {"POST /v1/videos", "GET /v1/videos/{video_id}"}
        <= operations
        <= {
            "POST /v1/videos",
            "GET /v1/videos",
            "GET /v1/videos/{video_id}",
            "DELETE /v1/videos/{video_id}",
            "GET /v1/videos/{video_id}/content",
            "POST /v1/videos/{video_id}/remix",
        }
    )
    assert "## Checks by operation" in markdown and "## Drift" in markdown
    assert "## Paid jobs" in markdown and "Duration:" in markdown
    assert "| `POST /v1/videos` | status_code_conformance | pass |" in markdown


def test_environment_base_url_does_not_make_a_live_run(tmp_path: Path) -> None:
    result = run(tmp_path, *QUICK, env={"DEERAPI_BASE_URL": "https://api.deerapi.invalid"})
    assert result.exit_code == 0, result.output
    assert "(bundled mock)" in reports(tmp_path)[1]


def test_json_summary(tmp_path: Path) -> None:
    result = run(tmp_path, *QUICK, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["passed"] is True and summary["failed"] == []
    assert summary["cases_per_phase"]["examples"] > 0
    assert summary["reports"] == [
        str(tmp_path / "reports" / "conformance.xml"),
        str(tmp_path / "reports" / "conformance.md"),
    ]
    assert set(summary["drift"]) >= {"undocumented_fields", "unseen_fields"}


@pytest.mark.parametrize(
    ("defect", "operation", "check"),
    [
        ("wrong_field_type", "GET /v1/videos/{video_id}", "response_schema_conformance"),
        ("undocumented_status", "GET /v1/videos/{video_id}", "status_code_conformance"),
    ],
)
def test_planted_defect_fails_and_the_report_names_it(
    tmp_path: Path, defect: str, operation: str, check: str
) -> None:
    result = run(tmp_path, *QUICK, "--plant-defect", defect)
    assert result.exit_code == 1, result.output
    assert f"FAIL {operation} {check}:" in result.stdout
    junit, markdown = reports(tmp_path)
    failure = junit.find(f"testsuite/testcase[@classname='{operation}'][@name='{check}']/failure")
    assert failure is not None and "Request id: req_" in (failure.text or "")
    assert "**Result: NOT CONFORMANT**" in markdown
    assert f"| `{operation}` | {check} | **FAIL**" in markdown
    section = markdown.split(f"### `{operation}` — {check}", 1)[1].split("\n### ", 1)[0]
    assert "Request id: `req_" in section
    assert "```sh\n" in section and "curl -sS -i -X GET" in section
    assert '-H "Authorization: Bearer $DEERAPI_KEY"' in section  # the key is never written


def test_unknown_defect_is_a_usage_error(tmp_path: Path) -> None:
    result = run(tmp_path, "--plant-defect", "no_such_defect")
    assert result.exit_code == 2
    assert "delete_noop" in result.stderr  # the known ones are listed


def test_live_only_options_need_base_url(tmp_path: Path) -> None:
    result = run(tmp_path, "--budget", "3")
    assert result.exit_code == 2 and "--base-url" in result.stderr


def test_missing_extra_is_reported_with_the_install_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "deerapi_videos_conformance", None)
    result = run(tmp_path)
    assert result.exit_code == 3
    assert "pip install 'deerapi-videos[conformance]'" in result.stderr
    assert not (tmp_path / "reports").exists()


# -- "as live": the mock stands in for the paid API ------------------------------------------------


def test_live_run_shows_the_budget_and_respects_it(
    tmp_path: Path, live_like: tuple[MockDeerAPI, str]
) -> None:
    mock, base_url = live_like
    result = run(tmp_path, "--base-url", base_url, "--yes", *QUICK, env={"DEERAPI_KEY": API_KEY})
    assert result.exit_code == 0, result.output
    assert "Paid-job budget: at most 1 job(s)" in result.stderr
    assert "model=sora-2, seconds=4, size=720x1280" in result.stderr
    assert len(mock.paid_jobs) == 1  # exactly the one budgeted job, never more
    (job,) = mock.paid_jobs
    assert (job.model, job.seconds, job.size) == ("sora-2", "4", "720x1280")
    assert mock.get(job.id) is None  # the run deleted its own video at the end
    _, markdown = reports(tmp_path)
    assert "(live API)" in markdown
    assert "- Paid jobs created: 1 (budget 1)" in markdown
    assert (
        f"| `POST /v1/videos` | `{job.id}` | model=sora-2, seconds=4, size=720x1280 |" in markdown
    )
    assert API_KEY not in markdown
    assert API_KEY not in (tmp_path / "reports" / "conformance.xml").read_text(encoding="utf-8")
    assert API_KEY not in result.output


def test_live_budget_flag_allows_a_remix(
    tmp_path: Path, live_like: tuple[MockDeerAPI, str]
) -> None:
    mock, base_url = live_like
    result = run(
        tmp_path,
        "--base-url",
        base_url,
        "--yes",
        "--budget",
        "2",
        "--allow-remix",
        *QUICK,
        env={"DEERAPI_KEY": API_KEY},
    )
    assert result.exit_code == 0, result.output
    assert "1 remix of that video" in result.stderr
    assert [j.operation for j in mock.paid_jobs] == ["createVideo", "remixVideo"]


def test_live_budget_zero_reads_an_existing_video(
    tmp_path: Path, live_like: tuple[MockDeerAPI, str]
) -> None:
    mock, base_url = live_like
    existing = mock.add_video()
    result = run(
        tmp_path,
        "--base-url",
        base_url,
        "--yes",
        "--budget",
        "0",
        "--video-id",
        existing.id,
        *QUICK,
        env={"DEERAPI_KEY": API_KEY},
    )
    assert result.exit_code == 0, result.output
    assert mock.paid_jobs == []
    assert "Paid jobs created: 0 (budget 0)" in reports(tmp_path)[1]


def test_live_run_without_yes_refuses_when_not_interactive(
    tmp_path: Path, live_like: tuple[MockDeerAPI, str]
) -> None:
    mock, base_url = live_like
    result = run(tmp_path, "--base-url", base_url, env={"DEERAPI_KEY": API_KEY})
    assert result.exit_code == 2
    assert "Paid-job budget: at most 1 job(s)" in result.stderr  # shown before refusing
    assert "pass --yes" in result.stderr
    assert mock.requests == [] and not (tmp_path / "reports").exists()


def test_live_run_without_a_key_is_a_usage_error(
    tmp_path: Path, live_like: tuple[MockDeerAPI, str]
) -> None:
    mock, base_url = live_like
    result = run(tmp_path, "--base-url", base_url, "--yes")
    assert result.exit_code == 2 and "DEERAPI_KEY" in result.stderr
    assert mock.requests == []


@pytest.mark.parametrize(("answer", "exit_code", "jobs"), [("n\n", 2, 0), ("y\n", 0, 1)])
def test_live_run_asks_at_a_terminal(
    tmp_path: Path,
    live_like: tuple[MockDeerAPI, str],
    monkeypatch: pytest.MonkeyPatch,
    answer: str,
    exit_code: int,
    jobs: int,
) -> None:
    from deerapi_videos_cli import _conformance

    monkeypatch.setattr(_conformance, "stdin_is_interactive", lambda: True)
    mock, base_url = live_like
    result = CliRunner().invoke(
        cli,
        [
            "conformance",
            "--base-url",
            base_url,
            *QUICK,
            "--report",
            str(tmp_path / "r.md"),
            "--junit",
            str(tmp_path / "r.xml"),
        ],
        env={"DEERAPI_KEY": API_KEY, "DEERAPI_BASE_URL": None},
        input=answer,
        catch_exceptions=False,
    )
    assert result.exit_code == exit_code, result.output
    assert "Start the live check? [y/N]" in result.stderr
    assert len(mock.paid_jobs) == jobs


@pytest.mark.parametrize("url", ["http://api.deerapi.com", "ftp://127.0.0.1", "not a url"])
def test_live_run_refuses_to_send_the_key_in_clear(tmp_path: Path, url: str) -> None:
    result = run(tmp_path, "--base-url", url, "--yes", env={"DEERAPI_KEY": API_KEY})
    assert result.exit_code == 2 and "clear text" in result.stderr
    assert API_KEY not in result.output


# -- the Idempotency-Key probe ------------------------------------------------------------


def test_the_default_mock_run_probes_and_its_json_says_so(tmp_path: Path) -> None:
    """What CI runs (``deerapi-videos conformance``, the bundled mock): the probe runs."""
    result = run(tmp_path, *QUICK, "--json")
    assert result.exit_code == 0, result.output
    probe = json.loads(result.stdout)["idempotency_key"]
    assert probe["outcome"] == "honoured" and len(probe["jobs"]) == 1
    assert probe["cleanup"] == {probe["jobs"][0]: "deleted"}


def test_a_mock_ignoring_the_key_is_a_finding_not_a_failure(tmp_path: Path) -> None:
    result = run(tmp_path, *QUICK, "--plant-defect", "ignore_idempotency")
    assert result.exit_code == 0, result.output
    assert "\nIDEMPOTENCY-KEY not honoured: " in result.stdout
    md = (tmp_path / "reports" / "conformance.md").read_text(encoding="utf-8")
    assert "- Idempotency-Key: not honoured (a finding: see below)" in md


def test_the_probe_can_be_turned_off(tmp_path: Path) -> None:
    result = run(tmp_path, *QUICK, "--no-idempotency-probe", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["idempotency_key"]["outcome"] == "not_checked"
    md = (tmp_path / "reports" / "conformance.md").read_text(encoding="utf-8")
    assert "| Idempotency-Key probe | `off` |" in md
    assert "--no-idempotency-probe" in md.split("Run the same check again", 1)[1]


@pytest.mark.parametrize(
    ("budget", "line", "jobs"),
    [
        ("1", "no Idempotency-Key probe (needs 2 paid jobs, budget left 0)", 1),
        ("3", "2 creates for the Idempotency-Key probe", 2),
    ],
)
def test_a_live_run_shows_the_probe_in_its_budget(
    tmp_path: Path, live_like: tuple[MockDeerAPI, str], budget: str, line: str, jobs: int
) -> None:
    mock, base_url = live_like
    result = run(
        tmp_path,
        *QUICK,
        "--base-url",
        base_url,
        "--budget",
        budget,
        "--yes",
        env={"DEERAPI_KEY": API_KEY},
    )
    assert result.exit_code == 0, result.output
    assert line in result.stderr
    assert len(mock.paid_jobs) == jobs  # the run's create, and one job from an honoured probe
