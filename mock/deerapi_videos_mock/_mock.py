"""``MockDeerAPI``: the state of one fake DeerAPI (jobs, faults, request log) and its app."""

from __future__ import annotations

import random
import secrets
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

from deerapi_videos.model_table import model_table

from ._app import (
    DEFAULT_MODEL,
    DEFAULT_SECONDS,
    DEFAULT_SIZE,
    MockApp,
    asset_for,
    route,
)
from ._backend import Reply, error_reply, not_found
from ._clock import Clock, ManualClock
from ._faults import Fault
from ._jobs import EXPIRY_SECONDS, JobFailure, MockVideo, failure_from_prompt
from ._media import Asset
from ._shapes import SHAPES, shape_list, shape_video

__all__ = ["DEFECTS", "MockDeerAPI", "RecordedRequest"]

#: Operations a mock can be told not to serve (``unserved=``), as a gateway without the route
#: answers them: 404 with a plain-text body. DeerAPI documents neither.
UNSERVABLE = frozenset({"listVideos", "deleteVideo"})

#: Planted defects: each makes the mock break ``openapi.yaml`` in one known way, so the
#: contract suite can prove it notices. Default: none.
DEFECTS: dict[str, str] = {
    "wrong_field_type": "video objects carry `created_at` as a string, not an integer",
    "missing_required_field": "video objects lack the required `status` field",
    "undocumented_status": "retrieving an unknown video id answers 410 (undocumented), not 404",
    "server_error_on_valid": (
        "valid requests answer 500: listVideos with order=asc, createVideo with seconds='12'"
    ),
    "accept_invalid_input": (
        "invalid input is accepted: seconds/size outside their enums, unknown multipart or JSON "
        "fields, limit outside 1..100 (clamped)"
    ),
    "delete_noop": "delete answers deleted:true but the video stays retrievable",
    "wrong_content_type": "content is served as application/octet-stream (undocumented)",
    "ignore_idempotency": "Idempotency-Key is ignored: every retry starts another paid job",
}


class RecordedRequest(NamedTuple):
    """One request the mock saw. ``status`` is 0 when the connection was cut without a
    (complete) response."""

    method: str
    path: str
    status: int
    request_id: str


