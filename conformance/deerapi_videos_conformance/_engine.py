"""Run schemathesis against a DeerAPI-compatible base URL and record what it saw.

``run_conformance`` loads ``openapi.yaml``, runs schemathesis' engine (every phase, every check,
positive and negative generation) over real HTTP and turns its event stream into plain data:
one ``CheckResult`` per check per case, one ``Exchange`` per request/response pair and one
``PaidJob`` per job the API accepted. In live mode it also enforces the paid-job budget (see
``_budget``): the run's own create/remix are the only requests that may start a job.

Per model: ``model=`` makes every positive create ask for that model (fitted to its row of the
model table by the hooks in ``_hooks``) and makes the live run's one paid job that model's
cheapest. Operations DeerAPI does not document (list, delete) may not be served at all: a probe
before the run finds out (404 or 405), and such an operation is reported as *not served*
(``ConformanceResult.not_served``), its own outcome, instead of failing every check.

Last, the Idempotency-Key probe (``ConformanceResult.idempotency``, see ``_idempotency``): the
cheapest create sent twice, same bytes, same key, to see whether one job comes back or two. In
live mode it spends only what the run's own create and remix left of the budget, and needs two
paid jobs of it; against a non-live server (free jobs) it always runs. Its jobs are deleted.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit

import requests
import schemathesis
from deerapi_videos.auth import REDACTED
from deerapi_videos.model_table import model_table
from deerapi_videos.spec import spec_path
from schemathesis.checks import CheckFunction
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.core.parameters import ParameterLocation
from schemathesis.core.transport import Response
from schemathesis.engine import events, from_schema
from schemathesis.engine.recorder import Request, ScenarioRecorder
from schemathesis.generation import GenerationMode
from schemathesis.generation.case import Case
from schemathesis.generation.meta import ComponentInfo
from schemathesis.hooks import GLOBAL_HOOK_DISPATCHER, HookContext
from schemathesis.specs.openapi.checks import ignored_auth
from schemathesis.specs.openapi.schemas import OpenApiSchema
from schemathesis.transport import BaseTransport
from schemathesis.transport.requests import (
    REQUESTS_TRANSPORT,
    RequestsTransport,
    SameHostRedirectsSession,
)
from urllib3.filepost import encode_multipart_formdata

from ._budget import (
    Budget,
    BudgetExceeded,
    PaidKind,
    PaidRequestGuard,
    cheapest_settings,
    defuse_body,
    paid_kind,
)
from ._hooks import fitting, install_false_report_filters
from ._idempotency import PROBE_KEY_PREFIX, PROBE_PAID_JOBS, IdempotencyProbe, ProbeAnswer
from ._phases import ALL_PHASES
from ._repro import ReproStep, authorization_of, render_step, request_headers

__all__ = [
    "ALL_PHASES",
    "CheckResult",
    "ConformanceResult",
    "Exchange",
    "IdempotencyProbe",
    "PaidJob",
    "Progress",
    "ReproStep",
    "run_conformance",
]

REDACTED_BEARER = f"Bearer {REDACTED}"
#: Response headers that carry the request id (OpenAI/DeerAPI, one-api/new-api gateways).
REQUEST_ID_HEADERS = ("x-request-id", "x-oneapi-request-id")
_LIVE_PROMPT = "A paper boat drifting on a calm pond, soft morning light"
_LIVE_REMIX_PROMPT = "Make it dusk"
_PROBE_PROMPT = "A lighthouse on a rocky shore at noon, waves breaking, still camera"
_TERMINAL = frozenset({"completed", "failed", "expired", "cancelled"})
#: A video id in a request path, and the operations that need the video completed.
_VIDEO_IN_PATH = re.compile(r"/v1/videos/([^/?#]+)")
_NEEDS_COMPLETED = re.compile(r"/v1/videos/[^/?#]+/(content|remix)(?:[/?#]|$)")
_STAND_IN_PROMPT = "a stand-in video for the repro"
_MULTIPART_NAME = re.compile(rb'content-disposition:[^\r\n]*?\bname="([^"\r\n]*)"', re.I)
#: Request headers that are not fields of the operation (transport, auth, run labels).
_NOT_FIELDS = frozenset(
    {
        "accept",
        "accept-encoding",
        "authorization",
        "connection",
        "content-length",
        "content-type",
        "host",
        "user-agent",
        "x-schemathesis-testcaseid",
    }
)


@dataclass(frozen=True)
class CheckResult:
    """One check run on one request (or a run-level problem, ``check="schemathesis"``)."""

    operation: str
    check: str
    passed: bool
    message: str
    request_id: str | None = None
    #: The failing request as one command line (the key read from ``$DEERAPI_KEY``).
    curl: str | None = None
    #: The requests that reproduce the failure, in order (see ``_repro``); the reports render
    #: them as shell commands.
    repro: tuple[ReproStep, ...] = ()


@dataclass(frozen=True)
class Exchange:
    """One request the run sent and the response it got."""

    operation: str  # e.g. "POST /v1/videos"; the spec operation the case was generated for
    # The method actually sent; differs from ``operation``'s for unsupported-method probes.
    method: str
    url: str
    status_code: int
    request_headers: Mapping[str, str]  # Authorization redacted
    response_headers: Mapping[str, str]
    response_json: Any  # parsed JSON body, or None when the body is not JSON
    elapsed_s: float
    phase: str | None = None  # schemathesis phase that sent it; None for the run's own calls
    #: Names of the query parameters, body fields and headers the request carried (for the
    #: spec coverage: which described fields the run sent).
    request_fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class PaidJob:
    """A job the API accepted (and, on a live API, bills for)."""

    operation: str
    video_id: str | None
    settings: Mapping[str, Any]  # model / seconds / size as the API reported them


@dataclass
class ConformanceResult:
    checks: list[CheckResult] = field(default_factory=list)
    exchanges: list[Exchange] = field(default_factory=list)
    paid_jobs: list[PaidJob] = field(default_factory=list)
    cases_per_phase: dict[str, int] = field(default_factory=dict)
    duration_s: float = 0.0
    paid_requests_refused: int = 0  # live mode: paid requests the guard stopped before sending
    #: The model positive creates asked for (``--model``); None: whatever was generated.
    model: str | None = None
    #: operationId -> why it counts as not served (e.g. "GET /v1/videos answered 404"); those
    #: operations were left out of the run: neither passed nor failed.
    not_served: dict[str, str] = field(default_factory=dict)
    #: The seed schemathesis generated the cases with (the one given, or the one it drew).
    seed: int | None = None
    #: What the Idempotency-Key probe found (see ``_idempotency``); None: not part of this
    #: result (a result built by hand).
    idempotency: IdempotencyProbe | None = None

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(check.passed for check in self.checks)

    @property
    def failures(self) -> list[CheckResult]:
        return [check for check in self.checks if not check.passed]

    def failed_checks(self) -> set[tuple[str, str]]:
        """``(operation, check)`` pairs that failed at least once."""
        return {(check.operation, check.check) for check in self.failures}

    def status_counts(self, phase: str | None = None) -> Counter[tuple[str, int]]:
        """How often each ``(operation, status)`` answered the operation's own method."""
        return Counter(
            (e.operation, e.status_code)
            for e in self.exchanges
            if e.method == e.operation.split(" ", 1)[0] and (phase is None or e.phase == phase)
        )


