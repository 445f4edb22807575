"""Test data every suite shares, defined once: video bodies and small valid images.

The images are the conformance check's own (one home: ``deerapi_videos_conformance.image``):
they carry a real header (PNG with checksummed chunks, JPEG with an SOF0 segment, WebP with a
VP8X chunk), so any reader that looks at their pixel size finds ``width`` x ``height``.
"""

from __future__ import annotations

from typing import Any

from deerapi_videos_conformance import image

__all__ = ["IMAGE_MAKERS", "jpeg", "png", "video_body", "webp"]


def video_body(
    video_id: str = "video_1", status: str = "queued", progress: int = 0, **extra: Any
) -> dict[str, Any]:
    """A video object as the API sends it (``extra`` adds or overrides fields)."""
    data: dict[str, Any] = {
        "id": video_id,
        "object": "video",
        "created_at": 1758941485,
        "status": status,
        "model": "sora-2",
        "progress": progress,
        "seconds": "4",
        "size": "720x1280",
    }
    data.update(extra)
    return data


def png(width: int, height: int) -> bytes:
    """A valid RGB PNG of ``width`` x ``height`` pixels."""
    return image("image/png", width, height)


def jpeg(width: int, height: int) -> bytes:
    """SOI, an APP0 segment, a SOF0 segment carrying the size, EOI."""
    return image("image/jpeg", width, height)


def webp(width: int, height: int) -> bytes:
    """RIFF/WEBP with a VP8X chunk carrying the canvas size."""
    return image("image/webp", width, height)


IMAGE_MAKERS = {"image/png": png, "image/jpeg": jpeg, "image/webp": webp}
