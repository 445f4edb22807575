"""Test data every suite shares, defined once: video bodies and small valid images.

The images carry a real header (PNG with checksummed chunks, JPEG with an SOF0 segment, WebP
with a VP8X chunk), so any reader that looks at their pixel size finds ``width`` x ``height``.
"""

from __future__ import annotations

import struct
import zlib
from typing import Any

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


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png(width: int, height: int) -> bytes:
    """A valid RGB PNG of ``width`` x ``height`` pixels."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    raw = b"".join(b"\x00" + b"\x20\x40\x60" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", zlib.compress(raw, 9))
        + _png_chunk(b"IEND", b"")
    )


def jpeg(width: int, height: int) -> bytes:
    """SOI, an APP0 segment, a SOF0 segment carrying the size, EOI."""
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + app0 + sof + b"\xff\xd9"


def webp(width: int, height: int) -> bytes:
    """RIFF/WEBP with a VP8X chunk carrying the canvas size."""
    vp8x = b"VP8X" + struct.pack("<I", 10) + b"\x00\x00\x00\x00"
    vp8x += (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    body = b"WEBP" + vp8x
    return b"RIFF" + struct.pack("<I", len(body)) + body


IMAGE_MAKERS = {"image/png": png, "image/jpeg": jpeg, "image/webp": webp}
