"""Downloads: streamed to a temp file, renamed when complete; resume with Range and If-Range,
restart without; only the variant's media is saved; no file at the target on failure; redirects
to storage without the key; failed videos."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from deerapi_videos import ConflictError, DownloadError, NotFoundError, VideoFailedError

from contract_tests.builders import jpeg, webp

pytestmark = pytest.mark.asyncio

MP4_HEAD = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"


def mp4(media: bytes) -> bytes:
    """An MP4's top-level boxes (ftyp, an empty moov, mdat around ``media``)."""
    return (
        MP4_HEAD + b"\x00\x00\x00\x08moov" + (len(media) + 8).to_bytes(4, "big") + b"mdat" + media
    )


CONTENT = mp4(bytes(range(256)) * 400)
ETAG = '"v1"'
HALF = len(CONTENT) // 2
ROUTE = "/v1/videos/video_1/content"


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def _full(
    stream_cls: Any, data: bytes = CONTENT, *, ranges: bool, exc: Exception | None = None
) -> httpx.Response:
    headers = {"Content-Length": str(len(CONTENT)), "x-request-id": "req_dl"}
    if ranges:
        headers["Accept-Ranges"] = "bytes"
        headers["ETag"] = ETAG
    return httpx.Response(200, headers=headers, stream=stream_cls(data, exc))


async def test_download_complete(
    api: Any, mock: respx.MockRouter, tmp_path: Path, broken_stream: Any
) -> None:
    route = mock.get(ROUTE).mock(return_value=_full(broken_stream, ranges=False))
    progress: list[tuple[int, int | None]] = []
    target = tmp_path / "cat.mp4"
    result = await api.videos.download_content(
        "video_1", target, on_bytes=lambda d, t: progress.append((d, t))
    )
    assert result == target
    assert target.read_bytes() == CONTENT
    assert _leftovers(tmp_path) == ["cat.mp4"]
    assert progress[-1] == (len(CONTENT), len(CONTENT))
    assert len(progress) > 50, "written in chunks, not all at once"
    assert route.calls[0].request.url.params["variant"] == "video"
    assert route.calls[0].request.headers["Authorization"].startswith("Bearer ")


@pytest.mark.parametrize("variant", ["video", "thumbnail", "spritesheet"])
async def test_download_variants(
    api: Any, mock: respx.MockRouter, tmp_path: Path, broken_stream: Any, variant: str
) -> None:
    body = {"video": CONTENT, "thumbnail": webp(4, 4), "spritesheet": jpeg(4, 4)}[variant]
    media = {"video": "video/mp4", "thumbnail": "image/webp", "spritesheet": "image/jpeg"}
    route = mock.get(ROUTE).mock(
        return_value=httpx.Response(
            200, headers={"Content-Type": media[variant]}, stream=broken_stream(body)
        )
    )
    await api.videos.download_content("video_1", tmp_path / "out", variant=variant)
    assert route.calls[0].request.url.params["variant"] == variant
    assert route.calls[0].request.headers["Accept"] == media[variant]
    assert (tmp_path / "out").read_bytes() == body


async def test_interrupted_halfway_resumes_with_range(
    api: Any, mock: respx.MockRouter, tmp_path: Path, broken_stream: Any
) -> None:
    first = _full(broken_stream, CONTENT[:HALF], ranges=True, exc=httpx.ReadError("reset"))
    second = httpx.Response(
        206,
        headers={
            "Content-Range": f"bytes {HALF}-{len(CONTENT) - 1}/{len(CONTENT)}",
            "Content-Length": str(len(CONTENT) - HALF),
        },
        stream=broken_stream(CONTENT[HALF:]),
    )
    route = mock.get(ROUTE).mock(side_effect=[first, second])
    target = tmp_path / "cat.mp4"
    await api.videos.download_content("video_1", target)
    assert target.read_bytes() == CONTENT
    assert "Range" not in route.calls[0].request.headers
    assert route.calls[1].request.headers["Range"] == f"bytes={HALF}-"
    assert route.calls[1].request.headers["If-Range"] == ETAG
    assert _leftovers(tmp_path) == ["cat.mp4"]


