"""``deerapi-videos batch``: exit codes, the summary, the JSON report, quiet when piped."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result
from deerapi_videos_cli import cli
from deerapi_videos_mock import Fault

from .conftest import API_KEY, Served, prompts


def invoke(served: Served, *args: str) -> Result:
    env = {"DEERAPI_KEY": API_KEY, "DEERAPI_BASE_URL": served.base_url}
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def test_a_batch_runs_and_says_where_everything_is(served: Served) -> None:
    path = served.write(prompts(3))
    result = invoke(served, "batch", str(path), "--reconcile-grace", "0")
    assert result.exit_code == 0, result.output
    assert result.stdout == ""  # results are files; the summary goes to stderr
    assert "batch: downloaded 3" in result.stderr
    assert "report:" in result.stderr
    videos = served.workdir / "jobs-videos"
    assert sorted(p.name for p in videos.glob("*.mp4")) == ["job-0.mp4", "job-1.mp4", "job-2.mp4"]
    assert (served.workdir / "jobs.ledger.sqlite").exists()
    report = json.loads((videos / "batch-report.json").read_text())
    assert report["exit_code"] == 0 and report["totals"] == {"downloaded": 3}
    # Not a terminal: no progress bar was drawn.
    assert "━" not in result.stderr


def test_json_prints_the_report_and_a_rerun_resumes(served: Served) -> None:
    path = served.write(prompts(2))
    first = invoke(served, "batch", str(path), "--json")
    again = invoke(served, "--json", "batch", str(path))
    assert first.exit_code == again.exit_code == 0
    data = json.loads(again.stdout)
    assert data["totals"] == {"downloaded": 2} and data["requests"]["total"] == 0


def test_a_bad_file_is_a_usage_error_naming_the_line(served: Served) -> None:
    path = served.write([{"prompt": "ok"}, {"prompt": ""}])
    result = invoke(served, "batch", str(path))
    assert result.exit_code == 2
    assert "line 2" in result.stderr
    assert served.mock.requests == []


def test_a_budget_that_stops_the_batch_exits_4(served: Served) -> None:
    path = served.write(prompts(3, seconds="8"))
    result = invoke(served, "batch", str(path), "--budget-seconds", "10", "--concurrency", "3")
    assert result.exit_code == 4
    assert "over_budget 2" in result.stderr and "run the same command again" in result.stderr
    assert len(served.mock.paid_jobs) == 1


def test_an_ambiguous_job_exits_5_with_its_key(served: Served, tmp_path: Path) -> None:
    served.mock.add_video("an older job with the same settings")
    served.mock.inject(Fault.drop_after(operations=("createVideo",), times=1))
    path = served.write(prompts(1))
    result = invoke(served, "batch", str(path), "--reconcile-grace", "0")
    assert result.exit_code == 5
    assert "ambiguous" in result.stderr and "--resubmit-ambiguous" in result.stderr
    assert "idempotency key dvk_" in result.stderr
