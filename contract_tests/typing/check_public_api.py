"""Typical calls of the public API, type-checked by ``mypy --strict`` and never run.

``.ci/run`` and tox run mypy on this file; ``test_typing.py`` also runs it. Each
``assert_type`` pins what a call returns, so a change to the public types shows up here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import assert_type

import deerapi_videos
import httpx
from deerapi_videos import (
    AsyncDeerAPI,
    DeerAPI,
    DeerAPIError,
    DeletedVideo,
    JobMayExistError,
    PollTimeoutError,
    Video,
    VideoFailedError,
)
from deerapi_videos.testing import no_sleep
from deerapi_videos.types import ImageInput


def sync_calls(client: DeerAPI) -> None:
    video = client.videos.create(prompt="a cat", model="sora-2", seconds="4", size="720x1280")
    assert_type(video, Video)
    assert_type(client.videos.retrieve(video.id), Video)
    assert_type(client.videos.poll(video.id, timeout=60.0), Video)
    assert_type(client.videos.create_and_poll(prompt="a cat", poll_timeout=600), Video)
    # The default model's values, the int spelling of a length, any string for a named model.
    assert_type(client.videos.create(prompt="a cat", seconds=8, size="1280x720"), Video)
    assert_type(client.videos.create(prompt="a cat", model="veo3.1-pro", size="16x9"), Video)
    assert_type(client.videos.create(prompt="a cat", model="next-model", size="any"), Video)
    frames: list[ImageInput] = [Path("first.png"), b"\x89PNG..."]
    assert_type(client.videos.create(prompt="a", model="veo3.1", input_reference=frames), Video)
    assert_type(client.videos.download_content(video.id, "cat.mp4"), Path)
    assert_type(client.videos.remix(video.id, prompt="again"), Video)
    assert_type(client.videos.list(limit=10, order="desc"), Iterator[Video])
    assert_type(client.videos.delete(video.id), DeletedVideo)
    assert_type(client.base_url, httpx.URL)
    assert_type(client.max_retries, int)


async def async_calls(client: AsyncDeerAPI) -> None:
    video = await client.videos.create(prompt="a cat", seconds=4)
    assert_type(video, Video)
    assert_type(await client.videos.retrieve(video.id), Video)
    assert_type(await client.videos.poll(video.id), Video)
    assert_type(await client.videos.create_and_poll(prompt="a cat"), Video)
    assert_type(await client.videos.download_content(video.id, Path("cat.mp4")), Path)
    assert_type(client.videos.list(), AsyncIterator[Video])
    assert_type(await client.videos.delete(video.id), DeletedVideo)
    await client.close()


def errors_and_context() -> None:
    with DeerAPI(api_key="sk-x", max_retries=0, timeout=httpx.Timeout(5.0)) as client:
        try:
            client.videos.create(prompt="a cat")
        except JobMayExistError as exc:
            assert_type(exc.idempotency_key, str)
        except VideoFailedError as exc:
            assert_type(exc.video_id, str)
        except PollTimeoutError as exc:
            assert_type(exc, PollTimeoutError)
        except DeerAPIError as exc:
            assert_type(exc, DeerAPIError)
    assert_type(deerapi_videos.__version__, str)
    # A transport of the caller's (a scheduler's) inside the client's own httpx client.
    assert_type(DeerAPI(api_key="sk-x", transport=httpx.HTTPTransport(retries=1)), DeerAPI)
    assert_type(AsyncDeerAPI(api_key="sk-x", transport=httpx.AsyncHTTPTransport()), AsyncDeerAPI)
    with no_sleep() as sleeps:
        assert_type(sleeps, list[float])