@dataclass(frozen=True)
class Progress:
    """What ``on_event`` receives while a run goes on."""

    kind: Literal["phase_started", "phase_finished", "scenario", "paid_job", "note"]
    phase: str | None = None
    operation: str | None = None
    message: str = ""


OnEvent = Callable[[Progress], None]


# --- live mode: a schema whose transport goes through the budget guard ------------------------


@dataclass
class _LiveState:
    guard: PaidRequestGuard
    video_id: str | None
    defused: int = 0


# The live run in progress. A module global, not a context variable: schemathesis sends requests
# from its own worker threads, which do not inherit the caller's context. One live run at a time.
_LIVE: list[_LiveState] = []
_LIVE_LOCK = threading.Lock()


class _GuardedTransport(RequestsTransport):
    """``requests`` transport whose every request, including check probes, passes the guard."""

    def __init__(self, guard: PaidRequestGuard) -> None:
        super().__init__()
        self._serializers = REQUESTS_TRANSPORT._serializers  # the registered body serializers
        self._guard = guard

    def send(
        self, case: Case[Any], *, session: requests.Session | None = None, **kwargs: Any
    ) -> Response:
        own = session is None
        active = SameHostRedirectsSession() if session is None else session
        self._guard.mount(active)
        try:
            return super().send(case, session=active, **kwargs)
        finally:
            if own:
                active.close()


def _guarded(schema: OpenApiSchema, guard: PaidRequestGuard) -> OpenApiSchema:
    """Give ``schema`` (and every clone schemathesis makes of it) the guarded transport.

    schemathesis picks ``schema.transport`` for every request it sends, including the extra
    requests some checks make; clones are built with ``self.__class__``, so a subclass carries
    the guard everywhere.
    """
    transport = _GuardedTransport(guard)

    class GuardedOpenApiSchema(OpenApiSchema):
        @property
        def transport(self) -> BaseTransport[Any]:
            return transport

    schema.__class__ = GuardedOpenApiSchema
    return schema


def _live_before_call(context: HookContext, case: Case[Any], kwargs: dict[str, Any]) -> None:
    """schemathesis ``before_call`` hook, active only during a live run.

    Rewrites generated create/remix cases into free ones (``defuse_body``) so that schemathesis
    re-derives their metadata and judges them as the negative cases they became, and points reads
    at the run's video.
    """
    if not _LIVE:
        return
    state = _LIVE[0]
    operation = case.operation
    kind = paid_kind(operation.method, operation.path)
    if kind is not None:
        body, changed = defuse_body(case.body, kind)
        if changed:
            case.body = body
            _mark_body_negative(case)
            state.defused += 1
    if (
        state.video_id is not None
        and operation.method.upper() == "DELETE"
        and case.path_parameters is not None
        and case.path_parameters.get("video_id") == state.video_id
    ):
        # Reads still need the run's video; the run deletes it itself once they are done.
        case.path_parameters["video_id"] = f"{state.video_id}-not-{uuid.uuid4().hex[:8]}"
    if (
        state.video_id is not None
        and operation.method.upper() == "GET"
        and "{video_id}" in operation.path
        and case.path_parameters is not None
        and not (case.meta is not None and case.meta.is_negative_at(ParameterLocation.PATH))
    ):
        case.path_parameters["video_id"] = state.video_id


def _mark_body_negative(case: Case[Any]) -> None:
    """Label a defused case as the negative case it now is (its body lacks the required prompt).

    schemathesis re-derives the labels of components it generated itself when a hook edits them,
    but in the examples phase the body is not such a component and would keep its "positive"
    label, so ``positive_data_acceptance`` would expect the (now invalid) body to be accepted.
    """
    meta = case.meta  # re-derives the labels of the edited components first
    if meta is not None:
        meta.components[ParameterLocation.BODY] = ComponentInfo(mode=GenerationMode.NEGATIVE)
        meta.generation.mode = GenerationMode.NEGATIVE


