"""``DeerAPI`` / ``AsyncDeerAPI`` and their ``.videos`` resources.

The resources validate and build requests through :mod:`._operations` (generated
``_get_kwargs``), send them through the one request path in :mod:`._request`, and parse 2xx
bodies with the generated models after checking them against those models' annotations
(:mod:`._response_check`). Sync and async share every decision; only the I/O differs.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Self, TypeVar

import httpx

from . import _clock
from ._auth import REDACTED
from ._config import ClientConfig, TimeoutTypes
from ._download import DownloadState, ProgressCallback
from ._errors import APIConnectionError, ConflictError
from ._operations import Operations, Prepared, next_cursor
from ._polling import Poller, ensure_not_failed
from ._request import AsyncRequester, SyncRequester, pool_size
from ._validation import (
    validate_limit,
    validate_order,
    validate_text,
    validate_timeout,
    validate_video_id,
)

if TYPE_CHECKING:  # the generated layer loads when a client is constructed, not at import
    from deerapi_videos_generated.client import AuthenticatedClient
    from deerapi_videos_generated.models.deleted_video import DeletedVideo
    from deerapi_videos_generated.models.video import Video

__all__ = ["AsyncDeerAPI", "AsyncVideos", "DeerAPI", "Videos"]

T = TypeVar("T")

DEFAULT_POLL_TIMEOUT = 900.0
ASYNC_POOL_SIZE = 100  # connections of the httpx client AsyncDeerAPI builds (httpx's default)
ASYNC_WRITE_BLOCK = 1 << 20  # async downloads write in blocks of this size, off the event loop
ASYNC_KEEPALIVE = 20  # idle connections it keeps (httpx's default; see AsyncDeerAPI)


def _sync_reader(parse: Callable[[httpx.Response], T]) -> Callable[[httpx.Response], T]:
    def handle(response: httpx.Response) -> T:
        response.read()
        return parse(response)

    return handle


def _async_reader(
    parse: Callable[[httpx.Response], T],
) -> Callable[[httpx.Response], Awaitable[T]]:
    async def handle(response: httpx.Response) -> T:
        await response.aread()
        return parse(response)

    return handle


def _deleted(video_id: str) -> Callable[[], DeletedVideo]:
    """What a DELETE whose answer was lost returns once a retry shows the video gone."""

    def gone() -> DeletedVideo:
        from deerapi_videos_generated.models.deleted_video import DeletedVideo

        return DeletedVideo(id=video_id, object_="video.deleted", deleted=True)

    return gone


def _generated_client(config: ClientConfig) -> AuthenticatedClient:
    from deerapi_videos_generated.client import AuthenticatedClient

    # The generated client keeps its token in an attrs field that its repr shows, so it gets a
    # placeholder: requests are authenticated by the shared httpx client's BearerAuth instead.
    return AuthenticatedClient(
        base_url=str(config.base_url), token=REDACTED, timeout=config.timeout
    )


def _adopt(http: httpx.Client | httpx.AsyncClient, config: ClientConfig) -> None:
    """Make a caller's httpx client serve the generated escape hatch too."""
    http.auth = config.auth
    if not http.base_url.host:
        http.base_url = config.base_url


