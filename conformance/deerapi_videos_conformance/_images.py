"""Small, real JPEG, PNG and WebP images of a given pixel size, for ``input_reference``.

The PNG is complete (checksummed chunks, zlib-compressed rows); the JPEG and WebP carry the
headers a server reads the size from (JPEG SOF0, WebP VP8X), which is what the API checks
(type by magic bytes, pixel size for Sora 2). Cached: a run reuses a few sizes.
"""

from __future__ import annotations

import struct
import zlib
from functools import lru_cache

__all__ = ["IMAGE_KINDS", "image"]

IMAGE_KINDS = ("image/png", "image/jpeg", "image/webp")


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    row = b"\x00" + b"\x20\x40\x60" * width
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", zlib.compress(row * height, 6))
        + _png_chunk(b"IEND", b"")
    )


def _jpeg(width: int, height: int) -> bytes:
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + app0 + sof + b"\xff\xd9"


def _webp(width: int, height: int) -> bytes:
    vp8x = b"VP8X" + struct.pack("<I", 10) + b"\x00\x00\x00\x00"
    vp8x += (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    body = b"WEBP" + vp8x
    return b"RIFF" + struct.pack("<I", len(body)) + body


_MAKERS = {"image/png": _png, "image/jpeg": _jpeg, "image/webp": _webp}


@lru_cache(maxsize=32)
def image(kind: str, width: int, height: int) -> bytes:
    """An image of ``kind`` (a MIME type in :data:`IMAGE_KINDS`) of ``width`` x ``height``."""
    return _MAKERS[kind](width, height)