@contextmanager
def _live_hook(state: _LiveState) -> Iterator[None]:
    if not _LIVE_LOCK.acquire(blocking=False):
        raise RuntimeError("another live conformance run is in progress in this process")
    _LIVE.append(state)
    GLOBAL_HOOK_DISPATCHER.register_hook_with_name(_live_before_call, "before_call")
    try:
        yield
    finally:
        GLOBAL_HOOK_DISPATCHER.unregister(_live_before_call)
        _LIVE.clear()
        _LIVE_LOCK.release()


# --- turning schemathesis' records into plain data --------------------------------------------


def _first(values: Mapping[str, Any], name: str) -> str | None:
    for key, value in values.items():
        if key.lower() == name.lower():
            if isinstance(value, list):
                return str(value[0]) if value else None
            return str(value)
    return None


def _request_id(headers: Mapping[str, Any]) -> str | None:
    for name in REQUEST_ID_HEADERS:
        value = _first(headers, name)
        if value:
            return value
    return None


def _flat(headers: Mapping[str, Any], *, redact: bool) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in headers.items():
        text = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
        if redact and key.lower() in ("authorization", "proxy-authorization"):
            text = REDACTED_BEARER if text.lower().startswith("bearer ") else REDACTED
        out[key] = text
    return out


def _step(request: Request, api_key: str) -> ReproStep:
    """The request as a repro step: the run's key read from ``$DEERAPI_KEY``, never written."""
    headers = list(_flat(request.headers, redact=False).items())
    return ReproStep(
        method=request.method.upper(),
        url=request.uri,
        headers=request_headers(headers),
        body=request.body or None,
        authorization=authorization_of(headers, api_key),
    )


def _curl(request: Request, api_key: str = "") -> str:
    """The request as one command line; the key comes from ``$DEERAPI_KEY`` (double quotes)."""
    return render_step(_step(request, api_key))


def _request_fields(request: Request) -> tuple[str, ...]:
    """The query parameters, body fields and headers a request carried, by name."""
    names = [name for name, _ in parse_qsl(urlsplit(request.uri).query, keep_blank_values=True)]
    content_type = (_first(request.headers, "content-type") or "").lower()
    body = request.body or b""
    if body and "multipart/form-data" in content_type:
        names += [m.decode("utf-8", "replace") for m in _MULTIPART_NAME.findall(body)]
    elif body and "json" in content_type:
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            names += [str(key) for key in parsed]
    elif body and "x-www-form-urlencoded" in content_type:
        text = body.decode("utf-8", "replace")
        names += [name for name, _ in parse_qsl(text, keep_blank_values=True)]
    names += [key for key in request.headers if key.lower() not in _NOT_FIELDS]
    return tuple(dict.fromkeys(names))


def _json(response: Response) -> Any:
    content_type = _first(response.headers, "content-type") or ""
    if "json" not in content_type.lower():
        return None
    try:
        return json.loads(response.content)
    except ValueError:
        return None


def _exchange(
    operation: str, request: Request, response: Response, phase: str | None = None
) -> Exchange:
    return Exchange(
        operation=operation,
        method=request.method.upper(),
        url=request.uri,
        status_code=response.status_code,
        request_headers=_flat(request.headers, redact=True),
        response_headers=_flat(response.headers, redact=False),
        response_json=_json(response),
        elapsed_s=response.elapsed,
        phase=phase,
        request_fields=_request_fields(request),
    )


def _paid_job(operation: str, method: str, response_json: Any) -> PaidJob | None:
    if paid_kind(method, operation.split(" ", 1)[-1]) is None:
        return None
    if not isinstance(response_json, dict):
        return None
    video_id = response_json.get("id")
    settings = {k: response_json.get(k) for k in ("model", "seconds", "size")}
    return PaidJob(operation, video_id if isinstance(video_id, str) else None, settings)


def _failure_message(failure: Failure) -> str:
    message = failure.message or ""
    return f"{failure.title}: {message}".strip() if failure.title else message


