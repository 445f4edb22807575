"""A conformance report replays: its commands, pasted, reproduce the run's failures.

Each test runs ``deerapi-videos conformance`` with a planted defect, starts the mock the report
names (``deerapi-videos mock ...``, in a real process, on the run's port), pastes each failure's
commands into bash with ``DEERAPI_KEY`` exported, and reads the mock's request log
(``GET /_mock/requests``). Without curl on the machine, single-request blocks are parsed with
shlex and sent with httpx instead; multi-step blocks need curl and are skipped.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from deerapi_videos_cli._commands import cli
from deerapi_videos_mock import MockDeerAPI

from .conftest import API_KEY

MAIN = "from deerapi_videos_cli import main; import sys; main(sys.argv[1:])"
REPRO_KEY = "sk-mock-repro"  # what the report says to export
CURL = shutil.which("curl")


def _conformance(folder: Path, *args: str, env: dict[str, str | None] | None = None) -> Any:
    """Run the check in ``folder`` (reports at their default, relative paths); its JSON."""
    old = Path.cwd()
    os.chdir(folder)
    try:
        result = CliRunner().invoke(
            cli,
            ["conformance", "--json", *args],
            env={"DEERAPI_KEY": None, "DEERAPI_BASE_URL": None, **(env or {})},
            catch_exceptions=False,
        )
    finally:
        os.chdir(old)
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.stdout)


def _report(folder: Path) -> str:
    return (folder / "reports" / "conformance.md").read_text(encoding="utf-8")


def _failure_blocks(report: str) -> dict[str, str]:
    """``operation — check`` -> the shell commands of its first failure, as pasted."""
    blocks: dict[str, str] = {}
    for section in report.split("\n### `")[1:]:
        title = section.split("\n", 1)[0].replace("`", "")
        match = re.search(r"\n  ```sh\n(.*?)\n  ```", section, re.S)
        if match:
            blocks[title] = "\n".join(line[2:] for line in match.group(1).splitlines())
    return blocks


@contextmanager
def _mock_as_the_report_says(report: str) -> Iterator[str]:
    """Start the mock with the report's command (after ``export DEERAPI_KEY=...``)."""
    command = report.split(f"export DEERAPI_KEY={REPRO_KEY}\n", 1)[1].split("\n", 1)[0]
    argv = shlex.split(command)
    assert argv[:2] == ["deerapi-videos", "mock"], command
    env = {**os.environ, "DEERAPI_KEY": REPRO_KEY}
    env.pop("DEERAPI_BASE_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-c", MAIN, *argv[1:]],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url, process.stderr.read() if process.stderr else ""
        yield url
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.communicate(timeout=20)
        except subprocess.TimeoutExpired:  # pragma: no cover
            process.kill()
            process.communicate()


def _send_with_httpx(script: str, folder: Path) -> str:
    """A one-line curl command, parsed as the shell would (the key expanded) and sent with
    httpx; its answer shown as ``curl -i`` would show it."""
    expanded = script.replace(
        '"Authorization: Bearer $DEERAPI_KEY"', shlex.quote(f"Authorization: Bearer {REPRO_KEY}")
    )
    words = shlex.split(expanded)
    assert words[0] == "curl" and "$" not in expanded, script
    method, headers, body = "GET", {}, None
    options = iter(words[1:-1])
    for word in options:
        if word == "-X":
            method = next(options)
        elif word == "-H":
            name, _, value = next(options).partition(": ")
            headers[name] = value
        elif word == "--data-binary":
            data = next(options)
            body = (folder / data[1:]).read_bytes() if data.startswith("@") else data.encode()
        else:
            assert word in ("-sS", "-i"), word
    answer = httpx.request(method, words[-1], headers=headers, content=body)
    head = "\n".join(f"{k}: {v}" for k, v in answer.headers.items())
    return f"HTTP/1.1 {answer.status_code}\n{head}\n\n{answer.text}"


def _paste(script: str, folder: Path) -> str:
    """Run pasted commands as a user would (bash, curl, the exported key); their stdout."""
    if CURL is None:
        if "\n" in script:
            pytest.skip("a multi-step repro needs curl")
        return _send_with_httpx(script, folder)
    env = {**os.environ, "DEERAPI_KEY": REPRO_KEY}
    done = subprocess.run(
        ["bash", "-c", "set -e\n" + script],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _log(url: str) -> list[tuple[str, str, int]]:
    entries = httpx.get(f"{url}/_mock/requests").json()["data"]
    return [(e["method"], e["operation"], e["status"]) for e in entries]


@pytest.fixture(scope="module")
def examples_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any, str]:
    """A quick run with a defect on create and retrieve: the folder, the summary, the report."""
    folder = tmp_path_factory.mktemp("examples")
    summary = _conformance(folder, "--phase", "examples", "--plant-defect", "wrong_field_type")
    return folder, summary, _report(folder)