class Videos:
    """``client.videos``: create, retrieve, poll, download, remix, list and delete video jobs."""

    def __init__(self, client: DeerAPI) -> None:
        self._client = client
        self._ops = client._ops
        self._requester = client._requester

    def _send(self, prepared: Prepared[Video]) -> Video:
        return self._requester.send(prepared.request, prepared.call, _sync_reader(prepared.parse))

    def create(
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
        """Start a paid video job (POST /v1/videos). See ``JobMayExistError`` for failures."""
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
        return self._send(prepared)

    def retrieve(
        self,
        video_id: str,
        *,
        timeout: TimeoutTypes | None = None,
        extra_headers: Mapping[str, str] | None = None,
        max_retries: int | None = None,
    ) -> Video:
        prepared = self._ops.retrieve(
            video_id, timeout=timeout, extra_headers=extra_headers, max_retries=max_retries
        )
        return self._send(prepared)

    def _poll_read(
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
            prepared.call, deadline=poller.deadline, on_deadline=poller.on_deadline
        )

        def handle(response: httpx.Response) -> tuple[Video, httpx.Headers]:
            response.read()
            return prepared.parse(response), response.headers

        return self._requester.send(prepared.request, call, handle)

    def poll(
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
        runs inside it, every request's timeout clipped to what is left. Returns the completed
        video; raises ``VideoFailedError`` when it failed or otherwise ended without a video,
        ``PollTimeoutError`` at the deadline, also when the deadline cut a failing read short
        (the failure is its ``__cause__``). Resume with ``poll``: no new job is needed.
        """
        vid = validate_video_id(video_id)
        poller = Poller(
            vid,
            timeout=validate_timeout(timeout),
            poll_interval=None if poll_interval is None else validate_timeout(poll_interval),
            on_progress=on_progress,
            started=_clock.now(),
        )
        while True:
            if poller.left(_clock.now()) <= 0:
                raise poller.timed_out()
            video, headers = self._poll_read(
                vid, poller, extra_headers=extra_headers, max_retries=max_retries
            )
            done = poller.observe(video)
            if done is not None:
                return done
            _clock.sleep(poller.next_delay(headers, _clock.now()))

    def create_and_poll(
        self,
        *,
        prompt: str,
        model: str | None = None,
        seconds: str | int | None = None,
        size: str | None = None,
        input_reference: object = None,
        idempotency_key: str | None = None,
        poll_timeout: float = DEFAULT_POLL_TIMEOUT,
        poll_interval: float | None = None,
        on_progress: Callable[[Video], object] | None = None,
        timeout: TimeoutTypes | None = None,
        extra_headers: Mapping[str, str] | None = None,
        max_retries: int | None = None,
    ) -> Video:
        """``create`` then ``poll``. ``timeout`` is the POST's per-attempt request timeout;
        ``poll_timeout`` is the polling deadline (it starts once the job exists)."""
        video = self.create(
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
        return self.poll(
            video.id,
            timeout=poll_timeout,
            poll_interval=poll_interval,
            on_progress=on_progress,
            extra_headers=extra_headers,
            max_retries=max_retries,
        )

    def download_content(
        self,
        video_id: str,
        path: str | os.PathLike[str],
        variant: str = "video",
        *,
        on_bytes: ProgressCallback | None = None,
        timeout: TimeoutTypes | None = None,
        extra_headers: Mapping[str, str] | None = None,
        max_retries: int | None = None,
    ) -> Path:
        """Stream the content to ``path``; ``on_bytes(done, total)`` reports progress."""
        request, call = self._ops.download(
            video_id,
            variant=variant,
            timeout=timeout,
            extra_headers=extra_headers,
            max_retries=max_retries,
        )
        state = DownloadState(path, on_bytes)
        try:

            def handle(response: httpx.Response) -> Path:
                state.begin(response)
                for chunk in response.iter_bytes():
                    state.write(chunk)
                return state.finish(request)

            try:
                return self._requester.send(request, call, handle, state.before_attempt)
            except APIConnectionError as exc:
                if state.started:
                    raise state.failed(exc) from exc
                raise
            except ConflictError:
                # 409: not completed. If the job failed, say so rather than "conflict".
                ensure_not_failed(self.retrieve(video_id, extra_headers=extra_headers))
                raise
        finally:
            state.cleanup()

    def remix(
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
        """Start a paid remix job of a completed video."""
        prepared = self._ops.remix(
            video_id,
            prompt=prompt,
            model=model,
            idempotency_key=idempotency_key,
            timeout=timeout,
            extra_headers=extra_headers,
            max_retries=max_retries,
        )
        return self._send(prepared)

    def list(
        self,
        *,
        limit: int = 20,
        order: str | None = None,
        after: str | None = None,
        timeout: TimeoutTypes | None = None,
        extra_headers: Mapping[str, str] | None = None,
        max_retries: int | None = None,
    ) -> Iterator[Video]:
        """Iterate over every job, fetching pages of ``limit`` as needed."""
        validate_limit(limit)
        validate_order(order)
        if after is not None:
            validate_text("after", after)

        def pages() -> Iterator[Video]:
            cursor = after
            while True:
                prepared = self._ops.list_page(
                    after=cursor,
                    limit=limit,
                    order=order,
                    timeout=timeout,
                    extra_headers=extra_headers,
                    max_retries=max_retries,
                )

                page = self._requester.send(
                    prepared.request, prepared.call, _sync_reader(prepared.parse)
                )
                yield from page.data
                cursor = next_cursor(page, cursor)
                if cursor is None:
                    return

        return pages()

    def delete(
        self,
        video_id: str,
        *,
        timeout: TimeoutTypes | None = None,
        extra_headers: Mapping[str, str] | None = None,
        max_retries: int | None = None,
    ) -> DeletedVideo:
        """Delete a job. If an attempt's answer was lost (connection dropped after sending, read
        timeout, 5xx) and the retry gets 404, that attempt deleted it: the result is the
        ``DeletedVideo`` it would have returned. A 404 on the first attempt raises."""
        prepared = self._ops.delete(
            video_id, timeout=timeout, extra_headers=extra_headers, max_retries=max_retries
        )
        return self._requester.send(
            prepared.request,
            prepared.call,
            _sync_reader(prepared.parse),
            on_gone=_deleted(video_id),
        )


class DeerAPI:
    """Synchronous DeerAPI Sora 2 client.

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
        http_client: an ``httpx.Client`` to use; its ``auth`` is set to this client's key (sent
            only to the API host) and its ``base_url`` is set if it had none.

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
        http_client: httpx.Client | None = None,
    ) -> None:
        self._config = ClientConfig.create(
            api_key=api_key,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            default_headers=default_headers,
        )
        if http_client is None:
            http_client = httpx.Client(
                base_url=self._config.base_url,
                auth=self._config.auth,
                timeout=self._config.timeout,
                follow_redirects=False,
            )
        else:
            _adopt(http_client, self._config)
        self._http = http_client
        self._generated = _generated_client(self._config).set_httpx_client(http_client)
        self._ops = Operations(self._config, self._generated)
        self._requester = SyncRequester(
            http_client, self._config.auth, self._config.policy, self._config.redact
        )
        self.videos = Videos(self)

    @property
    def base_url(self) -> httpx.URL:
        return self._config.base_url

    @property
    def max_retries(self) -> int:
        return self._config.policy.max_retries

    @property
    def generated(self) -> AuthenticatedClient:
        """The generated ``AuthenticatedClient`` on the same httpx client (low-level access)."""
        return self._generated

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"DeerAPI(base_url={str(self.base_url)!r}, max_retries={self.max_retries})"


