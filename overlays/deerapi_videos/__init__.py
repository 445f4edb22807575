"""Typed Python client for DeerAPI's video API (Sora 2 and Veo 3 models on ``/v1/videos``).

::

    from deerapi_videos import DeerAPI

    with DeerAPI() as client:  # key from DEERAPI_KEY
        video = client.videos.create_and_poll(prompt="a cat on a piano", seconds=4)
        client.videos.download_content(video.id, "cat.mp4")

The public surface is exactly ``__all__`` (a test freezes it). Tests turn sleeping off with
``deerapi_videos.testing.set_testing(True)``. The generated low-level client is reachable through
``client.generated``.
"""

from typing import TYPE_CHECKING, Any

from ._async import AsyncDeerAPI, AsyncVideos
from ._errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    ContentExpiredError,
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
from ._sync import DeerAPI, Videos
from ._tolerant import ResponseDeviation

if TYPE_CHECKING:
    __version__: str  # from the distribution's metadata (module __getattr__ below)
    from deerapi_videos_generated.models.deleted_video import DeletedVideo
    from deerapi_videos_generated.models.video import Video
    from deerapi_videos_generated.models.video_content_variant import VideoContentVariant
    from deerapi_videos_generated.models.video_model import VideoModel
    from deerapi_videos_generated.models.video_seconds import VideoSeconds
    from deerapi_videos_generated.models.video_size import VideoSize
    from deerapi_videos_generated.models.video_status import VideoStatus

# The generated models are re-exported lazily (PEP 562): importing them loads the whole generated
# layer (attrs and every model), which ``import deerapi_videos`` itself does not need. The first
# access imports the model and caches it in this module's namespace.
_LAZY_MODELS = {
    "DeletedVideo": "deerapi_videos_generated.models.deleted_video",
    "Video": "deerapi_videos_generated.models.video",
    "VideoContentVariant": "deerapi_videos_generated.models.video_content_variant",
    "VideoModel": "deerapi_videos_generated.models.video_model",
    "VideoSeconds": "deerapi_videos_generated.models.video_seconds",
    "VideoSize": "deerapi_videos_generated.models.video_size",
    "VideoStatus": "deerapi_videos_generated.models.video_status",
}


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from ._version import version

        return version()
    module_name = _LAZY_MODELS.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncDeerAPI",
    "AsyncVideos",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "ContentExpiredError",
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
    "ResponseDeviation",
    "ResponseValidationError",
    "Video",
    "VideoContentVariant",
    "VideoFailedError",
    "VideoModel",
    "VideoSeconds",
    "VideoSize",
    "VideoStatus",
    "Videos",
]