class MockDeerAPI:
    """A stateful, in-memory fake of DeerAPI's video API (see the package docstring)."""

    def __init__(
        self,
        api_key: str | None = "sk-mock",
        clock: Clock | None = None,
        job_duration: float = 8.0,
        seed: int | None = 0,
        *,
        advance_on_retrieve: float = 0.0,
        content_size: int | None = None,
        poll_after_ms: int | None = None,
        defects: Iterable[str] = (),
        forbidden_models: Iterable[str] = (),
        chunk_size: int = 1 << 20,
        response_shape: str = "deerapi",
        unserved: Iterable[str] = (),
    ) -> None:
        unknown = set(defects) - set(DEFECTS)
        if unknown:
            raise ValueError(f"unknown defect(s) {sorted(unknown)}; known: {sorted(DEFECTS)}")
        if response_shape not in SHAPES:
            raise ValueError(f"unknown response shape {response_shape!r}; known: {sorted(SHAPES)}")
        unservable = set(unserved) - UNSERVABLE
        if unservable:
            raise ValueError(
                f"cannot leave {sorted(unservable)} unserved; only {sorted(UNSERVABLE)}"
            )
        if job_duration < 0:
            raise ValueError("job_duration must be >= 0")
        self.api_key = api_key
        self.clock: Clock = clock if clock is not None else ManualClock()
        self.job_duration = float(job_duration)
        self.advance_on_retrieve = float(advance_on_retrieve)
        self.content_size = content_size
        self.poll_after_ms = poll_after_ms
        self.defects: frozenset[str] = frozenset(defects)
        self.forbidden_models: frozenset[str] = frozenset(forbidden_models)
        self.chunk_size = chunk_size
        #: How answers look: ``"deerapi"`` (as the spec says) or ``"proxy"`` (a gateway's shape).
        self.response_shape = response_shape
        #: Operations answered as a server without the route would (404, plain text).
        self.unserved: frozenset[str] = frozenset(unserved)
        self._seed = seed
        self._lock = threading.RLock()
        self._app = MockApp(self)
        self.reset()

    # -- public API ----------------------------------------------------------------------------

    @property
    def app(self) -> MockApp:
        """The ASGI app (for ``httpx.ASGITransport``, schemathesis' ``from_asgi``, uvicorn)."""
        return self._app

    def reset(self) -> None:
        """Forget every job, fault, idempotency key and logged request."""
        with self._lock:
            self._random = random.Random(self._seed) if self._seed is not None else None
            self._videos: dict[str, MockVideo] = {}
            self._positions: dict[str, tuple[float, int]] = {}
            self._idempotency: dict[str, tuple[tuple[Any, ...], str, str]] = {}
            self._pending_failures: list[JobFailure] = []
            self._seq = 0
            self.paid_jobs: list[MockVideo] = []
            self.requests: list[RecordedRequest] = []
            self.faults: list[Fault] = []

    def inject(self, *faults: Fault) -> Fault:
        """Add faults (they fire in the order given); returns the last one, for ``.fired``."""
        if not faults:
            raise TypeError("inject() needs at least one Fault")
        with self._lock:
            self.faults.extend(faults)
        return faults[-1]

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    def fail_next_job(self, code: str = "generation_failed", message: str | None = None) -> None:
        """Make the next created (or remixed) job fail with ``error: {code, message}``."""
        with self._lock:
            self._pending_failures.append(JobFailure(code, message))

    def advance(self, seconds: float) -> None:
        """Move the clock forward (same as ``mock.clock.advance``)."""
        self.clock.advance(seconds)

    def complete(self, video_id: str) -> None:
        """Finish one job now (``completed``, or ``failed`` if it was marked to fail)."""
        with self._lock:
            video = self._videos.get(video_id)
            if video is None:
                raise KeyError(video_id)
            video.finish(self.clock.now())

    def complete_all(self) -> None:
        """Fast-forward every job to its end."""
        with self._lock:
            now = self.clock.now()
            for video in self._videos.values():
                video.finish(now)

    def get(self, video_id: str) -> MockVideo | None:
        """The job with this id, unless deleted."""
        with self._lock:
            return self._videos.get(video_id)

    @property
    def videos(self) -> list[MockVideo]:
        """Jobs not deleted, oldest first."""
        with self._lock:
            return sorted(self._videos.values(), key=lambda v: (v.created, v.seq))

    def status_of(self, video_id: str) -> str:
        video = self.get(video_id)
        if video is None:
            raise KeyError(video_id)
        return video.state(self.clock.now()).status

    def add_video(
        self,
        prompt: str = "a seeded video",
        *,
        model: str = DEFAULT_MODEL,
        seconds: str | None = None,
        size: str | None = None,
        completed: bool = True,
        failure: JobFailure | None = None,
    ) -> MockVideo:
        """Put a job in the store without a request (not a paid job); finished by default.
        ``seconds`` and ``size`` default to the model's (from the model table)."""
        spec = model_table().get(model)
        seconds = seconds or (spec.default_seconds if spec is not None else DEFAULT_SECONDS)
        size = size or (spec.default_size if spec is not None else DEFAULT_SIZE)
        with self._lock:
            video = self._new_video("seeded", prompt, model, seconds, size, None, (), failure, None)
            if completed:
                video.finish(self.clock.now())
            return video

    def requests_for(self, operation: str) -> list[RecordedRequest]:
        """The logged requests of one operationId."""
        return [r for r in self.requests if route(r.method, r.path)[0] == operation]

    def request_log(self) -> list[dict[str, Any]]:
        """The request log as JSON-ready objects (``method``, ``path``, ``status``,
        ``request_id``, ``operation``): what ``GET /_mock/requests`` serves over loopback."""
        with self._lock:
            entries = list(self.requests)
        return [{**r._asdict(), "operation": route(r.method, r.path)[0]} for r in entries]

    @contextmanager
    def serve(self, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
        """Serve the mock with uvicorn on ``host:port`` in a background thread; yields the base
        URL (``http://127.0.0.1:<actual port>``). Port 0 picks a free port."""
        from ._server import LoopbackServer

        server = LoopbackServer(self.app, host=host, port=port)
        server.start()
        try:
            yield server.base_url
        finally:
            server.stop()

    # -- used by the app -------------------------------------------------------------------------

    def _next_request_id(self) -> str:
        with self._lock:
            return "req_" + self._hex(32)

    def _hex(self, n: int) -> str:
        if self._random is None:
            return secrets.token_hex(n // 2)
        return f"{self._random.getrandbits(4 * n):0{n}x}"

    def _record(self, method: str, path: str, status: int, request_id: str) -> None:
        with self._lock:
            self.requests.append(RecordedRequest(method, path, status, request_id))

    def _active_faults(self, operation: str) -> list[Fault]:
        with self._lock:
            self.faults[:] = [f for f in self.faults if not f.exhausted]
            return [f for f in self.faults if f.applies_to(operation)]

    def _render(self, video: MockVideo, shape: str = "full") -> dict[str, Any]:
        body = shape_video(video.to_dict(self.clock.now(), shape), self.response_shape)
        if "wrong_field_type" in self.defects:
            body["created_at"] = str(body["created_at"])
        if "missing_required_field" in self.defects:
            del body["status"]
        return body

    def _new_video(
        self,
        operation: str,
        prompt: str,
        model: str,
        seconds: str,
        size: str,
        source_id: str | None,
        references: tuple[bytes, ...],
        failure: JobFailure | None,
        key: str | None,
    ) -> MockVideo:
        self._seq += 1
        spec = model_table().get(model)
        ttl = spec.content_ttl_seconds if spec is not None else None
        video = MockVideo(
            id="video_" + self._hex(48),
            operation=operation,
            prompt=prompt,
            model=model,
            seconds=seconds,
            size=size,
            created=self.clock.now(),
            duration=self.job_duration,
            seq=self._seq,
            remixed_from_video_id=source_id,
            input_reference=references[0] if references else None,
            input_references=references,
            expires_after=EXPIRY_SECONDS if ttl is None else ttl,
            failure=failure,
            idempotency_key=key,
        )
        self._videos[video.id] = video
        self._positions[video.id] = (video.created, video.seq)
        return video

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
    ) -> Reply:
        shape = "remix" if operation == "remixVideo" else "full"
        with self._lock:
            if "ignore_idempotency" in self.defects:
                key = None
            if key is not None and key in self._idempotency:
                stored_fp, video_id, stored_shape = self._idempotency[key]
                if stored_fp != fingerprint:
                    return error_reply(
                        409,
                        "Keys for idempotent requests can only be used with the same parameters "
                        "they were first used with.",
                        param="Idempotency-Key",
                        code="idempotency_key_reused",
                    )
                replay = self._videos.get(video_id)
                if replay is None:
                    # Replaying the answer would hand out an id that now answers 404.
                    return error_reply(
                        409,
                        f"The job created for this Idempotency-Key ({video_id}) was deleted; "
                        "use a new key to start another job.",
                        param="Idempotency-Key",
                        code="idempotency_key_job_deleted",
                    )
                body = self._render(replay, stored_shape)
                return Reply(200, body, headers=[("idempotent-replayed", "true")])
            source: MockVideo | None = None
            if source_id is not None:
                source = self._videos.get(source_id)
                if source is None:
                    return error_reply(
                        404,
                        f"Video with id '{source_id}' not found.",
                        param="video_id",
                        code="video_not_found",
                    )
                status = source.state(self.clock.now()).status
                if status != "completed":
                    return error_reply(
                        409,
                        f"Video '{source_id}' is {status}; only a completed video can be remixed.",
                        param="video_id",
                        code="video_not_completed",
                    )
            final_model = model or (source.model if source is not None else DEFAULT_MODEL)
            spec = model_table().get(final_model)
            if source is not None and spec is not None and not spec.remix:
                return error_reply(
                    400,
                    f"Model '{final_model}' ({spec.family}) does not support remix.",
                    param="model",
                    code="remix_not_supported",
                )
            if final_model in self.forbidden_models:
                return error_reply(
                    403,
                    f"This key may not use the model '{final_model}'.",
                    type_="permission_error",
                    param="model",
                    code="model_not_allowed",
                )
            if seconds == "12" and "server_error_on_valid" in self.defects:
                return error_reply(
                    500,
                    "The server had an error while processing your request.",
                    type_="server_error",
                )
            failure = failure_from_prompt(prompt)
            if failure is None and self._pending_failures:
                failure = self._pending_failures.pop(0)
            if source is not None:
                default_seconds, default_size = source.seconds, source.size
            elif spec is not None:
                default_seconds, default_size = spec.default_seconds, spec.default_size
            else:
                default_seconds, default_size = DEFAULT_SECONDS, DEFAULT_SIZE
            video = self._new_video(
                operation,
                prompt,
                final_model,
                seconds or default_seconds,
                size or default_size,
                source_id,
                input_references,
                failure,
                key,
            )
            self.paid_jobs.append(video)
            body = self._render(video, shape)
            if key is not None:
                self._idempotency[key] = (fingerprint, video.id, shape)
            return Reply(200, body)

    def _retrieve(self, video_id: str) -> Reply:
        with self._lock:
            video = self._videos.get(video_id)
            if video is None:
                if "undocumented_status" in self.defects:
                    return error_reply(410, f"Video '{video_id}' is gone.", code="gone")
                return not_found(video_id)
            now = self.clock.now()
            if self.advance_on_retrieve > 0:
                video.boost_by(self.advance_on_retrieve, now)
            headers: list[tuple[str, str]] = []
            if self.poll_after_ms is not None and not video.state(now).terminal:
                headers.append(("openai-poll-after-ms", str(self.poll_after_ms)))
            return Reply(200, self._render(video), headers=headers)

    def _delete(self, video_id: str) -> Reply:
        with self._lock:
            video = self._videos.get(video_id)
            if video is None:
                return not_found(video_id)
            if "delete_noop" not in self.defects:
                del self._videos[video_id]
                video.deleted = True
            return Reply(200, {"id": video_id, "object": "video.deleted", "deleted": True})

    def _list(self, *, after: str | None, limit: int, order: str) -> Reply:
        with self._lock:
            videos = sorted(self._videos.values(), key=lambda v: (v.created, v.seq))
            if order == "desc":
                videos.reverse()
            if after is not None:
                cursor = self._positions.get(after)
                if cursor is None:
                    videos = []  # an unknown cursor has nothing after it
                elif order == "desc":
                    videos = [v for v in videos if (v.created, v.seq) < cursor]
                else:
                    videos = [v for v in videos if (v.created, v.seq) > cursor]
            page = videos[:limit]
            data = [self._render(v) for v in page]
            body = {
                "object": "list",
                "data": data,
                "first_id": page[0].id if page else None,
                "last_id": page[-1].id if page else None,
                "has_more": len(videos) > limit,
            }
            return Reply(200, shape_list(body, self.response_shape))

    def _content_asset(self, video_id: str, variant: str) -> Asset | Reply:
        with self._lock:
            video = self._videos.get(video_id)
            if video is None:
                return not_found(video_id)
            now = self.clock.now()
            status = video.state(now).status
            if status != "completed":
                return error_reply(
                    409,
                    f"Video '{video_id}' is {status}; content is available once it is completed.",
                    param="video_id",
                    code="video_not_ready",
                )
            if video.expired(now):
                return error_reply(
                    410,
                    f"The content of video '{video_id}' expired at "
                    f"{video.state(now).expires_at} and was deleted.",
                    param="video_id",
                    code="content_expired",
                )
            return asset_for(video, variant, self.content_size)