@dataclass
class _Collector:
    result: ConformanceResult
    on_event: OnEvent | None
    secrets: tuple[str, ...]
    #: The key the run sends (replaced by ``$DEERAPI_KEY`` in every repro).
    api_key: str = ""
    #: A live API: a repro never creates a job there (it would be paid for).
    live: bool = False
    _cases: Counter[str] = field(default_factory=Counter)
    _jobs_seen: set[str] = field(default_factory=set)

    def emit(self, progress: Progress) -> None:
        if self.on_event is not None:
            self.on_event(progress)

    def _scrub(self, text: str) -> str:
        for secret in self.secrets:
            if secret:
                text = text.replace(secret, "***")
        return text

    def add_exchange(self, exchange: Exchange) -> None:
        self.result.exchanges.append(exchange)
        if 200 <= exchange.status_code < 300 and exchange.method == "POST":
            job = _paid_job(exchange.operation, exchange.method, exchange.response_json)
            if job is not None and (job.video_id is None or job.video_id not in self._jobs_seen):
                if job.video_id is not None:
                    self._jobs_seen.add(job.video_id)
                self.result.paid_jobs.append(job)
                self.emit(Progress("paid_job", operation=job.operation, message=str(job.video_id)))

    def scenario(self, phase: str, recorder: ScenarioRecorder) -> None:
        self._cases[phase] += len(recorder.cases)
        operation_of = {cid: node.value.operation.label for cid, node in recorder.cases.items()}
        requests_of: dict[str, Request] = {}
        request_ids: dict[str, str | None] = {}
        for case_id, interaction in recorder.interactions.items():
            requests_of[case_id] = interaction.request
            response = interaction.response
            if response is None:
                continue
            request_ids[case_id] = _request_id(response.headers)
            operation = operation_of.get(case_id, recorder.label)
            self.add_exchange(_exchange(operation, interaction.request, response, phase))
        repros: dict[str, tuple[ReproStep, ...]] = {}
        for case_id, nodes in recorder.checks.items():
            seen: set[tuple[str, str]] = set()
            for node in nodes:
                operation = operation_of.get(case_id, recorder.label)
                if node.failure_info is None:
                    if node.status.value == "success":
                        self.result.checks.append(CheckResult(operation, node.name, True, ""))
                    continue
                failure = node.failure_info.failure
                message = self._scrub(_failure_message(failure))
                key = (node.name, message)
                if key in seen:
                    continue
                seen.add(key)
                request = requests_of.get(case_id)
                if case_id not in repros:
                    repros[case_id] = self.repro(recorder, case_id, failure.related_case_ids())
                self.result.checks.append(
                    CheckResult(
                        operation=failure.operation or operation,
                        check=node.name,
                        passed=False,
                        message=message,
                        request_id=request_ids.get(case_id),
                        curl=self._scrub(_curl(request, self.api_key))
                        if request is not None
                        else None,
                        repro=repros[case_id],
                    )
                )

    def repro(
        self, recorder: ScenarioRecorder, case_id: str, related: Sequence[str] = ()
    ) -> tuple[ReproStep, ...]:
        """The requests that reproduce the failure of ``case_id``: its chain in the scenario
        (parents, and the cases the failure names), each id a step created read from the
        variable it was captured in; stand-ins for videos the run created elsewhere."""
        steps: list[ReproStep] = []
        captured: dict[str, str] = {}
        chain = recorder.iter_chain_cases(case_id=case_id, related_case_ids=tuple(related))
        for case in chain:
            interaction = recorder.interactions.get(case.id)
            if interaction is None:
                continue
            step = _step(interaction.request, self.api_key)
            step = step.with_ids(captured)
            response = interaction.response
            if (
                case.id != case_id
                and step.method == "POST"
                and response is not None
                and 200 <= response.status_code < 300
            ):
                body = _json(response)
                new_id = body.get("id") if isinstance(body, dict) else None
                if isinstance(new_id, str) and new_id:
                    captured[new_id] = f"VIDEO_{len(captured) + 1}"
                    step = replace(step, capture=captured[new_id])
            steps.append(step)
        return tuple(self._stand_ins(steps, captured))

    def _stand_ins(self, steps: list[ReproStep], captured: dict[str, str]) -> list[ReproStep]:
        """Steps making the videos the chain uses but did not create (the run created them
        earlier): a new job each on a mock; on a live API (paid) a note naming the video."""
        foreign: dict[str, bool] = {}  # id -> needs it completed
        for step in steps:
            for match in _VIDEO_IN_PATH.finditer(step.url):
                video_id = match.group(1)
                if video_id in self._jobs_seen and video_id not in captured:
                    needs = bool(_NEEDS_COMPLETED.search(step.url))
                    foreign[video_id] = foreign.get(video_id, False) or needs
        if not foreign:
            return steps
        if self.live:
            note = "uses " + ", ".join(foreign) + ", a video the run created: use one of yours"
            return [replace(steps[0], note=note), *steps[1:]]
        base = steps[0].url.split("/v1/videos", 1)[0]
        prefix: list[ReproStep] = []
        for video_id, needs_completed in foreign.items():
            var = captured[video_id] = f"VIDEO_{len(captured) + 1}"
            prefix.append(
                ReproStep(
                    "POST",
                    f"{base}/v1/videos",
                    form=(("prompt", _STAND_IN_PROMPT),),
                    capture=var,
                    note=f"a stand-in for {video_id}, which the run had created",
                )
            )
            if needs_completed:
                prefix.append(
                    ReproStep(
                        "GET",
                        f"{base}/v1/videos/{video_id}",
                        ids=((video_id, var),),
                        until_status="completed",
                    )
                )
        return prefix + [step.with_ids(captured) for step in steps]

    def error(self, label: str, title: str, message: str) -> None:
        self.result.checks.append(
            CheckResult(label, "schemathesis", False, self._scrub(f"{title}: {message}"))
        )

    def finish(self, started: float) -> ConformanceResult:
        self.result.cases_per_phase = dict(self._cases)
        self.result.duration_s = time.monotonic() - started
        return self.result


# --- configuration ---------------------------------------------------------------------------


def _config(
    base_url: str,
    api_key: str,
    *,
    phases: Sequence[str],
    max_examples: int,
    seed: int | None,
    stateful_steps: int | None,
    request_timeout: float,
) -> SchemathesisConfig:
    unknown = set(phases) - set(ALL_PHASES)
    if unknown:
        raise ValueError(f"unknown phases {sorted(unknown)}; known: {ALL_PHASES}")
    stateful: dict[str, Any] = {"enabled": "stateful" in phases}
    if stateful_steps is not None:
        stateful["max-steps"] = stateful_steps
    data: dict[str, Any] = {
        "base-url": base_url.rstrip("/"),
        "workers": 1,
        "request-timeout": request_timeout,
        "generation": {"mode": "all", "max-examples": max_examples, "database": "none"},
        "checks": {"enabled": True},
        "phases": {
            "examples": {"enabled": "examples" in phases},
            "coverage": {"enabled": "coverage" in phases},
            "fuzzing": {"enabled": "fuzzing" in phases},
            "stateful": stateful,
        },
        "auth": {"openapi": {"bearerAuth": {"bearer": api_key}}},
        "output": {"sanitization": {"enabled": True}},
    }
    if seed is not None:
        data["seed"] = seed
    return SchemathesisConfig.from_dict(data)


