"""End to end against the mock: create -> poll -> download -> remix -> list -> delete (-> 404).

Sync and async in-process (ASGI), and once each over real loopback sockets (``mock.serve()``).
The mock's jobs age by one mock second per retrieve (``advance_on_retrieve``), and the client's
testing switch turns its waits off, so nothing sleeps.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from deerapi_videos import AsyncDeerAPI, DeerAPI, NotFoundError, Video, VideoFailedError
from deerapi_videos_mock import MockDeerAPI

from contract_tests.builders import png
from contract_tests.e2e._harness import API_KEY, async_client, new_mock, sync_client

MAGIC = {"video": (4, b"ftyp"), "thumbnail": (8, b"WEBP"), "spritesheet": (0, b"\xff\xd8\xff")}


def _status(video: Video) -> str:
    return str(getattr(video.status, "value", video.status))


def _check_created(video: Video, mock: MockDeerAPI) -> None:
    assert _status(video) == "queued" and video.progress == 0
    assert [j.id for j in mock.paid_jobs] == [video.id]


def _check_polled(done: Video, seen: list[Video]) -> None:
    assert _status(done) == "completed" and done.progress == 100
    statuses = [_status(v) for v in seen]
    assert "in_progress" in statuses and statuses[-1] == "completed" and len(statuses) >= 3
    progress = [v.progress for v in seen]
    assert progress == sorted(progress), "progress never goes back"


def _check_download(path: Path, mock: MockDeerAPI, video_id: str, variant: str) -> None:
    data = path.read_bytes()
    offset, magic = MAGIC[variant]
    assert data[offset : offset + len(magic)] == magic
    if variant == "video":
        assert int.from_bytes(data[:4], "big") >= 8  # a box size, then the ftyp box
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".part")]


def _check_end(mock: MockDeerAPI, video_id: str, remix_id: str) -> None:
    assert mock.get(video_id) is None
    assert len(mock.paid_jobs) == 2 and len({j.id for j in mock.paid_jobs}) == 2
    assert {j.id for j in mock.paid_jobs} == {video_id, remix_id}


def run_sync(client: DeerAPI, mock: MockDeerAPI, tmp: Path) -> None:
    video = client.videos.create(
        prompt="a cat on a piano",
        model="sora-2",
        seconds="4",
        size="720x1280",
        input_reference=("frame.png", png(720, 1280), "image/png"),
    )
    _check_created(video, mock)
    seen: list[Video] = []
    done = client.videos.poll(video.id, on_progress=seen.append)
    _check_polled(done, seen)
    for variant in MAGIC:
        path = client.videos.download_content(video.id, tmp / f"out.{variant}", variant=variant)
        _check_download(path, mock, video.id, variant)
    remix = client.videos.remix(video.id, prompt="the cat takes a bow", model="sora-2")
    assert remix.remixed_from_video_id == video.id and remix.id != video.id
    listed = [v.id for v in client.videos.list(limit=1)]  # one per page: pagination is exercised
    assert {video.id, remix.id} <= set(listed) and len(listed) == len(set(listed))
    assert client.videos.delete(video.id).deleted is True
    with pytest.raises(NotFoundError):
        client.videos.retrieve(video.id)
    with pytest.raises(NotFoundError):
        client.videos.download_content(video.id, tmp / "gone.mp4")
    assert not (tmp / "gone.mp4").exists()
    assert [v.id for v in client.videos.list()] == [remix.id]
    _check_end(mock, video.id, remix.id)


async def run_async(client: AsyncDeerAPI, mock: MockDeerAPI, tmp: Path) -> None:
    video = await client.videos.create(
        prompt="a cat on a piano",
        model="sora-2",
        seconds="4",
        size="720x1280",
        input_reference=("frame.png", png(720, 1280), "image/png"),
    )
    _check_created(video, mock)
    seen: list[Video] = []
    done = await client.videos.poll(video.id, on_progress=seen.append)
    _check_polled(done, seen)
    for variant in MAGIC:
        path = await client.videos.download_content(
            video.id, tmp / f"out.{variant}", variant=variant
        )
        _check_download(path, mock, video.id, variant)
    remix = await client.videos.remix(video.id, prompt="the cat takes a bow", model="sora-2")
    assert remix.remixed_from_video_id == video.id and remix.id != video.id
    listed = [v.id async for v in client.videos.list(limit=1)]
    assert {video.id, remix.id} <= set(listed) and len(listed) == len(set(listed))
    assert (await client.videos.delete(video.id)).deleted is True
    with pytest.raises(NotFoundError):
        await client.videos.retrieve(video.id)
    with pytest.raises(NotFoundError):
        await client.videos.download_content(video.id, tmp / "gone.mp4")
    assert not (tmp / "gone.mp4").exists()
    assert [v.id async for v in client.videos.list()] == [remix.id]
    _check_end(mock, video.id, remix.id)


def test_lifecycle_sync_in_process(tmp_path: Path) -> None:
    mock = new_mock(advance_on_retrieve=1.0)
    client, _ = sync_client(mock)
    with client:
        run_sync(client, mock, tmp_path)


@pytest.mark.asyncio
async def test_lifecycle_async_in_process(tmp_path: Path) -> None:
    mock = new_mock(advance_on_retrieve=1.0)
    client, _ = async_client(mock)
    async with client:
        await run_async(client, mock, tmp_path)


def test_lifecycle_sync_over_loopback(tmp_path: Path) -> None:
    mock = new_mock(advance_on_retrieve=1.0, content_size=3 << 20)
    with mock.serve() as base_url, DeerAPI(api_key=API_KEY, base_url=base_url) as client:
        assert httpx.URL(base_url).host == "127.0.0.1"
        run_sync(client, mock, tmp_path)
        assert (tmp_path / "out.video").stat().st_size == 3 << 20


@pytest.mark.asyncio
async def test_lifecycle_async_over_loopback(tmp_path: Path) -> None:
    mock = new_mock(advance_on_retrieve=1.0)
    with mock.serve() as base_url:
        async with AsyncDeerAPI(api_key=API_KEY, base_url=base_url) as client:
            await run_async(client, mock, tmp_path)


def test_failed_job_ends_polling_with_its_error(tmp_path: Path) -> None:
    mock = new_mock(advance_on_retrieve=1.0)
    client, _ = sync_client(mock)
    with client:
        video = client.videos.create(prompt="a cat [mock:fail=moderation_blocked]")
        with pytest.raises(VideoFailedError) as info:
            client.videos.poll(video.id)
        assert info.value.code == "moderation_blocked" and info.value.video_id == video.id
        with pytest.raises(VideoFailedError):
            client.videos.download_content(video.id, tmp_path / "x.mp4")
        assert list(tmp_path.iterdir()) == []
    assert len(mock.paid_jobs) == 1


def test_resuming_after_a_crash_is_just_poll(tmp_path: Path) -> None:
    """A second client (after the first 'crashed') polls the same id: no new POST."""
    mock = new_mock(advance_on_retrieve=1.0)
    first, _ = sync_client(mock)
    with first:
        video = first.videos.create(prompt="a cat")
    second, _ = sync_client(mock)
    with second:
        done = second.videos.poll(video.id)
    assert _status(done) == "completed"
    assert len(mock.requests_for("createVideo")) == 1 and len(mock.paid_jobs) == 1
