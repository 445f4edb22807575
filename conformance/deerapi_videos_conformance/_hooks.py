"""Narrow workarounds for reports schemathesis makes that are false for this API.

Each filter drops exactly one kind of report, for a documented reason; no check is switched off.
Filters are installed on one loaded schema (schema-scoped ``filter_failure`` hooks), never
globally, by ``install_false_report_filters``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

from schemathesis.core.failures import Failure
from schemathesis.core.transport import Response
from schemathesis.generation.case import Case
from schemathesis.hooks import HookContext
from schemathesis.openapi.checks import RejectedPositiveData
from schemathesis.specs.openapi.schemas import OpenApiSchema

__all__ = ["FALSE_REPORT_FILTERS", "FalseReportFilter", "install_false_report_filters"]

# Magic numbers of the image types `input_reference` accepts (the spec's `encoding`).
_IMAGE_MAGIC: tuple[Callable[[bytes], bool], ...] = (
    lambda data: data.startswith(b"\xff\xd8\xff"),  # JPEG
    lambda data: data.startswith(b"\x89PNG\r\n\x1a\n"),  # PNG
    lambda data: data[:4] == b"RIFF" and data[8:12] == b"WEBP",  # WebP
)


@dataclass(frozen=True)
class FalseReportFilter:
    name: str
    why: str
    keep: Callable[[Failure, Case[Any], Response], bool]  # False drops the report


def _error_param(response: Response) -> str | None:
    try:
        body = json.loads(response.content)
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    param = error.get("param") if isinstance(error, dict) else None
    return param if isinstance(param, str) else None


def _sent_file_parts(response: Response, name: str) -> list[bytes]:
    """The bytes of every multipart part called ``name`` in the request that was sent."""
    request = response.request
    content_type = str(request.headers.get("Content-Type", ""))
    body = request.body
    if not content_type.lower().startswith("multipart/") or not isinstance(body, bytes):
        return []
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    parts = []
    for part in message.iter_parts() if message.is_multipart() else ():
        if part.get_param("name", header="content-disposition") == name:
            payload = part.get_payload(decode=True)
            parts.append(payload if isinstance(payload, bytes) else b"")
    return parts


def _keep_unless_non_image_reference_rejected(
    failure: Failure, case: Case[Any], response: Response
) -> bool:
    """Drop "schema-valid request rejected" when the API rejected a non-image `input_reference`.

    `input_reference` is `type: string, format: binary` with an `encoding` of image/jpeg,
    image/png, image/webp. JSON Schema cannot say "the bytes must be an image", so schemathesis
    treats any bytes as valid, and its file samples include ZIP, PDF, ... payloads (sent with an
    image Content-Type). The API rightly answers 400 naming `input_reference`; that is not a
    conformance failure. Kept: every other rejection, and this one when the bytes *are* an image.
    """
    if not isinstance(failure, RejectedPositiveData) or case.operation.label != "POST /v1/videos":
        return True
    if response.status_code != 400 or _error_param(response) != "input_reference":
        return True
    parts = _sent_file_parts(response, "input_reference")
    return not parts or all(any(is_image(p) for is_image in _IMAGE_MAGIC) for p in parts)


FALSE_REPORT_FILTERS: tuple[FalseReportFilter, ...] = (
    FalseReportFilter(
        "non-image input_reference",
        "`format: binary` cannot say 'an image'; schemathesis sends non-image files",
        _keep_unless_non_image_reference_rejected,
    ),
)


def install_false_report_filters(schema: OpenApiSchema) -> None:
    """Register each of ``FALSE_REPORT_FILTERS`` as a ``filter_failure`` hook of ``schema``."""
    for item in FALSE_REPORT_FILTERS:
        schema.hooks.register_hook_with_name(_as_hook(item), "filter_failure")


def _as_hook(item: FalseReportFilter) -> Callable[..., bool]:
    def filter_failure(
        context: HookContext, failure: Failure, case: Case[Any], response: Response
    ) -> bool:
        return item.keep(failure, case, response)

    filter_failure.__doc__ = item.keep.__doc__
    return filter_failure
