"""What the command line prints: results (human or ``--json``) and one-line errors.

Results go to stdout; errors, progress and hints to stderr, so ``--json`` output and piped
output stay clean. When stdout is not a terminal nothing decorative is printed: plain lines a
script can read (an id, a path), or JSON with ``--json``.

The client's messages speak Python (``pass api_key=...``, ``videos.poll('video_1')``); the one
error line speaks the command line instead (``--api-key``, ``deerapi-videos get video_1
--wait``): :func:`cli_wording` translates, and :func:`exit_code_for` picks the exit code the
README documents (2 for anything refused before a request was sent).
"""

from __future__ import annotations

import datetime as _dt
import json
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

import click
from rich import box
from rich.console import Console
from rich.table import Table

__all__ = [
    "EXIT_API_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_NOT_RUN",
    "EXIT_OK",
    "EXIT_USAGE",
    "Output",
    "cli_wording",
    "error_line",
    "exit_code_for",
    "flag_for",
    "readable_time",
    "to_data",
]

#: The exit codes, as the README's table lists them.
EXIT_OK = 0
EXIT_API_ERROR = 1  # the API (or the client reading its answer) reported an error
EXIT_USAGE = 2  # refused before anything was sent: flags, files, the key (click's convention)
EXIT_NOT_RUN = 3  # could not run at all: a missing extra, a port in use
EXIT_INTERRUPTED = 130  # Ctrl-C

_VIDEO_COLUMNS = ("id", "status", "progress", "model", "seconds", "size", "created_at")
#: Columns a narrow terminal drops from ``list``'s table, first to last.
_NARROW_DROPS = ("size", "seconds", "model", "progress", "created_at")
#: Fields holding Unix times, shown as UTC dates to people (JSON keeps the numbers).
_TIME_FIELDS = frozenset({"created_at", "completed_at", "expires_at"})

#: The client's argument names -> what a user of the command line types instead.
_FLAGS = {
    "api_key": "--api-key",
    "base_url": "--base-url",
    "idempotency_key": "--idempotency-key",
    "input_reference": "--input-reference",
    "limit": "--limit",
    "model": "--model",
    "path": "--output",
    "prompt": "PROMPT",
    "seconds": "--seconds",
    "size": "--size",
    "timeout": "--timeout",
    "variant": "--variant",
    "video_id": "VIDEO_ID",
}

# Python wording in the client's messages -> command-line wording. Applied in order.
_REWRITES: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"pass api_key=\.\.\. or set the (\w+) environment variable"),
        r"pass --api-key KEY or set \1",
    ),
    (re.compile(r"videos\.poll\((['\"])(.+?)\1\)"), r"deerapi-videos get \2 --wait"),
    (re.compile(r"videos\.list\(\)"), "deerapi-videos list"),
    (re.compile(r"idempotency_key=(['\"])(.+?)\1"), r"--idempotency-key \2"),
    (re.compile(r"\bsize=(['\"])"), r"--size \1"),
    (re.compile(r"\((size|model) was omitted\)"), r"(--\1 was omitted)"),
    (re.compile(r"when model is omitted"), "when --model is omitted"),
)
_PARAM_PREFIX = re.compile(r"^(\w+)((?:\[\d+\])?): ")
_SERVER_PARAM = re.compile(r"\[param=(\w+)\]")


def flag_for(param: str) -> str:
    """The flag (or argument) a client parameter name stands for on the command line."""
    base = param.split("[", 1)[0]
    return _FLAGS.get(base, param)


def cli_wording(text: str) -> str:
    """``text`` (a client message) with Python spellings replaced by command-line ones."""
    match = _PARAM_PREFIX.match(text)
    if match and match.group(1) in _FLAGS:
        text = f"{_FLAGS[match.group(1)]}{match.group(2)}: {text[match.end() :]}"
    for pattern, replacement in _REWRITES:
        text = pattern.sub(replacement, text)

    def server_param(match: re.Match[str]) -> str:  # the API's field, and the flag that sets it
        flag = flag_for(match.group(1))
        return match.group() if flag == match.group(1) else f"[param={match.group(1)} ({flag})]"

    return _SERVER_PARAM.sub(server_param, text)


