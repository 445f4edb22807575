"""Reading batch files: JSON Lines and CSV, every problem named with its line."""

from __future__ import annotations

from pathlib import Path

import pytest
from deerapi_videos_batch import BatchInputError, load_jobs


def test_jsonl_lines_become_jobs(tmp_path: Path) -> None:
    path = tmp_path / "jobs.jsonl"
    path.write_text(
        "# a comment\n"
        '{"id": "a", "prompt": "a cat", "seconds": 8, "size": "1280x720", "output": "cat.mp4"}\n'
        "\n"
        '{"prompt": "a dog", "references": ["frame.png"], "model": "sora-2-pro"}\n',
        encoding="utf-8",
    )
    first, second = load_jobs(path)
    assert (first.line, first.id, first.seconds, first.size, first.output) == (
        2,
        "a",
        "8",
        "1280x720",
        "cat.mp4",
    )
    assert second.line == 4 and second.references == (tmp_path.resolve() / "frame.png",)
    assert second.default_output("fp_0123456789abcdef0123") == "video-0123456789abcdef.mp4"
    assert first.default_output("fp_x") == "a.mp4"


def test_csv_rows_become_jobs_with_semicolon_references(tmp_path: Path) -> None:
    path = tmp_path / "jobs.csv"
    path.write_text(
        "id,prompt,seconds,references,output\n"
        'a,"a cat, on a piano",4,first.png;last.png,\n'
        ",a dog,,,dog.mp4\n",
        encoding="utf-8",
    )
    first, second = load_jobs(path)
    assert first.prompt == "a cat, on a piano" and len(first.references) == 2
    assert (second.id, second.seconds, second.output) == (None, None, "dog.mp4")


def test_every_bad_line_is_named_before_anything_runs(tmp_path: Path) -> None:
    path = tmp_path / "jobs.jsonl"
    path.write_text(
        '{"prompt": "ok", "id": "x"}\n'
        "not json\n"
        '{"promt": "typo"}\n'
        '{"prompt": ""}\n'
        '{"prompt": "dup", "id": "x"}\n'
        '{"prompt": "escape", "output": "../evil.mp4"}\n'
        "[1, 2]\n",
        encoding="utf-8",
    )
    with pytest.raises(BatchInputError) as caught:
        load_jobs(path)
    lines = [line for line, _ in caught.value.problems]
    assert lines == [2, 3, 4, 5, 6, 7]
    assert "unknown field 'promt'" in str(caught.value)


def test_an_empty_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "jobs.jsonl"
    path.write_text("\n# nothing\n", encoding="utf-8")
    with pytest.raises(BatchInputError, match="no jobs"):
        load_jobs(path)
