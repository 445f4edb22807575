"""Calls the type checker must refuse: each line below carries ``type: ignore[code]``.

mypy runs with ``--strict``, so an ignore that is not needed is itself an error: if the public
types ever stopped refusing one of these calls, this file would fail to type-check.
"""

from __future__ import annotations

import httpx
from deerapi_videos import AsyncDeerAPI, DeerAPI


def refused_sync(client: DeerAPI) -> None:
    client.videos.create(prompt="a cat", seconds=5)  # type: ignore[call-overload]
    client.videos.create(prompt="a cat", size="100x100")  # type: ignore[call-overload]
    client.videos.create(prompt="a cat", seconds=5, size="100x100")  # type: ignore[call-overload]
    client.videos.create(prompt="a cat", model="veo3", seconds=5)  # type: ignore[call-overload]
    client.videos.create_and_poll(prompt="a cat", seconds="5")  # type: ignore[call-overload]
    client.videos.create(prompt="a cat", input_reference=3.5)  # type: ignore[call-overload]
    client.videos.download_content("video_1", "x.gif", variant="gif")  # type: ignore[arg-type]
    client.videos.list(order="sideways")  # type: ignore[arg-type]


async def refused_async(client: AsyncDeerAPI) -> None:
    await client.videos.create(prompt="a cat", seconds=5)  # type: ignore[call-overload]
    await client.videos.create_and_poll(prompt="a cat", size="16x9")  # type: ignore[call-overload]


def refused_transports() -> None:
    DeerAPI(transport=httpx.AsyncHTTPTransport())  # type: ignore[arg-type]
    AsyncDeerAPI(transport=httpx.HTTPTransport())  # type: ignore[arg-type]