def test_pasted_commands_reproduce_each_failure_against_the_mock_the_report_names(
    examples_run: tuple[Path, Any, str],
) -> None:
    folder, summary, report = examples_run
    assert summary["passed"] is False and report.count(f"--seed {summary['seed']}") >= 2
    blocks = _failure_blocks(report)
    assert set(blocks) == {
        "POST /v1/videos — response_schema_conformance",
        "GET /v1/videos/{video_id} — response_schema_conformance",
    }
    assert (
        "--data-binary @reports/conformance-bodies/"
        in blocks["POST /v1/videos — response_schema_conformance"]
    )  # the multipart body, byte for byte
    for title, script in blocks.items():
        assert "'Authorization: Bearer $DEERAPI_KEY'" not in script  # expanded, not literal
        with _mock_as_the_report_says(report) as url:
            assert summary["failed"][0]["curl"].count(url.rsplit(":", 1)[1]) == 1  # its port
            output = _paste(script, folder)
            log = _log(url)
        # The defect shows again: created_at sent as a string.
        assert re.search(r'"created_at":\s*"1758941485"', output), (title, output)
        assert "HTTP/1.1 200" in output
        operation = "createVideo" if title.startswith("POST") else "retrieveVideo"
        assert ("POST" if operation == "createVideo" else "GET", operation, 200) in log
        assert all(status == 200 for _, _, status in log), log


def test_without_curl_a_pasted_request_is_parsed_and_sent(
    examples_run: tuple[Path, Any, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fallback the other tests take on a machine without curl, taken here on purpose."""
    folder, _, report = examples_run
    monkeypatch.setattr(sys.modules[__name__], "CURL", None)
    script = _failure_blocks(report)["POST /v1/videos — response_schema_conformance"]
    with _mock_as_the_report_says(report) as url:
        output = _paste(script, folder)
        log = _log(url)
    assert log == [("POST", "createVideo", 200)]
    assert re.search(r'"created_at":\s*"1758941485"', output), output


def test_a_stateful_failure_replays_its_whole_chain(tmp_path: Path) -> None:
    """use_after_free needs create, delete, then read: the block captures the new id."""
    _conformance(tmp_path, "--phase", "stateful", "--seed", "1", "--plant-defect", "delete_noop")
    report = _report(tmp_path)
    script = _failure_blocks(report)["DELETE /v1/videos/{video_id} — use_after_free"]
    assert script.count("VIDEO_1") >= 3 and "id_of" in script
    with _mock_as_the_report_says(report) as url:
        output = _paste(script, tmp_path)
        log = _log(url)
    assert [(m, op) for m, op, _ in log] == [
        ("POST", "createVideo"),
        ("DELETE", "deleteVideo"),
        ("GET", "retrieveVideo"),
    ]
    assert output.count("HTTP/1.1 200") == 2  # the delete, and the read that should be a 404


def test_the_rerun_command_runs_the_same_check(tmp_path: Path) -> None:
    first_dir, second_dir = tmp_path / "a", tmp_path / "b"
    first_dir.mkdir()
    second_dir.mkdir()
    args = ("--phase", "fuzzing", "--max-examples", "3", "--plant-defect", "wrong_field_type")
    first = _conformance(first_dir, *args)  # no --seed: one is drawn, and recorded
    rerun = _report(first_dir).split("Run the same check again", 1)[1].split("```sh\n", 1)[1]
    argv = shlex.split(rerun.split("\n", 1)[0])
    assert argv[:2] == ["deerapi-videos", "conformance"] and str(first["seed"]) in argv
    second = _conformance(second_dir, *argv[2:])
    for key in ("seed", "cases_per_phase", "paid_jobs", "checks"):
        assert second[key] == first[key], key
    assert [(f["operation"], f["check"]) for f in second["failed"]] == [
        (f["operation"], f["check"]) for f in first["failed"]
    ]


def test_a_live_report_names_no_mock_and_never_the_key(tmp_path: Path) -> None:
    """Live: the commands read the key from the environment; paid steps are flagged."""
    mock = MockDeerAPI(  # a "live API" with a defect
        api_key=API_KEY,
        job_duration=8,
        advance_on_retrieve=4,
        poll_after_ms=1,
        defects={"wrong_field_type"},
    )
    with mock.serve("127.0.0.1", 0) as base_url:
        summary = _conformance(
            tmp_path,
            "--base-url",
            str(base_url),
            "--yes",
            "--phase",
            "examples",
            "--seed",
            "1",
            env={"DEERAPI_KEY": API_KEY},
        )
    report = _report(tmp_path)
    assert summary["passed"] is False
    assert "deerapi-videos mock" not in report and "is paid for" in report
    assert API_KEY not in report
    assert '"Authorization: Bearer $DEERAPI_KEY"' in report
    assert f"--base-url {base_url}" in report  # the rerun targets the same API
