"""The command line speaks command line: flags in messages, the README's exit codes, tables for
people, resume hints that resume, the mock's port, request ids with -v, the umask."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from deerapi_videos import (
    APIStatusError,
    DeerAPIError,
    InvalidParameterError,
    JobMayExistError,
    PollTimeoutError,
)
from deerapi_videos_cli import _output, _progress
from deerapi_videos_cli._commands import cli
from deerapi_videos_cli._output import error_line

from contract_tests.paths import ROOT

from .conftest import API_KEY, Served

MAIN = "from deerapi_videos_cli import main; import sys; main(sys.argv[1:])"


def _cli_process(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", MAIN, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


# -- wording ---------------------------------------------------------------------------------

#: Python spellings that must never reach a command-line user.
PYTHON_WORDS = re.compile(r"api_key=|videos\.\w+\(|idempotency_key=|\bsize=|input_reference")


def _client_errors() -> list[BaseException]:
    return [
        DeerAPIError("No API key: pass api_key=... or set the DEERAPI_KEY environment variable."),
        PollTimeoutError("video_1", "in_progress", 40, 900),
        JobMayExistError(
            "the connection broke",
            idempotency_key="key-1",
            request_id="req_1",
            status_code=None,
            cause=OSError("reset"),
        ),
        InvalidParameterError(
            "input_reference",
            "image is 640x480 pixels but model 'sora-2' (the default when model is omitted) "
            "needs it to match the default size '720x1280' (size was omitted)",
            ("720x1280",),
        ),
        InvalidParameterError("input_reference", "image is 1x1 but needs size='720x1280'"),
        APIStatusError("Invalid size", status_code=400, param="size", request_id="req_2"),
    ]


@pytest.mark.parametrize("exc", _client_errors(), ids=lambda e: type(e).__name__)
def test_error_lines_use_flags_and_commands_not_python(exc: BaseException) -> None:
    line = error_line(exc)
    assert not PYTHON_WORDS.search(line), line
    assert "\n" not in line


def test_the_translations_say_what_to_type() -> None:
    missing_key, timeout, may_exist, reference, _, status = map(error_line, _client_errors())
    assert "pass --api-key KEY or set DEERAPI_KEY" in missing_key
    assert "Resume with deerapi-videos get video_1 --wait" in timeout
    assert "(deerapi-videos list)" in may_exist and "--idempotency-key key-1" in may_exist
    assert reference.startswith("error: --input-reference: ")
    assert "(--size was omitted)" in reference and "when --model is omitted" in reference
    assert "[param=size (--size)]" in status and "req_2" in status


def test_a_server_side_error_keeps_its_wording(served: Served) -> None:
    result = served.invoke("get", "video_missing")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: HTTP 404") and "Traceback" not in result.stderr


# -- exit codes, as the README's table says --------------------------------------------------


def _readme_exit_codes() -> dict[int, str]:
    """The README's table of the command line's exit codes (``| Exit code | Meaning |``)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("| Exit code | Meaning |", 1)[1].split("\n\n", 1)[0]
    rows = [line.split("|")[1:3] for line in table.strip().splitlines()[1:]]
    return {int(code.strip()): meaning.strip() for code, meaning in rows}


def test_the_readme_lists_the_codes_the_cli_uses() -> None:
    assert (
        set(_readme_exit_codes())
        == {
            _output.EXIT_OK,
            _output.EXIT_API_ERROR,
            _output.EXIT_USAGE,
            _output.EXIT_NOT_RUN,
            _output.EXIT_INTERRUPTED,
        }
        == {0, 1, 2, 3, 130}
    )


def test_exit_0_ok_and_1_api_error(served: Served) -> None:
    video = json.loads(served.invoke("--json", "create", "x").stdout)
    assert served.invoke("get", video["id"]).exit_code == 0
    assert served.invoke("get", "video_missing").exit_code == 1
    assert served.invoke("remix", video["id"], "bow").exit_code == 1  # 409: not completed


@pytest.mark.parametrize(
    "args",
    [
        ("create", "x", "--seconds", "5"),  # click: not a value sora-2 takes
        ("create", ""),  # the client: an empty prompt
        ("list", "--limit", "0"),
        ("get",),  # a missing argument
        ("no-such-command",),
    ],
)
def test_exit_2_usage_errors_including_local_validation(
    served: Served, args: tuple[str, ...]
) -> None:
    result = served.invoke(*args)
    assert result.exit_code == 2, result.output
    assert served.mock.requests == []


