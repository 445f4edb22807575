"""The paid-job budget of a live conformance run, and the guard that enforces it on the wire.

Every create (``POST /v1/videos``) or remix (``POST /v1/videos/{id}/remix``) that the live API
accepts starts a job somebody pays for. A live run therefore:

1. starts at most ``Budget.max_paid_jobs`` jobs itself, explicitly, with ``CHEAPEST_SETTINGS``
   (see ``_engine``): its create, a remix of it, and the Idempotency-Key probe's two creates,
   in that order, each only if what is left of the budget covers it, and
2. lets schemathesis send a create/remix only if it is an input the API must reject for free:
   ``defuse_case`` rewrites every other generated create/remix before it is sent (it drops the
   required ``prompt``, so the request is a missing-required-field case and its checks expect a
   rejection), and
3. as the last line of defence, ``PaidRequestGuard`` looks at the exact bytes of every request
   on the wire and refuses to send one that could start a job unless the engine armed it for one
   of its own budgeted calls. A refused request raises ``BudgetExceeded``; it never leaves the
   process.

"Could start a job" is decided conservatively from what the server would see: valid credentials
and a body in which a non-empty ``prompt`` can be found. Nothing else counts as a sure rejection:
``seconds`` and ``size`` take any string for a model the model table does not know, and a server
may be lenient about a known model's values. An unparseable body that mentions ``prompt`` counts
as paid.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

import requests
from deerapi_videos.model_table import model_table
from requests.adapters import HTTPAdapter

__all__ = [
    "CHEAPEST_SETTINGS",
    "Budget",
    "BudgetExceeded",
    "PaidKind",
    "PaidRequestGuard",
    "cheapest_settings",
    "classify_request",
    "defuse_body",
]


def cheapest_settings(model: str | None = None) -> Mapping[str, str]:
    """The cheapest job ``model`` offers (the table's default model for None), from its row of
    the model table: its shortest clip (jobs are billed per second of output) at its default
    size (the smallest of its family: 720x1280 for Sora 2, 16x9 for Veo 3). A model the table
    does not know: just ``{"model": model}`` (the server's defaults)."""
    spec = model_table().get(model)
    if spec is None:
        assert model is not None
        return {"model": model}
    return spec.cheapest


# The cheapest job of the default model (sora-2, "4" seconds, 720x1280): sora-2-pro is billed
# at a higher per-second rate and its 1024x1792 / 1792x1024 sizes are pricier still.
CHEAPEST_SETTINGS: Mapping[str, str] = cheapest_settings()

_CREATE_PATH = re.compile(r"/v1/videos/?$")
_REMIX_PATH = re.compile(r"/v1/videos/[^/]+/remix/?$")

PaidKind = Literal["create", "remix"]


@dataclass(frozen=True)
class Budget:
    """How many paid jobs a live run may start.

    The default is one job, created with ``CHEAPEST_SETTINGS``; reads (retrieve, content, list)
    use it. A remix of that job is a second paid job: it runs only when ``allow_remix`` is true
    *and* ``max_paid_jobs`` leaves room for it (``Budget(max_paid_jobs=2)``). The
    Idempotency-Key probe sends two creates (the second starts a job on a server that ignores
    the key), so it runs only with two jobs left after those: ``Budget(max_paid_jobs=3,
    allow_remix=False)`` or ``Budget(max_paid_jobs=4)``.
    ``Budget(max_paid_jobs=0)`` sends no paid request at all (reads then need ``video_id=``).
    """

    max_paid_jobs: int = 1
    allow_remix: bool = True

    def __post_init__(self) -> None:
        if self.max_paid_jobs < 0:
            raise ValueError("max_paid_jobs must be >= 0")

    @property
    def allows_create(self) -> bool:
        return self.max_paid_jobs >= 1

    def allows_remix(self, *, created: bool) -> bool:
        """Whether a remix fits after the run's own create (``created``) was paid for."""
        used = 1 if created else 0
        return self.allow_remix and self.max_paid_jobs - used >= 1

    def left_after_own(self, *, created: bool) -> int:
        """Paid jobs left after the run's own create (``created``) and remix (if it fits):
        what the Idempotency-Key probe may spend (it needs ``PROBE_PAID_JOBS``)."""
        return self.max_paid_jobs - int(created) - int(self.allows_remix(created=created))


class BudgetExceeded(RuntimeError):
    """A request that could start a paid job was stopped before it was sent."""


def paid_kind(method: str, url: str) -> PaidKind | None:
    """Which paid operation a request targets, if any."""
    if method.upper() != "POST":
        return None
    path = urlsplit(url).path
    if _REMIX_PATH.search(path):
        return "remix"
    if _CREATE_PATH.search(path):
        return "create"
    return None


def _parse_body(content_type: str, body: bytes) -> dict[str, list[Any]] | None:
    """Read the fields a lenient server would see in a body; ``None`` when it cannot be read."""
    media = content_type.split(";", 1)[0].strip().lower()
    if media.endswith("json") or (not media and body[:1] in (b"{", b"[")):
        try:
            value = json.loads(body)
        except ValueError:
            return None
        if not isinstance(value, dict):
            return {}
        return {str(k): [v] for k, v in value.items()}
    if media == "multipart/form-data":
        message = BytesParser(policy=HTTP).parsebytes(
            b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
        )
        if not message.is_multipart():
            return None
        fields: dict[str, list[Any]] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if not isinstance(name, str):
                continue
            payload = part.get_payload(decode=True)
            raw = payload if isinstance(payload, bytes) else b""
            fields.setdefault(name, []).append(raw.decode("utf-8", "replace"))
        return fields
    if media == "application/x-www-form-urlencoded":
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return None
        return {k: list(v) for k, v in parse_qs(text, keep_blank_values=True).items()}
    return None


def _surely_rejected(fields: Mapping[str, list[Any]], kind: PaidKind) -> bool:
    """Whether the spec's rules oblige the API to reject these fields (so no job can start):
    only a missing or empty ``prompt`` is sure."""
    prompts = fields.get("prompt", [])
    return not prompts or not any(
        isinstance(p, str | int | float) and str(p) != "" for p in prompts
    )


def classify_request(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes | None,
    api_key: str,
) -> PaidKind | None:
    """Return the paid operation this request could start a job on, or ``None`` if it is free."""
    kind = paid_kind(method, url)
    if kind is None:
        return None
    lowered = {k.lower(): v for k, v in headers.items()}
    if lowered.get("authorization", "").strip() != f"Bearer {api_key}":
        return None  # No valid credentials: nobody can be billed.
    data = body or b""
    fields = _parse_body(lowered.get("content-type", ""), data)
    if fields is None:
        # Unreadable to us; a lenient server might still read a prompt out of it.
        return kind if b"prompt" in data.lower() else None
    return None if _surely_rejected(fields, kind) else kind


def defuse_body(body: Any, kind: PaidKind) -> tuple[Any, bool]:
    """Make a generated create/remix body one the API must reject for free.

    Returns the body to send and whether it was changed. Bodies that are not objects, lack a
    ``prompt`` or carry an empty one are already free and are returned unchanged; any other body
    loses its ``prompt``.
    """
    if not isinstance(body, dict):
        return body, False
    if "prompt" not in body or body["prompt"] == "":
        return body, False
    defused = {k: v for k, v in body.items() if k != "prompt"}
    return defused, True


@dataclass
class PaidRequestGuard:
    """Counts paid requests on the wire and refuses any the engine did not arm.

    ``arm(kind)`` opens a window for exactly one paid request of that kind, and only while the
    budget has room; every other request that could start a job raises ``BudgetExceeded``.
    """

    api_key: str
    budget: Budget
    sent: list[PaidKind] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _armed: PaidKind | None = field(default=None, repr=False)

    @property
    def remaining(self) -> int:
        return self.budget.max_paid_jobs - len(self.sent)

    @contextmanager
    def arm(self, kind: PaidKind) -> Iterator[None]:
        with self._lock:
            if self.remaining <= 0:
                raise BudgetExceeded(f"no paid job left in the budget for a {kind}")
            self._armed = kind
        try:
            yield
        finally:
            with self._lock:
                self._armed = None

    def admit(self, request: requests.PreparedRequest) -> None:
        """Raise ``BudgetExceeded`` unless this request is free or the one armed paid request."""
        body = request.body
        data = body.encode("utf-8") if isinstance(body, str) else body
        if data is not None and not isinstance(data, bytes):
            data = b"prompt"  # A streamed body we cannot inspect: assume the worst.
        kind = classify_request(
            request.method or "GET",
            request.url or "",
            {
                str(k): v if isinstance(v, str) else v.decode("latin-1")
                for k, v in request.headers.items()
            },
            data,
            self.api_key,
        )
        if kind is None:
            return
        with self._lock:
            if self._armed == kind and self.remaining > 0:
                self.sent.append(kind)
                self._armed = None  # One request per arming: a resend is refused.
                return
            self.blocked.append(f"{request.method} {request.url}")
        raise BudgetExceeded(
            f"refused to send {request.method} {request.url}: it could start a paid {kind} job "
            f"and the run's budget ({self.budget.max_paid_jobs}) does not cover it"
        )

    def adapter(self) -> HTTPAdapter:
        return _GuardAdapter(self)

    def mount(self, session: requests.Session) -> None:
        """Route every request of ``session`` through this guard."""
        if not isinstance(session.get_adapter("https://x"), _GuardAdapter):
            adapter = self.adapter()
            session.mount("https://", adapter)
            session.mount("http://", adapter)


class _GuardAdapter(HTTPAdapter):
    def __init__(self, guard: PaidRequestGuard) -> None:
        super().__init__()
        self.guard = guard

    def send(
        self, request: requests.PreparedRequest, *args: Any, **kwargs: Any
    ) -> requests.Response:
        self.guard.admit(request)
        return super().send(request, *args, **kwargs)
