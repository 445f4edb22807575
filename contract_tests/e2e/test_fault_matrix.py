"""Fault injection matrix: each fault x each operation, sync and async, against the mock.

For every cell: the outcome the retry rules promise, the number of requests the mock logged for
the operation, and the paid jobs (never a duplicate; for a POST, at most one).

Retry rules (issue 3): GET/DELETE retry 429/500/502/503 and transport errors within
``max_retries`` (2). A POST retries only where no job can have been started (429, 503, a
connection that never reached the server); after a 500/502, or a connection lost once the
request was sent, it raises ``JobMayExistError`` after exactly one POST. Re-sending with that
error's ``idempotency_key`` returns the job already started, never a second one.

``drop_before`` (the server cuts the connection after reading the request but before acting on
it) looks the same to a client as ``drop_after``: ``httpx.RemoteProtocolError`` after the request
was sent. The client cannot know no job started, so for a POST it is (safely) ``JobMayExistError``
with no job; the retried-POST case is ``connect_refused`` (``httpx.ConnectError``, the request
never left).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

import pytest
from deerapi_videos import (
    DeerAPIError,
    InternalServerError,
    JobMayExistError,
    NotFoundError,
    Video,
)
from deerapi_videos_mock import Fault, MockDeerAPI, asset_for

from contract_tests.asyncio_support import run_isolated
from contract_tests.e2e._harness import async_client, new_mock, refuse_first, sync_client

OPS = {  # client method -> (operationId, HTTP method, path suffix)
    "create": ("createVideo", "POST", "/v1/videos"),
    "remix": ("remixVideo", "POST", "/remix"),
    "retrieve": ("retrieveVideo", "GET", ""),
    "list": ("listVideos", "GET", "/v1/videos"),
    "download_content": ("downloadVideoContent", "GET", "/content"),
    "delete": ("deleteVideo", "DELETE", ""),
}
POSTS = {"create", "remix"}


def _fault(name: str, op_id: str) -> Fault | None:
    return {
        "429_retry_after": lambda: Fault.rate_limit(operations=op_id, retry_after="1"),
        "503_burst": lambda: Fault.unavailable(times=2, operations=op_id, retry_after=None),
        "500_burst": lambda: Fault.status(500, times=2, operations=op_id),
        "502_burst": lambda: Fault.status(502, times=2, operations=op_id),
        "500_after_processing": lambda: Fault.status(500, operations=op_id, after_processing=True),
        "drop_before": lambda: Fault.drop_before(operations=op_id),
        "drop_after": lambda: Fault.drop_after(operations=op_id),
        "connect_refused": lambda: None,
        "slow": lambda: Fault.slow(0.01, operations=op_id),
        "html_error_page": lambda: Fault.html_error(502, operations=op_id),
        "unknown_status": lambda: Fault.unknown_status("provider_pending", operations=op_id),
        "extra_fields": lambda: Fault.extra_fields(
            {"provider": "mock", "fps": 24}, operations=op_id
        ),
        "truncated_cut": lambda: Fault.truncate(10_000, operations=op_id),
        "truncated_short_body": lambda: Fault.truncate(10_000, operations=op_id, short_body=True),
        "gzip_mislabelled": lambda: Fault.add_headers(
            {"Content-Encoding": "gzip"}, operations=op_id
        ),
        "error_with_200": lambda: Fault.error_with_success(operations=op_id),
        "poll_hint_zero": lambda: Fault.add_headers(
            {"openai-poll-after-ms": "0"}, operations=op_id
        ),
    }[name]()


FAULTS = [
    "429_retry_after",
    "503_burst",
    "500_burst",
    "502_burst",
    "500_after_processing",
    "drop_before",
    "drop_after",
    "connect_refused",
    "slow",
    "html_error_page",
    "unknown_status",
    "extra_fields",
    "gzip_mislabelled",
    "error_with_200",
    "poll_hint_zero",
]
CELLS = [(f, op) for f in FAULTS for op in OPS] + [
    ("truncated_cut", "download_content"),
    ("truncated_short_body", "download_content"),
]


@dataclass(frozen=True)
class Expect:
    outcome: str  # "ok", "job_may_exist", "ok_or_not_found", "error" (a DeerAPIError)
    requests: int  # requests the mock logged for the operation
    jobs: int  # paid jobs after the call (POST cells)


def expected(fault: str, op: str) -> Expect:
    post = op in POSTS
    if fault == "429_retry_after":
        return Expect("ok", 2, 1 if post else 0)
    if fault == "503_burst":
        return Expect("ok", 3, 1 if post else 0)
    if fault in ("500_burst", "502_burst", "html_error_page"):
        if post:
            return Expect("job_may_exist", 1, 0)
        return Expect("ok", 3 if fault != "html_error_page" else 2, 0)
    if fault in ("500_after_processing", "drop_after"):
        if post:
            return Expect("job_may_exist", 1, 1)
        if op == "delete":  # the first attempt deleted it; the retry finds nothing
            return Expect("ok_or_not_found", 2, 0)
        return Expect("ok", 2, 0)
    if fault == "drop_before":
        return Expect("job_may_exist", 1, 0) if post else Expect("ok", 2, 0)
    if fault == "connect_refused":
        return Expect("ok", 1, 1 if post else 0)  # the refused attempt never reached the mock
    if fault.startswith("truncated"):
        return Expect("ok", 2, 0)
    if fault == "gzip_mislabelled":
        # The answer arrived but cannot be decoded: never retried. A POST's job exists.
        return Expect("job_may_exist", 1, 1) if post else Expect("error", 1, 0)
    if fault == "error_with_200":
        # An error envelope with status 200 is not a video: refused, never retried, and for a
        # POST treated as a job that may exist (the mock started none).
        return Expect("job_may_exist", 1, 0) if post else Expect("error", 1, 0)
    return Expect("ok", 1, 1 if post else 0)  # slow, unknown_status, extra_fields


@dataclass
class Setup:
    mock: MockDeerAPI
    source: str  # a completed video (seeded, not paid) for retrieve/remix/content/delete
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    logged: list[Any] | None = None  # the operation's logged requests before any re-send
    paid: list[str] | None = None  # paid job ids before any re-send


def _setup(fault: str, op: str, tmp: Path) -> Setup:
    mock = new_mock(job_duration=8.0, content_size=40_000)  # > the truncation point
    source = mock.add_video("the source").id
    mock.add_video("another")
    if op in ("retrieve", "delete"):
        args: tuple[Any, ...] = (source,)
    elif op == "remix":
        args = (source,)
    elif op == "download_content":
        args = (source, tmp / "video.mp4")
    else:
        args = ()
    kwargs: dict[str, Any] = {}
    if op in POSTS:
        kwargs = {"prompt": "a cat on a piano"}
    if op == "list":
        kwargs = {"limit": 10}
    injected = _fault(fault, OPS[op][0])
    if injected is not None:
        mock.inject(injected)
    return Setup(mock, source, args, kwargs)


def _check(
    fault: str, op: str, s: Setup, result: Any, error: BaseException | None, refused: int, tmp: Path
) -> None:
    exp = expected(fault, op)
    op_id = OPS[op][0]
    logged = s.logged if s.logged is not None else s.mock.requests_for(op_id)
    assert len(logged) == exp.requests, logged
    if fault == "connect_refused":
        assert refused == 1
    if error is not None and not isinstance(error, DeerAPIError):
        raise error
    if exp.outcome == "ok":
        assert error is None, f"{fault} x {op}: {error!r}"
    elif exp.outcome == "job_may_exist":
        assert isinstance(error, JobMayExistError), f"{fault} x {op}: {error!r}"
        assert error.idempotency_key
        if fault == "html_error_page":
            assert isinstance(error.cause, InternalServerError)
            assert "Bad Gateway" in error.cause.error_message
        if fault == "500_after_processing":
            assert error.status_code == 500
    elif exp.outcome == "error":
        assert isinstance(error, DeerAPIError), f"{fault} x {op}: {result!r}"
        assert not tmp.joinpath("video.mp4").exists(), "nothing saved for a failed download"
    else:
        assert error is None or isinstance(error, NotFoundError), f"{fault} x {op}: {error!r}"

    # Paid jobs: never duplicated, at most one per POST call.
    paid = s.paid if s.paid is not None else [j.id for j in s.mock.paid_jobs]
    assert len(paid) == len(set(paid))
    assert len(paid) == exp.jobs, paid
    if op in POSTS and exp.outcome == "ok":
        assert isinstance(result, Video) and paid == [result.id]

    if op == "retrieve" and error is None:
        assert result.id == s.source
    if op == "list" and error is None:
        assert len(result) == 2
    if op in ("retrieve", "list", "create", "remix") and error is None:
        videos = result if isinstance(result, list) else [result]
        if fault == "unknown_status":
            assert {str(getattr(v.status, "value", v.status)) for v in videos} == {
                "provider_pending"
            }
        if fault == "extra_fields":
            assert all(v.additional_properties == {"provider": "mock", "fps": 24} for v in videos)
    if op == "delete" and fault != "error_with_200":  # that fault answers before any delete
        assert s.mock.get(s.source) is None, "the video is gone whatever the client reported"
    if op == "download_content" and exp.outcome != "error":
        target = tmp / "video.mp4"
        assert not [p for p in tmp.iterdir() if p.name != "video.mp4"], "no temporary file left"
        video = next(
            v
            for v in [*s.mock.paid_jobs, s.mock.get(s.source)]
            if v is not None and v.id == s.source
        )
        assert target.read_bytes() == asset_for(video, "video", s.mock.content_size).read()
        assert target.read_bytes()[4:8] == b"ftyp"


def _run_sync(fault: str, op: str, tmp: Path) -> tuple[Setup, Any, BaseException | None, int]:
    s = _setup(fault, op, tmp)
    _, method, suffix = OPS[op]
    refuse = refuse_first(method, suffix) if fault == "connect_refused" else None
    client, transport = sync_client(s.mock, refuse)
    result: Any = None
    error: BaseException | None = None
    with client:
        try:
            result = getattr(client.videos, op)(*s.args, **s.kwargs)
            if op == "list":
                result = list(result)
        except Exception as exc:
            error = exc
        if isinstance(error, JobMayExistError):
            _resend_with_same_key_sync(client, op, s, error)
    return s, result, error, getattr(transport, "refused", 0)


def _resend_with_same_key_sync(client: Any, op: str, s: Setup, error: JobMayExistError) -> None:
    """What the error tells the caller to do: re-send with its key. Never a second job."""
    _snapshot(s, op)
    video = getattr(client.videos, op)(*s.args, **s.kwargs, idempotency_key=error.idempotency_key)
    _after_resend(s, video)


def _snapshot(s: Setup, op: str) -> None:
    s.logged = list(s.mock.requests_for(OPS[op][0]))
    s.paid = [j.id for j in s.mock.paid_jobs]
    s.mock.clear_faults()  # the rest of a burst would hit the re-send too


def _after_resend(s: Setup, video: Video) -> None:
    assert s.paid is not None
    paid = [j.id for j in s.mock.paid_jobs]
    assert len(paid) == max(len(s.paid), 1) and len(set(paid)) == len(paid)
    assert video.id == paid[-1]
    if s.paid:
        assert video.id == s.paid[0], (
            "the re-send with the same key returns the job already started"
        )


async def _run_async(
    fault: str, op: str, tmp: Path
) -> tuple[Setup, Any, BaseException | None, int]:
    s = _setup(fault, op, tmp)
    _, method, suffix = OPS[op]
    refuse = refuse_first(method, suffix) if fault == "connect_refused" else None
    client, transport = async_client(s.mock, refuse)
    result: Any = None
    error: BaseException | None = None
    async with client:
        try:
            call = getattr(client.videos, op)(*s.args, **s.kwargs)
            result = [v async for v in call] if op == "list" else await call
        except Exception as exc:
            error = exc
        if isinstance(error, JobMayExistError):
            _snapshot(s, op)
            video = await getattr(client.videos, op)(
                *s.args, **s.kwargs, idempotency_key=error.idempotency_key
            )
            _after_resend(s, video)
    return s, result, error, getattr(transport, "refused", 0)


def _ids(cells: list[tuple[str, str]]) -> list[str]:
    return [f"{f}-{op}" for f, op in cells]


@pytest.mark.parametrize(("fault", "op"), CELLS, ids=_ids(CELLS))
def test_fault_matrix_sync(fault: str, op: str, tmp_path: Path) -> None:
    s, result, error, refused = _run_sync(fault, op, tmp_path)
    _check(fault, op, s, result, error, refused, tmp_path)


@pytest.mark.parametrize(("fault", "op"), CELLS, ids=_ids(CELLS))
def test_fault_matrix_async(fault: str, op: str, tmp_path: Path) -> None:
    s, result, error, refused = run_isolated(_run_async(fault, op, tmp_path))
    _check(fault, op, s, result, error, refused, tmp_path)


def test_the_matrix_covers_every_fault_kind_and_operation() -> None:
    from deerapi_videos_mock import OPERATIONS, FaultKind

    assert {OPS[op][0] for _, op in CELLS} == set(OPERATIONS)
    kinds = {
        _fault(f, "retrieveVideo").kind for f, _ in CELLS if _fault(f, "retrieveVideo") is not None
    }  # type: ignore[union-attr]
    assert kinds == set(get_args(FaultKind)), "every fault kind the mock has is in the matrix"
