"""Each property checker reports a planted violation (and stays quiet on a clean case).

A checker that can never fail would make the hostile matrix pass vacuously; these tests feed every
checker of :mod:`.properties` the kind of evidence a broken client would leave behind.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

import httpx
import pytest
from deerapi_videos import (
    APIConnectionError,
    DeerAPIError,
    DeletedVideo,
    NotFoundError,
    PollTimeoutError,
    Video,
)

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
    key_forms,
)
from ._server import MP4, SEED_ID, Received, video

KEY = "sk-hostile-7d3f9a2b1c"
API_HOST = "127.0.0.1:8000"


def request(
    method: str = "GET",
    path: str = f"/v1/videos/{SEED_ID}",
    t: float = 0.0,
    *,
    key: str | None = "dvk_1",
    status: int | None = 200,
    issued_id: str | None = None,
    host: str = API_HOST,
    authorization: str = f"Bearer {KEY}",
) -> Received:
    headers = {"host": host, "authorization": authorization}
    if method == "POST" and key is not None:
        headers["idempotency-key"] = key
    return Received(method, path, headers, b"", t, 1, status=status, issued_id=issued_id)


def letters(violations: list[str]) -> set[str]:
    return {v.split(":", 1)[0] for v in violations}


# -- a ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [httpx.DecodingError("bad gzip"), httpx.TooManyRedirects("loop"), ValueError("x"), KeyError()],
    ids=lambda e: type(e).__name__,
)
def test_a_reports_a_raw_exception(raw: BaseException) -> None:
    assert check_exception_type(raw) == [
        f"a: raw {type(raw).__module__}.{type(raw).__name__} escaped"
    ]


@pytest.mark.parametrize(
    "allowed",
    [
        None,
        APIConnectionError("reset"),
        NotFoundError("gone", status_code=404),
        KeyboardInterrupt(),
        asyncio.CancelledError(),
    ],
    ids=lambda e: type(e).__name__,
)
def test_a_accepts_deerapi_errors_and_interrupts(allowed: BaseException | None) -> None:
    assert check_exception_type(allowed) == []


def test_a_reports_an_error_where_a_result_was_due() -> None:
    assert check_returned(DeerAPIError("internal error: TypeError")) == [
        "a: raised deerapi_videos.DeerAPIError although the server's answers allow a result"
    ]
    assert check_returned(None) == []


def test_a_reports_wrong_return_values(tmp_path: Path) -> None:
    target = tmp_path / "video.mp4"
    issued = ["video_new"]

    def check(op: str, result: object) -> list[str]:
        return check_result(op, result, issued_ids=issued, target=target, content=MP4)

    assert letters(check("create", {"id": "video_new"})) == {"a"}
    assert letters(check("create", Video.from_dict(video("video_never_issued")))) == {"a"}
    assert letters(check("retrieve", Video.from_dict(video("video_other")))) == {"a"}
    assert letters(check("poll", Video.from_dict(video(SEED_ID, "in_progress", 5)))) == {"a"}
    assert letters(check("list", [{"id": SEED_ID}])) == {"a"}
    not_deleted = DeletedVideo.from_dict(
        {"id": SEED_ID, "object": "video.deleted", "deleted": False}
    )
    assert letters(check("delete", not_deleted)) == {"a"}
    target.write_bytes(b"<html>502 Bad Gateway</html>")
    assert letters(check("download_content", target)) == {"a"}
    # and the right values pass
    target.write_bytes(MP4)
    assert check("download_content", target) == []
    assert check("create_and_poll", Video.from_dict(video("video_new"))) == []
    assert check("poll", Video.from_dict(video(SEED_ID))) == []
    assert check("list", [Video.from_dict(video(SEED_ID))]) == []


# -- b ------------------------------------------------------------------------------------------


def test_b_reports_posts_with_different_keys() -> None:
    log = [
        request("POST", "/v1/videos", 0, key="dvk_1", status=503),
        request("POST", "/v1/videos", 1, key="dvk_2"),
    ]
    assert check_post_safety(log, max_retries=2) == ["b: one call's 2 POSTs carried 2 keys"]


def test_b_reports_a_post_after_a_possible_job() -> None:
    for first in (200, 500, 502, None):
        log = [request("POST", "/v1/videos", 0, status=first), request("POST", "/v1/videos", 1)]
        assert letters(check_post_safety(log, max_retries=2)) == {"b"}, first


def test_b_reports_a_missing_key_and_too_many_posts() -> None:
    assert letters(check_post_safety([request("POST", "/v1/videos", key=None)], 1)) == {"b"}
    log = [request("POST", "/v1/videos", i, status=503) for i in range(3)]
    assert check_post_safety(log, max_retries=1) == ["b: 3 POSTs for one call (max_retries=1)"]


def test_b_accepts_a_resend_after_503_with_the_same_key() -> None:
    log = [
        request("POST", "/v1/videos", 0, status=503),
        request("POST", "/v1/videos", 1),
        request(),
    ]
    assert check_post_safety(log, max_retries=1) == []


# -- c ------------------------------------------------------------------------------------------


def test_c_reports_reads_closer_than_the_floor() -> None:
    log = [request(t=0.0), request(t=0.1), request(t=0.7)]
    (violation,) = check_poll_spacing(log)
    assert violation.startswith("c: 1 of 2 poll reads came sooner than 0.5s")
    assert "closest 100 ms" in violation


def test_c_ignores_other_requests_and_accepts_spaced_reads() -> None:
    content = f"/v1/videos/{SEED_ID}/content"
    log = [
        request(t=0.0),
        request("GET", content, 0.1),
        request("POST", "/v1/videos", 0.2),
        request(t=0.6),
    ]
    assert check_poll_spacing(log) == []


# -- d ------------------------------------------------------------------------------------------


def test_d_reports_an_overrun_and_a_hang() -> None:
    assert check_deadline(5.2, 3.5) == ["d: took 5.20s, bound 3.50s"]
    assert letters(check_deadline(4.0, 3.5, hung=True)) == {"d"}
    assert check_deadline(3.4, 3.5) == []


# -- e ------------------------------------------------------------------------------------------


def _caused(outer: BaseException, inner: BaseException) -> BaseException:
    """``outer`` raised ``from inner`` (an explicit ``__cause__``)."""
    try:
        try:
            raise inner
        except BaseException as exc:
            raise outer from exc
    except BaseException as exc:
        return exc


def _during(outer: BaseException, inner: BaseException) -> BaseException:
    """``outer`` raised while handling ``inner`` (an implicit ``__context__``)."""
    try:
        try:
            raise inner
        except BaseException:
            raise outer  # noqa: B904 - the implicit context is the point
    except BaseException as exc:
        return exc


def test_e_reports_the_key_in_the_message() -> None:
    exc = DeerAPIError(f"HTTP 401: Incorrect API key provided: Bearer {KEY}")
    assert "e: the API key appears in str(DeerAPIError)" in check_key_hidden(KEY, exc, [])


def test_e_reports_the_key_in_the_cause_and_the_context() -> None:
    caused = _caused(DeerAPIError("failed"), httpx.ReadError(f"Authorization: Bearer {KEY}"))
    assert "e: the API key appears in str(ReadError)" in check_key_hidden(KEY, caused, [])
    context = _during(DeerAPIError("failed"), ValueError(KEY))
    assert context.__cause__ is None and context.__context__ is not None
    assert "e: the API key appears in str(ValueError)" in check_key_hidden(KEY, context, [])


def test_e_reports_json_escaped_forms_in_attributes() -> None:
    escaped = KEY.replace("-", "\\u002d")
    assert escaped in key_forms(KEY)
    exc = NotFoundError("not found", status_code=404, body=f'{{"error": "{escaped}"}}')
    assert check_key_hidden(KEY, exc, []) == ["e: the API key appears in NotFoundError.body"]
    slashed = "sk-abc/def"
    exc = DeerAPIError('{"key": "sk-abc\\/def"}')
    assert letters(check_key_hidden(slashed, exc, [])) == {"e"}


def test_e_reports_the_key_in_log_records() -> None:
    args = (f"Bearer {KEY}",)
    record = logging.LogRecord(
        "deerapi_videos", logging.WARNING, __file__, 1, "auth %s", args, None
    )
    assert check_key_hidden(KEY, None, [record]) == [
        "e: the API key appears in log record deerapi_videos:WARNING"
    ]
    try:
        raise ValueError(KEY)
    except ValueError:
        info = sys.exc_info()
    record = logging.LogRecord("deerapi_videos", logging.ERROR, __file__, 1, "failed", (), info)
    assert letters(check_key_hidden(KEY, None, [record])) == {"e"}


def test_e_accepts_redacted_text() -> None:
    exc = _caused(DeerAPIError("Bearer [redacted]"), httpx.ReadError("reset"))
    record = logging.LogRecord("deerapi_videos", logging.DEBUG, __file__, 1, "ok", (), None)
    assert check_key_hidden(KEY, exc, [record]) == []


def test_e_reports_the_key_sent_to_another_host() -> None:
    log = [request(), request(host="localhost:8000", path="/elsewhere/x")]
    assert check_key_not_forwarded(KEY, log, API_HOST) == [
        "e: the API key was sent to localhost:8000 (GET /elsewhere/x)"
    ]
    log = [request(), request(host="localhost:8000", authorization="")]
    assert check_key_not_forwarded(KEY, log, API_HOST) == []


# -- f ------------------------------------------------------------------------------------------


def test_f_reports_an_error_without_the_video_id() -> None:
    log = [request("POST", "/v1/videos", issued_id="video_new"), request(status=404)]
    error = NotFoundError("No video found", status_code=404)
    assert check_video_id_carried(error, log) == [
        "f: deerapi_videos.NotFoundError after the POST created video_new has video_id=None"
    ]
    wrong = PollTimeoutError("video_other", "in_progress", 5, 2.0)
    assert letters(check_video_id_carried(wrong, log)) == {"f"}


def test_f_accepts_the_right_id_and_errors_before_any_job() -> None:
    log = [request("POST", "/v1/videos", issued_id="video_new")]
    assert check_video_id_carried(PollTimeoutError("video_new", "queued", 0, 2.0), log) == []
    no_job = [request("POST", "/v1/videos", status=503)]
    assert check_video_id_carried(APIConnectionError("reset"), no_job) == []
    assert check_video_id_carried(asyncio.CancelledError(), log) == []


# -- g ------------------------------------------------------------------------------------------


def test_g_reports_a_non_video_file(tmp_path: Path) -> None:
    target = tmp_path / "video.mp4"
    target.write_bytes(b"<!DOCTYPE html><html>502 Bad Gateway</html>")
    (violation,) = check_download_target(target, MP4)
    assert violation.startswith("g: the target holds non-video bytes b'<!DOCTYPE html>")


def test_g_reports_a_truncated_video_and_a_leftover(tmp_path: Path) -> None:
    target = tmp_path / "video.mp4"
    target.write_bytes(MP4[:-16])
    assert check_download_target(target, MP4) == [
        f"g: the target holds {len(MP4) - 16} bytes that are not the {len(MP4)} served"
    ]
    target.unlink()
    (tmp_path / ".video.mp4.abc.part").write_bytes(MP4[:100])
    assert check_download_target(target, MP4) == [
        "g: left beside the target: ['.video.mp4.abc.part']"
    ]


def test_g_accepts_the_real_content_or_nothing(tmp_path: Path) -> None:
    target = tmp_path / "video.mp4"
    assert check_download_target(target, MP4) == []
    target.write_bytes(MP4)
    assert check_download_target(target, MP4) == []