def load_schema(config: SchemathesisConfig) -> OpenApiSchema:
    """Load the packaged ``openapi.yaml`` with the run's configuration and false-report filters."""
    schema = schemathesis.openapi.from_path(str(spec_path()), config=config)
    install_false_report_filters(schema)
    return schema


# --- the run's own (budgeted) calls in live mode ----------------------------------------------


@dataclass
class _Explicit:
    """Sends the run's own requests through the guard and validates their responses."""

    schema: OpenApiSchema
    base_url: str
    api_key: str
    guard: PaidRequestGuard
    collector: _Collector
    session: requests.Session = field(default_factory=requests.Session)
    #: Why the last ``call`` got no response (the budget guard, the network); None if it did.
    last_error: str | None = None

    def __post_init__(self) -> None:
        self.guard.mount(self.session)

    def call(
        self,
        case: Case[Any],
        *,
        paid: PaidKind | None = None,
        excluded_checks: Sequence[CheckFunction] = (),
        body: bytes | None = None,
    ) -> Response | None:
        """Send ``case`` (armed for one ``paid`` request if given) and check its response with
        every check but ``excluded_checks``.

        ``body``: these bytes go on the wire instead of ``case.body`` serialized (the case's
        ``Content-Type`` header must describe them).

        Returns None when nothing was answered; ``last_error`` then says why and the run
        records it as a failure.
        """
        headers = {"Authorization": f"Bearer {self.api_key}"}
        operation = case.operation.label
        raw: dict[str, Any] = {} if body is None else {"data": body}
        self.last_error = None
        try:
            if paid is None:
                response = case.call(
                    base_url=self.base_url, session=self.session, headers=headers, **raw
                )
            else:
                with self.guard.arm(paid):
                    response = case.call(
                        base_url=self.base_url, session=self.session, headers=headers, **raw
                    )
        except BudgetExceeded as exc:
            self.last_error = self.collector._scrub(f"budget guard: {exc}")
            self.collector.error(operation, "Budget", str(exc))
            return None
        except requests.RequestException as exc:
            self.last_error = self.collector._scrub(f"network error: {exc}")
            self.collector.error(operation, "Network error", str(exc))
            return None
        request = Request.from_prepared_request(response.request)
        self.collector.add_exchange(_exchange(operation, request, response))
        recorder = ScenarioRecorder(label=operation)
        recorder.record_case(case=case)
        recorder.record_response(case_id=case.id, response=response)
        request_id = _request_id(response.headers)

        def failed(failure: Failure) -> None:
            self.collector.result.checks.append(
                CheckResult(
                    operation,
                    _check_name(failure),
                    False,
                    self.collector._scrub(_failure_message(failure)),
                    request_id,
                    self.collector._scrub(_curl(request, self.api_key)),
                    (_step(request, self.api_key),),
                )
            )

        try:
            case.validate_response(
                response,
                headers=headers,
                recorder=recorder,
                excluded_checks=list(excluded_checks),
            )
        except FailureGroup as group:
            for failure in group.exceptions:
                if isinstance(failure, Failure):
                    failed(failure)
        except Failure as failure:
            failed(failure)
        else:
            self.collector.result.checks.append(CheckResult(operation, "live_step", True, ""))
        return response


_FAILURE_CHECKS = {
    "ServerError": "not_a_server_error",
    "UndefinedStatusCode": "status_code_conformance",
    "UndefinedContentType": "content_type_conformance",
    "MalformedMediaType": "content_type_conformance",
    "JsonSchemaError": "response_schema_conformance",
    "MalformedJson": "response_schema_conformance",
    "MissingHeaders": "response_headers_conformance",
    "MissingHeaderNotRejected": "missing_required_header",
    "AcceptedNegativeData": "negative_data_rejection",
    "RejectedPositiveData": "positive_data_acceptance",
    "IgnoredAuth": "ignored_auth",
    "UseAfterFree": "use_after_free",
    "EnsureResourceAvailability": "ensure_resource_availability",
}


def _check_name(failure: Failure) -> str:
    return _FAILURE_CHECKS.get(type(failure).__name__, type(failure).__name__)


def _poll_until_done(
    explicit: _Explicit,
    video_id: str,
    *,
    timeout_s: float,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
) -> str | None:
    retrieve = explicit.schema["/v1/videos/{video_id}"]["GET"]
    deadline = clock() + timeout_s
    status: str | None = None
    while True:
        response = explicit.call(retrieve.Case(path_parameters={"video_id": video_id}))
        if response is None or response.status_code != 200:
            return status
        body = json.loads(response.content)
        status = body.get("status") if isinstance(body, dict) else None
        if status in _TERMINAL or clock() >= deadline:
            return status
        hint = _first(response.headers, "openai-poll-after-ms")
        sleep(int(hint) / 1000 if hint and hint.isdigit() else 5.0)


# --- the Idempotency-Key probe ---------------------------------------------------------------


