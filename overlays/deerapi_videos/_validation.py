"""Input validation and ``input_reference`` normalisation, before anything is sent.

Decisions:
- Create and remix are checked against the model table (:mod:`._models`, ``models.json``):
  a *known* model (``model=None`` means the table's default model, ``sora-2``) must get a
  ``seconds`` and a ``size`` from its row, at most its number of reference images, and, for
  Sora 2, references whose pixel size equals the effective size (``size``, or the model's
  default size when ``size`` is omitted); remixing a model whose row says ``remix: false`` is
  refused. Each refusal is an :class:`InvalidParameterError` naming the field, the model and the
  allowed values. An *unknown* model gets only the universal checks below, and the logger
  ``deerapi_videos`` says once per model id that its parameters were not validated.
- Universal checks: ``seconds`` is a non-empty string, :class:`VideoSeconds`, or a positive int
  (converted: ``4`` -> ``"4"``; ``bool`` is refused); ``size`` a non-empty string or
  :class:`VideoSize`; ``model`` a non-empty string.
- ``input_reference`` is one reference or a list (or a tuple of several) of them, sent as one
  ``input_reference`` part each, in order (Veo: first frame, then last frame). A reference is a
  path (``str`` or ``os.PathLike``), ``bytes``, a binary file object, or a
  ``(filename, bytes | file[, mime | None])`` tuple (a 2- or 3-tuple whose second item is bytes
  or a file is always that form, never two references). The content must be JPEG, PNG or WebP
  by its magic bytes, a given MIME type must match, and it must not exceed the table's
  ``max_reference_bytes`` (20 MiB). The pixel size, where checked, is read from the header (PNG
  IHDR, WebP VP8/VP8L/VP8X, JPEG SOFn). Each file is read into memory once so every retry sends
  the same bytes; a seekable file object is put back at its original position, whatever happens.
- Text the API receives (``prompt``, ``model``, ``video_id``, the list cursor ``after``) must be
  encodable as UTF-8: a lone surrogate such as ``"\\ud800"`` is refused with an error naming the
  field and the position, never a bare ``UnicodeEncodeError`` from inside httpx.
- Header names and values (``extra_headers``, ``default_headers``) must be ASCII without control
  characters: httpx sends ``str`` header values as ASCII, and CR/LF would split the header.
"""

from __future__ import annotations

import logging
import math
import os
import re
import struct
import threading
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from ._errors import InvalidParameterError
from ._models import ModelSpec, model_table

# The generated enums are imported where they are used, not here: importing any generated module
# loads the whole generated package (attrs, every model), which ``import deerapi_videos`` avoids.
if TYPE_CHECKING:
    from deerapi_videos_generated.models.list_order import ListOrder
    from deerapi_videos_generated.models.video_content_variant import VideoContentVariant
    from deerapi_videos_generated.models.video_model import VideoModel

__all__ = [
    "CreateInputs",
    "ImageFile",
    "validate_create_inputs",
    "validate_headers",
    "validate_idempotency_key",
    "validate_input_reference",
    "validate_limit",
    "validate_max_retries",
    "validate_model",
    "validate_order",
    "validate_prompt",
    "validate_remix_model",
    "validate_seconds",
    "validate_size",
    "validate_text",
    "validate_timeout",
    "validate_variant",
    "validate_video_id",
]

IMAGE_MIME_TYPES = ("image/jpeg", "image/png", "image/webp")
_EXTENSIONS = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp"}
_IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_.:-]{1,255}$")
_ID_UNSAFE = frozenset("/\\?#%")


def _values(enum: Any) -> tuple[str, ...]:
    return tuple(member.value for member in enum)


def _require_utf8(param: str, text: str) -> str:
    """``text`` unchanged, or an error naming ``param`` if it cannot be encoded as UTF-8."""
    if text.isascii():  # the common case, and cheaper than encoding
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = text[exc.start]
        raise InvalidParameterError(
            param,
            f"contains U+{ord(bad):04X} at position {exc.start}, which cannot be encoded as "
            "UTF-8 (a lone surrogate, often from decoding bytes with errors='surrogateescape')",
        ) from None
    return text


