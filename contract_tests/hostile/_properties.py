"""The client's promises, as plain checker functions.

Each checker returns a list of violations (empty: the promise held). A violation is a string that
starts with its property letter, ``"a: ..."`` to ``"g: ..."``:

- a: a call returns a correct value or raises a ``DeerAPIError`` subclass, nothing else
  (``KeyboardInterrupt`` and ``asyncio.CancelledError`` excepted); where the server's answers
  allow a correct value (within the retries), the call returns it: an error is not enough;
- b: one call never sends a second paid POST: all its POSTs carry one ``Idempotency-Key``, none
  follows an answer that may have started a job, and there are at most ``max_retries + 1``;
- c: ``poll`` reads are never closer together than :data:`POLL_FLOOR` seconds;
- d: a call ends within its bound (a poll deadline plus tolerance, or a per-request bound);
- e: the API key appears in no text the client produces (exception chain, log records), in no
  JSON-escaped form either, and is never sent to another host;
- f: after a POST the server accepted, an error from ``create_and_poll`` names the video id;
- g: ``download_content`` leaves nothing at the target path but the real content, and no
  temporary file beside it.

``test_properties.py`` runs them against :mod:`.server`; ``test_properties_can_fail.py`` shows
each one reporting a planted violation.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from deerapi_videos import DeerAPIError, DeletedVideo, Video

from ._server import SEED_ID, Received

__all__ = [
    "POLL_FLOOR",
    "check_deadline",
    "check_download_target",
    "check_exception_type",
    "check_key_hidden",
    "check_key_not_forwarded",
    "check_poll_spacing",
    "check_post_safety",
    "check_result",
    "check_returned",
    "check_video_id_carried",
    "key_forms",
    "poll_reads",
]

POLL_FLOOR = 0.5
_VIDEO_PATH = re.compile(r"^/v1/videos/[^/]+$")
# Statuses after which a POST may have started a paid job (None: no status line was served).
_NO_JOB_STATUSES = frozenset({501, 503, 505})


def _name(exc: BaseException) -> str:
    cls = type(exc)
    module = cls.__module__
    if module.startswith("deerapi_videos."):
        module = "deerapi_videos"
    return f"{module}.{cls.__qualname__}"


# -- a ------------------------------------------------------------------------------------------


def check_exception_type(exc: BaseException | None) -> list[str]:
    """(a) Only ``DeerAPIError`` subclasses (or interrupts/cancellation) may escape."""
    if exc is None or isinstance(exc, DeerAPIError | KeyboardInterrupt | asyncio.CancelledError):
        return []
    return [f"a: raw {_name(exc)} escaped"]


def check_returned(exc: BaseException | None) -> list[str]:
    """(a) A call the server answered well enough must return, not raise (even a DeerAPIError)."""
    if exc is None:
        return []
    return [f"a: raised {_name(exc)} although the server's answers allow a result"]


def check_result(
    op: str, result: object, *, issued_ids: Sequence[str], target: Path, content: bytes
) -> list[str]:
    """(a) What a call that returned must have returned."""
    wrong = f"a: {op} returned a wrong value: "
    if op in ("create", "remix", "retrieve", "poll", "create_and_poll"):
        if not isinstance(result, Video):
            return [wrong + f"{type(result).__name__}, not a Video"]
        if op in ("retrieve", "poll") and result.id != SEED_ID:
            return [wrong + f"id {result.id!r}, asked for {SEED_ID!r}"]
        if op in ("create", "remix", "create_and_poll") and result.id not in issued_ids:
            return [wrong + f"id {result.id!r}, the server issued {list(issued_ids)}"]
        if op in ("poll", "create_and_poll") and str(result.status) != "completed":
            return [wrong + f"status {str(result.status)!r}, not 'completed'"]
    elif op == "download_content":
        if result != target:
            return [wrong + f"{result!r}, not the target path"]
        if not target.is_file() or target.read_bytes() != content:
            return [wrong + "the target does not hold the served content"]
    elif op == "list":
        if not isinstance(result, list) or not all(isinstance(v, Video) for v in result):
            return [wrong + "not a list of Video"]
    elif op == "delete":
        if not isinstance(result, DeletedVideo) or result.id != SEED_ID or not result.deleted:
            return [wrong + f"{result!r}"]
    return []


# -- b ------------------------------------------------------------------------------------------


def _may_have_started(request: Received) -> bool:
    return (
        request.status is None
        or request.status < 300
        or (request.status >= 500 and request.status not in _NO_JOB_STATUSES)
    )


def check_post_safety(requests: Sequence[Received], max_retries: int) -> list[str]:
    """(b) The POSTs of one call: one key, none after a possible job, at most max_retries+1."""
    posts = [r for r in requests if r.method == "POST"]
    violations = []
    keys = [r.headers.get("idempotency-key", "") for r in posts]
    if not all(keys):
        violations.append("b: a POST carried no Idempotency-Key")
    if len(set(keys)) > 1:
        violations.append(f"b: one call's {len(posts)} POSTs carried {len(set(keys))} keys")
    for earlier in posts[:-1]:
        if _may_have_started(earlier):
            violations.append(
                f"b: POST re-sent after an answer (status {earlier.status}) that may have "
                "started a job"
            )
            break
    if len(posts) > max_retries + 1:
        violations.append(f"b: {len(posts)} POSTs for one call (max_retries={max_retries})")
    return violations


# -- c ------------------------------------------------------------------------------------------


def poll_reads(requests: Iterable[Received]) -> list[Received]:
    """The reads of one video (``GET /v1/videos/{id}``), in order."""
    return [r for r in requests if r.method == "GET" and _VIDEO_PATH.match(r.path)]


def check_poll_spacing(requests: Sequence[Received], floor: float = POLL_FLOOR) -> list[str]:
    """(c) No two poll reads closer together than ``floor`` seconds."""
    times = [r.t for r in poll_reads(requests)]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    short = [g for g in gaps if g < floor]
    if not short:
        return []
    span = times[-1] - times[0]
    rate = (len(times) - 1) / span if span > 0 else float("inf")
    return [
        f"c: {len(short)} of {len(gaps)} poll reads came sooner than {floor}s after the previous "
        f"one (closest {min(short) * 1000:.0f} ms; {rate:.0f} reads/s)"
    ]


# -- d ------------------------------------------------------------------------------------------


def check_deadline(elapsed: float, bound: float, *, hung: bool = False) -> list[str]:
    """(d) The call ended within ``bound`` seconds (``hung``: a hard guard had to stop it)."""
    if hung:
        return [
            f"d: still running after {elapsed:.1f}s; the hard guard stopped it (bound {bound}s)"
        ]
    if elapsed > bound:
        return [f"d: took {elapsed:.2f}s, bound {bound:.2f}s"]
    return []


# -- e ------------------------------------------------------------------------------------------


def key_forms(key: str) -> set[str]:
    """The key as text might carry it: raw, JSON-escaped, ``\\/``-escaped, ``\\u``-escaped."""
    return {
        key,
        json.dumps(key)[1:-1],
        key.replace("/", "\\/"),
        "".join(c if c.isalnum() else f"\\u{ord(c):04x}" for c in key),
    }


def _exception_chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    stack = [exc]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        for linked in (current.__cause__, current.__context__, getattr(current, "cause", None)):
            if isinstance(linked, BaseException):
                stack.append(linked)
        if isinstance(current, BaseExceptionGroup):
            stack.extend(current.exceptions)


def _exception_texts(exc: BaseException) -> Iterator[tuple[str, str]]:
    for link in _exception_chain(exc):
        name = type(link).__name__
        yield f"str({name})", str(link)
        yield f"repr({name})", repr(link)
        for attr, value in vars(link).items():
            if isinstance(value, str):
                yield f"{name}.{attr}", value


def _log_texts(records: Iterable[logging.LogRecord]) -> Iterator[tuple[str, str]]:
    formatter = logging.Formatter()
    for record in records:
        where = f"log record {record.name}:{record.levelname}"
        yield where, record.getMessage()
        if record.exc_info:
            yield where + " exc_info", formatter.formatException(record.exc_info)


def check_key_hidden(
    key: str, exc: BaseException | None, records: Iterable[logging.LogRecord]
) -> list[str]:
    """(e) No form of the key in the exception chain's text or in log records."""
    texts = list(_log_texts(records))
    if exc is not None:
        texts.extend(_exception_texts(exc))
    forms = key_forms(key)
    leaks = sorted({where for where, text in texts if any(form in text for form in forms)})
    return [f"e: the API key appears in {where}" for where in leaks]


