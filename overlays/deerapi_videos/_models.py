"""The model table: what each known model accepts, read from ``models.json`` (package data).

``models.json`` is the one home of these facts. The client validates create and remix against
a model's row before sending; the mock serves the same domains; the conformance check takes a
model's cheapest settings from it; ``openapi.yaml`` carries a copy (``x-deerapi-models``) that a
test keeps equal. A model that is not in the table is *unknown*: the client sends what the
caller gave after the universal checks and says once (logger ``deerapi_videos``) that it did not
validate it.

Loaded once, on first use, with the standard library only (``json`` + ``importlib.resources``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any

__all__ = ["ModelSpec", "ModelTable", "model_table"]

_DATA_FILE = "models.json"


@dataclass(frozen=True)
class ModelSpec:
    """One row of the model table.

    Attributes:
        id: the model id as sent (``"sora-2"``, ``"veo3.1-pro"``).
        family: ``"sora-2"`` or ``"veo3"``.
        evidence: where the row comes from: ``"deerapi"`` (DeerAPI's pages), ``"openai"``
            (OpenAI's published enum) or ``"assumption"`` (an analogous gateway or Google's
            native API; not confirmed for DeerAPI).
        sizes: the ``size`` values it takes (``WIDTHxHEIGHT`` for Sora 2, ``16x9`` for Veo).
        seconds: the ``seconds`` values it takes, as strings.
        default_size, default_seconds: what the server uses when the request omits them.
        max_references: how many ``input_reference`` images it takes (Veo: first, last frame).
        reference_matches_size: whether a reference's pixel size must equal the video's size.
        remix: whether its videos can be remixed.
        content_ttl_seconds: seconds from ``completed_at`` to ``expires_at``, when known.
        notes: the sources, in a sentence.
    """

    id: str
    family: str
    evidence: str
    sizes: tuple[str, ...]
    seconds: tuple[str, ...]
    default_size: str
    default_seconds: str
    max_references: int
    reference_matches_size: bool
    remix: bool
    content_ttl_seconds: int | None
    notes: str

    @property
    def cheapest(self) -> Mapping[str, str]:
        """The cheapest job: the shortest clip at the default size (jobs are billed per second;
        the default size is the smallest of a family)."""
        shortest = min(self.seconds, key=int)
        return {"model": self.id, "seconds": shortest, "size": self.default_size}


@dataclass(frozen=True)
class ModelTable:
    """The whole table: ``models`` by id, the default model, the universal reference limit."""

    default_model: str
    max_reference_bytes: int
    models: Mapping[str, ModelSpec]

    def get(self, model: str | None) -> ModelSpec | None:
        """The row of ``model`` (of the default model for None), or None if it is unknown."""
        return self.models.get(self.default_model if model is None else model)

    def families(self) -> dict[str, list[str]]:
        """Model ids by family, in table order."""
        found: dict[str, list[str]] = {}
        for spec in self.models.values():
            found.setdefault(spec.family, []).append(spec.id)
        return found

    @property
    def sizes(self) -> tuple[str, ...]:
        """Every size some known model takes, in table order."""
        return _union(spec.sizes for spec in self.models.values())

    @property
    def seconds(self) -> tuple[str, ...]:
        """Every ``seconds`` value some known model takes, shortest first."""
        return tuple(sorted(_union(spec.seconds for spec in self.models.values()), key=int))


def _union(groups: Any) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for group in groups:
        seen.update(dict.fromkeys(group))
    return tuple(seen)


def parse_table(data: Mapping[str, Any]) -> ModelTable:
    """Build a :class:`ModelTable` from the decoded JSON (raises on a malformed row)."""
    rows: dict[str, ModelSpec] = {}
    for model_id, row in data["models"].items():
        spec = ModelSpec(
            id=model_id,
            family=str(row["family"]),
            evidence=str(row["evidence"]),
            sizes=tuple(row["sizes"]),
            seconds=tuple(row["seconds"]),
            default_size=str(row["default_size"]),
            default_seconds=str(row["default_seconds"]),
            max_references=int(row["max_references"]),
            reference_matches_size=bool(row["reference_matches_size"]),
            remix=bool(row["remix"]),
            content_ttl_seconds=row["content_ttl_seconds"],
            notes=str(row.get("notes", "")),
        )
        if spec.default_size not in spec.sizes or spec.default_seconds not in spec.seconds:
            raise ValueError(f"model table: {model_id}'s defaults are not among its values")
        rows[model_id] = spec
    default = str(data["default_model"])
    if default not in rows:
        raise ValueError(f"model table: the default model {default!r} has no row")
    return ModelTable(default, int(data["max_reference_bytes"]), MappingProxyType(rows))


def table_data() -> dict[str, Any]:
    """The decoded ``models.json`` as shipped (a fresh copy)."""
    text = resources.files(__package__).joinpath(_DATA_FILE).read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@cache
def model_table() -> ModelTable:
    """The shipped model table (loaded once)."""
    return parse_table(table_data())
