"""Content: structurally valid MP4 / WebP / JPEG, Content-Length, Range, 409/404, streaming."""

from __future__ import annotations

import struct
import tracemalloc
from typing import Any

import httpx
import pytest
from deerapi_videos_mock import MockDeerAPI
from deerapi_videos_mock._media import WEBP_THUMBNAIL, Asset, build_jpeg, mp4_asset

from ._support import AUTH

CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"dinf"}


def parse_boxes(
    data: bytes, start: int = 0, end: int | None = None
) -> list[tuple[bytes, int, int]]:
    """``(type, payload start, box end)`` for each box in ``data[start:end]``; checks sizes."""
    end = len(data) if end is None else end
    boxes = []
    pos = start
    while pos < end:
        assert end - pos >= 8, "truncated box header"
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        header = 8
        if size == 1:
            size = struct.unpack(">Q", data[pos + 8 : pos + 16])[0]
            header = 16
        assert size >= header and pos + size <= end, f"box {kind!r} overruns its parent"
        boxes.append((kind, pos + header, pos + size))
        pos += size
    assert pos == end
    return boxes


def box_tree(data: bytes, start: int = 0, end: int | None = None) -> dict[bytes, Any]:
    tree: dict[bytes, Any] = {}
    for kind, payload, box_end in parse_boxes(data, start, end):
        tree[kind] = box_tree(data, payload, box_end) if kind in CONTAINERS else (payload, box_end)
    return tree


def check_mp4(data: bytes, frames: int) -> None:
    top = parse_boxes(data)
    assert [k for k, _, _ in top] == [b"ftyp", b"moov", b"mdat"]
    ftyp_payload = data[top[0][1] : top[0][2]]
    assert ftyp_payload[:4] in (b"isom", b"mp42")
    tree = box_tree(data)
    stbl = tree[b"moov"][b"trak"][b"mdia"][b"minf"][b"stbl"]
    assert {b"stsd", b"stts", b"stsc", b"stsz", b"stco"} <= set(stbl)
    hdlr_start, _ = tree[b"moov"][b"trak"][b"mdia"][b"hdlr"]
    assert data[hdlr_start + 8 : hdlr_start + 12] == b"vide"
    stsz_start, _ = stbl[b"stsz"]
    sample_size, count = struct.unpack(">II", data[stsz_start + 4 : stsz_start + 12])
    assert sample_size == 0 and count == frames
    sizes = struct.unpack(f">{count}I", data[stsz_start + 12 : stsz_start + 12 + 4 * count])
    stco_start, _ = stbl[b"stco"]
    (offset,) = struct.unpack(">I", data[stco_start + 8 : stco_start + 12])
    mdat_payload, mdat_end = tree[b"mdat"]
    assert mdat_payload <= offset and offset + sum(sizes) <= mdat_end
    pos = offset
    for size in sizes:  # each sample: one length-prefixed IDR NAL unit
        (nal_len,) = struct.unpack(">I", data[pos : pos + 4])
        assert nal_len + 4 == size and data[pos + 4] & 0x1F == 5
        pos += size
    stsd_start, stsd_end = stbl[b"stsd"]
    entry = data[stsd_start + 8 : stsd_end]
    assert entry[4:8] == b"avc1"
    avcc = entry.index(b"avcC")
    assert entry[avcc + 4] == 1 and entry[avcc + 12] & 0x1F == 7  # version 1, first NAL is an SPS


def check_webp(data: bytes) -> None:
    assert data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    (riff_size,) = struct.unpack("<I", data[4:8])
    assert riff_size == len(data) - 8
    chunk, chunk_size = data[12:16], struct.unpack("<I", data[16:20])[0]
    assert chunk == b"VP8L" and 20 + chunk_size + (chunk_size & 1) == len(data)
    assert data[20] == 0x2F  # VP8L signature
    bits = int.from_bytes(data[21:25], "little")
    assert (bits & 0x3FFF) + 1 == 1 and ((bits >> 14) & 0x3FFF) + 1 == 1


def check_jpeg(data: bytes) -> tuple[int, int]:
    assert data[:2] == b"\xff\xd8" and data[-2:] == b"\xff\xd9"
    pos, dims = 2, (0, 0)
    while True:
        assert data[pos] == 0xFF
        marker = data[pos + 1]
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if marker == 0xC0:
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            dims = (width, height)
        pos += 2 + length
        if marker == 0xDA:
            break
    scan = data[pos:-2]
    assert b"\xff" not in scan.replace(b"\xff\x00", b"")  # no markers inside the scan
    return dims


def test_mp4_structure_for_each_length() -> None:
    for seconds, frames in (("4", 4), ("8", 8), ("12", 12)):
        check_mp4(mp4_asset(seconds).read(), frames)


def test_padded_mp4_keeps_its_structure() -> None:
    asset = mp4_asset("4", 1 << 20)
    assert asset.size == 1 << 20 and len(asset.head) < 8192
    check_mp4(asset.read(), 4)


def test_mp4_over_4_gib_uses_a_64_bit_mdat_size() -> None:
    asset = mp4_asset("4", (5 << 30))
    head = asset.head
    top_kinds = parse_boxes(head, 0, len(head) - (len(head) - head.index(b"mdat") + 4))
    mdat_at = top_kinds[-1][2]
    assert struct.unpack(">I4sQ", head[mdat_at : mdat_at + 16]) == (1, b"mdat", (5 << 30) - mdat_at)


