"""Reports of a conformance run: JUnit XML for CI, Markdown for people.

Both are built from a ``ConformanceResult`` (and optionally its ``Drift`` and ``Coverage``).
Checks are grouped per operation and check: one JUnit test case and one Markdown table row each,
failing when any case of that check failed. Each distinct failure is listed with its request id
and the shell commands that send its requests again (``_repro``: the key read from
``$DEERAPI_KEY``, never written; bodies that are not text written beside the report). The engine
keeps the key out; this module redacts it again if it is given one, as a second guard.

Both reports record what the run was: its seed and settings, the command that reruns it, and
for a mock target the command that starts the same mock on the same port (the run's is gone).
The Markdown report also says what each check means and how much of the spec the run covered.
Both carry the Idempotency-Key probe's outcome (``_idempotency``) with the ids of the jobs it
started; like the drift it is information and leaves the verdict alone.

Only the standard library is used (``xml.etree``), so reports can be written wherever the engine
runs.
"""

from __future__ import annotations

import datetime as _dt
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from deerapi_videos.auth import REDACTED

from ._checks import meaning
from ._coverage import Coverage
from ._drift import Drift
from ._idempotency import IdempotencyProbe, ProbeAnswer
from ._repro import ReproStep, body_file_name, is_text_body, render_steps

__all__ = [
    "CheckGroup",
    "CheckLike",
    "PaidJobLike",
    "ReportContext",
    "ResultLike",
    "group_checks",
    "redact",
    "render_junit",
    "render_markdown",
    "write_reports",
    "xml_safe",
]


class CheckLike(Protocol):
    """One check of one case (see ``CheckResult``)."""

    @property
    def operation(self) -> str: ...
    @property
    def check(self) -> str: ...
    @property
    def passed(self) -> bool: ...
    @property
    def message(self) -> str | None: ...
    @property
    def request_id(self) -> str | None: ...
    @property
    def curl(self) -> str | None: ...


#: Where a non-text request body was written, by body (None: not written; rendered inline).
BodyPath = Callable[[bytes], str | None]


class PaidJobLike(Protocol):
    """A job the run started that costs money on a live API (see ``PaidJob``)."""

    @property
    def operation(self) -> str: ...
    @property
    def video_id(self) -> str | None: ...
    @property
    def settings(self) -> Mapping[str, Any]: ...


class ResultLike(Protocol):
    """The parts of a ``ConformanceResult`` the reports read."""

    @property
    def checks(self) -> Sequence[CheckLike]: ...
    @property
    def paid_jobs(self) -> Sequence[PaidJobLike]: ...
    @property
    def cases_per_phase(self) -> Mapping[str, int]: ...
    @property
    def duration_s(self) -> float: ...
    @property
    def passed(self) -> bool: ...


@dataclass(frozen=True)
class ReportContext:
    """What the run was pointed at, for the report's header."""

    base_url: str = ""
    live: bool = False
    budget: int | None = None
    seed: int | None = None
    started_at: _dt.datetime | None = None
    #: Secrets to blank out of every string written (the API key), in case any slipped through.
    secrets: tuple[str, ...] = ()
    #: The model the run's creates asked for (``--model``), if one was chosen.
    model: str | None = None
    #: What the run was, as (name, value) pairs: phases, examples, mock options, versions...
    settings: tuple[tuple[str, str], ...] = ()
    #: The command that runs the same check again (same seed and settings).
    rerun: str | None = None
    #: For a mock target: the command that starts the same mock on the run's port.
    mock_command: str | None = None


@dataclass
class CheckGroup:
    """All cases of one check on one operation."""

    operation: str
    check: str
    passed: int = 0
    failures: list[CheckLike] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def total(self) -> int:
        return self.passed + len(self.failures)

    def distinct_failures(self) -> list[tuple[CheckLike, int]]:
        """Failures with the same message collapsed: (first occurrence, how many)."""
        seen: dict[str, tuple[CheckLike, int]] = {}
        for failure in self.failures:
            key = failure.message or ""
            first, count = seen.get(key, (failure, 0))
            seen[key] = (first, count + 1)
        return list(seen.values())


#: Rows of the paid-jobs table (a mock run accepts many jobs; a live one at most its budget).
MAX_JOB_ROWS = 50

