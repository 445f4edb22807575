"""Typed Python client for DeerAPI's Sora 2 video API.

::

    from deerapi_videos import DeerAPI

    with DeerAPI() as client:  # key from DEERAPI_KEY
        video = client.videos.create_and_poll(prompt="a cat on a piano", seconds=4)
        client.videos.download_content(video.id, "cat.mp4")

The public surface is exactly ``__all__`` (a test freezes it). Tests turn sleeping off with
``deerapi_videos.testing.set_testing(True)``. The generated low-level client is reachable through
``client.generated``.
"""

from deerapi_videos_generated.models.deleted_video import DeletedVideo
from deerapi_videos_generated.models.video import Video
from deerapi_videos_generated.models.video_content_variant import VideoContentVariant
from deerapi_videos_generated.models.video_model import VideoModel
from deerapi_videos_generated.models.video_seconds import VideoSeconds
from deerapi_videos_generated.models.video_size import VideoSize
from deerapi_videos_generated.models.video_status import VideoStatus

from ._client import AsyncDeerAPI, DeerAPI
from ._errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    DeerAPIError,
    DownloadError,
    InternalServerError,
    InvalidParameterError,
    JobMayExistError,
    JobResponseValidationError,
    NotFoundError,
    PermissionDeniedError,
    PollTimeoutError,
    RateLimitError,
    ResponseValidationError,
    VideoFailedError,
)

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncDeerAPI",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "DeerAPI",
    "DeerAPIError",
    "DeletedVideo",
    "DownloadError",
    "InternalServerError",
    "InvalidParameterError",
    "JobMayExistError",
    "JobResponseValidationError",
    "NotFoundError",
    "PermissionDeniedError",
    "PollTimeoutError",
    "RateLimitError",
    "ResponseValidationError",
    "Video",
    "VideoContentVariant",
    "VideoFailedError",
    "VideoModel",
    "VideoSeconds",
    "VideoSize",
    "VideoStatus",
]
