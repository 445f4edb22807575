"""``deerapi-videos batch FILE``: run a JSON Lines or CSV file of video jobs, resumably.

Exit codes: 0 every video saved; 1 some jobs failed for good (or the batch stopped on an API
error such as a wrong key); 2 usage error (a bad file or option); 4 incomplete: some jobs may
still succeed, run the same command again; 5 some jobs are ambiguous (a POST may have started
them and nothing can tell): check your jobs, then decide with ``--resubmit-ambiguous``; 130
interrupted (run the same command again to resume).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Group
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from ._output import EXIT_API_ERROR, EXIT_INTERRUPTED, Output
from ._state import current_state

__all__ = ["batch"]

EXIT_USAGE = 2
_SHOWN_PROBLEMS = 20
_PHASES = (
    "queued",
    "submitting",
    "reconciling",
    "running",
    "completed",
    "downloading",
    "downloaded",
    "failed",
    "ambiguous",
    "retry_later",
    "over_budget",
    "invalid",
    "duplicate",
)


class _Display:
    """The live view on a terminal: a bar of finished jobs and one line of counts."""

    def __init__(self, output: Output, total: int) -> None:
        self.enabled = output.show_progress
        self._bar = Progress(
            TextColumn("[bold]batch"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=output.err,
        )
        self._task = self._bar.add_task("batch", total=total)
        self._line = Text("")
        self._live = Live(
            Group(self._bar, self._line), console=output.err, refresh_per_second=4, transient=False
        )

    def __enter__(self) -> _Display:
        if self.enabled:
            self._live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            self._live.stop()

    def __call__(self, snapshot: Any) -> None:
        if not self.enabled:
            return
        counts = snapshot.counts
        done = sum(counts.get(k, 0) for k in ("downloaded", "failed", "invalid", "duplicate"))
        self._bar.update(self._task, completed=done)
        parts = [f"{name} {counts[name]}" for name in _PHASES if counts.get(name)]
        budget = snapshot.budget.seconds
        spent = f"video s {snapshot.spent.seconds}" + (f"/{budget}" if budget is not None else "")
        line = " · ".join(parts) + f"  |  {spent}  |  {snapshot.requests} requests"
        if snapshot.too_many:
            line += f", {snapshot.too_many}x429"
        if snapshot.paused > 0:
            line += f"  |  paused {snapshot.paused:.1f}s"
        line += f"  |  window {snapshot.window:.0f}"
        self._line.plain = line


def _summary(output: Output, result: Any, report_path: Path | None) -> None:
    """The summary table and the jobs that need attention (stderr; stdout stays for --json)."""
    totals = result.totals
    spent = result.spent
    if output.interactive:
        table = Table(title="batch summary", show_header=True)
        table.add_column("state")
        table.add_column("jobs", justify="right")
        for state, count in sorted(totals.items()):
            table.add_row(state, str(count))
        output.err.print(table)
    else:
        output.note("batch: " + ", ".join(f"{k} {v}" for k, v in sorted(totals.items())))
    requests = result.requests
    output.note(
        f"spent (or reserved): {spent.seconds} video seconds in {spent.jobs} job(s); "
        f"{requests.get('total', 0)} requests ({requests.get('429', 0)} answered 429); "
        f"{result.elapsed:.1f}s"
    )
    attention = [o for o in result.outcomes if o.state not in ("downloaded", "duplicate")]
    for outcome in attention[:_SHOWN_PROBLEMS]:
        name = outcome.id or outcome.output
        text = f"  line {outcome.line}" + (f" ({name})" if name else "") + f": {outcome.state}"
        if outcome.reason:
            text += f" [{outcome.reason}]"
        if outcome.error:
            text += f": {outcome.error.splitlines()[0][:200]}"
        if outcome.state == "ambiguous" and outcome.idempotency_key:
            text += f" (idempotency key {outcome.idempotency_key})"
        output.note(text)
    if len(attention) > _SHOWN_PROBLEMS:
        output.note(f"  ... and {len(attention) - _SHOWN_PROBLEMS} more (see the report)")
    if result.stopped:
        output.note(f"stopped: {result.stopped}")
    hints = {
        4: "incomplete: run the same command again to resume (nothing finished is redone)",
        5: "ambiguous jobs may have been started without a recorded answer: check your jobs "
        "(deerapi-videos list), then rerun with --resubmit-ambiguous to send them again",
    }
    if result.exit_code in hints:
        output.note(hints[result.exit_code])
    if report_path is not None:
        output.note(f"report: {report_path}")


def _json_flag(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        current_state().output.json_mode = True


@click.command()
@click.argument("jobs_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where videos are saved [default: FILE's name + '-videos', beside it].",
)
@click.option(
    "--ledger",
    "ledger_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The job ledger (SQLite) [default: FILE's name + '.ledger.sqlite', beside it].",
)
@click.option(
    "--concurrency",
    type=click.IntRange(1, 1000),
    default=8,
    show_default=True,
    help="Most jobs running at once (fewer while the API answers 429).",
)
@click.option(
    "--budget-seconds",
    type=click.IntRange(min=0),
    default=None,
    help="Most video seconds the ledger may spend, across reruns (never exceeded).",
)
@click.option(
    "--budget-jobs",
    type=click.IntRange(min=0),
    default=None,
    help="Most paid jobs the ledger may start, across reruns (never exceeded).",
)
@click.option(
    "--format",
    "file_format",
    type=click.Choice(["jsonl", "csv"]),
    default=None,
    help="The file's format [default: csv for *.csv, else jsonl].",
)
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the JSON report here [default: OUT/batch-report.json].",
)
@click.option(
    "--trust-idempotency-keys",
    is_flag=True,
    help="The API returns the same job for a repeated Idempotency-Key: re-send a lost POST "
    "with its key instead of reconciling it from the job list.",
)
@click.option(
    "--resubmit-ambiguous",
    is_flag=True,
    help="Send ambiguous jobs again (each may then be paid twice).",
)
@click.option(
    "--reconcile-grace",
    type=click.FloatRange(min=0),
    default=10.0,
    show_default=True,
    metavar="SECONDS",
    help="How long after a lost POST the job list is believed.",
)
@click.option(
    "--max-attempts",
    type=click.IntRange(1, 100),
    default=3,
    show_default=True,
    help="Tries per job in this run for failures that may pass (rate limits do not count).",
)
@click.option(
    "--poll-timeout",
    type=click.FloatRange(min=1),
    default=3600.0,
    show_default=True,
    metavar="SECONDS",
    help="How long this run follows one job.",
)
@click.option(
    "--durability",
    type=click.Choice(["full", "normal"]),
    default="full",
    show_default=True,
    help="full: the ledger syncs every record to disk; normal: survives a killed process only.",
)
@click.option(
    "--json",
    "json_flag",
    is_flag=True,
    expose_value=False,
    callback=_json_flag,
    help="Print the JSON report on stdout.",
)
def batch(
    jobs_file: Path,
    out_dir: Path | None,
    ledger_path: Path | None,
    concurrency: int,
    budget_seconds: int | None,
    budget_jobs: int | None,
    file_format: str | None,
    report_path: Path | None,
    trust_idempotency_keys: bool,
    resubmit_ambiguous: bool,
    reconcile_grace: float,
    max_attempts: int,
    poll_timeout: float,
    durability: str,
) -> None:
    """Run the video jobs of JOBS_FILE (JSON Lines or CSV), each paid for at most once.

    One job per line: prompt (required), id, model, seconds, size, references (image paths;
    ';'-separated in CSV) and output (a file name under --out). Running the same command again
    resumes: jobs already saved are not redone, lost answers are reconciled, never re-sent
    blindly. Jobs are downloaded as soon as they complete.
    """
    from deerapi_videos import DeerAPIError
    from deerapi_videos.ledger import Budget
    from deerapi_videos_batch import BatchInputError, BatchOptions, load_jobs, run_batch_sync

    state = current_state()
    output = state.output
    try:
        jobs = load_jobs(jobs_file, file_format)
    except BatchInputError as exc:
        output.note(f"error: {exc}")
        sys.exit(EXIT_USAGE)
    base = jobs_file.parent
    stem = jobs_file.name.rsplit(".", 1)[0] if "." in jobs_file.name else jobs_file.name
    out = out_dir if out_dir is not None else base / f"{stem}-videos"
    ledger = ledger_path if ledger_path is not None else base / f"{stem}.ledger.sqlite"
    report = report_path if report_path is not None else out / "batch-report.json"
    options = BatchOptions(
        out_dir=out,
        ledger_path=ledger,
        concurrency=concurrency,
        budget=Budget(seconds=budget_seconds, jobs=budget_jobs),
        trust_idempotency_keys=trust_idempotency_keys,
        resubmit_ambiguous=resubmit_ambiguous,
        reconcile_grace=reconcile_grace,
        max_attempts=max_attempts,
        poll_timeout=poll_timeout,
        durability=durability,
        report_path=report,
    )
    output.note(
        f"{len(jobs)} job(s) from {jobs_file}; videos to {out}; ledger {ledger}"
        + (f"; budget {options.budget.describe()}" if budget_seconds or budget_jobs else "")
    )
    display = _Display(output, len(jobs))
    try:
        with display:
            result = run_batch_sync(
                jobs,
                options,
                api_key=state.api_key or None,
                base_url=state.base_url or None,
                on_progress=display if display.enabled else None,
            )
    except KeyboardInterrupt:
        output.note(
            "\nInterrupted. Run the same command again to resume: nothing finished is redone, "
            "and a job whose answer was lost is reconciled, not sent again blindly."
        )
        sys.exit(EXIT_INTERRUPTED)
    except DeerAPIError as exc:
        output.error(exc)
        sys.exit(EXIT_API_ERROR)
    if output.json_mode:
        output.emit_json(result.as_dict())
    _summary(output, result, report)
    sys.exit(result.exit_code)
