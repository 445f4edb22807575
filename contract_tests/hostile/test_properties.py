"""Every hostile behaviour x every operation x four modes: the client keeps its promises.

The modes (``_runner.MODES``): sync, async, and each through the batch scheduler's transport.

Each cell runs one call against a fresh :class:`~.server.HostileServer` (real time, loopback,
``max_retries=1``, ``timeout=1``, poll deadline 2 s) under a hard wall-clock guard, then checks
properties a-g of :mod:`.properties`.

KNOWN_FAILURES lists the cells the client fails today. Each value is one or more
``"<property letter>: <class of bug>"`` parts joined by ``"; "``. Such a cell is a strict xfail:
fix the bug and it XPASSes, which fails the run: delete its entry then. A known cell that breaks
a *different* set of properties than its entry lists fails outright (the entry is out of date).

The default run covers every fast cell of the plain modes; cells that take seconds by design
(hangs the guard has to stop, per-request timeouts, deadline runs) are marked ``slow`` and only a
representative subset of them runs by default (conftest.py), as do the scheduled modes' cells
(``SCHEDULED_BY_DEFAULT``): ``-m slow`` runs the rest, ``-m "slow or not slow"`` the full
matrix (768 cells).

Set ``HOSTILE_RECORD=path`` to append one JSON line per cell (violations, timings) to a file.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest

from ._properties import (
    check_deadline,
    check_download_target,
    check_exception_type,
    check_key_hidden,
    check_key_not_forwarded,
    check_poll_spacing,
    check_post_safety,
    check_result,
    check_returned,
    check_video_id_carried,
    poll_reads,
)
from ._runner import (
    API_KEY,
    MAX_RETRIES,
    MODES,
    OPERATIONS,
    POLL_TIMEOUT,
    REQUEST_TIMEOUT,
    CallRecord,
    run_cell,
)
from ._server import BEHAVIOURS, MP4

TOLERANCE = 1.5
POLL_BOUND = POLL_TIMEOUT + TOLERANCE
# An attempt ends within its timeouts added up (connect + write + read: see the client's
# _deadline module), for every attempt, plus the first retry's backoff cap (0.5 s) and the
# tolerance.
ATTEMPT_BOUND = 3 * REQUEST_TIMEOUT
REQUEST_BOUND = ATTEMPT_BOUND * (MAX_RETRIES + 1) + 0.5 + TOLERANCE
GUARD_MARGIN = 0.5
GUARDS = {
    "poll": POLL_BOUND + GUARD_MARGIN,
    "create_and_poll": REQUEST_BOUND + POLL_BOUND + GUARD_MARGIN,
}

# Cells the client fails today: none. (When this harness arrived, 90 of the 384 cells failed;
# the classes of bug and their fixes are in the commit that emptied this table.)
KNOWN_FAILURES: dict[tuple[str, str, str], str] = {}

# Cells that take seconds by design (hangs the guard stops, per-request timeouts, deadline runs)
# are marked ``slow``; of those, only REPRESENTATIVE ones run by default (see conftest.py).
SLOW: dict[str, tuple[str, ...]] = {
    "trickle": OPERATIONS,
    "never_answer": OPERATIONS,
    "poll_after_zero": ("poll", "create_and_poll"),
    "list_cursor_cycle": ("list",),
}
REPRESENTATIVE = {
    ("trickle", "poll", "sync"),
    ("trickle", "download_content", "async"),
    ("never_answer", "create", "sync"),
    ("never_answer", "poll", "async"),
    ("poll_after_zero", "poll", "sync"),
    ("poll_after_zero", "create_and_poll", "async"),
    ("list_cursor_cycle", "list", "sync"),
}


# Where the server's answers allow a correct result (within ``max_retries=1``), the call must
# return it; everywhere else a DeerAPIError is as good an answer as a value.
_ALL_BUT = {op: tuple(o for o in OPERATIONS if o != op) for op in OPERATIONS}
RECOVERABLE: dict[str, tuple[str, ...]] = {
    "baseline": OPERATIONS,
    "server_error_burst": OPERATIONS,
    "retry_after_non_ascii": OPERATIONS,
    "retry_after_negative": OPERATIONS,
    "retry_after_nan": OPERATIONS,
    "redirect_other_host": ("download_content",),
    "json_error_on_content": _ALL_BUT["download_content"],
    "not_found_after_create": ("create", "remix", "list", "delete"),
    "poll_after_zero": ("create", "retrieve", "remix", "list", "delete"),
    "list_cursor_cycle": _ALL_BUT["list"],
}


class KnownViolation(AssertionError):
    """The cell broke exactly the properties its KNOWN_FAILURES entry lists."""


def _letters(reason: str) -> set[str]:
    return {part.split(":", 1)[0].strip() for part in reason.split(";")}


# Through the scheduler's transport, the default run takes the answers a scheduler reacts to
# (429s, odd Retry-After values, 5xx bursts) for the calls that send several requests; the
# rest of those cells run with ``slow``.
SCHEDULED_BY_DEFAULT = {
    (behaviour, op)
    for behaviour in (
        "baseline",
        "rate_limit_retry_after_20",
        "retry_after_huge",
        "server_error_burst",
        "insufficient_quota",
    )
    for op in ("create", "poll", "create_and_poll", "download_content")
}


def _marks(behaviour: str, op: str, mode: str) -> list[pytest.MarkDecorator]:
    marks = []
    cell = (behaviour, op, mode)
    scheduled = mode.endswith("+scheduler")
    if scheduled:
        slow = (behaviour, op) not in SCHEDULED_BY_DEFAULT
    else:
        slow = op in SLOW.get(behaviour, ()) and cell not in REPRESENTATIVE
    if slow:
        marks.append(pytest.mark.slow)
    reason = KNOWN_FAILURES.get(cell)
    if reason is not None:
        marks.append(pytest.mark.xfail(strict=True, reason=reason, raises=KnownViolation))
    return marks


CELLS = [
    pytest.param(
        behaviour, op, mode, id=f"{behaviour}-{op}-{mode}", marks=_marks(behaviour, op, mode)
    )
    for behaviour in BEHAVIOURS
    for op in OPERATIONS
    for mode in MODES
]


def bound_of(record: CallRecord) -> float:
    """(d) How long the call may take."""
    if record.op == "poll":
        return POLL_BOUND
    if record.op == "create_and_poll":
        posts = [r.t for r in record.requests if r.method == "POST"]
        if posts:  # the poll deadline starts once the job exists
            return min(posts[-1] - record.started, REQUEST_BOUND) + POLL_BOUND
    return REQUEST_BOUND


def evaluate(record: CallRecord, log_records: list[logging.LogRecord]) -> list[str]:
    """Every property violation of one call. After the guard fired, the call's outcome is an
    artefact of the server being cut off, so only the request log, the logs and the file count."""
    violations = []
    if not record.hung:
        violations += check_exception_type(record.exc)
        if record.op in RECOVERABLE.get(record.behaviour, ()):
            violations += check_returned(record.exc)
        if record.exc is None:
            issued = [r.issued_id for r in record.requests if r.issued_id]
            violations += check_result(
                record.op, record.result, issued_ids=issued, target=record.target, content=MP4
            )
        if record.op == "create_and_poll":
            violations += check_video_id_carried(record.exc, record.requests)
    violations += check_post_safety(record.requests, MAX_RETRIES)
    if record.op in ("poll", "create_and_poll"):
        violations += check_poll_spacing(record.requests)
    violations += check_deadline(record.elapsed, bound_of(record), hung=record.hung)
    violations += check_key_hidden(API_KEY, None if record.hung else record.exc, log_records)
    violations += check_key_not_forwarded(API_KEY, record.requests, record.api_host)
    if record.op == "download_content":
        violations += check_download_target(record.target, MP4)
    return violations


def _save(record: CallRecord, violations: list[str]) -> None:
    path = os.environ.get("HOSTILE_RECORD")
    if not path:
        return
    reads = poll_reads(record.requests)
    span = reads[-1].t - reads[0].t if len(reads) > 1 else 0.0
    line = {
        "cell": [record.behaviour, record.op, record.mode],
        "violations": violations,
        "elapsed": round(record.elapsed, 3),
        "bound": round(bound_of(record), 3),
        "hung": record.hung,
        "exc": None
        if record.exc is None
        else f"{type(record.exc).__module__}.{type(record.exc).__qualname__}",
        "requests": len(record.requests),
        "posts": sum(r.method == "POST" for r in record.requests),
        "reads": len(reads),
        "read_rate": round((len(reads) - 1) / span, 1) if span > 0 else None,
        "overshoot": None
        if record.op not in GUARDS
        else round(record.elapsed - bound_of(record) + TOLERANCE, 3),
    }
    with Path(path).open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(line) + "\n")


@pytest.fixture(scope="module", autouse=True)
def _warm_up(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Load the client's lazily imported layers once, so no cell's timing pays for them."""
    workdir = tmp_path_factory.mktemp("warm")
    for op in OPERATIONS:
        for mode in MODES:
            run_cell("baseline", op, mode, workdir / f"{op}-{mode}", guard=10)


@pytest.mark.parametrize(("behaviour", "op", "mode"), CELLS)
def test_promises(
    behaviour: str, op: str, mode: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="deerapi_videos")
    guard = GUARDS.get(op, REQUEST_BOUND + GUARD_MARGIN)
    record = run_cell(behaviour, op, mode, tmp_path / "out", guard)
    assert record.stuck_threads == 0, "harness: a worker or server thread did not stop"
    violations = evaluate(record, list(caplog.records))
    _save(record, violations)
    if not violations:
        return
    report = "\n".join(violations)
    known = KNOWN_FAILURES.get((behaviour, op, mode))
    if known is not None and _letters(known) == {v.split(":", 1)[0] for v in violations}:
        raise KnownViolation(report)
    hint = f"KNOWN_FAILURES entry is {known!r}; " if known else ""
    pytest.fail(f"{hint}violations:\n{report}", pytrace=False)
