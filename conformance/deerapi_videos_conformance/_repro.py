"""A failure's requests as shell commands that send them again, pasted as they are.

A failure is reproduced by its request and, when the request needs state, by the requests that
built that state (schemathesis records the chain: the create whose id a delete then used). Each
request becomes one ``curl`` command line:

- the key comes from the environment, never the report: ``-H "Authorization: Bearer
  $DEERAPI_KEY"``, in double quotes so that the shell expands it;
- a video id that an earlier step created is ``${VIDEO_1}``, captured from that step's answer
  (``VIDEO_1=$(curl ... | id_of)``); a video the run created outside the chain is stood in for
  by a new one where that is free (the bundled mock), and named as it was on a live API;
- a body that is plain text is written inline; any other (multipart with images, control
  characters) is a file written beside the report and sent byte for byte with
  ``--data-binary @file``, with the exact ``Content-Type`` (and multipart boundary) it had.

The steps are plain data (:class:`ReproStep`), made by the engine while the run goes on and
rendered by the reports (:func:`render_steps`), which know where the body files go.

Why not ``st replay``: schemathesis 4.32.5 has it, for the crash files its own CLI writes. Tried
on this project's failures (crash files written from the engine's recorders), it re-encoded the
multipart create with a new boundary under the recorded ``Content-Type`` (the mock answered 400)
and replayed a read of a video the run had created without that video, so every failure came
back "FIXED". Shell commands with captured ids and byte-exact bodies reproduce them.
"""

from __future__ import annotations

import hashlib
import re
import shlex
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

__all__ = [
    "ID_OF",
    "KEY_FROM_ENV",
    "STATUS_IS",
    "ReproStep",
    "body_file_name",
    "is_text_body",
    "render_step",
    "render_steps",
]

#: The ``Authorization`` value a step sends when the run sent the key: expanded by the shell.
KEY_FROM_ENV = "Bearer $DEERAPI_KEY"
#: Shell helpers the multi-step commands use (Python is there: the package needs it).
ID_OF = "id_of() { python3 -c 'import json, sys; print(json.load(sys.stdin)[\"id\"])'; }"
STATUS_IS = (
    "status_is() { python3 -c 'import json, sys; "
    'sys.exit(json.load(sys.stdin).get("status") != sys.argv[1])\' "$1"; }'
)
#: Request headers a repro leaves out: curl sets them itself, or they only label the run.
_DROPPED_HEADERS = frozenset(
    {
        "accept-encoding",
        "authorization",
        "connection",
        "content-length",
        "host",
        "user-agent",
        "x-schemathesis-testcaseid",
    }
)
_PRINTABLE = re.compile(r"^[\t\n\x20-\x7e\u00a0-\U0010ffff]*$")


@dataclass(frozen=True)
class ReproStep:
    """One request of a failure's reproduction, in the order it must be sent.

    ``url`` is the URL as sent; ``ids`` maps a video id appearing in it to the shell variable
    holding its stand-in (``VIDEO_1``). ``authorization`` is :data:`KEY_FROM_ENV` when the run
    sent its key, the literal value when a check sent another (a wrong key is no secret), or
    None when none was sent. ``capture`` names the variable to set from the answer's ``id``;
    ``until_status`` makes the step a loop that reads until the job has that status.
    ``form`` (name, value) parts make a multipart body with curl's ``-F`` (the stand-in create).
    """

    method: str
    url: str
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None
    authorization: str | None = KEY_FROM_ENV
    capture: str | None = None
    ids: tuple[tuple[str, str], ...] = ()
    until_status: str | None = None
    form: tuple[tuple[str, str], ...] = ()
    note: str | None = None

    def with_ids(self, ids: Mapping[str, str]) -> ReproStep:
        """This step with every id of ``ids`` found in its URL read from its variable."""
        found = tuple((i, v) for i, v in ids.items() if i in self.url)
        return replace(self, ids=found) if found else self


