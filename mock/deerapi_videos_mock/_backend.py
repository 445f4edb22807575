"""What the ASGI app needs from the mock's state, and the replies they exchange.

:class:`Backend` is the app's view of :class:`~deerapi_videos_mock.MockDeerAPI` (which
implements it), so the app depends on this protocol rather than on the mock that owns it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from ._faults import Fault
from ._media import Asset

__all__ = ["Backend", "Reply", "error_reply", "not_found"]


@dataclass
class Reply:
    status: int
    payload: Any = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    media_type: str = "application/json"
    body: bytes | None = None
    asset: Asset | None = None
    start: int = 0
    stop: int = 0


def error_reply(
    status: int,
    message: str,
    *,
    type_: str = "invalid_request_error",
    param: str | None = None,
    code: str | None = None,
    headers: list[tuple[str, str]] | None = None,
) -> Reply:
    envelope = {"error": {"message": message, "type": type_, "param": param, "code": code}}
    return Reply(status, envelope, headers=list(headers or []))


def not_found(video_id: str) -> Reply:
    return error_reply(
        404, f"Video with id '{video_id}' not found.", param="video_id", code="video_not_found"
    )


class Backend(Protocol):
    """The mock's state as the ASGI app uses it."""

    api_key: str | None
    defects: frozenset[str]
    chunk_size: int
    response_shape: str
    unserved: frozenset[str]

    def _next_request_id(self) -> str: ...

    def _record(self, method: str, path: str, status: int, request_id: str) -> None: ...

    def request_log(self) -> list[dict[str, Any]]: ...

    def _active_faults(self, operation: str) -> list[Fault]: ...

    def _retrieve(self, video_id: str) -> Reply: ...

    def _delete(self, video_id: str) -> Reply: ...

    def _list(self, *, after: str | None, limit: int, order: str) -> Reply: ...

    def _content_asset(self, video_id: str, variant: str) -> Asset | Reply: ...

    def _start_job(
        self,
        operation: str,
        *,
        key: str | None,
        fingerprint: tuple[Any, ...],
        prompt: str,
        model: str | None,
        seconds: str | None,
        size: str | None,
        input_references: tuple[bytes, ...],
        source_id: str | None,
    ) -> Reply: ...
