"""The client, written once by hand with ``await``; ``scripts/unasync.py`` derives the other."""

from ._client import AsyncDeerAPI, AsyncVideos
from ._request import AsyncRequester, pool_size

__all__ = ["AsyncDeerAPI", "AsyncRequester", "AsyncVideos", "pool_size"]
