"""The public API's types, checked by mypy (the calls in ``check_public_api.py`` never run)."""

from __future__ import annotations

from pathlib import Path

import pytest
from mypy import api as mypy_api

HERE = Path(__file__).parent
ROOT = HERE.parent.parent


def _mypy(path: Path, cache: Path) -> tuple[str, int]:
    stdout, stderr, status = mypy_api.run(
        [
            "--strict",
            "--cache-dir",
            str(cache),
            "--config-file",
            str(ROOT / "pyproject.toml"),
            str(path),
        ]
    )
    return stdout + stderr, status


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mypy-cache")


def test_typical_calls_type_check(cache: Path) -> None:
    output, status = _mypy(HERE / "check_public_api.py", cache)
    assert status == 0, output


def test_a_wrong_expectation_is_reported(tmp_path: Path, cache: Path) -> None:
    # The check can fail: the same calls with one wrong expected type.
    source = (HERE / "check_public_api.py").read_text(encoding="utf-8")
    planted = source.replace(
        "assert_type(client.videos.delete(video.id), DeletedVideo)",
        "assert_type(client.videos.delete(video.id), Video)",
    )
    assert planted != source
    path = tmp_path / "check_planted.py"
    path.write_text(planted, encoding="utf-8")
    output, status = _mypy(path, cache)
    assert status == 1
    assert 'Expression is of type "DeletedVideo", not "Video"' in output


def test_calls_the_types_must_refuse_are_refused(cache: Path) -> None:
    output, status = _mypy(HERE / "check_public_api_errors.py", cache)
    assert status == 0, output


def test_a_refused_call_that_type_checks_fails_the_errors_file(tmp_path: Path, cache: Path) -> None:
    # If the types accepted seconds=4 where they should refuse, its ignore would be unused.
    source = (HERE / "check_public_api_errors.py").read_text(encoding="utf-8")
    planted = source.replace(
        'client.videos.create(prompt="a cat", seconds=5)  # type: ignore[call-overload]',
        'client.videos.create(prompt="a cat", seconds=4)  # type: ignore[call-overload]',
        1,
    )
    assert planted != source
    path = tmp_path / "check_errors_planted.py"
    path.write_text(planted, encoding="utf-8")
    output, status = _mypy(path, cache)
    assert status == 1
    assert 'Unused "type: ignore" comment' in output
