"""What the command line prints: results (human or ``--json``) and one-line errors.

Results go to stdout; errors, progress and hints to stderr, so ``--json`` output and piped
output stay clean. When stdout is not a terminal nothing decorative is printed: plain lines a
script can read (an id, a path), or JSON with ``--json``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

__all__ = ["EXIT_API_ERROR", "EXIT_INTERRUPTED", "Output", "error_line", "to_data"]

EXIT_API_ERROR = 1
EXIT_INTERRUPTED = 130

_VIDEO_COLUMNS = ("id", "status", "progress", "model", "seconds", "size", "created_at")


def to_data(obj: Any) -> Any:
    """A JSON-ready form of a client object (attrs/pydantic/dataclass models, enums, paths)."""
    if obj is None or isinstance(obj, str | int | float | bool):
        return obj
    if isinstance(obj, Enum):
        return to_data(obj.value)
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, Mapping):
        return {str(k): to_data(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set | frozenset):
        return [to_data(v) for v in obj]
    for method in ("to_dict", "model_dump"):
        dump = getattr(obj, method, None)
        if callable(dump):
            return to_data(dump())
    if hasattr(obj, "__dict__"):
        return {k: to_data(v) for k, v in vars(obj).items() if not k.startswith("_")}
    return str(obj)


def _field(obj: Any, name: str) -> Any:
    data = to_data(obj)
    if isinstance(data, dict):
        if name == "object":
            return data.get("object", data.get("object_"))
        return data.get(name)
    return None


def error_line(exc: BaseException) -> str:
    """One line saying what failed, with the request id and what to do when it helps."""
    name = type(exc).__name__
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else name
    parts = [f"error: {text}"]
    status = getattr(exc, "status_code", None)
    if status is not None and str(status) not in text:
        parts[0] = f"error: HTTP {status}: {text}"
    param = getattr(exc, "param", None)
    allowed = getattr(exc, "allowed", None)
    if param and str(param) not in text:
        parts.append(f"field {param}")
    if allowed and "allowed" not in text.lower():
        allowed_text = allowed if isinstance(allowed, str) else ", ".join(str(a) for a in allowed)
        parts.append(f"allowed: {allowed_text}")
    key = getattr(exc, "idempotency_key", None)
    if key and str(key) not in text:
        parts.append(f"idempotency key {key}")
    video_id = getattr(exc, "video_id", None)
    if video_id and str(video_id) not in text:
        parts.append(f"video {video_id}")
    request_id = getattr(exc, "request_id", None)
    if request_id and str(request_id) not in text:
        parts.append(f"request id {request_id}")
    elif request_id is None and status is not None:
        parts.append("no request id returned")
    return " — ".join(parts)


@dataclass
class Output:
    """Printing policy for one invocation."""

    json_mode: bool = False
    #: Decorations and progress bars only when stdout is a terminal (or forced).
    interactive: bool = field(default_factory=lambda: sys.stdout.isatty())
    out: Console = field(init=False)
    err: Console = field(init=False)

    def __post_init__(self) -> None:
        self.out = Console(highlight=False, soft_wrap=True)
        self.err = Console(stderr=True, highlight=False, soft_wrap=True)

    @property
    def show_progress(self) -> bool:
        return self.interactive and not self.json_mode

    # -- results -------------------------------------------------------------------------------
    def emit_json(self, data: Any) -> None:
        click.echo(json.dumps(to_data(data), indent=2, sort_keys=False))

    def video(self, video: Any) -> None:
        """One video job: JSON, a table on a terminal, or ``id<TAB>status<TAB>progress``."""
        if self.json_mode:
            self.emit_json(video)
            return
        data = to_data(video)
        if not isinstance(data, dict):
            click.echo(str(data))
            return
        if not self.interactive:
            click.echo("\t".join(str(data.get(c, "")) for c in ("id", "status", "progress")))
            return
        table = Table(show_header=False, box=None, pad_edge=False)
        table.add_column(style="bold")
        table.add_column()
        for key, value in data.items():
            if value is None or key == "additional_properties":
                continue
            shown = json.dumps(value) if isinstance(value, dict | list) else str(value)
            table.add_row(key.rstrip("_"), shown)
        self.out.print(table)

    def videos(self, videos: Iterable[Any]) -> None:
        """A list of jobs: JSON array, a table, or one tab-separated line per job."""
        items = [to_data(v) for v in videos]
        if self.json_mode:
            self.emit_json(items)
            return
        if not self.interactive:
            for data in items:
                click.echo("\t".join(str(data.get(c, "")) for c in _VIDEO_COLUMNS))
            return
        table = Table()
        for column in _VIDEO_COLUMNS:
            # The id is what every other command takes: never shortened.
            table.add_column(column, no_wrap=column == "id", overflow="fold")
        for data in items:
            table.add_row(*(str(data.get(c, "")) for c in _VIDEO_COLUMNS))
        self.out.print(table)
        self.out.print(f"{len(items)} video(s)")

    def message(
        self, data: Mapping[str, Any], text: str, plain: Callable[[], str] | None = None
    ) -> None:
        """A short result: ``data`` as JSON, ``text`` on a terminal, ``plain()`` when piped."""
        if self.json_mode:
            self.emit_json(data)
        elif self.interactive:
            self.out.print(text)
        else:
            click.echo(plain() if plain else text)

    # -- stderr --------------------------------------------------------------------------------
    def note(self, text: str) -> None:
        """A hint for the person at the terminal (stderr, so pipes stay clean)."""
        self.err.print(text, markup=False)

    def error(self, exc: BaseException) -> None:
        """The one error line (stderr); with ``--json`` also a JSON object on stdout."""
        line = error_line(exc)
        click.echo(line, err=True)
        if self.json_mode:
            self.emit_json(
                {
                    "error": {
                        "type": type(exc).__name__,
                        "message": str(exc),
                        "status_code": getattr(exc, "status_code", None),
                        "request_id": getattr(exc, "request_id", None),
                        "param": getattr(exc, "param", None),
                        "video_id": getattr(exc, "video_id", None),
                    }
                }
            )