_BEARER = re.compile(
    rf"(Authorization:\s*Bearer\s+)(?!{re.escape(REDACTED)}|\$DEERAPI_KEY)[^'\"\s]+", re.I
)


# Characters XML 1.0 cannot carry at all (even escaped); fuzzed inputs echoed in messages and
# curl lines contain them.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_safe(text: str) -> str:
    """``text`` with characters XML cannot hold written as ``\\xNN`` / ``\\uNNNN``."""
    return _XML_ILLEGAL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Blank out ``secrets`` and any bearer token in ``text``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return _BEARER.sub(lambda m: m.group(1) + REDACTED, text)


def group_checks(checks: Iterable[CheckLike]) -> list[CheckGroup]:
    """Group per (operation, check), in order of first appearance."""
    groups: dict[tuple[str, str], CheckGroup] = {}
    for result in checks:
        key = (result.operation, result.check)
        group = groups.get(key)
        if group is None:
            group = groups[key] = CheckGroup(result.operation, result.check)
        if result.passed:
            group.passed += 1
        else:
            group.failures.append(result)
    return sorted(groups.values(), key=lambda g: (g.operation, g.check))


def _repro_lines(failure: CheckLike, body_path: BodyPath | None) -> list[str]:
    """The shell commands that reproduce ``failure`` (its steps, else its one curl line)."""
    steps: Sequence[ReproStep] = getattr(failure, "repro", ()) or ()
    if steps:
        return render_steps(steps, body_path)
    return [failure.curl] if failure.curl else []


def _failure_text(
    failure: CheckLike, count: int, secrets: Sequence[str], body_path: BodyPath | None = None
) -> str:
    lines = [failure.message or "(no message)"]
    if count > 1:
        lines.append(f"({count} cases failed this way)")
    lines.append(f"Request id: {failure.request_id or '(none returned)'}")
    repro = _repro_lines(failure, body_path)
    if repro:
        lines.append("Reproduce (the key from $DEERAPI_KEY):")
        lines += [f"  {line}" for line in repro]
    return redact("\n".join(lines), secrets)


def _seed(result: ResultLike, context: ReportContext) -> int | None:
    return context.seed if context.seed is not None else getattr(result, "seed", None)


def _probe(result: ResultLike) -> IdempotencyProbe | None:
    """The result's Idempotency-Key probe, if it has one (hand-built results may not)."""
    probe = getattr(result, "idempotency", None)
    return probe if isinstance(probe, IdempotencyProbe) else None


