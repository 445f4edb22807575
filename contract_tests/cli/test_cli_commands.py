"""Every video command, driven in-process (click's CliRunner) against the mock on loopback."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from deerapi_videos_cli import _progress
from deerapi_videos_cli._commands import cli

from contract_tests.builders import png as _png

from .conftest import API_KEY, Served


def _json(text: str) -> Any:
    return json.loads(text)


def _create(served: Served, *extra: str, prompt: str = "a cat on a piano") -> dict[str, Any]:
    result = served.invoke("--json", "create", prompt, *extra)
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = _json(result.stdout)
    return data


def _completed(served: Served) -> str:
    video = _create(served)
    served.mock.complete(video["id"])
    return str(video["id"])


def _is_mp4(path: Path) -> bool:
    head = path.read_bytes()[:12]
    return len(head) == 12 and head[4:8] == b"ftyp"


# -- create ----------------------------------------------------------------------------------------


def test_create_json(served: Served) -> None:
    video = _create(served, "--model", "sora-2", "--seconds", "4", "--size", "720x1280")
    assert video["id"].startswith("video_")
    assert (video["status"], video["model"], video["seconds"], video["size"]) == (
        "queued",
        "sora-2",
        "4",
        "720x1280",
    )
    assert len(served.mock.paid_jobs) == 1


def test_create_plain_output_is_one_parsable_line(served: Served) -> None:
    result = served.invoke("create", "a dog")
    assert result.exit_code == 0, result.output
    video_id, status, progress = result.stdout.strip().split("\t")
    assert video_id.startswith("video_") and status == "queued" and progress == "0"
    assert "\x1b[" not in result.output  # quiet when not a terminal: no colours, no bars


def test_create_wait_output_writes_a_valid_mp4(served: Served, tmp_path: Path) -> None:
    target = tmp_path / "cat.mp4"
    result = served.invoke("create", "a cat", "--seconds", "4", "--wait", "--output", str(target))
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(target)
    assert _is_mp4(target)
    assert not list(tmp_path.glob("*.part")) and sorted(tmp_path.iterdir()) == [target]
    assert len(served.mock.paid_jobs) == 1


def test_create_wait_json(served: Served, tmp_path: Path) -> None:
    target = tmp_path / "out.mp4"
    result = served.invoke("create", "x", "--output", str(target), "--json")  # --output waits
    assert result.exit_code == 0, result.output
    data = _json(result.stdout)
    assert data["video"]["status"] == "completed" and data["video"]["progress"] == 100
    assert data["path"] == str(target) and _is_mp4(target)


def test_create_with_input_reference(served: Served, tmp_path: Path) -> None:
    image = tmp_path / "first.png"
    image.write_bytes(_png(720, 1280))
    video = _create(served, "--size", "720x1280", "--input-reference", str(image))
    assert video["size"] == "720x1280"


def test_create_rejects_bad_choices_before_sending(served: Served) -> None:
    result = served.invoke("create", "x", "--seconds", "5")
    assert result.exit_code == 2
    assert "'5' is not one of '4', '8', '12'" in result.stderr
    assert served.mock.requests == []


def test_create_empty_prompt_is_one_error_line(served: Served) -> None:
    result = served.invoke("create", "")
    assert result.exit_code == 2  # refused before sending: a usage error
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: PROMPT: ")
    assert served.mock.requests == []


def test_failed_job_while_waiting(served: Served) -> None:
    result = served.invoke("create", "a storm [mock:fail=moderation_blocked]", "--wait")
    assert result.exit_code == 1
    (line,) = result.stderr.strip().splitlines()[-1:]
    assert "moderation_blocked" in line and "video_" in line


# -- progress display ------------------------------------------------------------------------------


def test_progress_bar_shows_status_and_percentage(served: Served, tmp_path: Path) -> None:
    seen: list[tuple[str, int]] = []
    original = _progress.WaitProgress.__call__

    def spy(self: _progress.WaitProgress, video: Any) -> None:
        original(self, video)
        seen.append((self.status, self.progress))

    target = tmp_path / "v.mp4"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_progress.WaitProgress, "__call__", spy)
        result = served.invoke("--progress", "create", "x", "--output", str(target))
    assert result.exit_code == 0, result.output
    assert seen[-1] == ("completed", 100)
    assert "in_progress" in [s for s, _ in seen]
    assert "100%" in result.stderr  # the rendered bar (stderr; stdout stays the path)
    assert str(target) in result.stdout and "Saved video" in result.stdout


def test_download_progress_reports_bytes(served: Served, tmp_path: Path) -> None:
    calls: list[tuple[int, int | None]] = []
    original = _progress.DownloadProgress.__call__

    def spy(self: _progress.DownloadProgress, done: int, total: int | None) -> None:
        original(self, done, total)
        calls.append((done, total))

    video_id = _completed(served)
    target = tmp_path / "v.mp4"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_progress.DownloadProgress, "__call__", spy)
        result = served.invoke("--progress", "download", video_id, "-o", str(target))
    assert result.exit_code == 0, result.output
    size = target.stat().st_size
    assert calls and calls[-1] == (size, size)


# -- Ctrl-C ----------------------------------------------------------------------------------------


def test_ctrl_c_while_waiting_names_the_video(served: Served, tmp_path: Path) -> None:
    def interrupt(self: _progress.WaitProgress, video: Any) -> None:
        self.status = str(getattr(video.status, "value", video.status))
        raise KeyboardInterrupt

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_progress.WaitProgress, "__call__", interrupt)
        result = served.invoke("create", "x", "--wait", "--output", str(tmp_path / "v.mp4"))
    assert result.exit_code == 130
    (job,) = served.mock.paid_jobs
    assert f"deerapi-videos get {job.id} --output {tmp_path / 'v.mp4'}" in result.stderr
    assert f"deerapi-videos download {job.id} --output {tmp_path / 'v.mp4'}" in result.stderr
    assert not (tmp_path / "v.mp4").exists()
    # Resuming is a plain `get --wait`: no new job.
    again = served.invoke("--json", "get", job.id, "--wait")
    assert again.exit_code == 0 and _json(again.stdout)["status"] == "completed"
    assert len(served.mock.paid_jobs) == 1


# -- get / list / download / remix / delete --------------------------------------------------------


def test_get(served: Served) -> None:
    video = _create(served)
    result = served.invoke("get", video["id"], "--json")
    assert result.exit_code == 0
    assert _json(result.stdout)["id"] == video["id"]
    plain = served.invoke("get", video["id"])
    assert plain.stdout.split("\t")[0] == video["id"]


def test_get_unknown_is_one_line_with_the_request_id(served: Served) -> None:
    result = served.invoke("get", "video_does_not_exist")
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    request_id = served.mock.requests[-1].request_id
    assert "404" in lines[0] and request_id in lines[0]
    assert "Traceback" not in result.output


def test_error_with_json_is_machine_readable(served: Served) -> None:
    result = served.invoke("--json", "get", "video_nope")
    assert result.exit_code == 1
    error = _json(result.stdout)["error"]
    assert error["status_code"] == 404
    assert error["request_id"] == served.mock.requests[-1].request_id


def test_wrong_key_is_one_line_and_never_echoes_the_key(served: Served) -> None:
    result = served.invoke("list", env={"DEERAPI_KEY": "sk-wrong-key-123"})
    assert result.exit_code == 1
    assert "401" in result.stderr and "sk-wrong-key-123" not in result.output


def test_missing_key_is_a_clear_error(served: Served) -> None:
    result = served.invoke("list", env={"DEERAPI_KEY": None})
    assert result.exit_code == 2  # nothing was sent: a usage error
    assert result.stderr == "error: no API key: pass --api-key KEY or set DEERAPI_KEY\n"
    assert served.mock.requests == []


def test_list(served: Served) -> None:
    ids = [_create(served, prompt=f"clip {i}")["id"] for i in range(3)]
    result = served.invoke("list", "--limit", "2", "--json")
    assert result.exit_code == 0
    listed = [v["id"] for v in _json(result.stdout)]
    assert len(listed) == 2 and set(listed) <= set(ids)
    everything = served.invoke("list")
    assert sorted(line.split("\t")[0] for line in everything.stdout.splitlines()) == sorted(ids)


@pytest.mark.parametrize(
    ("variant", "suffix", "magic"),
    [
        ("video", ".mp4", None),
        ("thumbnail", ".webp", b"RIFF"),
        ("spritesheet", ".jpg", b"\xff\xd8"),
    ],
)
def test_download_variants_to_default_path(
    served: Served,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    variant: str,
    suffix: str,
    magic: bytes | None,
) -> None:
    video_id = _completed(served)
    monkeypatch.chdir(tmp_path)
    result = served.invoke("download", video_id, "--variant", variant, "--json")
    assert result.exit_code == 0, result.output
    data = _json(result.stdout)
    path = tmp_path / f"{video_id}{suffix}"
    assert data["path"] == path.name and data["bytes"] == path.stat().st_size
    if magic is None:
        assert _is_mp4(path)
    else:
        assert path.read_bytes().startswith(magic)


def test_download_before_completion_fails_cleanly(served: Served, tmp_path: Path) -> None:
    video = _create(served)
    target = tmp_path / "early.mp4"
    result = served.invoke("download", video["id"], "-o", str(target))
    assert result.exit_code == 1
    assert "409" in result.stderr and "request id" in result.stderr
    assert not target.exists()


def test_remix(served: Served) -> None:
    source = _completed(served)
    result = served.invoke("remix", source, "the cat takes a bow", "--model", "sora-2", "--json")
    assert result.exit_code == 0, result.output
    remix = _json(result.stdout)
    assert remix["remixed_from_video_id"] == source and remix["id"] != source


def test_remix_of_unfinished_video_is_409(served: Served) -> None:
    source = _create(served)["id"]
    result = served.invoke("remix", source, "bow")
    assert result.exit_code == 1 and "409" in result.stderr


def test_delete(served: Served) -> None:
    video_id = _create(served)["id"]
    result = served.invoke("delete", video_id, "--json")
    assert result.exit_code == 0
    assert _json(result.stdout) == {"id": video_id, "object": "video.deleted", "deleted": True}
    assert served.invoke("get", video_id).exit_code == 1
    assert served.invoke("delete", video_id).exit_code == 1


# -- mock, help, packaging -------------------------------------------------------------------------


def test_mock_command_serves_with_the_given_options(monkeypatch: pytest.MonkeyPatch) -> None:
    """The options build the mock; it serves (a request gets through) until Ctrl-C, exit 0."""
    import httpx
    from deerapi_videos_cli import _commands
    from deerapi_videos_mock import MockDeerAPI

    served: list[tuple[MockDeerAPI, str]] = []
    original_serve = MockDeerAPI.serve

    @contextlib.contextmanager
    def serve(self: MockDeerAPI, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
        with original_serve(self, host, port) as url:
            served.append((self, str(url)))
            yield url

    answers: list[int] = []

    def serve_briefly() -> None:  # stands in for "until Ctrl-C": one request, then Ctrl-C
        mock, url = served[-1]
        key = mock.api_key or ""
        with httpx.Client() as http:
            answer = http.get(f"{url}/v1/videos", headers={"Authorization": f"Bearer {key}"})
        answers.append(answer.status_code)
        raise KeyboardInterrupt

    monkeypatch.setattr(MockDeerAPI, "serve", serve)
    monkeypatch.setattr(_commands, "_serve_until_interrupted", serve_briefly)
    args = ["mock", "--port", "0", "--speed", "0", "--seed", "3", "--plant-defect", "delete_noop"]
    result = CliRunner().invoke(cli, args, env={"DEERAPI_KEY": None})
    assert result.exit_code == 0, result.output
    ((mock, url),) = served
    assert answers == [200] and url.startswith("http://127.0.0.1:")
    assert result.stdout.strip() == url  # piped: the URL alone, with the port 0 picked
    assert mock.defects == {"delete_noop"} and type(mock.clock).__name__ == "ManualClock"
    assert mock.api_key is not None and mock.api_key.startswith("sk-mock-")
    assert mock.api_key in result.stderr  # a throwaway key, shown to the user
    result = CliRunner().invoke(
        cli, ["mock", "--port", "0", "--api-key", "sk-mine"], env={"DEERAPI_KEY": None}
    )
    assert result.exit_code == 0 and answers == [200, 200]
    assert served[-1][0].api_key == "sk-mine" and "sk-mine" not in result.output


def test_help_lists_every_command() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for name in ("create", "remix", "get", "list", "download", "delete", "mock", "conformance"):
        assert f"  {name}" in result.stdout


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60
    )


def test_client_works_without_the_cli_libraries() -> None:
    # (httpx itself imports click and rich when they are installed, for its own CLI; so the
    # check is that the client and this package import with both made unimportable.)
    probe = _python(
        "import sys; sys.modules['click'] = None; sys.modules['rich'] = None; "
        "import deerapi_videos, deerapi_videos_cli; "
        "print(sorted(m for m in sys.modules if m.startswith('deerapi_videos_cli')))"
    )
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.strip() == "['deerapi_videos_cli']"


def test_client_never_imports_the_cli() -> None:
    probe = _python("import sys, deerapi_videos; print('deerapi_videos_cli' in sys.modules)")
    assert probe.stdout.strip() == "False"


def test_main_without_click_says_how_to_install() -> None:
    probe = _python(
        "import sys; sys.modules['click'] = None; "
        "from deerapi_videos_cli import main; main(['--help'])"
    )
    assert probe.returncode == 1
    assert probe.stderr.strip().splitlines() == [
        "deerapi-videos: the command line needs click, which is not installed: "
        "pip install 'deerapi-videos[cli]'"
    ]


def test_console_script_runs() -> None:
    probe = _python("from deerapi_videos_cli import main; main(['--version'])")
    assert probe.returncode == 0 and "deerapi-videos" in probe.stdout


def test_key_never_in_output(served: Served, tmp_path: Path) -> None:
    result = served.invoke("create", "x", "--output", str(tmp_path / "v.mp4"))
    assert API_KEY not in result.output


def test_error_is_one_line_in_a_real_process(served: Served) -> None:
    """Outside pytest's log capture: the client's failure log must not add a second line."""
    env = {**os.environ, "DEERAPI_KEY": API_KEY, "DEERAPI_BASE_URL": served.base_url}
    code = "from deerapi_videos_cli import main; main(['get', 'video_missing'])"
    probe = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert probe.returncode == 1
    (line,) = probe.stderr.strip().splitlines()
    assert line.startswith("error: HTTP 404") and served.mock.requests[-1].request_id in line
    verbose = subprocess.run(
        [sys.executable, "-c", code.replace("['get'", "['-v', 'get'")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert len(verbose.stderr.strip().splitlines()) >= 2  # -v shows the client's log too
    assert API_KEY not in verbose.stderr