class AsyncVideos:
    """``client.videos`` of :class:`AsyncDeerAPI`; mirrors :class:`Videos`."""

    def __init__(self, client: AsyncDeerAPI) -> None:
        self._client = client
        self._ops = client._ops
        self._requester = client._requester

    async def _send(self, prepared: Prepared[Video]) -> Video:
        return await self._requester.send(
            prepared.request, prepared.call, _async_reader(prepared.parse)
        )

    async def create(
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
        return await self._send(prepared)

    async def retrieve(
        self,
        video_id: str,
        *,
        timeout: TimeoutTypes | None = None,
        extra_headers: Mapping[str, str] | None = None,
        max_retries: int | None = None,
    ) -> Video:
        prepared = self._ops.retrieve(
            video_id, timeout=timeout, extra_headers=extra_headers, max_retries=max_retries
        )
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
            prepared.call, deadline=poller.deadline, on_deadline=poller.on_deadline
        )

        async def handle(response: httpx.Response) -> tuple[Video, httpx.Headers]:
            await response.aread()
            return prepared.parse(response), response.headers

        return await self._requester.send(prepared.request, call, handle)

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
        vid = validate_video_id(video_id)
        poller = Poller(
            vid,
            timeout=validate_timeout(timeout),
            poll_interval=None if poll_interval is None else validate_timeout(poll_interval),
            on_progress=on_progress,
            started=_clock.now(),
        )
        while True:
            if poller.left(_clock.now()) <= 0:
                raise poller.timed_out()
            video, headers = await self._poll_read(
                vid, poller, extra_headers=extra_headers, max_retries=max_retries
            )
            done = poller.observe(video)
            if done is not None:
                return done
            await _clock.asleep(poller.next_delay(headers, _clock.now()))

    async def create_and_poll(
        self,
        *,
        prompt: str,
        model: str | None = None,
        seconds: str | int | None = None,
        size: str | None = None,
        input_reference: object = None,
        idempotency_key: str | None = None,
        poll_timeout: float = DEFAULT_POLL_TIMEOUT,
        poll_interval: float | None = None,
        on_progress: Callable[[Video], object] | None = None,
        timeout: TimeoutTypes | None = None,
        extra_headers: Mapping[str, str] | None = None,
        max_retries: int | None = None,
    ) -> Video:
        """``create`` then ``poll``; ``timeout`` per POST attempt, ``poll_timeout`` a deadline."""
        video = await self.create(
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
        return await self.poll(
            video.id,
            timeout=poll_timeout,
            poll_interval=poll_interval,
            on_progress=on_progress,
            extra_headers=extra_headers,
            max_retries=max_retries,
        )

    async def download_content(
        self,
        video_id: str,
        path: str | os.PathLike[str],
        variant: str = "video",
        *,
        on_bytes: ProgressCallback | None = None,
        timeout: TimeoutTypes | None = None,
        extra_headers: Mapping[str, str] | None = None,
        max_retries: int | None = None,
    ) -> Path:
        """Stream the content to ``path``; ``on_bytes(done, total)`` reports progress.

        File writes (blocks of about 1 MiB) and the final fsync and rename run in worker
        threads, so a download does not stall other tasks; ``on_bytes`` is called on the loop.
        """
        import asyncio  # here: ``import deerapi_videos`` does not load asyncio

        request, call = self._ops.download(
            video_id,
            variant=variant,
            timeout=timeout,
            extra_headers=extra_headers,
            max_retries=max_retries,
        )
        state = DownloadState(path, on_bytes)  # checks the path, creates the temp file
        try:

            async def handle(response: httpx.Response) -> Path:
                state.begin(response)
                block: list[bytes] = []
                size = 0
                try:
                    async for chunk in response.aiter_bytes():
                        if not chunk:
                            continue
                        block.append(chunk)
                        size += len(chunk)
                        if size >= ASYNC_WRITE_BLOCK:
                            await asyncio.to_thread(state.write_only, b"".join(block))
                            block.clear()
                            size = 0
                        state.report(pending=size)
                except httpx.TransportError:
                    # The body broke off: keep what arrived, so a retry with Range resumes
                    # after it.
                    if size:
                        await asyncio.to_thread(state.write_only, b"".join(block))
                    raise
                # The last block, fsync and rename in one thread hop (one in all for a body
                # under ASYNC_WRITE_BLOCK).
                return await asyncio.to_thread(state.finish, request, b"".join(block))

            try:
                return await self._requester.send(request, call, handle, state.before_attempt)
            except APIConnectionError as exc:
                if state.started:
                    raise state.failed(exc) from exc
                raise
            except ConflictError:
                ensure_not_failed(await self.retrieve(video_id, extra_headers=extra_headers))
                raise
        finally:
            state.cleanup()

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
        prepared = self._ops.remix(
            video_id,
            prompt=prompt,
            model=model,
            idempotency_key=idempotency_key,
            timeout=timeout,
            extra_headers=extra_headers,
            max_retries=max_retries,
        )
        return await self._send(prepared)

    def list(
        self,
        *,
        limit: int = 20,
        order: str | None = None,
        after: str | None = None,
        timeout: TimeoutTypes | None = None,
        extra_headers: Mapping[str, str] | None = None,
        max_retries: int | None = None,
    ) -> AsyncIterator[Video]:
        """``async for video in client.videos.list(): ...`` across all pages."""
        validate_limit(limit)
        validate_order(order)
        if after is not None:
            validate_text("after", after)

        async def pages() -> AsyncIterator[Video]:
            cursor = after
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
                    prepared.request, prepared.call, _async_reader(prepared.parse)
                )
                for video in page.data:
                    yield video
                cursor = next_cursor(page, cursor)
                if cursor is None:
                    return

        return pages()

    async def delete(
        self,
        video_id: str,
        *,
        timeout: TimeoutTypes | None = None,
        extra_headers: Mapping[str, str] | None = None,
        max_retries: int | None = None,
    ) -> DeletedVideo:
        """Delete a job; a 404 to a retry after a lost answer is success (see ``Videos.delete``)."""
        prepared = self._ops.delete(
            video_id, timeout=timeout, extra_headers=extra_headers, max_retries=max_retries
        )
        return await self._requester.send(
            prepared.request,
            prepared.call,
            _async_reader(prepared.parse),
            on_gone=_deleted(video_id),
        )


