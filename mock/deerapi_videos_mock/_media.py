"""Real, small, valid media built in code: an H.264 MP4, a WebP thumbnail, a JPEG spritesheet.

The MP4 is ``ftyp`` + ``moov`` + ``mdat``: one 16x16 H.264 (Constrained Baseline) video track
with one I_PCM IDR frame per second of the clip, so container parsers *and* decoders accept it.
Its size can be padded to any length (``content_size``): the padding is zero bytes at the end of
``mdat``, outside every sample, generated lazily while streaming, so a 1 GiB download never
exists in memory.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

__all__ = [
    "JPEG_SPRITESHEET",
    "WEBP_THUMBNAIL",
    "Asset",
    "build_jpeg",
    "build_mp4_head",
    "mp4_asset",
]

_CHUNK = 1 << 20
_ZEROS = bytes(_CHUNK)


@dataclass(frozen=True)
class Asset:
    """A downloadable body: ``head`` bytes followed by zero padding, ``size`` bytes in all."""

    media_type: str
    head: bytes
    size: int

    def iter_bytes(
        self, start: int = 0, stop: int | None = None, chunk_size: int = _CHUNK
    ) -> Iterator[bytes]:
        """Yield bytes ``[start, stop)`` in chunks of at most ``chunk_size`` bytes."""
        end = self.size if stop is None else min(stop, self.size)
        pos = max(0, start)
        zeros = _ZEROS if chunk_size <= _CHUNK else bytes(chunk_size)
        while pos < end:
            n = min(chunk_size, end - pos)
            if pos < len(self.head):
                piece = self.head[pos : min(pos + n, len(self.head))]
            else:
                piece = zeros if n == len(zeros) else zeros[:n]
            yield piece
            pos += len(piece)

    def read(self, start: int = 0, stop: int | None = None) -> bytes:
        """Return bytes ``[start, stop)`` at once (for small assets and tests)."""
        return b"".join(self.iter_bytes(start, stop))

    @property
    def etag(self) -> str:
        """A strong entity tag: the same bytes always get the same tag."""
        digest = hashlib.sha256(self.media_type.encode() + self.head)
        digest.update(self.size.to_bytes(8, "big"))
        return f'"{digest.hexdigest()[:32]}"'


# --- MP4 --------------------------------------------------------------------------------------


def _box(kind: bytes, *parts: bytes) -> bytes:
    payload = b"".join(parts)
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def _full_box(kind: bytes, version: int, flags: int, *parts: bytes) -> bytes:
    return _box(kind, bytes([version]) + flags.to_bytes(3, "big"), *parts)


class _BitWriter:
    def __init__(self) -> None:
        self._bits: list[int] = []

    def u(self, n: int, value: int) -> None:
        self._bits.extend((value >> i) & 1 for i in range(n - 1, -1, -1))

    def ue(self, value: int) -> None:
        code = value + 1
        self.u(code.bit_length() - 1, 0)
        self.u(code.bit_length(), code)

    def se(self, value: int) -> None:
        self.ue(2 * value - 1 if value > 0 else -2 * value)

    def align_zero(self) -> None:
        while len(self._bits) % 8:
            self._bits.append(0)

    def raw(self, data: bytes) -> None:
        if len(self._bits) % 8:
            raise ValueError("raw bytes must be byte-aligned")
        for byte in data:
            self.u(8, byte)

    def trailing(self) -> None:
        self._bits.append(1)
        self.align_zero()

    def to_bytes(self) -> bytes:
        out = bytearray()
        for i in range(0, len(self._bits), 8):
            byte = 0
            for bit in self._bits[i : i + 8]:
                byte = (byte << 1) | bit
            out.append(byte)
        return bytes(out)


def _nal(header: int, rbsp: bytes) -> bytes:
    """Wrap an RBSP in a NAL unit, inserting emulation-prevention bytes."""
    out = bytearray([header])
    zeros = 0
    for byte in rbsp:
        if zeros >= 2 and byte <= 3:
            out.append(3)
            zeros = 0
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return bytes(out)


_PROFILE, _COMPAT, _LEVEL = 66, 0xC0, 10  # Constrained Baseline, level 1.0
_WIDTH = _HEIGHT = 16  # one macroblock
_TIMESCALE = 1000


def _sps() -> bytes:
    w = _BitWriter()
    w.u(8, _PROFILE)
    w.u(8, _COMPAT)
    w.u(8, _LEVEL)
    w.ue(0)  # seq_parameter_set_id
    w.ue(0)  # log2_max_frame_num_minus4
    w.ue(2)  # pic_order_cnt_type
    w.ue(1)  # max_num_ref_frames
    w.u(1, 0)  # gaps_in_frame_num_value_allowed_flag
    w.ue(_WIDTH // 16 - 1)  # pic_width_in_mbs_minus1
    w.ue(_HEIGHT // 16 - 1)  # pic_height_in_map_units_minus1
    w.u(1, 1)  # frame_mbs_only_flag
    w.u(1, 1)  # direct_8x8_inference_flag
    w.u(1, 0)  # frame_cropping_flag
    w.u(1, 0)  # vui_parameters_present_flag
    w.trailing()
    return _nal(0x67, w.to_bytes())


def _pps() -> bytes:
    w = _BitWriter()
    w.ue(0)  # pic_parameter_set_id
    w.ue(0)  # seq_parameter_set_id
    w.u(1, 0)  # entropy_coding_mode_flag (CAVLC)
    w.u(1, 0)  # bottom_field_pic_order_in_frame_present_flag
    w.ue(0)  # num_slice_groups_minus1
    w.ue(0)  # num_ref_idx_l0_default_active_minus1
    w.ue(0)  # num_ref_idx_l1_default_active_minus1
    w.u(1, 0)  # weighted_pred_flag
    w.u(2, 0)  # weighted_bipred_idc
    w.se(0)  # pic_init_qp_minus26
    w.se(0)  # pic_init_qs_minus26
    w.se(0)  # chroma_qp_index_offset
    w.u(1, 1)  # deblocking_filter_control_present_flag
    w.u(1, 0)  # constrained_intra_pred_flag
    w.u(1, 0)  # redundant_pic_cnt_present_flag
    w.trailing()
    return _nal(0x68, w.to_bytes())


def _idr_frame(index: int) -> bytes:
    """One IDR slice holding a single I_PCM macroblock (raw samples: no entropy coding needed)."""
    w = _BitWriter()
    w.ue(0)  # first_mb_in_slice
    w.ue(7)  # slice_type: I (all slices of the picture)
    w.ue(0)  # pic_parameter_set_id
    w.u(4, 0)  # frame_num
    w.ue(index % 2)  # idr_pic_id: consecutive IDR pictures differ
    w.u(1, 0)  # no_output_of_prior_pics_flag
    w.u(1, 0)  # long_term_reference_flag
    w.se(0)  # slice_qp_delta
    w.ue(1)  # disable_deblocking_filter_idc
    w.ue(25)  # mb_type: I_PCM
    w.align_zero()  # pcm_alignment_zero_bit
    luma = 16 + (index * 37) % 220  # a different grey each second
    w.raw(bytes([luma]) * (_WIDTH * _HEIGHT))
    w.raw(bytes([128]) * (2 * (_WIDTH // 2) * (_HEIGHT // 2)))  # neutral chroma
    w.trailing()
    return _nal(0x65, w.to_bytes())


def _avc1_entry() -> bytes:
    sps, pps = _sps(), _pps()
    avcc = _box(
        b"avcC",
        bytes([1, _PROFILE, _COMPAT, _LEVEL, 0xFF, 0xE1]),
        struct.pack(">H", len(sps)),
        sps,
        b"\x01",
        struct.pack(">H", len(pps)),
        pps,
    )
    name = b"deerapi-videos mock"
    return _box(
        b"avc1",
        bytes(6),
        struct.pack(">H", 1),  # data_reference_index
        bytes(16),  # pre_defined, reserved, pre_defined[3]
        struct.pack(">HH", _WIDTH, _HEIGHT),
        struct.pack(">II", 0x00480000, 0x00480000),  # 72 dpi
        bytes(4),
        struct.pack(">H", 1),  # frame_count
        bytes([len(name)]) + name.ljust(31, b"\0"),
        struct.pack(">Hh", 0x0018, -1),
        avcc,
    )


_MATRIX = struct.pack(">9I", 0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000)


def _moov(sample_sizes: list[int], frame_ms: int, chunk_offset: int) -> bytes:
    count = len(sample_sizes)
    duration = count * frame_ms
    mvhd = _full_box(
        b"mvhd",
        0,
        0,
        struct.pack(">IIII", 0, 0, _TIMESCALE, duration),
        struct.pack(">IH", 0x00010000, 0x0100),
        bytes(10),
        _MATRIX,
        bytes(24),
        struct.pack(">I", 2),
    )
    tkhd = _full_box(
        b"tkhd",
        0,
        3,
        struct.pack(">IIIII", 0, 0, 1, 0, duration),
        bytes(8),
        struct.pack(">hhhH", 0, 0, 0, 0),
        _MATRIX,
        struct.pack(">II", _WIDTH << 16, _HEIGHT << 16),
    )
    mdhd = _full_box(b"mdhd", 0, 0, struct.pack(">IIIIHH", 0, 0, _TIMESCALE, duration, 0x55C4, 0))
    hdlr = _full_box(b"hdlr", 0, 0, bytes(4), b"vide", bytes(12), b"VideoHandler\0")
    vmhd = _full_box(b"vmhd", 0, 1, bytes(8))
    dinf = _box(b"dinf", _full_box(b"dref", 0, 0, struct.pack(">I", 1), _full_box(b"url ", 0, 1)))
    stsd = _full_box(b"stsd", 0, 0, struct.pack(">I", 1), _avc1_entry())
    stts = _full_box(b"stts", 0, 0, struct.pack(">III", 1, count, frame_ms))
    stsc = _full_box(b"stsc", 0, 0, struct.pack(">IIII", 1, 1, count, 1))
    stsz = _full_box(
        b"stsz",
        0,
        0,
        struct.pack(">II", 0, count),
        b"".join(struct.pack(">I", s) for s in sample_sizes),
    )
    stco = _full_box(b"stco", 0, 0, struct.pack(">II", 1, chunk_offset))
    stbl = _box(b"stbl", stsd, stts, stsc, stsz, stco)
    minf = _box(b"minf", vmhd, dinf, stbl)
    mdia = _box(b"mdia", mdhd, hdlr, minf)
    trak = _box(b"trak", tkhd, mdia)
    return _box(b"moov", mvhd, trak)


@lru_cache(maxsize=32)
def build_mp4_head(frames: int, total_size: int | None = None) -> tuple[bytes, int]:
    """Build an MP4 of ``frames`` one-second frames; return (head bytes, total size).

    ``head`` holds every box and every sample; if ``total_size`` is larger than that, the file
    is ``total_size`` bytes long and the rest is zero padding at the end of ``mdat``.
    """
    frames = max(1, frames)
    ftyp = _box(b"ftyp", b"isom", struct.pack(">I", 0x200), b"isom", b"iso2", b"avc1", b"mp41")
    samples = []
    for i in range(frames):
        nal = _idr_frame(i)
        samples.append(struct.pack(">I", len(nal)) + nal)
    sample_bytes = b"".join(samples)
    moov_len = len(_moov([len(s) for s in samples], _TIMESCALE, 0))
    natural = len(ftyp) + moov_len + 8 + len(sample_bytes)
    total = max(natural, total_size or 0)
    mdat_payload = total - len(ftyp) - moov_len - 8
    if mdat_payload + 8 > 0xFFFFFFFF:  # needs the 64-bit box size
        total = max(total, natural + 8)
        mdat_payload = total - len(ftyp) - moov_len - 16
        mdat_header = struct.pack(">I", 1) + b"mdat" + struct.pack(">Q", mdat_payload + 16)
    else:
        mdat_header = struct.pack(">I", mdat_payload + 8) + b"mdat"
    offset = len(ftyp) + moov_len + len(mdat_header)
    moov = _moov([len(s) for s in samples], _TIMESCALE, offset)
    head = ftyp + moov + mdat_header + sample_bytes
    return head, total


def mp4_asset(seconds: str, content_size: int | None = None) -> Asset:
    """The ``video`` variant for a clip of ``seconds`` (padded to ``content_size`` if larger)."""
    try:
        frames = int(seconds)
    except ValueError:
        frames = 4
    head, total = build_mp4_head(min(max(frames, 1), 60), content_size)
    return Asset("video/mp4", head, total)


# --- Images -----------------------------------------------------------------------------------

#: A 1x1 lossless WebP (the well-known VP8L feature-detection image).
WEBP_THUMBNAIL = (
    b"RIFF\x1a\x00\x00\x00WEBPVP8L\r\x00\x00\x00"
    b"/\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00"
)


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def build_jpeg(width: int = 64, height: int = 32) -> bytes:
    """A baseline greyscale JFIF of mid-grey pixels (every block: DC difference 0, then EOB)."""
    if width % 8 or height % 8:
        raise ValueError("width and height must be multiples of 8")
    one_code = bytes([1]) + bytes(15) + b"\x00"  # a single 1-bit code for symbol 0
    blocks = (width // 8) * (height // 8)
    bits = "00" * blocks
    bits += "1" * (-len(bits) % 8)
    scan = bytearray()
    for i in range(0, len(bits), 8):
        byte = int(bits[i : i + 8], 2)
        scan.append(byte)
        if byte == 0xFF:
            scan.append(0)  # byte stuffing
    return b"".join(
        [
            b"\xff\xd8",
            _segment(0xE0, b"JFIF\0\x01\x01\x00" + struct.pack(">HH", 1, 1) + b"\0\0"),
            _segment(0xDB, b"\x00" + bytes([1]) * 64),
            _segment(0xC0, bytes([8]) + struct.pack(">HH", height, width) + b"\x01\x01\x11\x00"),
            _segment(0xC4, b"\x00" + one_code),
            _segment(0xC4, b"\x10" + one_code),
            _segment(0xDA, b"\x01\x01\x00\x00\x3f\x00"),
            bytes(scan),
            b"\xff\xd9",
        ]
    )


#: The ``spritesheet`` variant: a 64x32 JPEG.
JPEG_SPRITESHEET = build_jpeg(64, 32)
