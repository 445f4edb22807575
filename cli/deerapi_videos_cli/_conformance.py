"""``deerapi-videos conformance``: check an API against ``openapi.yaml`` and write the reports.

Default: start the bundled mock on loopback (with a throwaway key), run the conformance engine
against it, and write ``reports/conformance.xml`` (JUnit) and ``reports/conformance.md``. No key,
no network, no setup. With ``--base-url`` (and ``DEERAPI_KEY``) the live API is checked within
the paid-job budget, which is shown, and confirmed, before anything is sent.

Exit codes: 0 conformant; 1 not conformant; 2 usage error or live run not confirmed; 3 the check
could not run (a missing extra, an unreachable API).

Every run has a seed (``--seed``, else one drawn and printed) that both the generated cases and
the bundled mock's ids come from. The reports record it with the settings, the command that
reruns the check, and, for the bundled mock, the ``deerapi-videos mock`` command that starts the
same mock on the same port, so each failure's commands can be pasted after the run is gone.
"""

from __future__ import annotations

import datetime as _dt
import inspect
import logging
import secrets
import shlex
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any, NoReturn

import click
from deerapi_videos.auth import key_may_travel_to
from deerapi_videos_conformance import ALL_PHASES, PROBE_PAID_JOBS
from rich.table import Table

from ._output import Output
from ._state import State

__all__ = ["EXIT_NOT_CONFORMANT", "EXIT_NOT_RUN", "EXIT_USAGE", "conformance"]

EXIT_NOT_CONFORMANT = 1
EXIT_USAGE = 2
EXIT_NOT_RUN = 3


_EXTRA_HINT = "pip install 'deerapi-videos[conformance]'"


def stdin_is_interactive() -> bool:
    """Whether someone can answer the confirmation prompt."""
    return sys.stdin.isatty()


class NotRun(click.ClickException):
    """The check could not run; exits 3."""

    exit_code = EXIT_NOT_RUN


def _needs_extra(what: str, exc: ImportError) -> NoReturn:
    missing = exc.name or str(exc)
    raise NotRun(f"{what} needs an extra (missing: {missing}): {_EXTRA_HINT}") from exc


#: The bundled mock's job length (mock seconds) and how far each retrieve ages a job: with these,
#: a job polled by schemathesis' stateful phase completes on its second retrieve, so remix and
#: content are checked in their success paths too. The mock's clock never follows real time here.
MOCK_JOB_DURATION = 8.0
MOCK_ADVANCE_ON_RETRIEVE = MOCK_JOB_DURATION / 2


def _load_mock() -> Any:
    try:
        import deerapi_videos_mock as mock_module
    except ImportError as exc:
        raise NotRun(
            f"the bundled mock needs its extra (missing: {exc.name or exc}): "
            "pip install 'deerapi-videos[mock]'"
        ) from exc
    return mock_module


@contextmanager
def _bundled_mock(
    api_key: str,
    defects: tuple[str, ...],
    shape: str = "deerapi",
    unserved: tuple[str, ...] = (),
    seed: int | None = 0,
) -> Iterator[str]:
    """Serve a fresh mock on an ephemeral loopback port; yield its base URL. Its clock stands
    still (jobs move only as they are read) and its ids come from ``seed``: what
    :func:`mock_command` starts again."""
    mock_module = _load_mock()
    mock = mock_module.MockDeerAPI(
        api_key=api_key,
        job_duration=MOCK_JOB_DURATION,
        advance_on_retrieve=MOCK_ADVANCE_ON_RETRIEVE,
        defects=set(defects),
        response_shape=shape,
        unserved=set(unserved),
        seed=seed,
    )
    with mock.serve("127.0.0.1", 0) as base_url:
        # Fuzzed requests make uvicorn log "Invalid HTTP request received." warnings: noise
        # here. (Set once the server runs: uvicorn configures its loggers when it starts.)
        uvicorn_log = logging.getLogger("uvicorn.error")
        level = uvicorn_log.level
        uvicorn_log.setLevel(logging.ERROR)
        try:
            yield str(base_url)
        finally:
            uvicorn_log.setLevel(level)