def _answer(response: Response) -> ProbeAnswer:
    """The parts of a create's answer the probe compares and reports."""
    body = _json(response)
    video_id: str | None = None
    error_code: str | None = None
    if isinstance(body, dict):
        if 200 <= response.status_code < 300 and isinstance(body.get("id"), str):
            video_id = body["id"] or None
        error = body.get("error")
        if isinstance(error, dict):
            code = error.get("code") or error.get("type")
            error_code = str(code) if code is not None else None
    return ProbeAnswer(response.status_code, video_id, error_code, _request_id(response.headers))


def _probe_idempotency(
    explicit: _Explicit,
    model: str | None,
    *,
    delete_served: bool,
    live: bool,
) -> IdempotencyProbe:
    """Send the cheapest create twice with one ``Idempotency-Key`` and compare the answers.

    Nothing is sent unless ``explicit.guard`` has room for ``PROBE_PAID_JOBS`` paid requests;
    each POST is armed in the guard (counted against the budget before it leaves), and the
    second is sent only when the first answered with a job. The jobs the probe started are
    deleted at once (they are never read), unless the server does not serve delete.

    Args:
        explicit: The run's own-request sender; its guard holds the budget left.
        model: The model whose cheapest settings the create asks for (None: the default's).
        delete_served: Whether the server serves ``DELETE /v1/videos/{video_id}``.
        live: A paying API: progress notes say the jobs are paid for.

    Returns:
        The outcome, with the key, the answers and what became of the jobs started.

    Raises nothing for what the server does: a POST that gets no answer (the network, the
    guard) is an outcome, and ``explicit`` records it as a failure of the run.
    """
    left = explicit.guard.remaining
    budget_left = left if live else None
    if left < PROBE_PAID_JOBS:
        return IdempotencyProbe(
            "not_checked",
            f"needs {PROBE_PAID_JOBS} paid jobs, budget left {max(left, 0)}",
            budget_left=budget_left,
        )
    create = explicit.schema["/v1/videos"]["POST"]
    settings = dict(cheapest_settings(model))
    token = uuid.uuid4().hex
    key = f"{PROBE_KEY_PREFIX}{token}"
    fields = {"prompt": _PROBE_PROMPT, **settings}
    # Encoded once: the multipart encoder draws a new boundary per request, and a server that
    # compares raw bodies would then see "another body" (409) where there is none.
    payload, content_type = encode_multipart_formdata(list(fields.items()), boundary=token)

    def send() -> Response | None:
        case = create.Case(
            body=dict(fields),
            media_type="multipart/form-data",
            headers={"Idempotency-Key": key, "Content-Type": content_type},
        )
        # ignored_auth would re-send the create with the key and no valid credentials: free,
        # but then the key's POSTs on the wire would not be just the two compared here.
        return explicit.call(case, paid="create", excluded_checks=(ignored_auth,), body=payload)

    cost = "paid jobs" if live else "jobs, free on the mock"
    explicit.collector.emit(
        Progress(
            "note",
            message=f"Idempotency-Key probe: the same create twice, key {key} "
            f"(up to {PROBE_PAID_JOBS} {cost}): {settings}",
        )
    )
    first = send()
    if first is None:
        return IdempotencyProbe(
            "not_checked",
            f"the first POST got no answer ({explicit.last_error}); it may have started a job "
            "whose id is unknown",
            key,
            (ProbeAnswer(None),),
            budget_left=budget_left,
        )
    answers = [_answer(first)]
    if answers[0].video_id is None:
        return IdempotencyProbe(
            "not_checked",
            f"the first POST answered {first.status_code} "
            f"({answers[0].error_code or 'no video id, no error code'})",
            key,
            tuple(answers),
            budget_left=budget_left,
        )
    second = send()
    if second is None:
        outcome: IdempotencyProbe = IdempotencyProbe(
            "inconclusive",
            f"the second POST got no answer ({explicit.last_error}); it may have started a job "
            "whose id is unknown",
            key,
            (*answers, ProbeAnswer(None)),
            budget_left=budget_left,
        )
    else:
        again = _answer(second)
        answers.append(again)
        if not 200 <= second.status_code < 300:
            outcome = IdempotencyProbe(
                "refused",
                f"the second POST (same key, same body) answered {second.status_code} "
                f"(error code {again.error_code or 'none'})",
                key,
                tuple(answers),
                budget_left=budget_left,
            )
        elif again.video_id is None:
            outcome = IdempotencyProbe(
                "inconclusive",
                f"the second POST answered {second.status_code} without a video id",
                key,
                tuple(answers),
                budget_left=budget_left,
            )
        elif again.video_id == answers[0].video_id:
            outcome = IdempotencyProbe("honoured", "", key, tuple(answers), budget_left=budget_left)
        else:
            outcome = IdempotencyProbe(
                "not_honoured", "", key, tuple(answers), budget_left=budget_left
            )
    outcome = replace(outcome, cleanup=_delete_probe_jobs(explicit, outcome.jobs, delete_served))
    explicit.collector.emit(Progress("note", message=f"Idempotency-Key {outcome.summary()}"))
    return outcome


def _delete_probe_jobs(
    explicit: _Explicit, jobs: Sequence[str], delete_served: bool
) -> tuple[tuple[str, str], ...]:
    """Delete the probe's jobs, as the run deletes its own; what happened to each."""
    if not delete_served:
        return tuple((job, "not deleted: delete is not served") for job in jobs)
    delete = explicit.schema["/v1/videos/{video_id}"]["DELETE"]
    done: list[tuple[str, str]] = []
    for job in jobs:
        response = explicit.call(delete.Case(path_parameters={"video_id": job}))
        if response is None:
            done.append((job, f"not deleted: {explicit.last_error}"))
        elif response.status_code == 200:
            done.append((job, "deleted"))
        else:
            done.append((job, f"not deleted: DELETE answered {response.status_code}"))
    return tuple(done)


