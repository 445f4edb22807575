"""The types of the public calls' arguments: what a type checker can hold callers to.

The values mirror the model table (``models.json``) and the spec's enums, which stay their one
home: a test asserts each ``Literal`` below lists exactly what they list, so the two cannot drift.
The types are stricter than the run-time checks on purpose, and only where a mistake is certain:

- With no ``model`` (the default model, ``sora-2``), ``seconds`` and ``size`` must be values
  that model takes: ``seconds=5`` or ``size="100x100"`` is a type error.
- With a ``model``, any string passes the type checker (models change faster than releases);
  the run-time check still refuses what a known model does not take.
- ``seconds`` is a string; the ints a known length is spelled with (``4``) also type-check, as
  the client converts them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import IO, Literal, TypeAlias

__all__ = [
    "DefaultModelSeconds",
    "DefaultModelSize",
    "ImageInput",
    "InputReference",
    "KnownModel",
    "ListOrderName",
    "SecondsInt",
    "VariantName",
]

#: The models of the model table.
KnownModel: TypeAlias = Literal[
    "sora-2",
    "sora-2-2025-10-06",
    "sora-2-2025-12-08",
    "sora-2-pro",
    "sora-2-pro-2025-10-06",
    "veo3",
    "veo3.1",
    "veo3.1-pro",
]
#: What the default model (``sora-2``) takes.
DefaultModelSeconds: TypeAlias = Literal["4", "8", "12"]
DefaultModelSize: TypeAlias = Literal["720x1280", "1280x720"]
#: Every length a known model takes, as an int (converted to the string the API wants).
SecondsInt: TypeAlias = Literal[4, 6, 8, 12]
VariantName: TypeAlias = Literal["video", "thumbnail", "spritesheet"]
ListOrderName: TypeAlias = Literal["asc", "desc"]

#: One image: a path, its bytes, a binary file, or ``(file name, bytes or file, media type)``.
ImageInput: TypeAlias = (
    str
    | os.PathLike[str]
    | bytes
    | IO[bytes]
    | tuple[str, bytes | IO[bytes]]
    | tuple[str, bytes | IO[bytes], str | None]
)
#: One image or several (sent as repeated parts: first frame, last frame).
InputReference: TypeAlias = ImageInput | Sequence[ImageInput]
