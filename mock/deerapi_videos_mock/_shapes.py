"""Response shapes: how the served answers look.

- ``deerapi`` (the default): what ``openapi.yaml`` describes, every documented field present.
- ``proxy``: what an OpenAI-compatible gateway built on new-api / one-api sends (see
  /work/research/upstream_video_shapes.md, section 2): empty fields left out (``omitempty``:
  ``null`` values, a ``progress`` of 0, and for Veo models ``seconds`` and ``size``, which
  new-api's Veo adaptor never sets), ``progress`` as a float, extra objects (``task_id``,
  ``usage``), list pages without ``has_more`` / ``first_id`` / ``last_id``, and the request id
  as ``X-Oneapi-Request-Id``. The client must read all of it; the conformance check reports it
  as drift.
"""

from __future__ import annotations

from typing import Any

from deerapi_videos.model_table import model_table

__all__ = ["REQUEST_ID_HEADERS", "SHAPES", "shape_list", "shape_video"]

SHAPES: dict[str, str] = {
    "deerapi": "every documented field, as openapi.yaml describes it",
    "proxy": (
        "a new-api style gateway: empty fields omitted, float progress, extra task_id/usage, "
        "no has_more/first_id/last_id, X-Oneapi-Request-Id"
    ),
}

#: The response header carrying the request id, per shape.
REQUEST_ID_HEADERS = {"deerapi": "x-request-id", "proxy": "x-oneapi-request-id"}


def shape_video(body: dict[str, Any], shape: str) -> dict[str, Any]:
    """A video object (as the mock renders it) in ``shape``."""
    if shape != "proxy":
        return body
    out = {k: v for k, v in body.items() if v is not None}
    progress = out.pop("progress", 0)
    if isinstance(progress, int) and progress > 0:
        # A gateway's own percentage: a float, a little ahead of the upstream's integer.
        out["progress"] = float(progress) if progress >= 100 else progress + 0.5
    spec = model_table().get(str(out.get("model")))
    if spec is not None and spec.family == "veo3":
        out.pop("seconds", None)
        out.pop("size", None)
    out["task_id"] = out["id"]  # new-api: "compat, to be deprecated"
    if out.get("status") == "completed":
        out["usage"] = {"video_seconds": out.get("seconds") or "8"}
    return out


def shape_list(body: dict[str, Any], shape: str) -> dict[str, Any]:
    """A list page (its videos already shaped) in ``shape``."""
    if shape != "proxy":
        return body
    return {k: v for k, v in body.items() if k not in ("has_more", "first_id", "last_id")}