def render_junit(
    result: ResultLike,
    drift: Drift | None = None,
    context: ReportContext | None = None,
    *,
    coverage: Coverage | None = None,
    body_path: BodyPath | None = None,
) -> str:
    """JUnit XML: one ``<testcase>`` per operation and check, ``classname`` = operation; the
    seed, settings, rerun and mock commands and coverage totals as suite properties."""
    context = context or ReportContext()
    secrets = context.secrets
    groups = group_checks(result.checks)
    failed = sum(1 for g in groups if not g.ok)
    not_served: Mapping[str, str] = getattr(result, "not_served", None) or {}
    probe = _probe(result)
    suites = ET.Element(
        "testsuites",
        name="deerapi-conformance",
        tests=str(len(groups) + len(not_served)),
        failures=str(failed),
        errors="0",
        time=f"{result.duration_s:.3f}",
    )
    suite = ET.SubElement(
        suites,
        "testsuite",
        name="deerapi-conformance",
        tests=str(len(groups) + len(not_served)),
        failures=str(failed),
        errors="0",
        skipped=str(len(not_served)),
        time=f"{result.duration_s:.3f}",
    )
    if context.started_at is not None:
        suite.set("timestamp", context.started_at.isoformat(timespec="seconds"))
    props = ET.SubElement(suite, "properties")
    seed = _seed(result, context)
    totals = coverage.totals() if coverage is not None else {}
    for name, value in (
        ("base_url", context.base_url),
        ("mode", "live" if context.live else "mock"),
        ("model", context.model or ""),
        ("seed", "" if seed is None else str(seed)),
        *((f"setting.{k}", v) for k, v in context.settings),
        ("rerun", context.rerun or ""),
        ("mock_command", context.mock_command or ""),
        ("paid_jobs", str(len(result.paid_jobs))),
        *((f"not_served.{op}", why) for op, why in sorted(not_served.items())),
        *(
            ()
            if probe is None
            else (
                ("idempotency_key.outcome", probe.outcome),
                ("idempotency_key.jobs", " ".join(probe.jobs)),
            )
        ),
        *((f"cases.{phase}", str(n)) for phase, n in sorted(result.cases_per_phase.items())),
        *((f"coverage.{k.replace(' ', '_')}", f"{a}/{b}") for k, (a, b) in totals.items()),
    ):
        ET.SubElement(props, "property", name=name, value=redact(value, secrets))
    for operation, why in sorted(not_served.items()):
        case = ET.SubElement(suite, "testcase", classname=operation, name="served")
        ET.SubElement(case, "skipped", message=f"not served: {why}")
    for group in groups:
        case = ET.SubElement(suite, "testcase", classname=group.operation, name=group.check)
        case.set("time", "0")
        if not group.ok:
            distinct = group.distinct_failures()
            first, _ = distinct[0]
            failure = ET.SubElement(
                case,
                "failure",
                message=redact(first.message or "check failed", secrets).splitlines()[0][:500],
                type=group.check,
            )
            texts = [_failure_text(f, n, secrets, body_path) for f, n in distinct]
            if context.mock_command:
                texts.insert(0, f"Start the same mock first: {context.mock_command}")
            failure.text = "\n\n".join(texts)
        else:
            ET.SubElement(case, "system-out").text = f"{group.passed} case(s) passed"
    notes = [] if drift is None else [_drift_text(drift)]
    if probe is not None:
        notes.append(_probe_text(probe))
    if notes:
        ET.SubElement(suite, "system-out").text = redact("\n\n".join(notes), secrets)
    for element in suites.iter():
        if element.text:
            element.text = xml_safe(element.text)
        for name, value in element.attrib.items():
            element.set(name, xml_safe(value))
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def _probe_text(probe: IdempotencyProbe) -> str:
    """The probe as plain lines (JUnit): outcome, key, each answer, each job's fate."""
    lines = [f"Idempotency-Key (informational): {probe.summary()}"]
    if probe.key is not None:
        lines.append(f"Key: {probe.key}")
    for n, answer in enumerate(probe.answers, 1):
        lines.append(f"POST {n}: {_answer_text(answer)}")
    lines += [f"Job {job}: {fate}" for job, fate in probe.cleanup]
    return "\n".join(lines)


def _answer_text(answer: ProbeAnswer, code: Callable[[str], str] = str) -> str:
    """One probe answer: status, the job it names or its error code, its request id."""
    if answer.status is None:
        return "no answer"
    parts = [str(answer.status)]
    if answer.video_id is not None:
        parts.append(f"video {code(answer.video_id)}")
    if answer.error_code is not None:
        parts.append(f"error code {code(answer.error_code)}")
    parts.append(f"request id {code(answer.request_id or '(none returned)')}")
    return ", ".join(parts)


def _drift_text(drift: Drift) -> str:
    lines = ["Drift (informational):"]
    for title, items in _drift_sections(drift):
        lines.append(f"{title}: {', '.join(items) if items else 'none'}")
    return "\n".join(lines)


def _drift_sections(drift: Drift) -> list[tuple[str, list[str]]]:
    def ops(values: Iterable[object]) -> str:
        return ", ".join(str(v) for v in sorted(values, key=str))

    values = drift.undocumented_values
    return [
        (
            "Fields the spec does not describe",
            [f"`{k}` (in {ops(v)})" for k, v in sorted(drift.undocumented_fields.items())],
        ),
        (
            "Status values the spec does not list",
            [f"`{k}`: {ops(v)}" for k, v in sorted(values.items()) if k.endswith(".status")],
        ),
        (
            "Models the spec does not list",
            [f"`{k}`: {ops(v)}" for k, v in sorted(values.items()) if k.endswith(".model")],
        ),
        (
            "Other values outside a documented list",
            [
                f"`{k}`: {ops(v)}"
                for k, v in sorted(values.items())
                if not k.endswith((".status", ".model"))
            ],
        ),
        (
            "Headers the spec does not describe",
            [f"`{k}` (in {ops(v)})" for k, v in sorted(drift.undocumented_headers.items())],
        ),
        (
            "Status codes the spec does not list",
            [f"{k}: {ops(v)}" for k, v in sorted(drift.undocumented_status_codes.items())],
        ),
        ("Endpoints not in the spec", sorted(drift.unknown_endpoints)),
        (
            "Shape differences (with suggested spec changes)",
            [d.describe() for _, d in sorted(drift.shape_differences.items())],
        ),
        ("Spec fields never seen in a response", [f"`{f}`" for f in drift.unseen_fields]),
        (
            "Models seen in responses",
            [f"`{m}`: {n} answer(s)" for m, n in sorted(drift.models_seen.items())],
        ),
    ]


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _settings_text(settings: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in settings.items()) or "(defaults)"