def request_headers(headers: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """The headers a repro sends again (without transport and run-labelling ones)."""
    return tuple((k, v) for k, v in headers if k.lower() not in _DROPPED_HEADERS)


def authorization_of(headers: Iterable[tuple[str, str]], api_key: str) -> str | None:
    """:data:`KEY_FROM_ENV` when the run's key was sent, the value sent otherwise, or None."""
    for key, value in headers:
        if key.lower() == "authorization":
            return KEY_FROM_ENV if api_key and api_key in value else value
    return None


def is_text_body(body: bytes) -> bool:
    """Whether ``body`` can be written inline: UTF-8 without control characters (so no CR,
    which every multipart body has)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return bool(_PRINTABLE.match(text))


def body_file_name(body: bytes) -> str:
    """The file a non-text body is written to (named by its content: written once)."""
    return f"{hashlib.sha256(body).hexdigest()[:16]}.body"


def _double_quoted(text: str, ids: Sequence[tuple[str, str]] = ()) -> str:
    """``text`` in double quotes, literal except for the ``${VAR}`` standing for each id."""

    def escape(part: str) -> str:
        return re.sub(r'([\\"$`])', r"\\\1", part)

    if not ids:
        return f'"{escape(text)}"'
    pattern = re.compile("|".join(re.escape(i) for i, _ in sorted(ids, key=lambda p: -len(p[0]))))
    names = dict(ids)
    out: list[str] = []
    last = 0
    for match in pattern.finditer(text):
        out.append(escape(text[last : match.start()]))
        out.append("${" + names[match.group()] + "}")
        last = match.end()
    out.append(escape(text[last:]))
    return '"' + "".join(out) + '"'


def render_step(step: ReproStep, body_path: Callable[[bytes], str | None] | None = None) -> str:
    """One step as a shell command line.

    ``body_path`` gives the file a non-text body was written to; without one (or when it
    answers None) the body is inline in ANSI-C quotes (``$'...'``: bash, zsh, ksh).
    """
    show = step.capture is None and step.until_status is None
    parts = ["curl", "-sS"] + (["-i"] if show else [])
    parts += ["-X", step.method.upper()]
    words = [shlex.quote(p) for p in parts]
    if step.authorization == KEY_FROM_ENV:
        words += ["-H", '"Authorization: Bearer $DEERAPI_KEY"']
    elif step.authorization is not None:
        words += ["-H", shlex.quote(f"Authorization: {step.authorization}")]
    for key, value in step.headers:
        words += ["-H", shlex.quote(f"{key}: {value}")]
    for name, value in step.form:
        words += ["-F", shlex.quote(f"{name}={value}")]
    if step.body is not None:
        if is_text_body(step.body):
            words += ["--data-binary", shlex.quote(step.body.decode("utf-8"))]
        else:
            path = body_path(step.body) if body_path is not None else None
            if path is not None:
                words += ["--data-binary", shlex.quote("@" + path)]
            else:
                escaped = "".join(
                    chr(b) if 0x20 <= b < 0x7F and chr(b) not in "'\\" else f"\\x{b:02x}"
                    for b in step.body
                )
                words += ["--data-binary", f"$'{escaped}'"]
    words.append(_double_quoted(step.url, step.ids) if step.ids else shlex.quote(step.url))
    line = " ".join(words)
    if step.capture is not None:
        line = f"{step.capture}=$({line} | id_of)"
    elif step.until_status is not None:
        line = f"until {line} | status_is {shlex.quote(step.until_status)}; do sleep 1; done"
    if step.note:
        line = f"# {step.note}\n{line}"
    return line


def render_steps(
    steps: Sequence[ReproStep], body_path: Callable[[bytes], str | None] | None = None
) -> list[str]:
    """The lines of a repro block: the helpers the steps use, then one line per step."""
    lines: list[str] = []
    if any(s.capture for s in steps):
        lines.append(ID_OF)
    if any(s.until_status for s in steps):
        lines.append(STATUS_IS)
    for step in steps:
        lines += render_step(step, body_path).splitlines()
    return lines