def validate_text(param: str, value: object) -> str:
    """A string the API will receive, checked to be encodable (may be empty)."""
    if not isinstance(value, str):
        raise InvalidParameterError(param, f"must be a string, got {type(value).__name__}")
    return _require_utf8(param, value)


_HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")  # RFC 9110 token
_HEADER_VALUE_BAD = re.compile(r"[^\t\x20-\x7e]")


def validate_headers(param: str, headers: object) -> dict[str, str]:
    """Header names and values that can travel: ASCII, no control characters (no CR/LF)."""
    if headers is None:
        return {}
    if not isinstance(headers, Mapping):
        raise InvalidParameterError(param, f"must be a mapping, got {type(headers).__name__}")
    checked: dict[str, str] = {}
    for name, value in headers.items():
        if not isinstance(name, str) or not _HEADER_NAME.match(name):
            raise InvalidParameterError(
                param, f"header name {name!r} is not a valid HTTP token (ASCII letters, digits, -)"
            )
        where = f"{param}[{name!r}]"
        if not isinstance(value, str):
            raise InvalidParameterError(where, f"must be a string, got {type(value).__name__}")
        bad = _HEADER_VALUE_BAD.search(value)
        if bad is not None:
            raise InvalidParameterError(
                where,
                f"contains U+{ord(bad.group()):04X} at position {bad.start()}; header values "
                "must be printable ASCII (no line breaks, no non-ASCII characters)",
            )
        checked[name] = value
    return checked


def validate_prompt(prompt: object) -> str:
    if not isinstance(prompt, str):
        raise InvalidParameterError("prompt", f"must be a string, got {type(prompt).__name__}")
    if not prompt.strip():
        raise InvalidParameterError("prompt", "must not be empty or only whitespace")
    return _require_utf8("prompt", prompt)


def validate_model(model: object) -> VideoModel | str | None:
    from deerapi_videos_generated.models.video_model import VideoModel

    if model is None:
        return None
    if isinstance(model, VideoModel):
        return model
    if not isinstance(model, str) or not model.strip():
        raise InvalidParameterError(
            "model",
            "must be a non-empty string (any model ID is accepted)",
            _values(VideoModel),
        )
    try:
        return VideoModel(model)
    except ValueError:
        return _require_utf8("model", model)


def validate_seconds(seconds: object) -> str | None:
    """The universal check: a non-empty string, a :class:`VideoSeconds`, or a positive int."""
    from deerapi_videos_generated.models.video_seconds import VideoSeconds

    if seconds is None:
        return None
    if isinstance(seconds, VideoSeconds):
        return seconds.value
    if isinstance(seconds, bool):
        raise InvalidParameterError(
            "seconds", "must be a clip length, not a bool", _values(VideoSeconds)
        )
    if isinstance(seconds, int):
        if seconds <= 0:
            raise InvalidParameterError(
                "seconds", f"must be a positive length, got {seconds}", _values(VideoSeconds)
            )
        return str(seconds)
    if isinstance(seconds, str) and seconds.strip():
        return _require_utf8("seconds", seconds)
    raise InvalidParameterError(
        "seconds", f"must be a clip length as a string, got {seconds!r}", _values(VideoSeconds)
    )


def validate_size(size: object) -> str | None:
    """The universal check: a non-empty string or a :class:`VideoSize`."""
    from deerapi_videos_generated.models.video_size import VideoSize

    if size is None:
        return None
    if isinstance(size, VideoSize):
        return size.value
    if isinstance(size, str) and size.strip():
        return _require_utf8("size", size)
    raise InvalidParameterError(
        "size", f"must be a size as a string, got {size!r}", _values(VideoSize)
    )


def validate_variant(variant: object) -> VideoContentVariant:
    from deerapi_videos_generated.models.video_content_variant import VideoContentVariant

    if isinstance(variant, str):
        try:
            return VideoContentVariant(variant)
        except ValueError:
            pass
    raise InvalidParameterError(
        "variant", f"unknown value {variant!r}", _values(VideoContentVariant)
    )


