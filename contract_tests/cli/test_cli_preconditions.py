"""Every local check runs before the first (paid) request: a refusal means zero requests.

Each test asserts the mock's request log is empty after the refusal (``mock.requests``; one test
reads it over loopback, ``GET /_mock/requests``, from a real process), and that the refusal is
one line naming the flag, exit code 2.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import Result

from contract_tests.builders import png

from .conftest import API_KEY, Served


def _refused(result: Result, served: Served, *words: str) -> str:
    """The one ``error:`` line of a refusal with exit 2 and no request sent; returned."""
    assert result.exit_code == 2, result.output
    assert served.mock.requests == [], served.mock.requests
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    assert "Traceback" not in result.output
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


@pytest.fixture
def unwritable_dir(tmp_path: Path) -> Iterator[Path]:
    """A folder this process cannot create files in (as root: /sys, if the kernel refuses)."""
    if os.geteuid() != 0:
        folder = tmp_path / "read-only"
        folder.mkdir()
        folder.chmod(0o500)
        yield folder
        folder.chmod(0o700)
        return
    folder = Path("/sys")
    try:
        probe = folder / ".deerapi-probe"
        probe.touch()
    except OSError:
        yield folder
    else:  # pragma: no cover - a kernel that lets root write there
        probe.unlink()
        pytest.skip("no folder here refuses root")


# -- --output --------------------------------------------------------------------------------


def test_create_output_in_a_missing_folder_is_refused_before_the_post(
    served: Served, tmp_path: Path
) -> None:
    target = tmp_path / "nodir" / "x.mp4"
    result = served.invoke("create", "a cat", "--wait", "--output", str(target))
    _refused(result, served, "--output", "does not exist")
    assert served.mock.paid_jobs == []


def test_create_output_that_is_a_folder_is_refused(served: Served, tmp_path: Path) -> None:
    result = served.invoke("create", "a cat", "--output", str(tmp_path))
    assert result.exit_code == 2 and served.mock.requests == []
    assert "is a directory" in result.stderr


def test_create_output_under_a_file_is_refused(served: Served, tmp_path: Path) -> None:
    (tmp_path / "file.txt").write_text("not a folder")
    result = served.invoke("create", "a cat", "-o", str(tmp_path / "file.txt" / "x.mp4"))
    _refused(result, served, "--output", "not a directory")


def test_create_output_in_an_unwritable_folder_is_refused(
    served: Served, unwritable_dir: Path
) -> None:
    result = served.invoke("create", "a cat", "--output", str(unwritable_dir / "x.mp4"))
    _refused(result, served, "--output", "cannot write in")
    assert not list(unwritable_dir.glob(".x.mp4.*"))  # the probe left nothing


def test_the_writability_probe_leaves_nothing_behind(served: Served, tmp_path: Path) -> None:
    target = tmp_path / "cat.mp4"
    result = served.invoke("create", "a cat", "--output", str(target))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cat.mp4"]


@pytest.mark.parametrize("command", [("get", "video_x", "--output"), ("download", "video_x", "-o")])
def test_get_and_download_check_output_before_any_request(
    served: Served, tmp_path: Path, command: tuple[str, ...]
) -> None:
    result = served.invoke(*command, str(tmp_path / "nodir" / "x.mp4"))
    _refused(result, served, "--output")


# -- reference images: against the effective size and the model ------------------------------


def test_reference_against_the_default_size_is_refused_with_zero_requests(
    served: Served, tmp_path: Path
) -> None:
    """The newcomer's case: a 640x480 first frame, no --size, sora-2 (720x1280 by default)."""
    image = tmp_path / "first.png"
    image.write_bytes(png(640, 480))
    result = served.invoke("create", "a cat", "--input-reference", str(image), "--wait")
    line = _refused(result, served, "--input-reference", "640x480", "720x1280")
    assert "(--size was omitted)" in line and "size=" not in line  # the CLI's words


def test_reference_against_the_given_size_is_refused(served: Served, tmp_path: Path) -> None:
    image = tmp_path / "first.png"
    image.write_bytes(png(720, 1280))
    result = served.invoke("create", "x", "--size", "1280x720", "--input-reference", str(image))
    _refused(result, served, "--input-reference", "1280x720")


def test_more_references_than_the_model_takes_are_refused(served: Served, tmp_path: Path) -> None:
    image = tmp_path / "first.png"
    image.write_bytes(png(720, 1280))
    result = served.invoke(
        "create", "x", "--input-reference", str(image), "--input-reference", str(image)
    )
    _refused(result, served, "--input-reference", "at most 1")


def test_a_reference_that_is_not_an_image_is_refused(served: Served, tmp_path: Path) -> None:
    fake = tmp_path / "first.png"
    fake.write_bytes(b"not an image at all")
    result = served.invoke("create", "x", "--input-reference", str(fake))
    _refused(result, served, "--input-reference")


# -- the key ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ("create", "a cat", "--wait"),
        ("remix", "video_x", "a bow"),
        ("get", "video_x"),
        ("list",),
        ("download", "video_x"),
        ("delete", "video_x"),
    ],
)
@pytest.mark.parametrize("key", [None, "   "])
def test_no_key_is_refused_before_any_request(
    served: Served,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    command: tuple[str, ...],
    key: str | None,
) -> None:
    monkeypatch.chdir(tmp_path)
    result = served.invoke(*command, env={"DEERAPI_KEY": key})
    _refused(result, served, "--api-key", "DEERAPI_KEY")


def test_an_unusable_key_is_refused_without_echoing_it(served: Served) -> None:
    result = served.invoke("list", env={"DEERAPI_KEY": "sk-line\nbreak"})
    _refused(result, served, "U+000A")
    assert "sk-line" not in result.output


# -- from a real process, counted over loopback ------------------------------------------------


def test_a_real_process_sends_nothing_when_a_check_fails(served: Served, tmp_path: Path) -> None:
    env = {**os.environ, "DEERAPI_KEY": API_KEY, "DEERAPI_BASE_URL": served.base_url}
    code = "from deerapi_videos_cli import main; import sys; main(sys.argv[1:])"
    argv = ["create", "a cat", "--wait", "--output", str(tmp_path / "nodir" / "x.mp4")]
    probe = subprocess.run(
        [sys.executable, "-c", code, *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert probe.returncode == 2, probe.stderr
    assert probe.stderr.startswith("error: --output") and "Traceback" not in probe.stderr
    log = httpx.get(f"{served.base_url}/_mock/requests").json()
    assert log["data"] == []
