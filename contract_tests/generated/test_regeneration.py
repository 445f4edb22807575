"""Regeneration is pinned, deterministic, fails on warnings, and the drift check catches edits.

Golden-record style (as openapi-python-client's own end-to-end tests): regenerate into a temp
folder and compare file by file with the committed ``generated/``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from contract_tests.paths import GENERATED, ROOT, SPEC_PATH

sys.path.insert(0, str(ROOT / "scripts"))
import api_diff
import regenerate


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return regenerate.generate_into(tmp_path_factory.mktemp("regen-a"))


def _check(target: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "regenerate.py"),
            "--check",
            "--target",
            str(target),
        ],
        capture_output=True,
        text=True,
        check=False,
    )


def test_regenerating_twice_is_byte_identical(fresh: Path, tmp_path: Path) -> None:
    again = regenerate.generate_into(tmp_path)
    assert regenerate.compare(fresh, again) == []


def test_committed_generated_matches_the_spec(fresh: Path) -> None:
    assert regenerate.compare(fresh, GENERATED) == []


def test_every_generated_file_has_the_header() -> None:
    files = sorted(GENERATED.rglob("*.py"))
    assert files
    for path in files:
        assert path.read_text(encoding="utf-8").startswith(regenerate.HEADER), path


def test_drift_check_passes_on_main() -> None:
    result = _check(GENERATED)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("edit", ["hand_edit", "new_file", "deleted_file"])
def test_drift_check_fails_on_any_difference(edit: str, tmp_path: Path) -> None:
    copy = tmp_path / "deerapi_videos_generated"
    shutil.copytree(GENERATED, copy)
    model = copy / "models" / "video.py"
    if edit == "hand_edit":
        model.write_text(model.read_text() + "\n# tweak\n")
    elif edit == "new_file":
        (copy / "models" / "extra.py").write_text("X = 1\n")
    else:
        model.unlink()
    result = _check(copy)
    assert result.returncode == 1
    assert "models/" in result.stdout and "stale" in result.stderr


@pytest.fixture
def warning_spec(tmp_path: Path) -> Path:
    """The spec with a body the generator cannot model: it warns and skips the operation."""
    spec = yaml.safe_load(SPEC_PATH.read_text())
    spec["paths"]["/v1/videos/{video_id}/remix"]["post"]["requestBody"]["content"] = {
        "application/xml": {"schema": {"type": "object"}}
    }
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump(spec))
    return broken


def test_generator_warnings_are_failures(warning_spec: Path, tmp_path: Path) -> None:
    with pytest.raises(regenerate.RegenerationError, match=r"failed or warned \(exit status 1\)"):
        regenerate.generate_into(tmp_path / "out", spec=warning_spec)


def test_only_fail_on_warning_makes_a_generator_warning_an_exit_status(
    warning_spec: Path, tmp_path: Path
) -> None:
    """The generator reports that body as a warning, not an error, and exits 0 without the flag.

    regenerate.py judges the exit status alone, so it must pass ``--fail-on-warning``.
    """
    config = tmp_path / "config.yaml"
    config.write_text("post_hooks: []\n")

    def generate(*flags: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                str(Path(sys.executable).parent / "openapi-python-client"),
                "generate",
                "--path",
                str(warning_spec),
                "--config",
                str(config),
                "--meta",
                "none",
                "--output-path",
                str(tmp_path / f"out{len(flags)}"),
                *flags,
            ],
            capture_output=True,
            text=True,
            check=False,
        )

    lenient, strict = generate(), generate("--fail-on-warning")
    assert lenient.returncode == 0, lenient.stdout + lenient.stderr
    assert "Warning(s) encountered" in lenient.stderr
    assert strict.returncode == 1, strict.stdout + strict.stderr
    assert "Warning(s) encountered" in strict.stderr


def test_unpinned_tools_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(regenerate.PINS, "ruff", "0.0.1")
    with pytest.raises(regenerate.RegenerationError, match=r"ruff: need 0\.0\.1"):
        regenerate.check_pins()


def test_api_diff_names_breaking_changes(fresh: Path, tmp_path: Path) -> None:
    spec = yaml.safe_load(SPEC_PATH.read_text())
    video = spec["components"]["schemas"]["Video"]["properties"]
    del video["prompt"]
    video["progress"] = {"type": "number"}
    video["thumbnail_url"] = {"type": "string"}
    changed = tmp_path / "changed.yaml"
    changed.write_text(yaml.safe_dump(spec))
    after = regenerate.generate_into(tmp_path / "out", spec=changed)
    lines = api_diff.describe_changes(api_diff.public_api(fresh), api_diff.public_api(after))
    assert "removed field Video.prompt: None | str | Unset" in lines
    assert "changed field Video.progress: int | Unset -> float | Unset" in lines
    assert "added field Video.thumbnail_url: str | Unset" in lines
    assert lines.index("removed field Video.prompt: None | str | Unset") < lines.index(
        "added field Video.thumbnail_url: str | Unset"
    )


def test_trap_checks_fire_on_the_stock_generator(tmp_path: Path) -> None:
    """Without our config and templates, the traps the other tests guard against are present."""
    spec = yaml.safe_load(SPEC_PATH.read_text())
    for schema in spec["components"]["schemas"].values():
        schema.pop("x-enum-varnames", None)
    bare = tmp_path / "bare.yaml"
    bare.write_text(yaml.safe_dump(spec))
    config = tmp_path / "config.yaml"
    config.write_text("package_name_override: stock\npost_hooks: []\n")
    out = tmp_path / "stock"
    proc = subprocess.run(
        [
            str(Path(sys.executable).parent / "openapi-python-client"),
            "generate",
            "--path",
            str(bare),
            "--config",
            str(config),
            "--meta",
            "none",
            "--output-path",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    download = (out / "api" / "videos" / "download_video_content.py").read_text()
    assert "File(" not in download  # binary 200 dropped
    assert "VALUE_0" in (out / "models" / "video_seconds.py").read_text()
    assert "boundary=+++" in (out / "api" / "videos" / "create_video.py").read_text()
    assert 'default=None, kw_only=True, alias="timeout"' in (out / "client.py").read_text()
    assert "return self.file_name, self.payload" in (out / "types.py").read_text()
    assert "raise ValueError" not in (out / "types.py").read_text()


def test_an_output_path_naming_an_error_is_not_a_warning(tmp_path: Path) -> None:
    # Once, the generator's output was searched for "warning"/"error", and this path matched.
    out = regenerate.generate_into(tmp_path / "error-and-warning-logs")
    assert regenerate.compare(out, GENERATED) == []