def test_exit_130_on_ctrl_c_anywhere(served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    from deerapi_videos import DeerAPI

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    with DeerAPI(api_key=API_KEY, base_url=served.base_url) as probe:
        videos_class = type(probe.videos)
    monkeypatch.setattr(videos_class, "list", interrupted)
    result = served.invoke("list")
    assert result.exit_code == 130
    assert result.stderr.strip() == "Interrupted."  # not click's "Aborted!" with exit 1


# -- the mock's port -------------------------------------------------------------------------


def test_mock_on_port_0_prints_the_port_it_picked_and_stops_on_ctrl_c() -> None:
    process = _cli_process("mock", "--port", "0", env={"DEERAPI_KEY": API_KEY})
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url), url
        assert int(url.rsplit(":", 1)[1]) > 0
        answer = httpx.get(f"{url}/v1/videos", headers={"Authorization": f"Bearer {API_KEY}"})
        assert answer.status_code == 200
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr


@pytest.fixture
def busy_port() -> Iterator[int]:
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    try:
        yield holder.getsockname()[1]
    finally:
        holder.close()


def test_mock_on_a_busy_port_is_one_line_and_exit_3(busy_port: int) -> None:
    process = _cli_process("mock", "--port", str(busy_port), env={"DEERAPI_KEY": API_KEY})
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 3
    (line,) = stderr.strip().splitlines()
    assert line.startswith(f"error: cannot listen on 127.0.0.1:{busy_port}: ")
    assert "--port 0" in line and stdout == ""


# -- tables for people -----------------------------------------------------------------------


def test_get_and_list_tables_have_headers_and_utc_times(served: Served) -> None:
    video = json.loads(served.invoke("--json", "create", "a cat").stdout)
    served.mock.complete(video["id"])
    wide = {"COLUMNS": "200"}
    shown = served.invoke("--progress", "get", video["id"], env=wide)
    assert shown.exit_code == 0, shown.output
    assert re.search(r"field\s+value", shown.stdout)
    assert re.search(r"created_at\s+2025-09-27 02:51:25 UTC", shown.stdout)
    assert re.search(r"progress\s+100%", shown.stdout)
    listed = served.invoke("--progress", "list", env=wide)
    header = next(line for line in listed.stdout.splitlines() if "status" in line)
    assert header.split() == [
        "id",
        "status",
        "progress",
        "model",
        "seconds",
        "size",
        "created",
        "(UTC)",
    ]
    assert "2025-09-27 02:51:25" in listed.stdout and "1758941485" not in listed.stdout
    narrow = served.invoke("--progress", "list", env={"COLUMNS": "80"})
    assert video["id"] in narrow.stdout  # never cut
    assert "hidden for the terminal's width; --json shows all" in narrow.stdout


def test_piped_list_is_tab_separated_with_iso_times(served: Served) -> None:
    served.invoke("create", "a cat")
    (line,) = served.invoke("list").stdout.splitlines()
    assert line.split("\t")[1:] == [
        "queued",
        "0",
        "sora-2",
        "4",
        "720x1280",
        "2025-09-27T02:51:25Z",
    ]


# -- list --limit: a count of videos; the page size follows ------------------------------------


def test_list_limit_is_a_count_of_videos_newest_first(served: Served) -> None:
    ids = [served.mock.add_video(f"clip {i}").id for i in range(5)]
    result = served.invoke("--json", "list", "--limit", "3")
    assert [v["id"] for v in json.loads(result.stdout)] == ids[::-1][:3]
    assert len(served.mock.requests_for("listVideos")) == 1  # one page of 3, not more


def test_list_limit_above_a_page_reads_pages_of_100(served: Served) -> None:
    for i in range(103):
        served.mock.add_video(f"clip {i}")
    result = served.invoke("--json", "list", "--limit", "102")
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)) == 102
    assert len(served.mock.requests_for("listVideos")) == 2  # 100 + 2 of the second page


# -- Ctrl-C hints resume with the same flags -------------------------------------------------