def mock_command(
    base_url: str,
    seed: int,
    defects: tuple[str, ...] = (),
    shape: str = "deerapi",
    unserved: tuple[str, ...] = (),
) -> str:
    """The ``deerapi-videos mock`` command serving the bundled mock of a run again, on its port
    (the failures' commands name that URL)."""
    port = base_url.rstrip("/").rsplit(":", 1)[-1]
    args = ["deerapi-videos", "mock", "--port", port, "--seed", str(seed), "--speed", "0"]
    args += ["--job-duration", f"{MOCK_JOB_DURATION:g}"]
    args += ["--advance-on-retrieve", f"{MOCK_ADVANCE_ON_RETRIEVE:g}"]
    for defect in defects:
        args += ["--plant-defect", defect]
    if shape != "deerapi":
        args += ["--mock-shape", shape]
    for operation in unserved:
        args += ["--mock-unserved", operation]
    return shlex.join(args)


def _engine_default(name: str) -> Any:
    from deerapi_videos_conformance import run_conformance

    return inspect.signature(run_conformance).parameters[name].default


def _budget_text(
    budget: Any, settings: Mapping[str, str], video_id: str | None, probe: bool = True
) -> str:
    lines = [
        f"Paid-job budget: at most {budget.max_paid_jobs} job(s), each billed by the API.",
    ]
    created = budget.max_paid_jobs >= 1 and video_id is None
    if budget.max_paid_jobs >= 1:
        shown = ", ".join(f"{k}={v}" for k, v in settings.items())
        lines.append(f"  - 1 create with the cheapest settings ({shown})")
    remix_ok = budget.allows_remix(created=created)
    if remix_ok:
        lines.append("  - 1 remix of that video")
    else:
        lines.append("  - no remix (needs --allow-remix and a budget with room for it)")
    left = budget.left_after_own(created=created)
    if not probe:
        lines.append("  - no Idempotency-Key probe (--no-idempotency-probe)")
    elif left >= PROBE_PAID_JOBS:
        lines.append(
            f"  - {PROBE_PAID_JOBS} creates for the Idempotency-Key probe "
            "(the same create twice, one key)"
        )
    else:
        lines.append(
            f"  - no Idempotency-Key probe (needs {PROBE_PAID_JOBS} paid jobs, budget left {left})"
        )
    lines.append(
        "  Every other create/remix case is an input the API must reject for free; a guard "
        "refuses to send any request that could start a job beyond the budget."
    )
    if video_id:
        lines.append(f"  Reads use the existing video {video_id}.")
    return "\n".join(lines)


def _summary(out: Output, result: Any, written: list[Path], drift: Any, *, live: bool) -> None:
    from deerapi_videos_conformance import group_checks

    groups = group_checks(result.checks)
    failed = [g for g in groups if not g.ok]
    probe = getattr(result, "idempotency", None)
    if out.json_mode:
        out.emit_json(
            {
                "passed": bool(result.passed),
                "checks": len(groups),
                "failed": [
                    {
                        "operation": g.operation,
                        "check": g.check,
                        "message": g.failures[0].message,
                        "request_id": g.failures[0].request_id,
                        "curl": g.failures[0].curl,
                    }
                    for g in failed
                ],
                "cases_per_phase": dict(result.cases_per_phase),
                "paid_jobs": [
                    {"operation": j.operation, "video_id": j.video_id, "settings": dict(j.settings)}
                    for j in result.paid_jobs
                ],
                "duration_s": round(float(result.duration_s), 3),
                "seed": getattr(result, "seed", None),
                "model": getattr(result, "model", None),
                "not_served": dict(getattr(result, "not_served", {}) or {}),
                "drift": drift.to_dict() if drift is not None else None,
                "idempotency_key": probe.to_dict() if probe is not None else None,
                "reports": [str(p) for p in written],
            }
        )
        return
    verdict = "CONFORMANT" if result.passed else "NOT CONFORMANT"
    head = (
        f"{verdict}: {len(groups) - len(failed)}/{len(groups)} checks passed "
        f"in {result.duration_s:.1f} s; "
        + (
            f"paid jobs: {len(result.paid_jobs)}"
            if live
            else f"jobs: {len(result.paid_jobs)} (free on the mock)"
        )
    )
    if out.interactive and failed:
        table = Table(title=head)
        table.add_column("operation", overflow="fold")
        table.add_column("check", overflow="fold")
        table.add_column("request id", overflow="fold", no_wrap=False)
        table.add_column("first failure")
        for g in failed:
            first = g.failures[0]
            message = (first.message or "").strip().splitlines()
            first_line = message[0] if message else ""
            table.add_row(g.operation, g.check, first.request_id or "-", first_line)
        out.out.print(table)
    else:
        click.echo(head)
        for g in failed:
            first = g.failures[0]
            message = (first.message or "").strip().splitlines()
            click.echo(
                f"FAIL {g.operation} {g.check}: {message[0] if message else ''} "
                f"(request id {first.request_id or 'none'})"
            )
    for operation, why in sorted((getattr(result, "not_served", {}) or {}).items()):
        click.echo(f"NOT SERVED {operation}: {why}")
    if drift is not None:
        for _, difference in sorted(drift.shape_differences.items()):
            click.echo(f"DRIFT {difference.describe()}")
    if probe is not None and probe.finding:
        click.echo(f"IDEMPOTENCY-KEY {probe.summary()}")
    for path in written:
        click.echo(f"report: {path}")