class AsyncDeerAPI:
    """Asynchronous DeerAPI Sora 2 client; same arguments as :class:`DeerAPI`."""

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | httpx.URL | None = None,
        *,
        timeout: TimeoutTypes = 60.0,
        max_retries: int = 2,
        default_headers: Mapping[str, str] | None = None,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
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
                # httpx's defaults, stated. Keep-alive stays at 20 on purpose: httpcore 1.0's
                # surplus-idle check counts every connection for every idle one (quadratic in
                # open connections, on each pool event). At 100 keep-alive connections that
                # tripled the client CPU of 500 concurrent jobs (8.1 s vs 2.6 s wall), more
                # than the reconnects that closing surplus idle connections costs.
                limits=httpx.Limits(
                    max_connections=ASYNC_POOL_SIZE, max_keepalive_connections=ASYNC_KEEPALIVE
                ),
            )
        else:
            _adopt(http_client, self._config)
        self._http = http_client
        self._generated = _generated_client(self._config).set_async_httpx_client(http_client)
        self._ops = Operations(self._config, self._generated)
        # Concurrent calls wait on a semaphore sized to the pool rather than in httpcore's queue
        # (see AsyncRequester). A caller's client gets one when its pool size can be read.
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
        return self._config.base_url

    @property
    def max_retries(self) -> int:
        return self._config.policy.max_retries

    @property
    def generated(self) -> AuthenticatedClient:
        """The generated ``AuthenticatedClient`` on the same httpx client (low-level access)."""
        return self._generated

    async def close(self) -> None:
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
        return f"AsyncDeerAPI(base_url={str(self.base_url)!r}, max_retries={self.max_retries})"