def validate_order(order: object) -> ListOrder | None:
    from deerapi_videos_generated.models.list_order import ListOrder

    if order is None:
        return None
    if isinstance(order, str):
        try:
            return ListOrder(order)
        except ValueError:
            pass
    raise InvalidParameterError("order", f"unknown value {order!r}", _values(ListOrder))


def validate_limit(limit: object) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 100:
        raise InvalidParameterError("limit", f"must be an int from 1 to 100, got {limit!r}")
    return limit


def validate_video_id(video_id: object) -> str:
    """``video_id`` if it addresses exactly ``/v1/videos/{video_id}``.

    ``.`` and ``..`` would be resolved as path steps by servers and proxies (``remix("..")``
    would POST to ``/v1/remix``), and ``/ \\ ? # %``, whitespace and control characters can be
    read as path, query or escape syntax on the way: all are refused.
    """
    if not isinstance(video_id, str) or not video_id.strip():
        raise InvalidParameterError("video_id", f"must be a non-empty string, got {video_id!r}")
    if video_id in (".", ".."):
        raise InvalidParameterError("video_id", f"{video_id!r} is a path step, not an id")
    bad = next(
        (ch for ch in video_id if ch in _ID_UNSAFE or not ch.isprintable() or ch.isspace()), None
    )
    if bad is not None:
        raise InvalidParameterError(
            "video_id",
            f"contains {bad!r}, which cannot appear in a video id "
            "(no / \\ ? # %, whitespace or control characters)",
        )
    return _require_utf8("video_id", video_id)


def validate_max_retries(max_retries: object, param: str = "max_retries") -> int:
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        raise InvalidParameterError(param, f"must be an int >= 0, got {max_retries!r}")
    return max_retries


def validate_timeout(timeout: object, param: str = "timeout") -> float:
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        raise InvalidParameterError(param, f"must be a number of seconds, got {timeout!r}")
    value = float(timeout)
    if not math.isfinite(value) or value <= 0:
        raise InvalidParameterError(param, f"must be a positive number of seconds, got {timeout!r}")
    return value


def validate_idempotency_key(key: object) -> str:
    if not isinstance(key, str) or not _IDEMPOTENCY_KEY.match(key):
        raise InvalidParameterError(
            "idempotency_key", "must be 1-255 characters from A-Z a-z 0-9 _ . : -"
        )
    return key


# --- input_reference --------------------------------------------------------------------------


@dataclass(frozen=True)
class ImageFile:
    """A validated image: its bytes, a safe file name and its MIME type."""

    content: bytes
    filename: str
    mime_type: str

    def __repr__(self) -> str:
        return f"ImageFile({self.filename!r}, {self.mime_type!r}, {len(self.content)} bytes)"


def sniff_image(data: bytes) -> str | None:
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def image_pixel_size(data: bytes, mime: str) -> tuple[int, int] | None:
    """(width, height) read from the header, or None when it is not cheap to read."""
    try:
        if mime == "image/png":
            if data[12:16] == b"IHDR":
                width, height = struct.unpack(">II", data[16:24])
                return int(width), int(height)
        elif mime == "image/webp":
            chunk = data[12:16]
            if chunk == b"VP8 " and data[23:26] == b"\x9d\x01\x2a":
                width, height = struct.unpack("<HH", data[26:30])
                return int(width) & 0x3FFF, int(height) & 0x3FFF
            if chunk == b"VP8L" and data[20] == 0x2F:
                bits = int.from_bytes(data[21:25], "little")
                return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
            if chunk == b"VP8X":
                width = int.from_bytes(data[24:27], "little") + 1
                height = int.from_bytes(data[27:30], "little") + 1
                return width, height
        elif mime == "image/jpeg":
            return _jpeg_size(data)
    except (struct.error, IndexError):
        return None
    return None


