"""schemathesis hooks for ``openapi.yaml``: what the schema cannot say, so no report is false.

JSON Schema cannot say "these bytes must be an image", nor "this `size` only with that model":
``openapi.yaml`` types ``input_reference`` as binary parts and ``size``/``seconds`` as any
non-empty string (other models take other values), while each known model takes only its row of
the model table (``deerapi_videos.model_table``). So schemathesis generates schema-valid creates
the API rightly refuses. Two kinds of hooks close that gap; no check is switched off:

- Fitting (``before_call``, global, active only while a run or the hooks module is loaded):
  every *positive* create body is made to fit its model's row (the run's ``--model`` when one
  is given): a ``seconds`` or ``size`` the model does not take becomes its default, the
  ``input_reference`` parts become real JPEG/PNG/WebP images (of the video's size for Sora 2),
  at most as many as the model takes. A positive remix body naming a model that cannot be
  remixed loses that ``model``. Negative cases are left alone.
- Filters (``filter_failure``, per schema): each drops exactly one kind of report, for a
  documented reason (:data:`FALSE_REPORT_FILTERS`).

``install_false_report_filters(schema)`` installs the filters on one loaded schema;
``fitting(model)`` turns the fitting on for the duration of a run. For ``schemathesis run``
directly on ``openapi.yaml``, load ``deerapi_videos_conformance.schemathesis_hooks`` (see there).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

from deerapi_videos.model_table import ModelSpec, model_table
from hypothesis import strategies as st
from schemathesis.core.failures import Failure
from schemathesis.core.parameters import ParameterLocation
from schemathesis.core.transport import Response
from schemathesis.generation.case import Case
from schemathesis.hooks import GLOBAL_HOOK_DISPATCHER, HookContext
from schemathesis.openapi.checks import RejectedPositiveData
from schemathesis.specs.openapi.schemas import OpenApiSchema
from schemathesis.transport.serialization import Binary

from ._images import IMAGE_KINDS, image

__all__ = [
    "FALSE_REPORT_FILTERS",
    "FalseReportFilter",
    "fit_create_body",
    "fitting",
    "install_false_report_filters",
    "reference_images",
    "register_globally",
]

CREATE = "POST /v1/videos"
REMIX = "POST /v1/videos/{video_id}/remix"
#: Reference images a model the table does not know gets at most (DeerAPI's Veo: first, last).
UNKNOWN_MAX_REFERENCES = 2
#: The pixel size of references for models without a pixel rule (16:9, small).
FREE_SIZE = (64, 36)

# Magic numbers of the image types `input_reference` accepts (the spec's `encoding`).
_IMAGE_MAGIC: tuple[Callable[[bytes], bool], ...] = (
    lambda data: data.startswith(b"\xff\xd8\xff"),  # JPEG
    lambda data: data.startswith(b"\x89PNG\r\n\x1a\n"),  # PNG
    lambda data: data[:4] == b"RIFF" and data[8:12] == b"WEBP",  # WebP
)


# -- fitting bodies to the model table ---------------------------------------------------------


def _pixels(size: str) -> tuple[int, int] | None:
    width, _, height = size.partition("x")
    if width.isdigit() and height.isdigit():
        return int(width), int(height)
    return None


def _references(spec: ModelSpec | None, size: str | None, count: int) -> list[Binary]:
    """Real images (schemathesis' ``Binary`` values), of the video's size where the model
    requires it, no more than the model takes."""
    most = spec.max_references if spec is not None else UNKNOWN_MAX_REFERENCES
    pixels = FREE_SIZE
    if spec is not None and spec.reference_matches_size:
        pixels = _pixels(size or spec.default_size) or FREE_SIZE
    kinds = [IMAGE_KINDS[i % len(IMAGE_KINDS)] for i in range(min(count, most))]
    return [Binary(image(kind, *pixels)) for kind in kinds]


def fit_create_body(body: dict[str, Any], model: str | None = None) -> dict[str, Any]:
    """``body`` (a schema-valid create) made to fit its model's row of the model table.

    With ``model``, the body asks for that model. A known model's ``seconds``/``size`` outside
    its row become its defaults; ``input_reference`` becomes real images (the effective size
    for Sora 2), no more than the model takes. An unknown model keeps its values.
    """
    fitted = dict(body)
    if model is not None:
        fitted["model"] = model
    given = fitted.get("model")
    spec = model_table().get(given if isinstance(given, str) else None)
    if spec is not None:
        if fitted.get("seconds") is not None and fitted["seconds"] not in spec.seconds:
            fitted["seconds"] = spec.default_seconds
        if fitted.get("size") is not None and fitted["size"] not in spec.sizes:
            fitted["size"] = spec.default_size
    if "input_reference" in fitted:
        value = fitted["input_reference"]
        size = fitted.get("size") if isinstance(fitted.get("size"), str) else None
        if isinstance(value, list):
            fitted["input_reference"] = _references(spec, size, len(value))
        else:
            fitted["input_reference"] = _references(spec, size, 1)[0]
        if not fitted["input_reference"]:
            del fitted["input_reference"]
    return fitted


def reference_images(model: str | None = None) -> st.SearchStrategy[list[bytes]]:
    """A hypothesis strategy of ``input_reference`` values ``model`` takes (the table's default
    model for None): lists of real JPEG/PNG/WebP images, of the video's size where the model
    requires it. For tests of your own against a DeerAPI-compatible server."""
    spec = model_table().get(model)
    most = spec.max_references if spec is not None else UNKNOWN_MAX_REFERENCES

    def build(kinds: list[str]) -> list[bytes]:
        pixels = FREE_SIZE
        if spec is not None and spec.reference_matches_size:
            pixels = _pixels(spec.default_size) or FREE_SIZE
        return [image(kind, *pixels) for kind in kinds]

    return st.lists(st.sampled_from(IMAGE_KINDS), min_size=1, max_size=most).map(build)


@dataclass
class _Fitting:
    model: str | None
    # Video id -> model, from successful creates: whether a remix of it can succeed.
    created: dict[str, str] = field(default_factory=dict)


_ACTIVE: list[_Fitting] = []
_LOCK = threading.Lock()


def _active() -> _Fitting | None:
    return _ACTIVE[-1] if _ACTIVE else None


def _positive_body(case: Case[Any]) -> bool:
    """Whether the case was generated to be valid, its body included (explicit cases without
    metadata, such as a live run's own create, are left as they are)."""
    meta = case.meta
    return (
        meta is not None
        and not meta.generation.mode.is_negative
        and not meta.is_negative_at(ParameterLocation.BODY)
    )


def _before_call(context: HookContext, case: Case[Any], kwargs: dict[str, Any]) -> None:
    state = _active()
    if state is None or not isinstance(case.body, dict) or not _positive_body(case):
        return
    label = case.operation.label
    if label == CREATE:
        fitted = fit_create_body(case.body, state.model)
    elif label == REMIX:
        given = case.body.get("model")
        spec = model_table().get(given) if isinstance(given, str) else None
        if spec is None or spec.remix:
            return
        fitted = {k: v for k, v in case.body.items() if k != "model"}
    else:
        return
    # In place, then taken as the case's baseline: the fitted body is still schema-valid (values
    # from the model table's rows, which the spec's enums hold; images as schemathesis' own
    # Binary values), but schemathesis 4 cannot re-judge a body with binary parts and would
    # relabel the case negative. ``_sync_validated_hashes`` is the step schemathesis itself
    # takes just before it runs a ``before_call`` hook (pinned: schemathesis==4.32.5).
    case.body.clear()
    case.body.update(fitted)
    case._sync_validated_hashes()


def _after_call(context: HookContext, case: Case[Any], response: Response) -> None:
    state = _active()
    if state is None or case.operation.label != CREATE or response.status_code != 200:
        return
    try:
        body = json.loads(response.content)
    except ValueError:
        return
    if isinstance(body, dict) and isinstance(body.get("id"), str):
        sent = case.body.get("model") if isinstance(case.body, dict) else None
        model = body.get("model") if isinstance(body.get("model"), str) else sent
        state.created[body["id"]] = str(model or model_table().default_model)


@contextmanager
def fitting(model: str | None = None) -> Iterator[None]:
    """Fit positive create/remix cases to the model table while the block runs (one model
    for every create when ``model`` is given)."""
    register_globally()
    state = _Fitting(model)
    with _LOCK:
        _ACTIVE.append(state)
    try:
        yield
    finally:
        with _LOCK:
            _ACTIVE.remove(state)


_REGISTERED: list[bool] = []


def register_globally(filters: bool = False) -> None:
    """Register the fitting hooks with schemathesis (once); with ``filters``, the false-report
    filters too (for ``schemathesis run``, whose schema this package never sees)."""
    with _LOCK:
        if not _REGISTERED:
            GLOBAL_HOOK_DISPATCHER.register_hook_with_name(_before_call, "before_call")
            GLOBAL_HOOK_DISPATCHER.register_hook_with_name(_after_call, "after_call")
            _REGISTERED.append(False)
        if filters and not _REGISTERED[0]:
            for item in FALSE_REPORT_FILTERS:
                GLOBAL_HOOK_DISPATCHER.register_hook_with_name(_as_hook(item), "filter_failure")
            _REGISTERED[0] = True


# -- false-report filters -----------------------------------------------------------------------


@dataclass(frozen=True)
class FalseReportFilter:
    name: str
    why: str
    keep: Callable[[Failure, Case[Any], Response], bool]  # False drops the report


def _error(response: Response) -> dict[str, Any]:
    try:
        body = json.loads(response.content)
    except ValueError:
        return {}
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


def _error_param(response: Response) -> str | None:
    param = _error(response).get("param")
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

    `input_reference` is an array of `type: string, format: binary` parts with an `encoding` of
    image/jpeg, image/png, image/webp. JSON Schema cannot say "the bytes must be an image", so
    schemathesis treats any bytes as valid, and its file samples include ZIP, PDF, ... payloads
    (sent with an image Content-Type). The API rightly answers 400 naming `input_reference`; that
    is not a conformance failure. Kept: every other rejection, and this one when the bytes *are*
    images.
    """
    if not isinstance(failure, RejectedPositiveData) or case.operation.label != CREATE:
        return True
    if response.status_code != 400 or _error_param(response) != "input_reference":
        return True
    parts = _sent_file_parts(response, "input_reference")
    return not parts or all(any(is_image(p) for is_image in _IMAGE_MAGIC) for p in parts)


def _keep_unless_remix_of_a_model_without_remix(
    failure: Failure, case: Case[Any], response: Response
) -> bool:
    """Drop "schema-valid request rejected" for a remix of a video whose model cannot be
    remixed (Veo 3; ``remix: false`` in the model table).

    Whether a remix can succeed depends on the source video's model, which the request does not
    carry: the stateful phase remixes whatever the run created. Dropped only when the API named
    ``model`` and the source (a video this run created, recorded by the fitting hooks) or the
    remix's own ``model`` is a known model without remix.
    """
    if not isinstance(failure, RejectedPositiveData) or case.operation.label != REMIX:
        return True
    if response.status_code != 400 or _error_param(response) != "model":
        return True
    models = []
    state = _active()
    video_id = (case.path_parameters or {}).get("video_id")
    if state is not None and isinstance(video_id, str) and video_id in state.created:
        models.append(state.created[video_id])
    given = case.body.get("model") if isinstance(case.body, dict) else None
    if isinstance(given, str):
        models.append(given)
    specs = [model_table().get(m) for m in models]
    return not any(spec is not None and not spec.remix for spec in specs)


FALSE_REPORT_FILTERS: tuple[FalseReportFilter, ...] = (
    FalseReportFilter(
        "non-image input_reference",
        "`format: binary` cannot say 'an image'; schemathesis sends non-image files",
        _keep_unless_non_image_reference_rejected,
    ),
    FalseReportFilter(
        "remix of a model without remix",
        "a remix's success depends on its source video's model, which the request lacks",
        _keep_unless_remix_of_a_model_without_remix,
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


def activate(model: str | None = None) -> None:
    """Fit cases and filter false reports from now on, in every schema of this process: what
    ``schemathesis run`` needs (see ``deerapi_videos_conformance.schemathesis_hooks``)."""
    register_globally(filters=True)
    with _LOCK:
        _ACTIVE.insert(0, _Fitting(model))