def check_key_not_forwarded(key: str, requests: Iterable[Received], api_host: str) -> list[str]:
    """(e) Only requests to the API's own host carry the key."""
    return [
        f"e: the API key was sent to {r.host} ({r.method} {r.path})"
        for r in requests
        if r.host != api_host and any(key in value for value in r.headers.values())
    ]


# -- f ------------------------------------------------------------------------------------------


def check_video_id_carried(exc: BaseException | None, requests: Sequence[Received]) -> list[str]:
    """(f) After a POST the server answered intact, the error names the video it created."""
    issued = [r.issued_id for r in requests if r.method == "POST" and r.issued_id]
    if exc is None or not issued or isinstance(exc, KeyboardInterrupt | asyncio.CancelledError):
        return []
    carried = getattr(exc, "video_id", None)
    if carried == issued[-1]:
        return []
    return [f"f: {_name(exc)} after the POST created {issued[-1]} has video_id={carried!r}"]


# -- g ------------------------------------------------------------------------------------------


def check_download_target(target: Path, content: bytes) -> list[str]:
    """(g) The target is absent or holds exactly ``content`` (an MP4); no temp file is left."""
    violations = []
    if target.exists():
        data = target.read_bytes()
        if data[4:8] != b"ftyp":
            violations.append(f"g: the target holds non-video bytes {data[:24]!r}")
        elif data != content:
            violations.append(
                f"g: the target holds {len(data)} bytes that are not the {len(content)} served"
            )
    others = sorted(p.name for p in target.parent.iterdir() if p != target)
    if others:
        violations.append(f"g: left beside the target: {others}")
    return violations