def test_images_are_structurally_valid() -> None:
    check_webp(WEBP_THUMBNAIL)
    assert check_jpeg(build_jpeg(64, 32)) == (64, 32)
    assert check_jpeg(build_jpeg(8, 8)) == (8, 8)


def test_asset_ranges() -> None:
    asset = Asset("video/mp4", b"0123456789", 25)
    assert asset.read() == b"0123456789" + bytes(15)
    assert asset.read(8, 12) == b"89\0\0"
    assert [len(c) for c in asset.iter_bytes(0, 25, chunk_size=10)] == [10, 10, 5]
    assert asset.read(30) == b""


def test_a_1_gib_stream_never_holds_the_body() -> None:
    asset = mp4_asset("4", 1 << 30)
    tracemalloc.start()
    try:
        total = chunks = 0
        for chunk in asset.iter_bytes():
            total += len(chunk)
            chunks += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == 1 << 30 and chunks >= 1024
    assert peak < 4 << 20, f"peak {peak} bytes"


@pytest.mark.asyncio
async def test_the_app_streams_1_gib_in_chunks() -> None:
    mock = MockDeerAPI(content_size=1 << 30)
    video = mock.add_video()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": f"/v1/videos/{video.id}/content",
        "raw_path": f"/v1/videos/{video.id}/content".encode(),
        "query_string": b"",
        "headers": [(b"authorization", AUTH["Authorization"].encode())],
        "client": ("127.0.0.1", 1),
        "server": ("mock", 80),
    }
    received = {"bytes": 0, "messages": 0}
    start: dict[str, Any] = {}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
        else:
            received["bytes"] += len(message.get("body", b""))
            received["messages"] += 1

    tracemalloc.start()
    try:
        await mock.app(scope, receive, send)  # type: ignore[arg-type]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert start["status"] == 200
    assert dict(start["headers"])[b"content-length"] == str(1 << 30).encode()
    assert received["bytes"] == 1 << 30 and received["messages"] > 1000
    assert peak < 8 << 20, f"peak {peak} bytes"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("variant", "media_type", "check"),
    [
        (None, "video/mp4", lambda b: check_mp4(b, 4)),
        ("video", "video/mp4", lambda b: check_mp4(b, 4)),
        ("thumbnail", "image/webp", check_webp),
        ("spritesheet", "image/jpeg", check_jpeg),
    ],
)
async def test_content_variants(
    client: httpx.AsyncClient, mock: MockDeerAPI, variant: str | None, media_type: str, check: Any
) -> None:
    video = mock.add_video()
    params = {"variant": variant} if variant else {}
    response = await client.get(f"/v1/videos/{video.id}/content", params=params)
    assert response.status_code == 200
    assert response.headers["content-type"] == media_type
    assert response.headers["accept-ranges"] == "bytes"
    assert int(response.headers["content-length"]) == len(response.content)
    check(response.content)


@pytest.mark.asyncio
async def test_content_size_knob(client: httpx.AsyncClient, mock: MockDeerAPI) -> None:
    mock.content_size = 300_000
    video = mock.add_video(seconds="12")
    response = await client.get(f"/v1/videos/{video.id}/content")
    assert len(response.content) == 300_000
    check_mp4(response.content, 12)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("range_header", "status", "expected"),
    [
        ("bytes=100-", 206, (100, None)),
        ("bytes=10-19", 206, (10, 20)),
        ("bytes=0-0", 206, (0, 1)),
        ("bytes=-16", 206, (-16, None)),
        ("bytes=5-999999", 206, (5, None)),
        ("bytes = 7 - 8", 206, (7, 9)),
        ("bytes=9-3", 200, (0, None)),
        ("items=0-1", 200, (0, None)),
        ("bytes=0-1,4-5", 200, (0, None)),
        ("bytes=-", 200, (0, None)),
    ],
)
async def test_range_requests(
    client: httpx.AsyncClient,
    mock: MockDeerAPI,
    range_header: str,
    status: int,
    expected: tuple[int, int | None],
) -> None:
    video = mock.add_video()
    whole = (await client.get(f"/v1/videos/{video.id}/content")).content
    response = await client.get(f"/v1/videos/{video.id}/content", headers={"Range": range_header})
    assert response.status_code == status
    part = whole[expected[0] : expected[1]]
    assert response.content == part
    assert response.headers["content-length"] == str(len(part))
    if status == 206:
        first = len(whole) + expected[0] if expected[0] < 0 else expected[0]
        assert response.headers["content-range"] == (
            f"bytes {first}-{first + len(part) - 1}/{len(whole)}"
        )
    else:
        assert "content-range" not in response.headers


@pytest.mark.asyncio
@pytest.mark.parametrize("range_header", ["bytes=999999-", "bytes=-0"])
async def test_unsatisfiable_range_is_400(
    client: httpx.AsyncClient, mock: MockDeerAPI, range_header: str
) -> None:
    video = mock.add_video()
    response = await client.get(f"/v1/videos/{video.id}/content", headers={"Range": range_header})
    assert response.status_code == 400 and response.json()["error"]["param"] == "Range"


@pytest.mark.asyncio
async def test_content_before_completion_and_unknown(
    client: httpx.AsyncClient, mock: MockDeerAPI
) -> None:
    video = mock.add_video(completed=False)
    for variant in ("video", "thumbnail", "spritesheet"):
        response = await client.get(f"/v1/videos/{video.id}/content", params={"variant": variant})
        assert response.status_code == 409 and response.json()["error"]["code"] == "video_not_ready"
    assert (await client.get("/v1/videos/video_missing/content")).status_code == 404