_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD8)):  # markers without a length
            i += 2
            continue
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        if marker in _SOF_MARKERS:
            height = int.from_bytes(data[i + 5 : i + 7], "big")
            width = int.from_bytes(data[i + 7 : i + 9], "big")
            return width, height
        if length < 2:
            return None
        i += 2 + length
    return None


def _safe_filename(name: str, mime: str) -> str:
    """A file name without path parts or control characters (httpx escapes quotes itself)."""
    base = re.split(r"[\\/]", name)[-1]
    cleaned = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip()
    return cleaned or f"input_reference{_EXTENSIONS[mime]}"


def _read_file_object(obj: IO[Any]) -> bytes:
    position: int | None = None
    try:
        if obj.seekable():
            position = obj.tell()
    except (AttributeError, OSError, ValueError):
        position = None
    try:
        data = obj.read()
    finally:
        if position is not None:
            obj.seek(position)
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InvalidParameterError(
            "input_reference", "file objects must be opened in binary mode ('rb')"
        )
    return bytes(data)


def _content_of(value: object) -> bytes:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if hasattr(value, "read"):
        return _read_file_object(value)  # type: ignore[arg-type]
    raise InvalidParameterError(
        "input_reference",
        f"file content must be bytes or a binary file, got {type(value).__name__}",
    )


def _is_file_tuple(value: tuple[Any, ...]) -> bool:
    """Whether a tuple is one ``(filename, content[, mime])`` reference (not several)."""
    return (
        len(value) in (2, 3)
        and (value[0] is None or isinstance(value[0], str))
        and (isinstance(value[1], bytes | bytearray | memoryview) or hasattr(value[1], "read"))
    )


def _one_reference(value: object, item: str, limit: int) -> ImageFile:
    """One reference, read and checked; ``item`` prefixes messages (``"item 2 of 2: "``)."""
    where = "input_reference"
    given_name: str | None = None
    given_mime: str | None = None
    if isinstance(value, tuple):
        if len(value) not in (2, 3):
            raise InvalidParameterError(
                where, f"{item}a tuple must be (filename, content) or (filename, content, mime)"
            )
        given_name = value[0] if isinstance(value[0], str) else None
        given_mime = value[2] if len(value) == 3 else None
        if given_mime is not None and given_mime not in IMAGE_MIME_TYPES:
            raise InvalidParameterError(
                where, f"{item}unsupported MIME type {given_mime!r}", IMAGE_MIME_TYPES
            )
        content = _content_of(value[1])
    elif isinstance(value, str | os.PathLike):
        path = Path(value)
        try:
            content = path.read_bytes()
        except OSError as exc:
            raise InvalidParameterError(
                where, f"{item}cannot read file {str(path)!r}: {exc.strerror or exc}"
            ) from None
        given_name = path.name
    else:
        content = _content_of(value)
        name_attr = getattr(value, "name", None)
        given_name = os.path.basename(name_attr) if isinstance(name_attr, str) else None
    mime = sniff_image(content)
    if mime is None:
        raise InvalidParameterError(
            where,
            f"{item}is not a JPEG, PNG or WebP image (checked by its first bytes)",
            IMAGE_MIME_TYPES,
        )
    if given_mime is not None and given_mime != mime:
        raise InvalidParameterError(
            where, f"{item}MIME type {given_mime!r} given but the content is {mime}"
        )
    if len(content) > limit:
        raise InvalidParameterError(
            where,
            f"{item}is {len(content)} bytes; a reference image may have at most {limit} bytes",
        )
    return ImageFile(content, _safe_filename(given_name or "", mime), mime)


def validate_input_reference(value: object) -> tuple[ImageFile, ...]:
    """The universal check of ``input_reference``: every reference, read and sniffed, in order.

    One reference, or a list (or a tuple that is not a file tuple) of them; None or an empty list
    gives no reference. Errors say which reference (``item 2 of 2``) when there are several.
    """
    if value is None:
        return ()
    limit = model_table().max_reference_bytes
    items: Sequence[object]
    if isinstance(value, list) or (isinstance(value, tuple) and not _is_file_tuple(value)):
        items = value
    else:
        return (_one_reference(value, "input_reference", limit),)
    if len(items) == 1:
        return (_one_reference(items[0], "input_reference", limit),)
    return tuple(
        _one_reference(item, f"input_reference[{index}]", limit) for index, item in enumerate(items)
    )