# --- operations the server may not serve ------------------------------------------------------


def _is_error_envelope(response: requests.Response) -> bool:
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and isinstance(body.get("error"), dict | str)


def probe_not_served(
    base_url: str, api_key: str, session: requests.Session, timeout: float = 30.0
) -> dict[str, str]:
    """Which undocumented operations (list, delete) the server does not serve, and why.

    List: ``GET /v1/videos?limit=1`` answering 404 or 405. Delete: ``DELETE`` of an id that
    cannot exist answering 405, or 404 without the JSON error envelope (a router's own "page
    not found", not the API saying "no such video"). Both probes are free. A probe that cannot
    be sent decides nothing: the run reports the network error itself.
    """
    base = base_url.rstrip("/")
    headers = {"Authorization": f"Bearer {api_key}"}
    found: dict[str, str] = {}
    try:
        listed = session.get(
            f"{base}/v1/videos", params={"limit": 1}, headers=headers, timeout=timeout
        )
        if listed.status_code in (404, 405):
            found["listVideos"] = f"GET /v1/videos answered {listed.status_code}"
        probe = f"video_conformance_probe_{uuid.uuid4().hex}"
        deleted = session.delete(f"{base}/v1/videos/{probe}", headers=headers, timeout=timeout)
        if deleted.status_code == 405:
            found["deleteVideo"] = "DELETE /v1/videos/{video_id} answered 405"
        elif deleted.status_code == 404 and not _is_error_envelope(deleted):
            found["deleteVideo"] = (
                "DELETE /v1/videos/{video_id} answered 404 without the JSON error envelope "
                "(the route is unknown)"
            )
    except requests.RequestException:
        pass
    return found


# --- entry point ------------------------------------------------------------------------------


def run_conformance(
    base_url: str,
    api_key: str,
    *,
    budget: Budget | None = None,
    live: bool = False,
    phases: Sequence[str] = ALL_PHASES,
    max_examples: int = 10,
    seed: int | None = None,
    video_id: str | None = None,
    on_event: OnEvent | None = None,
    stateful_steps: int | None = None,
    request_timeout: float = 30.0,
    live_wait_s: float = 900.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    model: str | None = None,
    idempotency_probe: bool = True,
) -> ConformanceResult:
    """Check the API at ``base_url`` against ``openapi.yaml`` with schemathesis.

    Args:
        base_url: Server root, e.g. ``https://api.deerapi.com`` or the mock's loopback URL.
        api_key: Sent as ``Authorization: Bearer``; redacted from everything recorded.
        budget: Live mode only: paid jobs the run may start (default ``Budget()``: one job).
        live: Treat the server as the paying API: enforce ``budget``, start the run's own job
            with the model's cheapest settings (``cheapest_settings(model)``) and turn every
            other create/remix into a free rejection.
        phases: Any of ``examples``, ``coverage``, ``fuzzing``, ``stateful``.
        max_examples: Hypothesis examples per operation and phase.
        seed: Makes generation reproducible.
        video_id: Live mode: an existing video the reads use instead of creating one.
        on_event: Called with ``Progress`` while the run goes on.
        stateful_steps: Upper bound of steps per stateful scenario (schemathesis' default if None).
        request_timeout: Seconds per request.
        live_wait_s: Live mode: how long to poll the run's job before reading its content.
        sleep, clock: Injected for tests; polling in live mode uses them.
        model: The model every positive create asks for, and the live job's model (its
            cheapest settings); None: generated models, and ``sora-2`` for the live job.
        idempotency_probe: Send the model's cheapest create twice with one
            ``Idempotency-Key`` and report whether one job or two came back
            (``ConformanceResult.idempotency``). Live, only when the budget still has room for
            two paid jobs after the run's own create and remix; on a non-live server always
            (its jobs are free). False: reported as not checked, nothing sent.

    Raises:
        ValueError: ``phases`` names an unknown phase.
        RuntimeError: Another live run is in progress in this process.
    """
    with fitting(model):
        return _run(
            base_url,
            api_key,
            budget=budget,
            live=live,
            phases=phases,
            max_examples=max_examples,
            seed=seed,
            video_id=video_id,
            on_event=on_event,
            stateful_steps=stateful_steps,
            request_timeout=request_timeout,
            live_wait_s=live_wait_s,
            sleep=sleep,
            clock=clock,
            model=model,
            idempotency_probe=idempotency_probe,
        )