async def test_interrupted_without_range_support_restarts(
    api: Any, mock: respx.MockRouter, tmp_path: Path, broken_stream: Any
) -> None:
    first = _full(
        broken_stream, CONTENT[:HALF], ranges=False, exc=httpx.RemoteProtocolError("peer closed")
    )
    route = mock.get(ROUTE).mock(side_effect=[first, _full(broken_stream, ranges=False)])
    target = tmp_path / "cat.mp4"
    await api.videos.download_content("video_1", target)
    assert target.read_bytes() == CONTENT
    assert "Range" not in route.calls[1].request.headers


async def test_server_ignoring_range_restarts_cleanly(
    api: Any, mock: respx.MockRouter, tmp_path: Path, broken_stream: Any
) -> None:
    first = _full(broken_stream, CONTENT[:HALF], ranges=True, exc=httpx.ReadError("reset"))
    route = mock.get(ROUTE).mock(side_effect=[first, _full(broken_stream, ranges=True)])
    target = tmp_path / "cat.mp4"
    await api.videos.download_content("video_1", target)
    assert route.calls[1].request.headers["Range"] == f"bytes={HALF}-"
    assert target.read_bytes() == CONTENT  # the 200 full body replaced the partial bytes


async def test_short_body_is_retried_then_download_error(
    api: Any, mock: respx.MockRouter, tmp_path: Path, broken_stream: Any
) -> None:
    # Content-Length promises more than arrives, with no transport error: a size mismatch.
    route = mock.get(ROUTE).mock(
        side_effect=lambda request: _full(broken_stream, CONTENT[:HALF], ranges=False)
    )
    target = tmp_path / "cat.mp4"
    with pytest.raises(DownloadError) as info:
        await api.videos.download_content("video_1", target)
    assert route.call_count == 3
    assert info.value.bytes_received == HALF and info.value.expected == len(CONTENT)
    assert not target.exists()
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("ranges", [True, False])
async def test_interruptions_until_retries_run_out_leave_nothing(
    api: Any, mock: respx.MockRouter, tmp_path: Path, broken_stream: Any, ranges: bool
) -> None:
    streams: list[Any] = []

    def respond(request: httpx.Request) -> httpx.Response:
        response = _full(broken_stream, CONTENT[:1000], ranges=ranges, exc=httpx.ReadError("reset"))
        streams.append(response.stream)
        return response

    route = mock.get(ROUTE).mock(side_effect=respond)
    target = tmp_path / "cat.mp4"
    with pytest.raises(DownloadError):
        await api.videos.download_content("video_1", target, max_retries=1)
    assert route.call_count == 2
    assert not target.exists()
    assert _leftovers(tmp_path) == []
    assert [s.closed for s in streams] == [True, True], "every response body was closed"
    if ranges:
        assert route.calls[1].request.headers["Range"] == "bytes=1000-"


async def test_existing_target_untouched_on_failure(
    api: Any, mock: respx.MockRouter, tmp_path: Path
) -> None:
    target = tmp_path / "cat.mp4"
    mock.get(ROUTE).mock(
        return_value=httpx.Response(404, json={"error": {"message": "no such video"}})
    )
    with pytest.raises(NotFoundError):
        await api.videos.download_content("video_1", target)
    assert not target.exists()
    assert _leftovers(tmp_path) == []


async def test_redirect_to_storage_host_drops_the_key(
    api: Any, mock: respx.MockRouter, tmp_path: Path, broken_stream: Any
) -> None:
    mock.get(ROUTE).mock(
        return_value=httpx.Response(
            302, headers={"Location": "https://storage.example.net/blob/1?sig=abc"}
        )
    )
    storage = mock.get("https://storage.example.net/blob/1").mock(
        return_value=_full(broken_stream, ranges=False)
    )
    target = tmp_path / "cat.mp4"
    await api.videos.download_content("video_1", target)
    assert target.read_bytes() == CONTENT
    assert storage.call_count == 1
    assert "Authorization" not in storage.calls[0].request.headers


