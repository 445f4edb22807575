"""Reading a batch file: JSON Lines or CSV, one video job per line.

Fields (JSONL keys, CSV columns): ``prompt`` (required), ``id`` (the caller's name for the job;
without it the job is named by its fingerprint, so identical lines are one job), ``model``,
``seconds``, ``size``, ``references`` (image paths, relative to the batch file; a JSON list or
a string, ``;``-separated in CSV; ``input_reference`` is accepted too) and ``output`` (the file
name under ``--out``; default ``<id>.mp4``, else ``video-<fingerprint>.mp4``). Blank lines and,
in JSONL, lines starting with ``#`` are skipped. Every problem is reported with its line number
before anything is sent.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

__all__ = ["BatchInputError", "BatchJob", "load_jobs"]

FIELDS = ("id", "prompt", "model", "seconds", "size", "references", "output")
_ALIASES = {"key": "id", "input_reference": "references", "output_name": "output"}
_SAFE_ID = re.compile(r"[^A-Za-z0-9_.-]+")
_MAX_ERRORS = 20


class BatchInputError(ValueError):
    """The batch file cannot be used; ``problems`` lists ``(line, message)`` pairs."""

    def __init__(self, path: Path, problems: list[tuple[int, str]]) -> None:
        self.path = path
        self.problems = problems
        shown = "; ".join(f"line {line}: {message}" for line, message in problems[:_MAX_ERRORS])
        more = len(problems) - _MAX_ERRORS
        if more > 0:
            shown += f"; and {more} more"
        super().__init__(f"{path}: {shown}")


@dataclass(frozen=True)
class BatchJob:
    """One line of a batch file."""

    line: int
    prompt: str
    id: str | None = None
    model: str | None = None
    seconds: str | None = None
    size: str | None = None
    references: tuple[Path, ...] = ()
    output: str | None = None

    def default_output(self, fingerprint: str) -> str:
        if self.id:
            return f"{_SAFE_ID.sub('_', self.id).strip('._') or 'video'}.mp4"
        return f"video-{fingerprint.removeprefix('fp_')[:16]}.mp4"


def _text(value: Any, name: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a string, not {value!r}")
    if isinstance(value, int) and name == "seconds":
        return str(value)
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string, got {type(value).__name__}")
    value = value.strip() if name != "prompt" else value
    return value or None


def _references(value: Any, base: Path, csv_cell: bool) -> tuple[Path, ...]:
    if value is None or value == "":
        return ()
    items: list[Any]
    if isinstance(value, list):
        items = value
    elif isinstance(value, str):
        items = [part for part in value.split(";")] if csv_cell else [value]
    else:
        raise ValueError("references must be a path or a list of paths")
    paths = []
    for item in items:
        if not isinstance(item, str) or not item.strip():
            raise ValueError("references must be non-empty paths")
        path = Path(item.strip()).expanduser()
        paths.append(path if path.is_absolute() else base / path)
    return tuple(paths)


def _output(value: str | None) -> str | None:
    if value is None:
        return None
    pure = PurePosixPath(value.replace("\\", "/"))
    if pure.is_absolute() or ".." in pure.parts or not pure.name or pure.name.startswith("."):
        raise ValueError(
            f"output {value!r} must be a relative file name inside --out (no '..', not hidden)"
        )
    return str(pure)


def _job(line: int, record: Mapping[str, Any], base: Path, csv_cell: bool) -> BatchJob:
    fields: dict[str, Any] = {}
    for raw_name, value in record.items():
        name = _ALIASES.get(str(raw_name).strip(), str(raw_name).strip())
        if name not in FIELDS:
            raise ValueError(f"unknown field {raw_name!r} (fields: {', '.join(FIELDS)})")
        if name in fields and value not in (None, ""):
            raise ValueError(f"field {name!r} given twice")
        if name not in fields or value not in (None, ""):
            fields[name] = value
    prompt = _text(fields.get("prompt"), "prompt")
    if prompt is None or not prompt.strip():
        raise ValueError("prompt is missing or empty")
    return BatchJob(
        line=line,
        prompt=prompt,
        id=_text(fields.get("id"), "id"),
        model=_text(fields.get("model"), "model"),
        seconds=_text(fields.get("seconds"), "seconds"),
        size=_text(fields.get("size"), "size"),
        references=_references(fields.get("references"), base, csv_cell),
        output=_output(_text(fields.get("output"), "output")),
    )


def _jsonl(path: Path) -> Iterator[tuple[int, Mapping[str, Any] | str]]:
    with path.open(encoding="utf-8") as fh:
        for number, text in enumerate(fh, start=1):
            stripped = text.strip()
            if not stripped or stripped.startswith("#"):
                continue
            try:
                value = json.loads(stripped)
            except json.JSONDecodeError as exc:
                yield number, f"not valid JSON ({exc.msg})"
                continue
            yield number, value if isinstance(value, dict) else "not a JSON object"


def _csv(path: Path) -> Iterator[tuple[int, Mapping[str, Any] | str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        for record in reader:
            if None in record:
                yield reader.line_num, "more cells than columns"
                continue
            if not any((value or "").strip() for value in record.values()):
                continue
            yield reader.line_num, record


def load_jobs(path: str | Path, format: str | None = None) -> list[BatchJob]:
    """Read a batch file (``format``: ``"jsonl"`` or ``"csv"``; by the suffix when None).

    Raises:
        BatchInputError: naming every line that cannot be used (or the file itself).
        OSError: the file cannot be read.
    """
    source = Path(path)
    kind = format or ("csv" if source.suffix.lower() == ".csv" else "jsonl")
    if kind not in ("jsonl", "csv"):
        raise BatchInputError(source, [(0, f"unknown format {kind!r} (jsonl or csv)")])
    rows = _csv(source) if kind == "csv" else _jsonl(source)
    base = source.resolve().parent
    jobs: list[BatchJob] = []
    problems: list[tuple[int, str]] = []
    for line, record in rows:
        if isinstance(record, str):
            problems.append((line, record))
            continue
        try:
            jobs.append(_job(line, record, base, csv_cell=kind == "csv"))
        except ValueError as exc:
            problems.append((line, str(exc)))
    ids: dict[str, int] = {}
    outputs: dict[str, int] = {}
    for job in jobs:
        if job.id is not None:
            if job.id in ids:
                problems.append((job.line, f"id {job.id!r} is also on line {ids[job.id]}"))
            ids.setdefault(job.id, job.line)
        if job.output is not None:
            if job.output in outputs:
                problems.append(
                    (job.line, f"output {job.output!r} is also on line {outputs[job.output]}")
                )
            outputs.setdefault(job.output, job.line)
    if not jobs and not problems:
        problems.append((0, "no jobs in the file"))
    if problems:
        raise BatchInputError(source, sorted(problems))
    return jobs