def exit_code_for(exc: BaseException) -> int:
    """2 when the error was raised before any request was sent (an argument, a file, the key;
    the client's ``InvalidParameterError``), else 1."""
    from deerapi_videos import InvalidParameterError

    return EXIT_USAGE if isinstance(exc, InvalidParameterError) else EXIT_API_ERROR


def readable_time(value: Any) -> str:
    """A Unix time as ``2025-09-27 02:51:25 UTC``; anything else as given."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            moment = _dt.datetime.fromtimestamp(value, _dt.UTC)
        except (OverflowError, OSError, ValueError):
            return str(value)
        return moment.strftime("%Y-%m-%d %H:%M:%S UTC")
    return "" if value is None else str(value)


def _iso_time(value: Any) -> str:
    """A Unix time as ISO 8601 UTC (``2025-09-27T02:51:25Z``) for script-readable lines."""
    text = readable_time(value)
    return text.replace(" UTC", "Z").replace(" ", "T") if text.endswith(" UTC") else text


def _plain(name: str, value: Any) -> str:
    if name in _TIME_FIELDS:
        return _iso_time(value)
    return "" if value is None else str(value)


def _shown(name: str, value: Any) -> str:
    if name in _TIME_FIELDS:
        return readable_time(value)
    if name == "progress" and isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:g}%"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return "" if value is None else str(value)


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
    """One line saying what failed, with the request id and what to do when it helps; in the
    command line's words (flags, commands), not the client's (see :func:`cli_wording`)."""
    name = type(exc).__name__
    original = str(exc).strip().splitlines()[0] if str(exc).strip() else name
    text = cli_wording(original)
    parts = [f"error: {text}"]
    status = getattr(exc, "status_code", None)
    if status is not None and str(status) not in text:
        parts[0] = f"error: HTTP {status}: {text}"
    param = getattr(exc, "param", None)
    allowed = getattr(exc, "allowed", None)
    if param and str(param) not in original:
        flag = flag_for(str(param))
        parts.append(f"field {param}" + (f" ({flag})" if flag != param else ""))
    if allowed and "allowed" not in text.lower():
        allowed_text = allowed if isinstance(allowed, str) else ", ".join(str(a) for a in allowed)
        parts.append(f"allowed: {allowed_text}")
    key = getattr(exc, "idempotency_key", None)
    if key and str(key) not in text:
        parts.append(f"idempotency key {key} (resend only with --idempotency-key {key})")
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
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
        table.add_column("field", style="bold", no_wrap=True)
        table.add_column("value", overflow="fold")
        for key, value in data.items():
            if value is None or key == "additional_properties":
                continue
            table.add_row(key.rstrip("_"), _shown(key.rstrip("_"), value))
        self.out.print(table)

    def videos(self, videos: Iterable[Any]) -> None:
        """A list of jobs: JSON array, a table with headers (times in UTC), or one tab-separated
        line per job (``id status progress model seconds size created_at``, the time in ISO
        8601 UTC) when piped."""
        items = [to_data(v) for v in videos]
        if self.json_mode:
            self.emit_json(items)
            return
        if not self.interactive:
            for data in items:
                click.echo("\t".join(_plain(c, data.get(c)) for c in _VIDEO_COLUMNS))
            return
        headers = {c: "created (UTC)" if c == "created_at" else c for c in _VIDEO_COLUMNS}
        rows = [
            {c: _shown(c, data.get(c)).removesuffix(" UTC") for c in _VIDEO_COLUMNS}
            for data in items
        ]
        columns = list(_VIDEO_COLUMNS)

        def width(names: list[str]) -> int:
            # Each column: its widest cell, one space either side and a separator.
            return sum(max([len(headers[c]), *(len(r[c]) for r in rows)]) + 3 for c in names)

        # A narrow terminal drops the least needed columns rather than squeezing them all: the
        # id is what every other command takes, so it is never shortened or wrapped.
        for dropped in _NARROW_DROPS:
            if width(columns) <= self.out.width:
                break
            columns.remove(dropped)
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
        for column in columns:
            table.add_column(headers[column], no_wrap=True, overflow="fold")
        for row in rows:
            table.add_row(*(row[c] for c in columns))
        self.out.print(table)
        hidden = len(_VIDEO_COLUMNS) - len(columns)
        note = f" ({hidden} column(s) hidden for the terminal's width; --json shows all)"
        self.out.print(f"{len(items)} video(s)" + (note if hidden else ""))

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