async def test_downloading_a_failed_video_says_so(
    api: Any, mock: respx.MockRouter, tmp_path: Path, video: Any
) -> None:
    mock.get(ROUTE).mock(
        return_value=httpx.Response(409, json={"error": {"message": "not completed"}})
    )
    mock.get("/v1/videos/video_1").mock(
        return_value=httpx.Response(
            200,
            json=video(status="failed", error={"code": "moderation_blocked", "message": "blocked"}),
        )
    )
    with pytest.raises(VideoFailedError) as info:
        await api.videos.download_content("video_1", tmp_path / "cat.mp4")
    assert info.value.code == "moderation_blocked"
    assert _leftovers(tmp_path) == []


async def test_downloading_an_unfinished_video_is_a_conflict(
    api: Any, mock: respx.MockRouter, tmp_path: Path, video: Any
) -> None:
    mock.get(ROUTE).mock(
        return_value=httpx.Response(409, json={"error": {"message": "not completed"}})
    )
    mock.get("/v1/videos/video_1").mock(
        return_value=httpx.Response(200, json=video(status="in_progress"))
    )
    with pytest.raises(ConflictError):
        await api.videos.download_content("video_1", tmp_path / "cat.mp4")


async def test_async_download_does_file_work_off_the_event_loop(
    mock: respx.MockRouter, tmp_path: Path, broken_stream: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os
    import threading

    from deerapi_videos import AsyncDeerAPI

    from .conftest import BASE

    loop_thread = threading.get_ident()
    fsync_threads: list[int] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        fsync_threads.append(threading.get_ident())
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    mock.get(ROUTE).mock(return_value=_full(broken_stream, ranges=False))
    progress_threads: set[int] = set()
    target = tmp_path / "cat.mp4"
    async with AsyncDeerAPI(api_key="sk-test", base_url=BASE) as client:
        await client.videos.download_content(
            "video_1", target, on_bytes=lambda d, t: progress_threads.add(threading.get_ident())
        )
    assert target.read_bytes() == CONTENT
    # The file and its directory were fsync'ed (durability), both in a worker thread.
    assert len(fsync_threads) == 2 and loop_thread not in fsync_threads
    assert progress_threads == {loop_thread}  # callbacks run on the event loop


async def test_writeback_is_started_while_the_body_arrives(
    api: Any,
    mock: respx.MockRouter,
    tmp_path: Path,
    broken_stream: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import deerapi_videos._download as download

    calls: list[tuple[int, int]] = []

    def fadvise(fd: int, offset: int, length: int, advice: int) -> None:
        calls.append((offset, length))

    monkeypatch.setattr(download, "_WRITEBACK_EVERY", 16384)
    monkeypatch.setattr(download, "_FADVISE", fadvise)
    mock.get(ROUTE).mock(return_value=_full(broken_stream, ranges=False))
    target = tmp_path / "cat.mp4"
    await api.videos.download_content("video_1", target)
    assert target.read_bytes() == CONTENT
    assert calls and calls[0][0] == 0
    assert all(offset + length <= len(CONTENT) for offset, length in calls)


# -- only the content asked for is saved ------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "body", "said"),
    [
        ("application/json", b'{"error": {"message": "quota exhausted"}}', "quota exhausted"),
        ("text/html", b"<html><title>502 Bad Gateway</title></html>", "502 Bad Gateway"),
        ("image/png", b"\x89PNG\r\n\x1a\n", "image/png"),
    ],
    ids=["json-error", "html-page", "other-media"],
)
async def test_a_success_answer_that_is_not_the_video_is_refused(
    api: Any,
    mock: respx.MockRouter,
    tmp_path: Path,
    broken_stream: Any,
    content_type: str,
    body: bytes,
    said: str,
) -> None:
    route = mock.get(ROUTE).mock(
        return_value=httpx.Response(
            200, headers={"Content-Type": content_type}, stream=broken_stream(body)
        )
    )
    target = tmp_path / "cat.mp4"
    with pytest.raises(DownloadError, match=said) as info:
        await api.videos.download_content("video_1", target)
    assert "nothing was saved" in str(info.value)
    assert route.call_count == 1, "the server's answer, not a transient fault: not retried"
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize(
    ("variant", "body"),
    [
        ("video", b"<html>oops</html>" * 10),
        ("thumbnail", CONTENT),
        ("video", CONTENT[:-100]),
        ("spritesheet", b"GIF89a" + bytes(20)),
        ("video", b"tiny"),
    ],
    ids=["html-as-octets", "mp4-as-webp", "cut-mp4", "gif-as-jpeg", "shorter-than-a-signature"],
)
async def test_a_body_that_is_not_a_whole_variant_is_refused(
    api: Any, mock: respx.MockRouter, tmp_path: Path, broken_stream: Any, variant: str, body: bytes
) -> None:
    mock.get(ROUTE).mock(
        return_value=httpx.Response(
            200, headers={"Content-Type": "application/octet-stream"}, stream=broken_stream(body)
        )
    )
    with pytest.raises(DownloadError, match=r"signature|cut short"):
        await api.videos.download_content("video_1", tmp_path / "out", variant=variant)
    assert _leftovers(tmp_path) == []


async def test_no_resume_without_a_validator_for_if_range(
    api: Any, mock: respx.MockRouter, tmp_path: Path, broken_stream: Any
) -> None:
    headers = {"Content-Length": str(len(CONTENT)), "Accept-Ranges": "bytes"}
    first = httpx.Response(
        200, headers=headers, stream=broken_stream(CONTENT[:HALF], httpx.ReadError("reset"))
    )
    second = httpx.Response(200, headers=headers, stream=broken_stream(CONTENT))
    route = mock.get(ROUTE).mock(side_effect=[first, second])
    target = tmp_path / "cat.mp4"
    await api.videos.download_content("video_1", target)
    assert "Range" not in route.calls[1].request.headers
    assert target.read_bytes() == CONTENT


async def test_a_resumed_range_of_another_total_restarts_instead_of_splicing(
    api: Any, mock: respx.MockRouter, tmp_path: Path, broken_stream: Any
) -> None:
    new_version = mp4(bytes(reversed(range(256))) * 500)
    first = _full(broken_stream, CONTENT[:HALF], ranges=True, exc=httpx.ReadError("reset"))
    changed = httpx.Response(
        206,
        headers={
            "Content-Range": f"bytes {HALF}-{len(new_version) - 1}/{len(new_version)}",
            "Content-Length": str(len(new_version) - HALF),
        },
        stream=broken_stream(new_version[HALF:]),
    )
    whole = httpx.Response(
        200, headers={"Content-Length": str(len(new_version))}, stream=broken_stream(new_version)
    )
    route = mock.get(ROUTE).mock(side_effect=[first, changed, whole])
    target = tmp_path / "cat.mp4"
    await api.videos.download_content("video_1", target)
    assert target.read_bytes() == new_version  # never half of one version, half of another
    assert "Range" not in route.calls[2].request.headers


async def test_a_full_disk_is_a_download_error(
    api: Any,
    mock: respx.MockRouter,
    tmp_path: Path,
    broken_stream: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import errno
    import os

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    mock.get(ROUTE).mock(return_value=_full(broken_stream, ranges=False))
    with pytest.raises(DownloadError, match="No space left"):
        await api.videos.download_content("video_1", tmp_path / "cat.mp4")
    assert _leftovers(tmp_path) == []