def render_markdown(
    result: ResultLike,
    drift: Drift | None = None,
    context: ReportContext | None = None,
    *,
    coverage: Coverage | None = None,
    body_path: BodyPath | None = None,
) -> str:
    """The human report: verdict, settings, checks per operation and what they mean, failures
    with the commands that reproduce them, spec coverage, drift, paid jobs, duration."""
    context = context or ReportContext()
    secrets = context.secrets
    groups = group_checks(result.checks)
    failed = [g for g in groups if not g.ok]
    verdict = "CONFORMANT" if result.passed else "NOT CONFORMANT"
    not_served: Mapping[str, str] = getattr(result, "not_served", None) or {}
    title = "# DeerAPI conformance report"
    if context.model:
        title += f": model `{context.model}`"
    out: list[str] = [title, ""]
    out.append(
        f"**Result: {verdict}** — {len(groups) - len(failed)} of {len(groups)} checks passed "
        f"({sum(g.total for g in groups)} check runs)."
    )
    out.append("")
    target = context.base_url or "(unknown)"
    mode = "live API" if context.live else "bundled mock"
    out.append(f"- Target: `{target}` ({mode})")
    if context.model:
        out.append(f"- Model: `{context.model}` (every positive create; the drift below is its)")
    for operation, why in sorted(not_served.items()):
        out.append(f"- Not served: `{operation}` ({why}); left out of the checks")
    if context.started_at is not None:
        out.append(f"- Started: {context.started_at.isoformat(timespec='seconds')}")
    out.append(f"- Duration: {result.duration_s:.1f} s")
    seed = _seed(result, context)
    if seed is not None:
        out.append(f"- Seed: {seed}")
    if result.cases_per_phase:
        phases = ", ".join(f"{p} {n}" for p, n in result.cases_per_phase.items())
        out.append(f"- Cases per phase: {phases}")
    if context.live:
        budget = "" if context.budget is None else f" (budget {context.budget})"
        out.append(f"- Paid jobs created: {len(result.paid_jobs)}{budget}")
        refused = getattr(result, "paid_requests_refused", None)
        if refused is not None:
            out.append(f"- Paid requests refused by the budget guard: {refused}")
    else:
        out.append(
            f"- Jobs created: {len(result.paid_jobs)} (free on the mock; each would be paid live)"
        )
    probe = _probe(result)
    if probe is not None:
        finding = " (a finding: see below)" if probe.finding else ""
        out.append(f"- Idempotency-Key: {probe.title}{finding}")
    out.append("")

    out += _settings_section(context, seed)

    out += ["## Checks by operation", "", "| Operation | Check | Result | Cases |"]
    out.append("|---|---|---|---|")
    for g in groups:
        status = "pass" if g.ok else f"**FAIL** ({len(g.failures)} failed)"
        out.append(f"| `{g.operation}` | {_md_cell(g.check)} | {status} | {g.total} |")
    if not groups:
        out.append("| — | — | no checks ran | 0 |")
    out.append("")

    checks = sorted({g.check for g in groups})
    if checks:
        out += ["## What the checks mean", ""]
        out += [f"- `{check}`: {meaning(check)}" for check in checks]
        out.append("")

    if not_served:
        out += ["## Not served", ""]
        out.append(
            "Operations DeerAPI does not document, which this server does not serve. They are "
            "neither passed nor failed: their checks were not run."
        )
        out.append("")
        out += [f"- `{op}`: {_md_cell(why)}" for op, why in sorted(not_served.items())]
        out.append("")

    out += ["## Failures", ""]
    if not failed:
        out += ["None.", ""]
    else:
        out += _how_to_reproduce(context)
    for g in failed:
        out += [f"### `{g.operation}` — {g.check}", ""]
        for failure, count in g.distinct_failures():
            message = redact(failure.message or "(no message)", secrets).strip()
            first_line, _, rest = message.partition("\n")
            times = f" ({count} cases)" if count > 1 else ""
            out.append(f"- {_md_cell(first_line)}{times}")
            out.append(f"  - Request id: `{failure.request_id or '(none returned)'}`")
            if rest.strip():
                out += ["", "  ```text", *(f"  {line}" for line in rest.strip().splitlines())]
                out += ["  ```", ""]
            repro = _repro_lines(failure, body_path)
            if repro:
                out += ["", "  ```sh", *(f"  {redact(line, secrets)}" for line in repro)]
                out += ["  ```", ""]
        out.append("")

    out += _coverage_section(coverage)

    out += ["## Drift", ""]
    if drift is None:
        out += ["Not computed (PyYAML missing: `pip install 'deerapi-videos[conformance]'`).", ""]
    else:
        out.append(
            f"Informational: compared {drift.exchanges_seen} responses with `openapi.yaml` "
            f"({drift.probes_skipped} unsupported-method probes skipped). New fields and values "
            "are allowed by the spec but should be described in it."
        )
        out.append("")
        for title, items in _drift_sections(drift):
            out.append(f"### {title}")
            out.append("")
            out += [f"- {_md_cell(redact(i, secrets))}" for i in items] or ["None."]
            out.append("")

    if probe is not None:
        out += _probe_section(probe, live=context.live)

    out += ["## Paid jobs", ""]
    if not context.live:
        out += ["Jobs the API accepted; on the bundled mock they cost nothing.", ""]
    if not result.paid_jobs:
        out += ["None.", ""]
    else:
        out += ["| Operation | Video id | Settings |", "|---|---|---|"]
        for job in result.paid_jobs[:MAX_JOB_ROWS]:
            out.append(
                f"| `{job.operation}` | `{job.video_id or '(not returned)'}` "
                f"| {_md_cell(_settings_text(job.settings))} |"
            )
        if len(result.paid_jobs) > MAX_JOB_ROWS:
            out.append(f"| … | {len(result.paid_jobs) - MAX_JOB_ROWS} more | |")
        out.append("")
    out.append(f"Duration: {result.duration_s:.1f} s.")
    return redact("\n".join(out), secrets) + "\n"


