"""A stateful, in-memory fake of DeerAPI's video API (Sora 2 and Veo 3), for tests (like
stripe-mock).

Install with ``pip install 'deerapi-videos[mock]'``. The client never imports this package.

Quick start::

    from deerapi_videos_mock import MockDeerAPI, Fault

    mock = MockDeerAPI()                      # accepts "Authorization: Bearer sk-mock"
    transport = httpx.ASGITransport(app=mock.app)   # in-process, no sockets
    ...
    mock.clock.advance(8)                     # jobs move on the mock's clock, never real time
    mock.complete_all()                       # or jump every job to its end
    with mock.serve() as base_url: ...        # a real uvicorn server on 127.0.0.1:<free port>

Behaviour (everything answers only what ``openapi.yaml`` allows, unless a fault or defect says
otherwise):

- Auth: ``Authorization: Bearer <api_key>``; ``api_key=None`` accepts any non-empty key.
  Missing or wrong: 401 with the error envelope.
- Models: the parameter domains are the client's model table (``deerapi_videos.model_table``,
  the same data the client validates with). A known model gets its row: its ``seconds`` and
  ``size`` values (Veo 3: aspect sizes such as ``16x9``), its defaults when they are omitted, at
  most its number of ``input_reference`` parts (Veo 3: two, first and last frame, kept in order
  on ``MockVideo.input_references``), remix only where its row allows it, and ``expires_at``
  its content lifetime after ``completed_at`` (Veo 3: one hour). Unknown model ids are
  accepted with any non-empty ``seconds``/``size``.
- Validation: invalid input answers 400 with ``error.param`` naming the field (``prompt``,
  ``model``, ``seconds``, ``size``, ``input_reference`` (JPEG/PNG/WebP by magic bytes),
  unknown fields, ``limit``, ``after``, ``order``, ``variant``, ``Idempotency-Key``, a
  ``Range`` outside the asset).
- Lifecycle (mock seconds, ``job_duration`` D, default 8): ``queued`` for D/8, then
  ``in_progress`` with rising ``progress``, ``completed`` at D. ``job_duration=0`` finishes
  jobs at creation. ``advance_on_retrieve=s`` ages a job by ``s`` on each retrieve of it, so a
  poller with no access to the clock (schemathesis' stateful phase) sees it finish.
- Failure: a prompt containing ``[mock:fail]`` (code ``generation_failed``) or
  ``[mock:fail=<code>]`` (e.g. ``[mock:fail=moderation_blocked]``) turns ``failed`` at D/2;
  ``mock.fail_next_job(code, message)`` fails the next created or remixed job.
- Remix: source must be ``completed`` (else 409); unknown source 404; records
  ``remixed_from_video_id``. Create answers the 12-field video, remix the remix page's 9.
- Delete removes the job (later reads 404). List pages by ``created_at`` with ``after`` cursors
  (cursors of deleted jobs keep working); an unknown cursor gives an empty page.
- Content: ``video`` is a valid H.264 MP4 (``content_size`` pads it to any size, streamed
  lazily), ``thumbnail`` a WebP, ``spritesheet`` a JPEG. ``Content-Length`` and
  ``Accept-Ranges: bytes`` always; ``Range: bytes=N-``/``N-M``/``-S`` answers 206 with
  ``Content-Range``; 409 before completion; 404 unknown id; 410 (``content_expired``) once the
  job's ``expires_at`` has passed on the mock's clock.
- Idempotency: the same ``Idempotency-Key`` and body on create/remix returns the same job
  (header ``Idempotent-Replayed: true``; never a second paid job); another body answers 409,
  and so does a key whose job was deleted since.
- Every response carries ``X-Request-Id: req_<32 hex>``; ``mock.requests`` logs
  ``(method, path, status, request_id)`` (status 0: connection cut). Over loopback,
  ``GET /_mock/requests`` (no auth, not itself logged) serves the same log as JSON
  (``{"object": "list", "data": [{method, path, status, request_id, operation}, ...]}``), so
  a test can count the POSTs a served mock saw.
- ``response_shape="proxy"`` answers as a new-api style gateway would (empty fields omitted,
  float ``progress``, extra ``task_id``/``usage``, list pages without ``has_more``,
  ``X-Oneapi-Request-Id``); ``unserved={"listVideos", "deleteVideo"}`` answers those as a
  server without the route (404, plain text). See :data:`SHAPES`, :data:`UNSERVABLE`.
- ``GET /openapi.yaml`` (no auth) serves the spec, so ``schemathesis run <base>/openapi.yaml``
  works against a served mock.
- Faults: see :class:`Fault`. Planted defects: see :data:`DEFECTS`.
"""

from __future__ import annotations

try:
    import starlette  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "deerapi_videos_mock needs the [mock] extra: pip install 'deerapi-videos[mock]'"
    ) from exc

from ._app import ABORT_EXTENSION, asset_for
from ._clock import DEFAULT_EPOCH, Clock, ManualClock, ScaledClock
from ._faults import OPERATIONS, Fault, FaultKind
from ._jobs import FAIL_MARKER, JobFailure, MockVideo
from ._limits import LimitedMock, Limits, PostRecord
from ._media import Asset
from ._mock import DEFECTS, UNSERVABLE, MockDeerAPI, RecordedRequest
from ._run import main, run
from ._shapes import SHAPES

__all__ = [
    "ABORT_EXTENSION",
    "DEFAULT_EPOCH",
    "DEFECTS",
    "FAIL_MARKER",
    "OPERATIONS",
    "SHAPES",
    "UNSERVABLE",
    "Asset",
    "Clock",
    "Fault",
    "FaultKind",
    "JobFailure",
    "LimitedMock",
    "Limits",
    "ManualClock",
    "MockDeerAPI",
    "MockVideo",
    "PostRecord",
    "RecordedRequest",
    "ScaledClock",
    "asset_for",
    "main",
    "run",
]