def _run(
    base_url: str,
    api_key: str,
    *,
    budget: Budget | None,
    live: bool,
    phases: Sequence[str],
    max_examples: int,
    seed: int | None,
    video_id: str | None,
    on_event: OnEvent | None,
    stateful_steps: int | None,
    request_timeout: float,
    live_wait_s: float,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
    model: str | None,
    idempotency_probe: bool,
) -> ConformanceResult:
    started = time.monotonic()
    collector = _Collector(
        ConformanceResult(model=model), on_event, (api_key,), api_key=api_key, live=live
    )
    config = _config(
        base_url,
        api_key,
        phases=phases,
        max_examples=max_examples,
        seed=seed,
        stateful_steps=stateful_steps,
        request_timeout=request_timeout,
    )
    collector.result.seed = config.seed
    schema = load_schema(config)
    budget = budget or Budget()
    guard = PaidRequestGuard(api_key=api_key, budget=budget)
    with requests.Session() as probe_session:
        if live:
            guard.mount(probe_session)
        not_served = probe_not_served(base_url, api_key, probe_session, request_timeout)
    collector.result.not_served = not_served
    if not_served:
        for operation, why in not_served.items():
            collector.emit(Progress("note", message=f"{operation} not served: {why}"))
        excluded = schema.exclude(operation_id=sorted(not_served))
        assert isinstance(excluded, OpenApiSchema)
        schema = excluded
    skipped = IdempotencyProbe("not_checked", "skipped: the run was told not to probe")
    if not live:
        _run_engine(schema, collector)
        if not idempotency_probe:
            collector.result.idempotency = skipped
            return collector.finish(started)
        # Jobs are free here, so the probe gets a budget of its own two; the guard still arms
        # and counts each POST, the same code path as a live run.
        probe_guard = PaidRequestGuard(api_key=api_key, budget=Budget(PROBE_PAID_JOBS))
        with requests.Session() as session:
            collector.result.idempotency = _probe_idempotency(
                _Explicit(schema, base_url.rstrip("/"), api_key, probe_guard, collector, session),
                model,
                delete_served="deleteVideo" not in not_served,
                live=False,
            )
        return collector.finish(started)

    _guarded(schema, guard)
    explicit = _Explicit(schema, base_url.rstrip("/"), api_key, guard, collector)
    target = video_id
    created = False
    status: str | None = None
    if target is None and budget.allows_create:
        create = schema["/v1/videos"]["POST"]
        settings = dict(cheapest_settings(model))
        case = create.Case(
            body={"prompt": _LIVE_PROMPT, **settings},
            media_type="multipart/form-data",
            headers={"Idempotency-Key": f"conformance-{uuid.uuid4().hex}"},
        )
        collector.emit(Progress("note", message=f"creating one paid job: {settings}"))
        response = explicit.call(case, paid="create")
        if response is not None and response.status_code == 200:
            body = json.loads(response.content)
            target = body.get("id") if isinstance(body, dict) else None
            created = target is not None
    if target is not None:
        status = _poll_until_done(explicit, target, timeout_s=live_wait_s, sleep=sleep, clock=clock)
        collector.emit(Progress("note", message=f"video {target} is {status}"))
    state = _LiveState(guard=guard, video_id=target)
    with _live_hook(state):
        _run_engine(schema, collector)
    if target is not None and status == "completed":
        content = schema["/v1/videos/{video_id}/content"]["GET"]
        explicit.call(content.Case(path_parameters={"video_id": target}))
        spec = model_table().get(model)
        remixable = spec is None or spec.remix  # Veo 3 cannot be remixed: no paid attempt
        if remixable and budget.allows_remix(created=created) and guard.remaining > 0:
            remix = schema["/v1/videos/{video_id}/remix"]["POST"]
            explicit.call(
                remix.Case(
                    path_parameters={"video_id": target},
                    body={"prompt": _LIVE_REMIX_PROMPT},
                    media_type="application/json",
                    headers={"Idempotency-Key": f"conformance-{uuid.uuid4().hex}"},
                ),
                paid="remix",
            )
    # After the run's own create and remix: the probe spends only what they left.
    collector.result.idempotency = (
        _probe_idempotency(
            explicit, model, delete_served="deleteVideo" not in not_served, live=True
        )
        if idempotency_probe
        else skipped
    )
    if target is not None and created and "deleteVideo" in not_served:
        collector.emit(
            Progress("note", message=f"video {target} was not deleted: delete is not served")
        )
    elif target is not None and created:
        # The run's own video is deleted last, once every read is done; a read after it must 404.
        delete = schema["/v1/videos/{video_id}"]["DELETE"]
        deleted = explicit.call(delete.Case(path_parameters={"video_id": target}))
        if deleted is not None and deleted.status_code == 200:
            retrieve = schema["/v1/videos/{video_id}"]["GET"]
            after = explicit.call(retrieve.Case(path_parameters={"video_id": target}))
            if after is not None and after.status_code != 404:
                collector.result.checks.append(
                    CheckResult(
                        "DELETE /v1/videos/{video_id}",
                        "use_after_free",
                        False,
                        f"{target} was deleted (200) but a retrieve answered {after.status_code}",
                        _request_id(after.headers),
                    )
                )
    collector.result.paid_requests_refused = len(guard.blocked)
    collector.emit(
        Progress("note", message=f"paid requests sent: {len(guard.sent)}, defused: {state.defused}")
    )
    return collector.finish(started)


def _run_engine(schema: OpenApiSchema, collector: _Collector) -> None:
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            collector.scenario(event.phase.value, event.recorder)
            collector.emit(
                Progress("scenario", phase=event.phase.value, operation=event.recorder.label)
            )
        elif isinstance(event, events.PhaseStarted):
            collector.emit(Progress("phase_started", phase=event.phase.name.value))
        elif isinstance(event, events.PhaseFinished):
            collector.emit(
                Progress("phase_finished", phase=event.phase.name.value, message=event.status.value)
            )
        elif isinstance(event, events.NonFatalError):
            collector.error(event.label, event.info.title, event.info.message)
        elif isinstance(event, events.FatalError):
            collector.error("run", "Fatal error", str(event.exception))
        elif isinstance(event, events.EngineFinished):
            for failure in event.failures:
                collector.error(failure.operation or "run", failure.title, failure.message)