def _probe_section(probe: IdempotencyProbe, *, live: bool) -> list[str]:
    """The Markdown section of the Idempotency-Key probe."""
    cost = "paid for" if live else "free on the mock"
    out = ["## Idempotency-Key", ""]
    out.append(
        "The cheapest create sent twice with the same body and the same `Idempotency-Key`: "
        "`openapi.yaml` says a server that honours the key returns the job it already started "
        f"instead of starting a second. Each POST counts as a paid job ({cost}). Informational, "
        "like the drift: it does not change the result."
    )
    out.append("")
    out += [f"**{probe.title.capitalize()}**: {_md_cell(probe.detail())}.", ""]
    if probe.key is None:
        return out
    out.append(f"- Key: `{_md_cell(probe.key)}`")
    for n, answer in enumerate(probe.answers, 1):
        out.append(f"- POST {n}: {_md_cell(_answer_text(answer, lambda t: f'`{t}`'))}")
    fate = dict(probe.cleanup)
    jobs = [f"`{job}` ({_md_cell(fate.get(job, 'left as is'))})" for job in probe.jobs]
    out.append(f"- Jobs the probe started: {', '.join(jobs) or 'none known'}")
    out.append("")
    return out


def _settings_section(context: ReportContext, seed: int | None) -> list[str]:
    rows = [("seed", str(seed))] if seed is not None else []
    rows += [(k, v) for k, v in context.settings if k != "seed"]
    if not rows and not context.rerun:
        return []
    out = ["## Settings", "", "| Setting | Value |", "|---|---|"]
    out += [f"| {_md_cell(k)} | `{_md_cell(v)}` |" for k, v in rows]
    out.append("")
    if context.rerun:
        out += ["Run the same check again (same seed, same settings):", ""]
        out += ["```sh", context.rerun, "```", ""]
    return out