# --- the model table --------------------------------------------------------------------------

_logger = logging.getLogger("deerapi_videos")
_unvalidated: set[str] = set()
_unvalidated_lock = threading.Lock()


def _note_unvalidated(model: str) -> None:
    """Say once per model id (per process) that its parameters were sent unchecked."""
    with _unvalidated_lock:
        if model in _unvalidated:
            return
        _unvalidated.add(model)
    _logger.info(
        "model %r is not in the model table: its seconds, size and input_reference were sent "
        "as given, not validated (the server decides)",
        model,
    )


def _model_name(spec: ModelSpec, given: str | None) -> str:
    if given is None:
        return f"model {spec.id!r} (the default when model is omitted)"
    return f"model {spec.id!r}"


@dataclass(frozen=True)
class CreateInputs:
    """A create's checked inputs: plain strings, the references in order, and the model's row
    (None for a model the table does not know)."""

    model: VideoModel | str | None
    seconds: str | None
    size: str | None
    references: tuple[ImageFile, ...]
    spec: ModelSpec | None


def validate_create_inputs(
    *, model: object, seconds: object, size: object, input_reference: object
) -> CreateInputs:
    """Check a create's model, seconds, size and references: universally, then against the
    model's row of the table when the model is known."""
    model_value = validate_model(model)
    seconds_value = validate_seconds(seconds)
    size_value = validate_size(size)
    references = validate_input_reference(input_reference)
    given = None if model_value is None else str(getattr(model_value, "value", model_value))
    spec = model_table().get(given)
    if spec is None:
        assert given is not None  # the default model always has a row
        _note_unvalidated(given)
        return CreateInputs(model_value, seconds_value, size_value, references, None)
    name = _model_name(spec, given)
    if seconds_value is not None and seconds_value not in spec.seconds:
        raise InvalidParameterError(
            "seconds", f"{seconds_value!r} is not a length {name} takes", spec.seconds
        )
    if size_value is not None and size_value not in spec.sizes:
        raise InvalidParameterError(
            "size", f"{size_value!r} is not a size {name} takes", spec.sizes
        )
    if len(references) > spec.max_references:
        frames = " (first and last frame)" if spec.max_references == 2 else ""
        raise InvalidParameterError(
            "input_reference",
            f"{name} takes at most {spec.max_references} reference image(s){frames}, "
            f"got {len(references)}",
        )
    if spec.reference_matches_size:
        effective = size_value if size_value is not None else spec.default_size
        for index, image in enumerate(references):
            pixels = image_pixel_size(image.content, image.mime_type)
            if pixels is not None and f"{pixels[0]}x{pixels[1]}" != effective:
                whose = (
                    f"size={effective!r}"
                    if size_value is not None
                    else f"the default size {effective!r} (size was omitted)"
                )
                item = "" if len(references) == 1 else f"item {index + 1} of {len(references)}: "
                raise InvalidParameterError(
                    "input_reference",
                    f"{item}image is {pixels[0]}x{pixels[1]} pixels but {name} needs it to match "
                    f"{whose}: the first frame must match the video size",
                    (effective,),
                )
    return CreateInputs(model_value, seconds_value, size_value, references, spec)


def validate_remix_model(model: object) -> VideoModel | str | None:
    """``model`` for a remix: refused when the table knows it and says it cannot be remixed."""
    model_value = validate_model(model)
    if model_value is None:
        return None
    given = str(getattr(model_value, "value", model_value))
    spec = model_table().get(given)
    if spec is not None and not spec.remix:
        remixable = tuple(m for m, row in model_table().models.items() if row.remix)
        raise InvalidParameterError(
            "model", f"model {spec.id!r} ({spec.family}) cannot be remixed", remixable
        )
    return model_value
