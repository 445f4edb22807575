"""``AsyncDeerAPI`` and its ``.videos`` resource.

Written once, by hand, for the awaitable client; ``python scripts/unasync.py`` derives the
blocking client (``DeerAPI``, ``Videos``) from it. The resource validates and builds requests
through :mod:`.._operations` (generated ``_get_kwargs``), sends them through the one request path
(:mod:`._request`), and parses 2xx bodies with the generated models after checking them against
those models' annotations (:mod:`.._response_check`). Every decision lives in those shared
modules; this file only does the I/O.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Self, TypeVar, overload

import httpx

from .. import _clock
from .._boundary import guarded, note_idempotency_key, note_video_id
from .._concurrency import arun_blocking
from .._config import ClientConfig, TimeoutTypes
from .._deadline import install as install_time_limits
from .._download import WRITE_BLOCK, DownloadState, ProgressCallback
from .._errors import (
    APIConnectionError,
    APIStatusError,
    ConflictError,
    ContentExpiredError,
    DeerAPIError,
    InvalidParameterError,
)
from .._expiry import could_be_expiry, expired_content_error
from .._operations import (
    Operations,
    Prepared,
    adopt_http_client,
    deleted_result,
    generated_client,
    next_cursor,
)
from .._polling import (
    DEFAULT_POLL_TIMEOUT,
    MIN_INTERVAL,
    NOT_FOUND_GRACE,
    Poller,
    ensure_not_failed,
)
from .._validation import (
    validate_limit,
    validate_order,
    validate_text,
    validate_timeout,
    validate_video_id,
)
from ..types import (
    DefaultModelSeconds,
    DefaultModelSize,
    InputReference,
    KnownModel,
    ListOrderName,
    SecondsInt,
    VariantName,
)
from ._request import AsyncRequester, pool_size

if TYPE_CHECKING:  # the generated layer loads when a client is constructed, not at import
    from deerapi_videos_generated.client import AuthenticatedClient
    from deerapi_videos_generated.models.deleted_video import DeletedVideo
    from deerapi_videos_generated.models.list_order import ListOrder
    from deerapi_videos_generated.models.video import Video
    from deerapi_videos_generated.models.video_content_variant import VideoContentVariant
    from deerapi_videos_generated.models.video_seconds import VideoSeconds
    from deerapi_videos_generated.models.video_size import VideoSize

    from .._tolerant import ResponseDeviation

__all__ = ["AsyncDeerAPI", "AsyncVideos"]

T = TypeVar("T")

POOL_SIZE = 100  # connections of the httpx client the client builds (httpx's default)
KEEPALIVE = 20  # idle connections it keeps (httpx's default; see AsyncDeerAPI.__init__)


def _reader(parse: Callable[[httpx.Response], T]) -> Callable[[httpx.Response], Awaitable[T]]:
    async def handle(response: httpx.Response) -> T:
        await response.aread()
        return parse(response)

    return handle


class AsyncVideos:
    """``client.videos``: create, retrieve, poll, download, remix, list and delete video jobs."""

    def __init__(self, client: AsyncDeerAPI) -> None:
        self._client = client
        self._ops = client._ops
        self._requester = client._requester
        self._redact = client._config.redact  # for the boundary (see _boundary.guarded)

    async def _send(self, prepared: Prepared[Video]) -> Video:
        return await self._requester.send(prepared.request, prepared.call, _reader(prepared.parse))

    @overload
    async def create(
        self,
        *,
        prompt: str,
        model: None = None,
        seconds: DefaultModelSeconds | SecondsInt | VideoSeconds | None = None,
        size: DefaultModelSize | VideoSize | None = None,
        input_reference: InputReference | None = None,
        idempotency_key: str | None = None,
        timeout: TimeoutTypes | None = None,
        extra_headers: Mapping[str, str] | None = None,
        max_retries: int | None = None,
    ) -> Video: ...

    @overload
    async def create(
        self,
        *,
        prompt: str,
        model: KnownModel | str,
        seconds: str | SecondsInt | None = None,
        size: str | None = None,
        input_reference: InputReference | None = None,
        idempotency_key: str | None = None,
        timeout: TimeoutTypes | None = None,
        extra_headers: Mapping[str, str] | None = None,
        max_retries: int | None = None,
    ) -> Video: ...

    @guarded
    async def create(
        self,
        *,
        prompt: str,
        model: str | None = None,
        seconds: str | int | None = None,
        size: str | None = None,
        input_reference: InputReference | None = None,
        idempotency_key: str | None = None,
        timeout: TimeoutTypes | None = None,
        extra_headers: Mapping[str, str] | None = None,
        max_retries: int | None = None,
    ) -> Video:
        """Start a paid video job (``POST /v1/videos``).

        Args:
            prompt: what the video shows.
            model: the model id (``sora-2`` when None). A model in the model table
                (``deerapi_videos.model_table``) is validated against its row before sending;
                another id is sent as given.
            seconds: the length as a string, e.g. ``"4"`` (an int is converted); one the
                model takes.
            size: ``"WIDTHxHEIGHT"`` (Sora 2) or an aspect ratio such as ``"16x9"`` (Veo 3);
                one the model takes.
            input_reference: an image (path, bytes, binary file or ``(name, bytes, type)``),
                or a list of them sent as repeated parts: Sora 2 takes one first frame whose
                pixels must match the size (``size`` or the model's default); Veo 3 up to two,
                first and last frame.
            idempotency_key: sent as ``Idempotency-Key``; one is generated when None.
            timeout: per-attempt request timeout, overriding the client's.
            extra_headers: headers added to this request.
            max_retries: retries for this call, overriding the client's.

        Returns:
            The new job, usually ``queued``.

        Raises:
            InvalidParameterError: an argument is invalid; nothing was sent.
            JobMayExistError: the POST may have started a job whose answer was lost; it carries
                the idempotency key to check or resend with.
            APIStatusError: the API refused the request (a subclass per status).
        """
        return await self._create(
            prompt=prompt,
            model=model,
            seconds=seconds,
            size=size,
            input_reference=input_reference,
            idempotency_key=idempotency_key,
            timeout=timeout,
            extra_headers=extra_headers,
            max_retries=max_retries,
        )

    async def _create(
        self,
        *,
        prompt: str,
        model: str | None = None,
        seconds: str | int | None = None,
        size: str | None = None,
        input_reference: object = None,
        idempotency_key: str | None = None,
        timeout: TimeoutTypes | None = None,
        extra_headers: Mapping[str, str] | None = None,
        max_retries: int | None = None,
    ) -> Video:
        """``create`` with its arguments as the run-time checks take them (untyped by model)."""
        prepared = self._ops.create(
            prompt=prompt,
            model=model,
            seconds=seconds,
            size=size,
            input_reference=input_reference,
            idempotency_key=idempotency_key,
            timeout=timeout,
            extra_headers=extra_headers,
            max_retries=max_retries,
        )
        return await self._send_post(prepared)

    async def _send_post(self, prepared: Prepared[Video]) -> Video:
        """Send a create or remix; from its success on, every error names the new job."""
        if prepared.call.idempotency_key is not None:
            note_idempotency_key(prepared.call.idempotency_key)
        video = await self._send(prepared)
        note_video_id(video.id)
        return video

    @guarded
    async def retrieve(
        self,
        video_id: str,
        *,
        timeout: TimeoutTypes | None = None,
        extra_headers: Mapping[str, str] | None = None,
        max_retries: int | None = None,
    ) -> Video:
        """Read a job's current state (``GET /v1/videos/{video_id}``).

        Args:
            video_id: the job's id.
            timeout: per-attempt request timeout, overriding the client's.
            extra_headers: headers added to this request.
            max_retries: retries for this call, overriding the client's.

        Returns:
            The job as the API describes it now.

        Raises:
            InvalidParameterError: ``video_id`` is not a usable id; nothing was sent.
            NotFoundError: no such job.
            APIStatusError, APIConnectionError: the read failed after its retries.
        """
        prepared = self._ops.retrieve(
            video_id, timeout=timeout, extra_headers=extra_headers, max_retries=max_retries
        )
        note_video_id(video_id)
        return await self._send(prepared)

    async def _poll_read(
        self,
        video_id: str,
        poller: Poller,
        *,
        extra_headers: Mapping[str, str] | None,
        max_retries: int | None,
    ) -> tuple[Video, httpx.Headers]:
        """One read of ``poll``: the client's per-attempt timeout, inside poll's deadline."""
        prepared = self._ops.retrieve(
            video_id, timeout=None, extra_headers=extra_headers, max_retries=max_retries
        )
        call = dataclasses.replace(
            prepared.call,
            deadline=poller.deadline,
            on_deadline=poller.on_deadline,
            min_delay=MIN_INTERVAL,
        )

        async def handle(response: httpx.Response) -> tuple[Video, httpx.Headers]:
            await response.aread()
            return prepared.parse(response), response.headers

        return await self._requester.send(prepared.request, call, handle)

    @guarded
    async def poll(
        self,
        video_id: str,
        *,
        timeout: float = DEFAULT_POLL_TIMEOUT,
        poll_interval: float | None = None,
        on_progress: Callable[[Video], object] | None = None,
        extra_headers: Mapping[str, str] | None = None,
        max_retries: int | None = None,
    ) -> Video:
        """Wait until the job ends; ``timeout`` is the polling deadline in seconds.

        The deadline covers everything: no sleep passes it, and each read (with its retries)
        runs inside it, every request's timeout clipped to what is left. Resume with ``poll``
        after an interruption: no new job is needed.

        Args:
            video_id: the job's id.
            timeout: the deadline for the whole wait, in seconds.
            poll_interval: seconds between reads. None: the server's hint, else a read planned
                from the job's progress, else a backoff (1 s growing to 10 s).
            on_progress: called with every state read.
            extra_headers: headers added to every read.
            max_retries: retries of each read, overriding the client's.

        Returns:
            The completed video.

        Raises:
            VideoFailedError: the job failed or ended without a video.
            PollTimeoutError: the deadline passed (also when it cut a failing read short; the
                failure is its ``__cause__``).
        """
        return await self._poll(
            video_id,
            timeout=timeout,
            poll_interval=poll_interval,
            on_progress=on_progress,
            extra_headers=extra_headers,
            max_retries=max_retries,
        )

    async def _poll(
        self,
        video_id: str,
        *,
        timeout: float,
        poll_interval: float | None,
        on_progress: Callable[[Video], object] | None,
        extra_headers: Mapping[str, str] | None,
        max_retries: int | None,
        not_found_grace: float = 0.0,
    ) -> Video:
        vid = validate_video_id(video_id)
        note_video_id(vid)
        poller = Poller(
            vid,
            timeout=validate_timeout(timeout),
            poll_interval=None if poll_interval is None else validate_timeout(poll_interval),
            on_progress=on_progress,
            started=_clock.now(),
            not_found_grace=not_found_grace,
        )
        while True:
            if poller.left(_clock.now()) <= 0:
                raise poller.timed_out()
            try:
                video, headers = await self._poll_read(
                    vid, poller, extra_headers=extra_headers, max_retries=max_retries
                )
            except DeerAPIError as exc:
                # A read that waiting can fix (a lagging proxy, a 429, a 5xx) does not end the
                # wait; after_failed_read raises what it cannot fix, or at the deadline.
                await _clock.asleep(poller.after_failed_read(exc, _clock.now()))
                continue
            done = poller.observe(video)
            if done is not None:
                return done
            await _clock.asleep(poller.next_delay(headers, _clock.now()))

    @overload
    async def create_and_poll(
        self,
        *,
        prompt: str,
        model: None = None,
        seconds: DefaultModelSeconds | SecondsInt | VideoSeconds | None = None,
        size: DefaultModelSize | VideoSize | None = None,
        input_reference: InputReference | None = None,
        idempotency_key: str | None = None,
        poll_timeout: float = DEFAULT_POLL_TIMEOUT,
        poll_interval: float | None = None,
        on_progress: Callable[[Video], object] | None = None,
        timeout: TimeoutTypes | None = None,
        extra_headers: Mapping[str, str] | None = None,
        max_retries: int | None = None,
    ) -> Video: ...

    @overload
    async def create_and_poll(
        self,
        *,
        prompt: str,
        model: KnownModel | str,
        seconds: str | SecondsInt | None = None,
        size: str | None = None,
        input_reference: InputReference | None = None,
        idempotency_key: str | None = None,
        poll_timeout: float = DEFAULT_POLL_TIMEOUT,
        poll_interval: float | None = None,
        on_progress: Callable[[Video], object] | None = None,
        timeout: TimeoutTypes | None = None,
        extra_headers: Mapping[str, str] | None = None,
        max_retries: int | None = None,
    ) -> Video: ...

    @guarded
    async def create_and_poll(
        self,
        *,
        prompt: str,
        model: str | None = None,
        seconds: str | int | None = None,
        size: str | None = None,
        input_reference: InputReference | None = None,
        idempotency_key: str | None = None,
        poll_timeout: float = DEFAULT_POLL_TIMEOUT,
        poll_interval: float | None = None,
        on_progress: Callable[[Video], object] | None = None,
        timeout: TimeoutTypes | None = None,
        extra_headers: Mapping[str, str] | None = None,
        max_retries: int | None = None,
    ) -> Video:
        """``create`` then ``poll``: start a paid job and wait for it.

        Once the POST has succeeded, every error this call raises carries the new job's
        ``video_id`` (resume with ``poll``; never create it again). Reads that fail in a way
        waiting can fix, a 404 from a proxy that has not caught up included, do not end the
        wait before ``poll_timeout``.

        Args:
            prompt: what the video shows.
            model: the model id, as for ``create``.
            seconds: the length, as for ``create``.
            size: the size or aspect ratio, as for ``create``.
            input_reference: the reference image(s), as for ``create``.
            idempotency_key: sent as ``Idempotency-Key``; one is generated when None.
            poll_timeout: the polling deadline in seconds; it starts once the job exists.
            poll_interval: seconds between reads. None: the server's hint, else a read planned
                from the job's progress, else a backoff (1 s growing to 10 s).
            on_progress: called with every state read.
            timeout: the POST's per-attempt request timeout.
            extra_headers: headers added to every request.
            max_retries: retries of each request, overriding the client's.

        Returns:
            The completed video.

        Raises:
            InvalidParameterError: an argument is invalid; nothing was sent.
            JobMayExistError: the POST may have started a job whose answer was lost.
            VideoFailedError: the job failed or ended without a video.
            PollTimeoutError: ``poll_timeout`` passed before the job ended.
            APIStatusError: the API refused the request or a read (a subclass per status).
        """
        video = await self._create(
            prompt=prompt,
            model=model,
            seconds=seconds,
            size=size,
            input_reference=input_reference,
            idempotency_key=idempotency_key,
            timeout=timeout,
            extra_headers=extra_headers,
            max_retries=max_retries,
        )
        return await self._poll(
            video.id,
            timeout=poll_timeout,
            poll_interval=poll_interval,
            on_progress=on_progress,
            extra_headers=extra_headers,
            max_retries=max_retries,
            not_found_grace=NOT_FOUND_GRACE,
        )

    @guarded
    async def download_content(
        self,
        video_id: str,
        path: str | os.PathLike[str],
        variant: VariantName | VideoContentVariant = "video",
        *,
        on_bytes: ProgressCallback | None = None,
        timeout: TimeoutTypes | None = None,
        extra_headers: Mapping[str, str] | None = None,
        max_retries: int | None = None,
    ) -> Path:
        """Stream a job's content to ``path`` (``GET /v1/videos/{video_id}/content``).

        The body goes to a temporary file beside ``path`` and is renamed into place only when
        complete, so ``path`` never holds a partial file. File writes (blocks of about 1 MiB),
        the final fsync and the rename run off the event loop in async code.

        Args:
            video_id: the job's id.
            path: the file to write; its directory must exist.
            variant: ``"video"``, ``"thumbnail"`` or ``"spritesheet"``.
            on_bytes: called as ``on_bytes(done, total)`` while the body arrives.
            timeout: per-attempt request timeout, overriding the client's.
            extra_headers: headers added to every request.
            max_retries: retries of the download, overriding the client's.

        Returns:
            ``path`` as a ``Path``.

        Raises:
            InvalidParameterError: an argument or ``path`` is unusable; nothing was sent.
            VideoFailedError: the job failed, so it has no content.
            ConflictError: the job is not completed yet.
            ContentExpiredError: the content expired (after the job's ``expires_at``).
            DownloadError: the body broke off and retries ran out; nothing was written.
        """
        request, call = self._ops.download(
            video_id,
            variant=variant,
            timeout=timeout,
            extra_headers=extra_headers,
            max_retries=max_retries,
        )
        note_video_id(video_id)
        # Checks the path, creates the temp file.
        timeouts = request.extensions.get("timeout") or {}
        state = DownloadState(
            path,
            on_bytes,
            str(getattr(variant, "value", variant)),
            self._redact,
            stall_after=timeouts.get("read"),
        )
        try:

            async def handle(response: httpx.Response) -> Path:
                if not state.begin(response):  # an error page or another media type
                    first: list[bytes] = []
                    async for chunk in response.aiter_bytes():
                        first.append(chunk)
                        break
                    raise state.refused(response, b"".join(first))
                block: list[bytes] = []
                size = 0
                try:
                    async for chunk in response.aiter_bytes():
                        if not chunk:
                            continue
                        state.inspect(chunk)
                        block.append(chunk)
                        size += len(chunk)
                        if size >= WRITE_BLOCK:
                            await arun_blocking(state.write_only, b"".join(block))
                            block.clear()
                            size = 0
                        state.report(pending=size)
                except httpx.TransportError:
                    # The body broke off: keep what arrived, so a retry with Range resumes
                    # after it.
                    if size:
                        await arun_blocking(state.write_only, b"".join(block))
                    raise
                # The last block, fsync and rename in one step (one in all for a body under
                # WRITE_BLOCK).
                return await arun_blocking(state.finish, request, b"".join(block))

            try:
                return await self._requester.send(request, call, handle, state.before_attempt)
            except APIConnectionError as exc:
                if state.started:
                    raise state.failed(exc) from exc
                raise
            except ConflictError:
                # 409: not completed. If the job failed, say so rather than "conflict".
                ensure_not_failed(await self.retrieve(video_id, extra_headers=extra_headers))
                raise
            except APIStatusError as exc:
                # 404/410: if the job's content expired, say so and when (ContentExpiredError).
                if could_be_expiry(exc):
                    expired = await self._expired_content(video_id, exc, extra_headers)
                    if expired is not None:
                        raise expired from exc
                raise
        finally:
            state.cleanup()

    async def _expired_content(
        self, video_id: str, cause: APIStatusError, extra_headers: Mapping[str, str] | None
    ) -> ContentExpiredError | None:
        """The job's own state says whether a 404/410 on its content means it expired."""
        try:
            video = await self.retrieve(video_id, extra_headers=extra_headers)
        except DeerAPIError:
            return None  # the job itself is gone (or unreadable): the original error stands
        return expired_content_error(video, cause)

    @guarded
    async def remix(
        self,
        video_id: str,
        *,
        prompt: str,
        model: str | None = None,
        idempotency_key: str | None = None,
        timeout: TimeoutTypes | None = None,
        extra_headers: Mapping[str, str] | None = None,
        max_retries: int | None = None,
    ) -> Video:
        """Start a paid remix job of a completed video (``POST /v1/videos/{video_id}/remix``).

        Args:
            video_id: the completed job to remix.
            prompt: what to change.
            model: the model id; the API's default when None.
            idempotency_key: sent as ``Idempotency-Key``; one is generated when None.
            timeout: per-attempt request timeout, overriding the client's.
            extra_headers: headers added to this request.
            max_retries: retries for this call, overriding the client's.

        Returns:
            The new job.

        Raises:
            InvalidParameterError: an argument is invalid; nothing was sent.
            JobMayExistError: the POST may have started a job whose answer was lost.
            APIStatusError: the API refused the request (a subclass per status).
        """
        prepared = self._ops.remix(
            video_id,
            prompt=prompt,
            model=model,
            idempotency_key=idempotency_key,
            timeout=timeout,
            extra_headers=extra_headers,
            max_retries=max_retries,
        )
        return await self._send_post(prepared)

    @guarded
    def list(
        self,
        *,
        limit: int = 20,
        order: ListOrderName | ListOrder | None = None,
        after: str | None = None,
        timeout: TimeoutTypes | None = None,
        extra_headers: Mapping[str, str] | None = None,
        max_retries: int | None = None,
    ) -> AsyncIterator[Video]:
        """Iterate over every job (``async for video in client.videos.list()``).

        Pages of ``limit`` are fetched as the iteration needs them (``GET /v1/videos``).

        Args:
            limit: the page size, 1 to 100.
            order: ``"asc"`` or ``"desc"`` by creation time; the API's default when None.
            after: start after this video id.
            timeout: per-attempt request timeout, overriding the client's.
            extra_headers: headers added to every request.
            max_retries: retries of each page, overriding the client's.

        Returns:
            An iterator over the videos of every page.

        Raises:
            InvalidParameterError: an argument is invalid (raised here, before iterating).
            APIStatusError, APIConnectionError: a page could not be read (while iterating).
        """
        validate_limit(limit)
        validate_order(order)
        if after is not None:
            validate_text("after", after)

        async def pages() -> AsyncIterator[Video]:
            cursor = after
            seen: set[str] = set() if after is None else {after}
            while True:
                prepared = self._ops.list_page(
                    after=cursor,
                    limit=limit,
                    order=order,
                    timeout=timeout,
                    extra_headers=extra_headers,
                    max_retries=max_retries,
                )

                page = await self._requester.send(
                    prepared.request, prepared.call, _reader(prepared.parse)
                )
                for video in page.data:
                    yield video
                cursor = next_cursor(page, seen)
                if cursor is None:
                    return

        return pages()

    @guarded
    async def delete(
        self,
        video_id: str,
        *,
        timeout: TimeoutTypes | None = None,
        extra_headers: Mapping[str, str] | None = None,
        max_retries: int | None = None,
    ) -> DeletedVideo:
        """Delete a job (``DELETE /v1/videos/{video_id}``).

        If an attempt's answer was lost (connection dropped after sending, read timeout, 5xx)
        and the retry gets 404, that attempt deleted it: the result is the ``DeletedVideo`` it
        would have returned. A 404 on the first attempt, or after attempts that cannot have
        reached the server, raises.

        Args:
            video_id: the job's id.
            timeout: per-attempt request timeout, overriding the client's.
            extra_headers: headers added to this request.
            max_retries: retries for this call, overriding the client's.

        Returns:
            The deletion confirmation.

        Raises:
            InvalidParameterError: ``video_id`` is not a usable id; nothing was sent.
            NotFoundError: no such job.
        """
        prepared = self._ops.delete(
            video_id, timeout=timeout, extra_headers=extra_headers, max_retries=max_retries
        )
        note_video_id(video_id)
        return await self._requester.send(
            prepared.request,
            prepared.call,
            _reader(prepared.parse),
            on_gone=deleted_result(video_id),
        )


class AsyncDeerAPI:
    """Asynchronous DeerAPI video client.

    Args:
        api_key: the API key; defaults to ``DEERAPI_KEY``. Missing: ``DeerAPIError`` right here.
        base_url: defaults to ``DEERAPI_BASE_URL``, else ``https://api.deerapi.com``. Must be
            https unless the host is loopback.
        timeout: seconds (or an ``httpx.Timeout``) for each request, as in the OpenAI SDK:
            every attempt of a call gets all of it, and a per-call ``timeout=`` overrides it.
            It is not a deadline for the whole call: retries are bounded by ``max_retries`` and
            the waits between them by the backoff cap (8s) and ``Retry-After``. The one
            overall deadline is ``videos.poll(timeout=)`` / ``create_and_poll(poll_timeout=)``.
        max_retries: retries per call (0 sends exactly one request); overridable per call.
        default_headers: headers added to every request.
        http_client: an ``httpx.AsyncClient`` to use; its ``auth`` is set to this client's key
            (sent only to the API host) and its ``base_url`` is set if it had none.
        transport: an ``httpx.AsyncBaseTransport`` to send through (for example a batch
            scheduler's), inside the httpx client this client builds with its own rules
            (auth, timeouts, no redirects, no environment proxy for a loopback API). The
            transport's connection limits apply. Not together with ``http_client``.

    Raises:
        DeerAPIError: no API key; InvalidParameterError: an unusable argument.

    ``client.generated`` is the documented escape hatch: the generated low-level
    ``AuthenticatedClient``, sharing this client's httpx client (and so its auth).
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | httpx.URL | None = None,
        *,
        timeout: TimeoutTypes = 60.0,
        max_retries: int = 2,
        default_headers: Mapping[str, str] | None = None,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if http_client is not None and transport is not None:
            raise InvalidParameterError(
                "transport", "pass it or http_client, not both (give http_client its transport)"
            )
        self._config = ClientConfig.create(
            api_key=api_key,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            default_headers=default_headers,
        )
        if http_client is None:
            http_client = httpx.AsyncClient(
                base_url=self._config.base_url,
                auth=self._config.auth,
                timeout=self._config.timeout,
                follow_redirects=False,
                # Proxy settings from the environment never apply to a plain-http loopback API:
                # the key would travel to the proxy in clear text.
                trust_env=not self._config.plain_http_loopback,
                # httpx's defaults, stated. Keep-alive stays at 20 on purpose: httpcore 1.0's
                # surplus-idle check counts every connection for every idle one (quadratic in
                # open connections, on each pool event). At 100 keep-alive connections that
                # tripled the client CPU of 500 concurrent async jobs (8.1 s vs 2.6 s wall),
                # more than the reconnects that closing surplus idle connections costs.
                limits=httpx.Limits(max_connections=POOL_SIZE, max_keepalive_connections=KEEPALIVE),
                transport=transport,
            )
        else:
            adopt_http_client(http_client, self._config)
        install_time_limits(http_client)
        self._http = http_client
        self._generated = generated_client(self._config).set_async_httpx_client(http_client)
        self._ops = Operations(self._config, self._generated)
        # Concurrent calls wait on a semaphore sized to the pool rather than in httpcore's queue
        # (see the request path). A caller's client gets one when its pool size can be read.
        self._requester = AsyncRequester(
            http_client,
            self._config.auth,
            self._config.policy,
            self._config.redact,
            gate=pool_size(http_client),
        )
        self.videos = AsyncVideos(self)

    @property
    def base_url(self) -> httpx.URL:
        """The API's base URL."""
        return self._config.base_url

    @property
    def max_retries(self) -> int:
        """Retries per call unless a call overrides it."""
        return self._config.policy.max_retries

    @property
    def generated(self) -> AuthenticatedClient:
        """The generated ``AuthenticatedClient`` on the same httpx client (low-level access)."""
        return self._generated

    @property
    def response_deviations(self) -> list[ResponseDeviation]:
        """Where answers differed from the spec, first seen first (each logged once, none
        raised: the client reads answers leniently and needs only ``id`` and ``status``)."""
        return self._ops.deviations.entries()

    async def close(self) -> None:
        """Close the httpx client (also one the caller passed in)."""
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        name = type(self).__name__
        return f"{name}(base_url={str(self.base_url)!r}, max_retries={self.max_retries})"