def _how_to_reproduce(context: ReportContext) -> list[str]:
    out = ["Each failure below comes with the commands that send its requests again; paste them "]
    out[0] += "into a shell in the folder the check ran in (request bodies that are not text are "
    out[0] += "files beside this report). They read the key from `$DEERAPI_KEY`."
    out.append("")
    if context.mock_command:
        out += [
            "The run's mock is gone: start the same one first, on the same port (any key "
            "works once exported; stop it with Ctrl-C):",
            "",
            "```sh",
            "export DEERAPI_KEY=sk-mock-repro",
            context.mock_command,
            "```",
            "",
            "then paste a failure's commands in another shell with the same `DEERAPI_KEY`.",
            "",
        ]
    elif context.live:
        out += [
            "Against the live API a command that creates a job (`POST /v1/videos`, `.../remix`) "
            "is paid for; a video the run created was deleted at its end.",
            "",
        ]
    return out


def _coverage_section(coverage: Coverage | None) -> list[str]:
    if coverage is None:
        return []
    out = ["## Spec coverage", ""]
    totals = coverage.totals()
    out.append(
        "What the run exercised of what `openapi.yaml` describes: "
        + "; ".join(f"{name} {seen} of {described}" for name, (seen, described) in totals.items())
        + "."
    )
    out += ["", "| Operation | Requests | Status codes answered | Described, never answered |"]
    out[-1] += " Request fields sent |"
    out.append("|---|---|---|---|---|")
    for op in coverage.operations:
        answered = ", ".join(f"{code} ({n})" for code, n in sorted(op.statuses_seen.items()))
        extra = op.undescribed_seen()
        if extra:
            answered += " (not described: " + ", ".join(str(c) for c in extra) + ")"
        unsent = [f for f in op.fields_described if f not in op.fields_sent]
        fields = f"{len(op.fields_sent)} of {len(op.fields_described)}"
        if unsent:
            fields += "; never sent: " + ", ".join(f"`{f}`" for f in unsent)
        out.append(
            f"| `{op.operation_id}` (`{op.label}`) | {op.requests} | {_md_cell(answered or '—')} "
            f"| {', '.join(op.described_unseen()) or '—'} | {_md_cell(fields)} |"
        )
    out.append("")
    if coverage.response_fields:
        out += ["Response fields seen, per schema the run got answers of:", ""]
        for schema, (documented, seen) in coverage.response_fields.items():
            missing = [f for f in documented if f not in seen]
            line = f"- `{schema}`: {len(seen)} of {len(documented)}"
            if missing:
                line += "; never seen: " + ", ".join(f"`{f}`" for f in missing)
            out.append(line)
        out.append("")
    return out


def _failing_bodies(result: ResultLike) -> list[bytes]:
    """The non-text request bodies of the failures the reports list (distinct ones)."""
    bodies: dict[bytes, None] = {}
    for group in group_checks(result.checks):
        for failure, _ in group.distinct_failures():
            for step in getattr(failure, "repro", ()) or ():
                if step.body is not None and not is_text_body(step.body):
                    bodies[step.body] = None
    return list(bodies)


def write_reports(
    result: ResultLike,
    *,
    junit_path: Path | None,
    markdown_path: Path | None,
    drift: Drift | None = None,
    context: ReportContext | None = None,
    coverage: Coverage | None = None,
) -> list[Path]:
    """Write the JUnit and Markdown reports (creating folders); return the paths written.

    The failures' request bodies that are not text go to a folder beside the Markdown report
    (``conformance-bodies/`` for ``conformance.md``), which their commands send with
    ``--data-binary @file``; the paths are as given, so relative to where the run ran.
    """
    written: list[Path] = []
    anchor = markdown_path or junit_path
    body_files: dict[bytes, str] = {}
    bodies = _failing_bodies(result)
    if anchor is not None and bodies:
        folder = anchor.with_name(f"{anchor.stem}-bodies")
        folder.mkdir(parents=True, exist_ok=True)
        for body in bodies:
            target = folder / body_file_name(body)
            target.write_bytes(body)
            body_files[body] = str(target)
    for path, render in ((junit_path, render_junit), (markdown_path, render_markdown)):
        if path is None:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        # backslashreplace: a lone surrogate echoed from a fuzzed input must not stop the write.
        text = render(result, drift, context, coverage=coverage, body_path=body_files.get)
        path.write_text(text, encoding="utf-8", errors="backslashreplace")
        written.append(path)
    return written