def _interrupt_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupt(self: _progress.WaitProgress, video: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(_progress.WaitProgress, "__call__", interrupt)


def test_ctrl_c_hint_resumes_with_the_same_flags(
    served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "my cat.mp4"
    with monkeypatch.context() as patched:
        _interrupt_waiting(patched)
        result = served.invoke(
            "--base-url", served.base_url, "--timeout", "30", "create", "a cat", "-o", str(target)
        )
    assert result.exit_code == 130
    (job,) = served.mock.paid_jobs
    hint = next(line for line in result.stderr.splitlines() if line.startswith("Resume"))
    command = hint.split(": ", 1)[1]
    flags = ["--base-url", served.base_url, "--timeout", "30"]
    assert command == shlex.join(["deerapi-videos", *flags, "get", job.id, "--output", str(target)])
    # Pasted, it finishes the job the first run paid for: no second job, the file saved.
    resumed = served.invoke(*shlex.split(command)[1:], env={"DEERAPI_BASE_URL": None})
    assert resumed.exit_code == 0, resumed.output
    assert target.stat().st_size > 0 and len(served.mock.paid_jobs) == 1


def test_ctrl_c_during_a_download_keeps_the_variant_and_output(
    served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    video_id = served.mock.add_video().id

    def interrupt(self: _progress.DownloadProgress, done: int, total: int | None) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(_progress.DownloadProgress, "__call__", interrupt)
    target = tmp_path / "thumb.webp"
    result = served.invoke("download", video_id, "--variant", "thumbnail", "-o", str(target))
    assert result.exit_code == 130
    assert (
        f"Resume with: deerapi-videos download {video_id} --variant thumbnail --output {target}"
        in result.stderr
    )


# -- request ids of paid jobs with -v ---------------------------------------------------------


def test_verbose_shows_the_request_id_of_the_paid_job(served: Served) -> None:
    quiet = served.invoke("create", "a cat")
    assert "request id" not in quiet.stderr
    loud = served.invoke("-v", "create", "a cat")
    assert loud.exit_code == 0, loud.output
    (post,) = [r for r in served.mock.requests if r.method == "POST"][1:]
    video_id = loud.stdout.split("\t")[0]
    assert f"Created {video_id} (request id {post.request_id})" in loud.stderr


def test_verbose_shows_the_request_id_while_waiting(served: Served, tmp_path: Path) -> None:
    result = served.invoke("-v", "create", "a cat", "-o", str(tmp_path / "v.mp4"))
    assert result.exit_code == 0, result.output
    (post,) = [r for r in served.mock.requests if r.method == "POST"]
    assert f"(request id {post.request_id}); waiting for it" in result.stderr


# -- downloads respect the umask --------------------------------------------------------------


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_downloads_get_the_mode_the_umask_gives_new_files(
    served: Served, tmp_path: Path, umask: int
) -> None:
    video_id = served.mock.add_video().id
    target = tmp_path / "v.mp4"
    previous = os.umask(umask)
    try:
        result = served.invoke("download", video_id, "-o", str(target))
        (tmp_path / "plain.txt").write_text("made by open()")
    finally:
        os.umask(previous)
    assert result.exit_code == 0, result.output
    expected = stat.S_IMODE((tmp_path / "plain.txt").stat().st_mode)
    assert expected == 0o666 & ~umask
    assert stat.S_IMODE(target.stat().st_mode) == expected


def test_the_umask_is_read_without_proc_too(
    served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where /proc/self/status is not there (macOS), the umask is read by setting it back."""
    import builtins

    real_open = builtins.open

    def no_proc(file: Any, *args: Any, **kwargs: Any) -> Any:
        if str(file).startswith("/proc/"):
            raise OSError("no /proc here")
        return real_open(file, *args, **kwargs)

    video_id = served.mock.add_video().id
    target = tmp_path / "v.mp4"
    previous = os.umask(0o027)
    try:
        monkeypatch.setattr(builtins, "open", no_proc)
        result = served.invoke("download", video_id, "-o", str(target))
        monkeypatch.undo()
        assert os.umask(0o027) == 0o027  # left as it was
    finally:
        os.umask(previous)
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


def test_cli_runner_is_not_a_terminal_by_default() -> None:
    """The tables above are forced with --progress; without it output stays plain."""
    result = CliRunner().invoke(cli, ["--help"])
    assert "\x1b[" not in result.output
