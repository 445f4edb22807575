"""Each API operation as data: validated inputs -> the generated ``_get_kwargs`` -> an
``httpx.Request`` plus how to send it and how to parse the answer (the generated models'
``from_dict``, through the tolerant reader :mod:`._tolerant`: only a body without a usable
``id``/``status`` is a :class:`ResponseValidationError`; any other difference from the spec is
logged once and kept in :attr:`Operations.deviations`). Pure: the sync and async resources only
add the I/O.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from io import BytesIO
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import httpx

from ._attempts import CallOptions, request_id_of
from ._auth import REDACTED
from ._config import ClientConfig, TimeoutTypes, to_timeout
from ._errors import DeerAPIError, ResponseValidationError
from ._tolerant import DeviationLog, UnusableBody, read_tolerantly
from ._validation import (
    validate_create_inputs,
    validate_headers,
    validate_idempotency_key,
    validate_limit,
    validate_max_retries,
    validate_order,
    validate_prompt,
    validate_remix_model,
    validate_text,
    validate_variant,
    validate_video_id,
)

# The generated layer (attrs, its models, its API modules) is imported inside the methods that
# use it, so ``import deerapi_videos`` does not pay for it: it loads at the first request built.
# After that, each function-level import is a dictionary look-up in ``sys.modules``.
if TYPE_CHECKING:
    from deerapi_videos_generated.client import AuthenticatedClient
    from deerapi_videos_generated.models.deleted_video import DeletedVideo
    from deerapi_videos_generated.models.video import Video
    from deerapi_videos_generated.models.video_list import VideoList

__all__ = [
    "Operations",
    "Prepared",
    "adopt_http_client",
    "deleted_result",
    "generated_client",
    "next_cursor",
]

T = TypeVar("T")
M = TypeVar("M", "Video", "VideoList", "DeletedVideo")

IDEMPOTENCY_HEADER = "Idempotency-Key"


def new_idempotency_key() -> str:
    return f"dvk_{uuid.uuid4().hex}"


@dataclass(frozen=True)
class Prepared(Generic[T]):
    request: httpx.Request
    call: CallOptions
    parse: Callable[[httpx.Response], T]  # called with a response whose body has been read


class Operations:
    """Builds every request the client sends. Holds no connection."""

    def __init__(self, config: ClientConfig, generated: AuthenticatedClient) -> None:
        self._config = config
        self._generated = generated
        #: Where answers differed from the spec (read leniently, never refused).
        self.deviations = DeviationLog()

    # -- building ----------------------------------------------------------------------------

    def _request(
        self,
        kwargs: dict[str, Any],
        *,
        is_post: bool,
        timeout: TimeoutTypes | None,
        extra_headers: Mapping[str, str] | None,
        max_retries: int | None,
        idempotency_key: str | None = None,
        follow_redirects: bool = False,
    ) -> tuple[httpx.Request, CallOptions]:
        """The request and how to send it. ``timeout`` is per attempt (each request of the
        call gets all of it); retries are bounded by ``max_retries``, waits by the retry policy.
        No deadline: only ``poll`` has one (it sets ``CallOptions.deadline`` itself)."""
        call_timeout = self._config.timeout if timeout is None else to_timeout(timeout)
        retries = (
            self._config.policy.max_retries
            if max_retries is None
            else validate_max_retries(max_retries)
        )
        headers = httpx.Headers(self._config.default_headers)
        headers.update(validate_headers("extra_headers", extra_headers))
        headers.update(kwargs.get("headers") or {})
        request = httpx.Request(
            kwargs["method"].upper(),
            self._config.url(kwargs["url"]),
            params=kwargs.get("params"),
            files=kwargs.get("files"),
            json=kwargs.get("json"),
            headers=headers,
            extensions={"timeout": call_timeout.as_dict()},
        )
        request.read()  # the body is fixed bytes: every attempt sends exactly the same body
        call = CallOptions(
            operation=f"{request.method} {request.url.path}",
            is_post=is_post,
            max_retries=retries,
            idempotency_key=idempotency_key,
            follow_redirects=follow_redirects,
        )
        return request, call

    def _idempotency_key(
        self, idempotency_key: str | None, extra_headers: Mapping[str, str] | None
    ) -> str:
        if idempotency_key is None and extra_headers:
            for name, value in extra_headers.items():
                if name.lower() == IDEMPOTENCY_HEADER.lower():
                    idempotency_key = value
        if idempotency_key is None:
            return new_idempotency_key()
        return validate_idempotency_key(idempotency_key)

    def _parser(self, model: type[M], call: CallOptions) -> Callable[[httpx.Response], M]:
        """Parse a read 2xx body into ``model`` with the tolerant reader (the one place response
        bodies are read): a body that is not JSON, not an object, or lacks a usable required
        field (``Video``: ``id``, ``status``) is a :class:`ResponseValidationError`; every other
        difference from the spec is noted in :attr:`deviations`, logged once, and not raised."""

        def parse(response: httpx.Response) -> M:
            request_id = request_id_of(response.headers)

            def invalid(path: str, expected: str, received: str) -> ResponseValidationError:
                return ResponseValidationError(
                    operation=call.operation,
                    status_code=response.status_code,
                    request_id=request_id,
                    model=model.__name__,
                    path=path,
                    expected=expected,
                    received=received,
                )

            def deviation(path: str, expected: str, received: str, action: str) -> None:
                self.deviations.note(
                    call.operation, model.__name__, request_id, path, expected, received, action
                )

            expected_body = f"a JSON {model.__name__} object"
            if not response.content.strip():
                raise invalid("", expected_body, "an empty body")
            try:
                data = json.loads(response.content)
            except ValueError:  # JSONDecodeError, UnicodeDecodeError
                kind = response.headers.get("content-type", "no content type")
                raise invalid("", expected_body, f"text that is not JSON ({kind})") from None
            try:
                return read_tolerantly(model, data, deviation)
            except UnusableBody as exc:
                raise invalid(exc.path, exc.expected, exc.received) from None

        return parse

    # -- operations --------------------------------------------------------------------------

    def create(
        self,
        *,
        prompt: object,
        model: object,
        seconds: object,
        size: object,
        input_reference: object,
        idempotency_key: str | None,
        timeout: TimeoutTypes | None,
        extra_headers: Mapping[str, str] | None,
        max_retries: int | None,
    ) -> Prepared[Video]:
        from deerapi_videos_generated.api.videos import create_video
        from deerapi_videos_generated.models.create_video_request import CreateVideoRequest
        from deerapi_videos_generated.models.video import Video
        from deerapi_videos_generated.types import File

        body = CreateVideoRequest(prompt=validate_prompt(prompt))
        inputs = validate_create_inputs(
            model=model, seconds=seconds, size=size, input_reference=input_reference
        )
        if inputs.model is not None:
            body.model = inputs.model
        if inputs.seconds is not None:
            body.seconds = inputs.seconds
        if inputs.size is not None:
            body.size = inputs.size
        if inputs.references:
            # One ``input_reference`` part per image, in order (Veo: first, then last frame).
            body.input_reference = [
                File(
                    payload=BytesIO(image.content),
                    file_name=image.filename,
                    mime_type=image.mime_type,
                )
                for image in inputs.references
            ]
        key = self._idempotency_key(idempotency_key, extra_headers)
        kwargs = create_video._get_kwargs(body=body, idempotency_key=key)
        request, call = self._request(
            kwargs,
            is_post=True,
            timeout=timeout,
            extra_headers=extra_headers,
            max_retries=max_retries,
            idempotency_key=key,
        )
        return Prepared(request, call, self._parser(Video, call))

    def remix(
        self,
        video_id: object,
        *,
        prompt: object,
        model: object,
        idempotency_key: str | None,
        timeout: TimeoutTypes | None,
        extra_headers: Mapping[str, str] | None,
        max_retries: int | None,
    ) -> Prepared[Video]:
        from deerapi_videos_generated.api.videos import remix_video
        from deerapi_videos_generated.models.remix_video_request import RemixVideoRequest
        from deerapi_videos_generated.models.video import Video

        vid = validate_video_id(video_id)
        body = RemixVideoRequest(prompt=validate_prompt(prompt))
        model_value = validate_remix_model(model)
        if model_value is not None:
            body.model = model_value
        key = self._idempotency_key(idempotency_key, extra_headers)
        kwargs = remix_video._get_kwargs(vid, body=body, idempotency_key=key)
        request, call = self._request(
            kwargs,
            is_post=True,
            timeout=timeout,
            extra_headers=extra_headers,
            max_retries=max_retries,
            idempotency_key=key,
        )
        return Prepared(request, call, self._parser(Video, call))

    def retrieve(
        self,
        video_id: object,
        *,
        timeout: TimeoutTypes | None,
        extra_headers: Mapping[str, str] | None,
        max_retries: int | None,
    ) -> Prepared[Video]:
        from deerapi_videos_generated.api.videos import retrieve_video
        from deerapi_videos_generated.models.video import Video

        kwargs = retrieve_video._get_kwargs(validate_video_id(video_id))
        request, call = self._request(
            kwargs,
            is_post=False,
            timeout=timeout,
            extra_headers=extra_headers,
            max_retries=max_retries,
        )
        return Prepared(request, call, self._parser(Video, call))

    def delete(
        self,
        video_id: object,
        *,
        timeout: TimeoutTypes | None,
        extra_headers: Mapping[str, str] | None,
        max_retries: int | None,
    ) -> Prepared[DeletedVideo]:
        from deerapi_videos_generated.api.videos import delete_video
        from deerapi_videos_generated.models.deleted_video import DeletedVideo

        kwargs = delete_video._get_kwargs(validate_video_id(video_id))
        request, call = self._request(
            kwargs,
            is_post=False,
            timeout=timeout,
            extra_headers=extra_headers,
            max_retries=max_retries,
        )
        return Prepared(request, call, self._parser(DeletedVideo, call))

    def list_page(
        self,
        *,
        after: str | None,
        limit: int,
        order: object,
        timeout: TimeoutTypes | None,
        extra_headers: Mapping[str, str] | None,
        max_retries: int | None,
    ) -> Prepared[VideoList]:
        from deerapi_videos_generated.api.videos import list_videos
        from deerapi_videos_generated.models.video_list import VideoList
        from deerapi_videos_generated.types import UNSET

        order_value = validate_order(order)
        kwargs = list_videos._get_kwargs(
            after=UNSET if after is None else validate_text("after", after),
            limit=validate_limit(limit),
            order=UNSET if order_value is None else order_value,
        )
        request, call = self._request(
            kwargs,
            is_post=False,
            timeout=timeout,
            extra_headers=extra_headers,
            max_retries=max_retries,
        )
        return Prepared(request, call, self._parser(VideoList, call))

    def download(
        self,
        video_id: object,
        *,
        variant: object,
        timeout: TimeoutTypes | None,
        extra_headers: Mapping[str, str] | None,
        max_retries: int | None,
    ) -> tuple[httpx.Request, CallOptions]:
        """The download request; streamed by ``_download`` (the generated parser reads it all)."""
        from deerapi_videos_generated.api.videos import download_video_content

        kwargs = download_video_content._get_kwargs(
            validate_video_id(video_id), variant=validate_variant(variant)
        )
        kwargs["headers"] = {"Accept-Encoding": "identity"}  # byte offsets must be file offsets
        request, call = self._request(
            kwargs,
            is_post=False,
            timeout=timeout,
            extra_headers=extra_headers,
            max_retries=max_retries,
            follow_redirects=True,
        )
        # A video's body may take longer than any per-request timeout: only headers are bound.
        return request, dataclasses.replace(call, limit_body=False)


def next_cursor(page: VideoList, seen: set[str]) -> str | None:
    """The ``after`` for the next page, or None when this was the last page.

    ``seen`` holds the cursors already used (the caller's ``after`` included); a cursor seen
    before means the server's pages cycle, which would never end: an error, not a loop.
    A page without ``has_more`` (gateways omit it) is followed, as openai-python does, only
    when it names its ``last_id``.
    """
    has_last_id = isinstance(page.last_id, str) and bool(page.last_id)
    if not page.data or page.has_more is False:
        return None
    if page.has_more is not True and not has_last_id:
        return None
    cursor = page.last_id if isinstance(page.last_id, str) and page.last_id else page.data[-1].id
    if cursor in seen:
        raise DeerAPIError(
            f"list pagination cycles: the server offered after={cursor!r} again after "
            f"{len(seen)} page(s); stopping instead of listing forever"
        )
    seen.add(cursor)
    return cursor


def deleted_result(video_id: str) -> Callable[[], DeletedVideo]:
    """What a DELETE whose answer was lost returns once a retry shows the video gone."""

    def gone() -> DeletedVideo:
        from deerapi_videos_generated.models.deleted_video import DeletedVideo

        return DeletedVideo(id=video_id, object_="video.deleted", deleted=True)

    return gone


def generated_client(config: ClientConfig) -> AuthenticatedClient:
    """The generated ``AuthenticatedClient`` for ``config`` (the ``client.generated`` hatch)."""
    from deerapi_videos_generated.client import AuthenticatedClient

    # The generated client keeps its token in an attrs field that its repr shows, so it gets a
    # placeholder: requests are authenticated by the shared httpx client's BearerAuth instead.
    return AuthenticatedClient(
        base_url=str(config.base_url), token=REDACTED, timeout=config.timeout
    )


def adopt_http_client(http: httpx.Client | httpx.AsyncClient, config: ClientConfig) -> None:
    """Make a caller's httpx client serve the generated escape hatch too."""
    http.auth = config.auth
    if not http.base_url.host:
        http.base_url = config.base_url