def _settings(
    *,
    live: bool,
    phases: tuple[str, ...],
    max_examples: int,
    model: str | None,
    budget: Any,
    video_id: str | None,
    defects: tuple[str, ...],
    shape: str,
    unserved: tuple[str, ...],
    idempotency_probe: bool = True,
) -> tuple[tuple[str, str], ...]:
    """What the reports record of a run besides its seed (the values as the flags take them)."""
    from importlib.metadata import PackageNotFoundError, version

    def installed(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "(not installed)"

    rows = [
        ("phases", ", ".join(phases)),
        ("max examples per operation and phase", str(max_examples)),
        ("model", model or "(generated per case)"),
        ("Idempotency-Key probe", "on" if idempotency_probe else "off"),
    ]
    if live:
        rows += [
            ("paid-job budget", str(budget.max_paid_jobs)),
            ("remix allowed", "yes" if budget.allow_remix else "no"),
            ("existing video read", video_id or "(none: the run creates one)"),
        ]
    else:
        rows += [
            (
                "mock",
                f"jobs take {MOCK_JOB_DURATION:g} s, each read ages one by "
                f"{MOCK_ADVANCE_ON_RETRIEVE:g} s, the clock stands still, ids from the seed",
            ),
            ("planted defects", ", ".join(defects) or "(none)"),
            ("mock shape", shape),
            ("not served by the mock", ", ".join(unserved) or "(none)"),
        ]
    rows += [
        ("schemathesis", installed("schemathesis")),
        ("deerapi-videos", installed("deerapi-videos")),
    ]
    return tuple(rows)


class _EventPrinter:
    """The engine's ``on_event`` callback: a one-line status while the check runs."""

    def __init__(self, out: Output, *, live: bool) -> None:
        self.out = out
        self.live = live
        self.count = 0
        self.phase = ""
        self._status: Any = None

    def __enter__(self) -> _EventPrinter:
        if self.out.show_progress:
            self._status = self.out.err.status("starting the conformance check ...")
            self._status.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._status is not None:
            self._status.__exit__(None, None, None)

    def __call__(self, event: Any) -> None:
        """Show a ``Progress`` event: its kind, phase, operation and message."""
        self.count += 1
        kind = getattr(event, "kind", "")
        if kind == "phase_started":
            self.phase = str(getattr(event, "phase", "") or "")
        elif kind == "paid_job" and self.live:
            self.out.note(f"paid job started: {getattr(event, 'message', '')}")
        elif kind == "note" and self.live:
            self.out.note(str(getattr(event, "message", "")))
        if self._status is not None:
            parts = [
                str(p)
                for p in (
                    self.phase,
                    getattr(event, "operation", None),
                    getattr(event, "message", None),
                )
                if p
            ]
            self._status.update(f"conformance [{self.count}] {' · '.join(parts)[:100]}")


@click.command()
@click.option(
    "--base-url",
    "target",
    default=None,
    metavar="URL",
    help="Check this API (live mode: paid jobs, needs DEERAPI_KEY). Default: the bundled mock.",
)
@click.option(
    "--budget",
    type=click.IntRange(min=0),
    default=None,
    help="Live mode: most paid jobs the run may start [default: 1, the cheapest settings].",
)
@click.option(
    "--allow-remix",
    is_flag=True,
    help="Live mode: also remix the created video (a second paid job; needs --budget 2).",
)
@click.option(
    "--junit",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("reports/conformance.xml"),
    show_default=True,
    help="JUnit XML report.",
)
@click.option(
    "--report",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("reports/conformance.md"),
    show_default=True,
    help="Markdown report.",
)
@click.option("--video-id", default=None, help="Live mode: read this existing video.")
@click.option(
    "--model",
    default=None,
    metavar="MODEL",
    help=(
        "The model every create asks for, and the live job's model at its cheapest settings "
        "(from the model table: sora-2 -> 4 s 720x1280, veo3.1-pro -> 8 s 16x9) "
        "[default: generated models; the live job: sora-2]."
    ),
)
@click.option(
    "--mock-shape",
    type=click.Choice(["deerapi", "proxy"]),
    default="deerapi",
    show_default=True,
    help="Mock mode: answer as the spec says, or as a new-api style gateway (to see the drift).",
)
@click.option(
    "--mock-unserved",
    type=click.Choice(["listVideos", "deleteVideo"]),
    multiple=True,
    help="Mock mode: answer this operation as a server without the route (repeatable).",
)
@click.option("--seed", type=int, default=None, help="Seed for generated cases (reproducible).")
@click.option(
    "--max-examples",
    type=click.IntRange(min=1),
    default=None,
    help="Generated cases per operation and phase [default: the engine's].",
)
@click.option(
    "--phase",
    "phases",
    type=click.Choice(ALL_PHASES),
    multiple=True,
    help="Run only this phase (repeatable) [default: all of them].",
)
@click.option(
    "--plant-defect",
    "defects",
    metavar="DEFECT",
    multiple=True,
    help=(
        "Mock mode: plant this defect in the mock, to see the check catch it (repeatable; "
        "e.g. delete_noop, wrong_field_type; the list: deerapi_videos_mock.DEFECTS)."
    ),
)
@click.option(
    "--idempotency-probe/--no-idempotency-probe",
    default=True,
    show_default=True,
    help=(
        "Send the cheapest create twice with one Idempotency-Key and report whether one job or "
        "two came back (live: 2 paid jobs, only when the budget has them left)."
    ),
)
@click.option("--yes", "-y", is_flag=True, help="Live mode: do not ask before starting paid jobs.")
@click.option("--json", "json_flag", is_flag=True, help="Print a JSON summary on stdout.")
@click.pass_context
def conformance(
    ctx: click.Context,
    target: str | None,
    budget: int | None,
    allow_remix: bool,
    junit: Path,
    report: Path,
    video_id: str | None,
    model: str | None,
    mock_shape: str,
    mock_unserved: tuple[str, ...],
    seed: int | None,
    max_examples: int | None,
    phases: tuple[str, ...],
    defects: tuple[str, ...],
    idempotency_probe: bool,
    yes: bool,
    json_flag: bool,
) -> None:
    """Check an API against openapi.yaml; write JUnit and Markdown reports.

    Without --base-url the bundled mock is started on loopback (no key, no network). Exit code 0
    only when conformant.
    """
    state = ctx.find_object(State)
    assert state is not None
    out = state.output
    if json_flag:
        out.json_mode = True
    # The group's --base-url counts only when typed on the command line: DEERAPI_BASE_URL in the
    # environment must not turn the default mock check into a paid live run.
    parent = ctx.parent
    if target is None and parent is not None and state.base_url:
        source = parent.get_parameter_source("base_url")
        if source == click.core.ParameterSource.COMMANDLINE:
            target = state.base_url
    live = target is not None
    if live and defects:
        raise click.UsageError("--plant-defect applies to the bundled mock only")
    if live and (mock_shape != "deerapi" or mock_unserved):
        raise click.UsageError("--mock-shape and --mock-unserved apply to the bundled mock only")
    if model is not None and not model.strip():
        raise click.BadParameter("must be a model id", param_hint="--model")
    if target is not None and not key_may_travel_to(target):
        raise click.UsageError(
            f"refusing to send the API key in clear text to {target}: use https "
            "(plain http is allowed only for loopback hosts)"
        )
    if not live and (budget is not None or allow_remix or video_id):
        raise click.UsageError("--budget, --allow-remix and --video-id apply to --base-url only")
    if defects:
        known = _load_mock().DEFECTS
        unknown = sorted(set(defects) - set(known))
        if unknown:
            raise click.BadParameter(
                f"unknown defect(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}",
                param_hint="--plant-defect",
            )

    try:
        from deerapi_videos_conformance import Budget, cheapest_settings, run_conformance
    except ImportError as exc:
        _needs_extra("the conformance check", exc)

    budget_obj = Budget(max_paid_jobs=1 if budget is None else budget, allow_remix=allow_remix)
    if live:
        api_key = state.api_key
        if not api_key:
            raise click.UsageError("live mode needs an API key: set DEERAPI_KEY or pass --api-key")
        out.note(f"Live conformance check against {target}")
        out.note(_budget_text(budget_obj, cheapest_settings(model), video_id, idempotency_probe))
        if not yes:
            if not stdin_is_interactive():
                out.note(
                    "error: refusing to start paid jobs without confirmation; "
                    "pass --yes to run non-interactively (see the budget above)"
                )
                ctx.exit(EXIT_USAGE)
            if not click.confirm("Start the live check?", default=False, err=True):
                out.note("Not started.")
                ctx.exit(EXIT_USAGE)
    else:
        api_key = "sk-mock-" + secrets.token_urlsafe(24)  # throwaway: the user's key never used

    # One seed for the cases and the mock's ids, drawn when not given: every report names it.
    explicit_seed = seed is not None
    if seed is None:
        seed = secrets.randbelow(2**32)
    kwargs: dict[str, Any] = {"budget": budget_obj, "live": live, "seed": seed}
    if max_examples is not None:
        kwargs["max_examples"] = max_examples
    if video_id is not None:
        kwargs["video_id"] = video_id
    if model is not None:
        kwargs["model"] = model
    if phases:
        kwargs["phases"] = tuple(p for p in ALL_PHASES if p in phases)
    if not idempotency_probe:
        kwargs["idempotency_probe"] = False

    server: AbstractContextManager[str] = (
        nullcontext(target)
        if target is not None
        else _bundled_mock(api_key, defects, mock_shape, mock_unserved, seed)
    )
    started = _dt.datetime.now(_dt.UTC)
    t0 = time.monotonic()
    with server as base_url, _EventPrinter(out, live=live) as events:
        if not live:
            out.note(
                f"Conformance check against the bundled mock at {base_url}"
                + (f" (planted defects: {', '.join(defects)})" if defects else "")
                + (f" (answering as: {mock_shape})" if mock_shape != "deerapi" else "")
                + (f" (model: {model})" if model else "")
            )
        if not explicit_seed:
            out.note(f"Seed {seed} (rerun with --seed {seed}).")
        try:
            result = run_conformance(base_url, api_key, on_event=events, **kwargs)
        except ImportError as exc:
            _needs_extra("the conformance check", exc)
    elapsed = time.monotonic() - t0

    from deerapi_videos_conformance import ReportContext, write_reports

    drift = coverage = None
    try:
        from deerapi_videos_conformance import compute_coverage, compute_drift

        drift = compute_drift(result.exchanges)
        coverage = compute_coverage(result.exchanges, drift=drift)
    except ImportError:
        out.note(f"drift and coverage not computed: PyYAML is missing ({_EXTRA_HINT})")
    rerun = ["deerapi-videos", "conformance", "--seed", str(seed)]
    if live:
        rerun += ["--base-url", base_url]
        rerun += [] if budget is None else ["--budget", str(budget)]
        rerun += ["--allow-remix"] if allow_remix else []
        rerun += [] if video_id is None else ["--video-id", video_id]
    for phase in kwargs.get("phases", ()):
        rerun += ["--phase", phase]
    rerun += [] if max_examples is None else ["--max-examples", str(max_examples)]
    rerun += [] if model is None else ["--model", model]
    rerun += [] if idempotency_probe else ["--no-idempotency-probe"]
    for defect in defects:
        rerun += ["--plant-defect", defect]
    rerun += [] if mock_shape == "deerapi" else ["--mock-shape", mock_shape]
    for operation in mock_unserved:
        rerun += ["--mock-unserved", operation]
    context = ReportContext(
        base_url=base_url,
        live=live,
        budget=budget_obj.max_paid_jobs if live else None,
        seed=seed,
        started_at=started,
        secrets=(api_key,),
        model=model,
        settings=_settings(
            live=live,
            phases=kwargs.get("phases", ALL_PHASES),
            max_examples=max_examples or _engine_default("max_examples"),
            model=model,
            budget=budget_obj,
            video_id=video_id,
            defects=defects,
            shape=mock_shape,
            unserved=mock_unserved,
            idempotency_probe=idempotency_probe,
        ),
        rerun=shlex.join(rerun),
        mock_command=None
        if live
        else mock_command(base_url, seed, defects, mock_shape, mock_unserved),
    )
    written = write_reports(
        result,
        junit_path=junit,
        markdown_path=report,
        drift=drift,
        context=context,
        coverage=coverage,
    )
    _summary(out, result, written, drift, live=live)
    if not out.json_mode:
        out.note(f"(wall time {elapsed:.1f} s)")
    ctx.exit(0 if result.passed else EXIT_NOT_CONFORMANT)
