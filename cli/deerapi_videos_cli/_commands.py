"""The ``deerapi-videos`` commands: one click command per API operation, plus mock and conformance.

Exit codes (the README's table): 0 success; 1 the API or the client reported an error (one line
on stderr with the request id); 2 usage errors, including everything refused before a request
was sent (a flag, a reference image, an ``--output`` that could not be written, no key); 3 could
not run (a missing extra, a port in use); 130 interrupted (Ctrl-C), after printing the command
that resumes with the same flags.

Every local check runs before the first (paid) request: a ``create --wait --output X`` whose X
could not be written is refused before the POST, not after the job was paid for and waited on.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import secrets
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn, TypeVar, cast

import click
from click.core import ParameterSource
from deerapi_videos import DeerAPI, VideoContentVariant
from deerapi_videos.model_table import model_table
from deerapi_videos.types import VariantName

from ._output import (
    EXIT_INTERRUPTED,
    EXIT_NOT_RUN,
    EXIT_USAGE,
    Output,
    exit_code_for,
    to_data,
)
from ._progress import DownloadProgress, WaitProgress
from ._state import State, current_state

__all__ = ["cli"]

F = TypeVar("F", bound=Callable[..., Any])

# The choices are the client's (one home each: the spec for variants, through the generated
# layer; the model table for what each model takes).
VARIANT_CHOICES = tuple(member.value for member in VideoContentVariant)
_LOG_HANDLER_NAME = "deerapi-videos-cli"
_VARIANT_SUFFIX = {"video": ".mp4", "thumbnail": ".webp", "spritesheet": ".jpg"}
#: The API's largest page (``GET /v1/videos?limit=``); ``list --limit`` counts videos shown.
MAX_PAGE = 100
#: Response headers carrying the request id (OpenAI/DeerAPI, one-api/new-api gateways).
_REQUEST_ID_HEADERS = ("x-request-id", "x-oneapi-request-id")


def _idempotency_option(func: F) -> F:
    """``--idempotency-key``: what a "a job may have been started" error says to resend with."""
    return click.option(
        "--idempotency-key",
        default=None,
        metavar="KEY",
        help=(
            "Idempotency-Key header [default: a new one]. Resend a request whose answer was "
            "lost with the key its error printed: an API that honours keys starts no second job."
        ),
    )(func)


def _json_option(func: F) -> F:
    """``--json`` after the command name too (``deerapi-videos get ID --json``)."""

    def enable(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
        if value:
            ctx.ensure_object(State)  # the group created it; this only finds it
            current_state().output.json_mode = True

    return click.option(
        "--json",
        "json_flag",
        is_flag=True,
        expose_value=False,
        callback=enable,
        help="Print machine-readable JSON on stdout.",
    )(func)


def fail(exc: BaseException) -> NoReturn:
    """Print the one error line and exit: 2 when nothing was sent (the client refused an
    argument), else 1."""
    current_state().output.error(exc)
    sys.exit(exit_code_for(exc))


def refuse(message: str, *, exit_code: int = EXIT_USAGE) -> NoReturn:
    """A local check failed before anything was sent: one ``error:`` line, exit 2 (or 3)."""
    out = current_state().output
    click.echo(f"error: {message}", err=True)
    if out.json_mode:
        out.emit_json({"error": {"type": "UsageError", "message": message}})
    sys.exit(exit_code)


@contextmanager
def api_errors() -> Iterator[None]:
    """Turn every client error into the one error line and its exit code (1, or 2 for an
    argument the client refused before sending)."""
    from deerapi_videos import DeerAPIError

    try:
        yield
    except DeerAPIError as exc:
        fail(exc)


def _client(state: State) -> DeerAPI:
    """The invocation's client, once the key is known to be there (else exit 2, nothing sent)."""
    from deerapi_videos import DeerAPIError

    if not (state.api_key or "").strip():
        refuse("no API key: pass --api-key KEY or set DEERAPI_KEY")
    try:
        return state.client()
    except DeerAPIError as exc:  # an unusable key or --base-url: refused before any request
        state.output.error(exc)
        sys.exit(EXIT_USAGE)


def check_output(path: Path) -> None:
    """Refuse (exit 2) an ``--output`` the download could not write, before any request.

    The folder must exist and take a new file (probed by creating and removing one, which
    also answers for read-only file systems and ACLs); the target must not be a folder.
    """
    shown = click.format_filename(path)
    if path.is_dir():
        refuse(f"--output {shown}: is a directory; give a file path")
    parent = path.parent
    if not parent.exists():
        refuse(f"--output {shown}: the directory {click.format_filename(parent)} does not exist")
    if not parent.is_dir():
        refuse(f"--output {shown}: {click.format_filename(parent)} is not a directory")
    try:
        fd, probe = tempfile.mkstemp(dir=parent, prefix=f".{path.name}.", suffix=".probe")
    except OSError as exc:
        refuse(
            f"--output {shown}: cannot write in {click.format_filename(parent)}: "
            f"{exc.strerror or exc}"
        )
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(probe)


def _paid_request_ids(client: DeerAPI) -> list[str]:
    """The request ids of the successful POSTs (the paid jobs) ``client`` sends, as they come.

    Read from the shared httpx client of the documented escape hatch (``client.generated``).
    """
    ids: list[str] = []

    def record(response: Any) -> None:
        if response.request.method == "POST" and response.is_success:
            for name in _REQUEST_ID_HEADERS:
                value = response.headers.get(name)
                if value:
                    ids.append(str(value))
                    return

    client.generated.get_httpx_client().event_hooks["response"].append(record)
    return ids


def _started(video_id: str, request_ids: list[str], *, what: str, waiting: bool) -> None:
    """Say a paid job started; with ``-v`` with its request id (for support)."""
    state = current_state()
    text = f"{what} {video_id}"
    if state.verbose and request_ids:
        text += f" (request id {request_ids[-1]})"
    if waiting:
        state.output.note(f"{text}; waiting for it (Ctrl-C stops waiting).")
    elif state.verbose:
        state.output.note(text)


def _interrupted(
    video_id: str | None, *, action: str, resume: Sequence[tuple[str, str]] = ()
) -> NoReturn:
    """Say what was interrupted and the commands that resume it (with the same flags)."""
    state = current_state()
    out = state.output
    if video_id:
        out.note(f"\nInterrupted while {action}. The job {video_id} keeps running on the server.")
        hints = list(resume) or [("Check it with", state.command("get", video_id))]
        for label, command in hints:
            out.note(f"{label}: {command}")
    else:
        out.note(
            f"\nInterrupted while {action}, before the API answered: a job may have been "
            f"created. Check with: {state.command('list')}"
        )
    if out.json_mode:
        first = resume[0][1] if resume else None
        out.emit_json({"interrupted": True, "video_id": video_id, "resume": first})
    sys.exit(EXIT_INTERRUPTED)


def _wait_hints(video_id: str, output: Path | None) -> list[tuple[str, str]]:
    state = current_state()
    if output is None:
        return [("Resume waiting with", state.command("get", video_id, "--wait"))]
    target = str(output)
    return [
        ("Resume (wait, then save it) with", state.command("get", video_id, "--output", target)),
        ("Or, once completed", state.command("download", video_id, "--output", target)),
    ]


def _wait(client: DeerAPI, video_id: str, timeout: float | None, output: Path | None = None) -> Any:
    """Poll until the job ends, drawing status and percentage; Ctrl-C prints how to resume
    (with the same ``--output``)."""
    out = current_state().output
    bar = WaitProgress(video_id, enabled=out.show_progress, console=out.err)
    kwargs: dict[str, Any] = {"on_progress": bar}
    if timeout is not None:
        kwargs["timeout"] = timeout
    try:
        with bar:
            return client.videos.poll(video_id, **kwargs)
    except KeyboardInterrupt:
        _interrupted(
            video_id,
            action=f"waiting ({bar.status}, {bar.progress}%)",
            resume=_wait_hints(video_id, output),
        )


def _download(client: DeerAPI, video_id: str, path: Path, variant: str) -> Path:
    """Stream one asset to ``path`` with a bytes / rate / ETA bar."""
    out = current_state().output
    bar = DownloadProgress(path.name, enabled=out.show_progress, console=out.err)
    try:
        with bar:
            # click has checked the choice (VARIANT_CHOICES, from the public enum).
            written = client.videos.download_content(
                video_id, path, variant=cast(VariantName, variant), on_bytes=bar
            )
    except KeyboardInterrupt:
        flags = [] if variant == "video" else ["--variant", variant]
        command = current_state().command("download", video_id, *flags, "--output", str(path))
        _interrupted(video_id, action="downloading", resume=[("Resume with", command)])
    return Path(written) if written is not None else path


def _default_path(video_id: str, variant: str) -> Path:
    return Path(f"{video_id}{_VARIANT_SUFFIX.get(variant, '')}")


def _downloaded(path: Path, video_id: str, variant: str) -> None:
    size = path.stat().st_size if path.exists() else None
    current_state().output.message(
        {"video_id": video_id, "variant": variant, "path": str(path), "bytes": size},
        f"Saved {variant} of {video_id} to {path} ({size} bytes)",
        plain=lambda: str(path),
    )


def _configure_logging(verbose: int) -> None:
    """The client logs every failure with its request id; the CLI already prints that as its
    one error line, so the log stays silent unless ``-v`` asks for it."""
    log = logging.getLogger("deerapi_videos")
    for old in [h for h in log.handlers if h.get_name() == _LOG_HANDLER_NAME]:
        log.removeHandler(old)
    handler: logging.Handler
    if verbose:
        handler = logging.StreamHandler()  # stderr
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        log.setLevel(logging.DEBUG if verbose > 1 else logging.INFO)
    else:
        handler = logging.NullHandler()  # keeps logging's last-resort handler from printing
    handler.set_name(_LOG_HANDLER_NAME)
    log.addHandler(handler)


class _Commands(click.Group):
    """The command group. Ctrl-C anywhere exits 130 (click alone would print "Aborted!" and
    exit 1); the commands that wait or download say how to resume first."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            click.echo("\nInterrupted.", err=True)
            sys.exit(EXIT_INTERRUPTED)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--api-key",
    envvar="DEERAPI_KEY",
    show_envvar=True,
    default=None,
    metavar="KEY",
    help="DeerAPI key (never printed).",
)
@click.option(
    "--base-url",
    envvar="DEERAPI_BASE_URL",
    show_envvar=True,
    default=None,
    metavar="URL",
    help="API base URL [default: https://api.deerapi.com].",
)
@click.option("--json", "json_mode", is_flag=True, help="Print machine-readable JSON on stdout.")
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Force progress bars on or off [default: on when stdout is a terminal].",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    metavar="SECONDS",
    help="How long --wait waits for a job before giving up [default: the client's].",
)
@click.option(
    "--verbose",
    "-v",
    count=True,
    help="Log the client's requests and retries to stderr (-v: info, -vv: debug).",
)
@click.version_option(package_name="deerapi-videos", prog_name="deerapi-videos")
@click.pass_context
def cli(
    ctx: click.Context,
    api_key: str | None,
    base_url: str | None,
    json_mode: bool,
    progress: bool | None,
    timeout: float | None,
    verbose: int,
) -> None:
    """Create, watch, download and manage Sora 2 videos through DeerAPI.

    The key comes from --api-key or DEERAPI_KEY. `deerapi-videos conformance` checks an API
    (by default the bundled mock) against the OpenAPI document.
    """
    _configure_logging(verbose)
    output = Output(json_mode=json_mode)
    if progress is not None:
        output.interactive = progress
    # What a resume hint must repeat: a --base-url typed here (one from DEERAPI_BASE_URL is
    # still in the environment), and --timeout. Never the key.
    resume: list[str] = []
    if base_url and ctx.get_parameter_source("base_url") == ParameterSource.COMMANDLINE:
        resume += ["--base-url", base_url]
    if timeout is not None:
        resume += ["--timeout", f"{timeout:g}"]
    ctx.obj = State(
        api_key=api_key,
        base_url=base_url,
        output=output,
        timeout=timeout,
        verbose=verbose,
        resume_flags=tuple(resume),
    )


def _known_values(model: str | None, name: str, value: str | None) -> None:
    """Refuse (usage error, exit 2) a --seconds or --size the model's row does not list; a
    model the table does not know takes anything (the client sends it unvalidated)."""
    spec = model_table().get(model)
    if value is None or spec is None:
        return
    allowed: tuple[str, ...] = spec.seconds if name == "seconds" else spec.sizes
    if value not in allowed:
        raise click.BadParameter(
            f"{value!r} is not one of {', '.join(repr(a) for a in allowed)} (model {spec.id})",
            param_hint=f"--{name}",
        )


def _models_help() -> str:
    families = model_table().families()
    return "; ".join(f"{family}: {', '.join(ids)}" for family, ids in families.items())


@cli.command()
@click.argument("prompt")
@click.option(
    "--model",
    default=None,
    help=f"Model id [default: sora-2]. Known: {_models_help()}. Others are sent unvalidated.",
)
@click.option(
    "--seconds",
    default=None,
    help="Clip length, one the model takes (sora-2: 4, 8, 12; veo3.1-pro: 8).",
)
@click.option(
    "--size",
    default=None,
    help="WIDTHxHEIGHT for Sora 2 (720x1280), an aspect ratio for Veo 3 (16x9).",
)
@click.option(
    "--input-reference",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    multiple=True,
    help=(
        "Reference image (JPEG, PNG or WebP). Sora 2: one first frame, its pixels matching the "
        "size. Veo 3: repeat for the first and the last frame."
    ),
)
@click.option("--wait", is_flag=True, help="Wait for the job to end, showing its progress.")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Save the finished video here (implies --wait; checked writable before the job).",
)
@_idempotency_option
@_json_option
def create(
    prompt: str,
    model: str | None,
    seconds: str | None,
    size: str | None,
    input_reference: tuple[Path, ...],
    wait: bool,
    output: Path | None,
    idempotency_key: str | None,
) -> None:
    """Start a (paid) video job from PROMPT.

    Everything that can be checked here is checked before the job is paid for: the flags, the
    reference images (against --size, or the model's default size), --output, the key.
    """
    state = current_state()
    _known_values(model, "seconds", seconds)
    _known_values(model, "size", size)
    if output is not None:
        check_output(output)
    kwargs: dict[str, Any] = {"prompt": prompt}
    for name, value in (
        ("model", model),
        ("seconds", seconds),
        ("size", size),
        ("idempotency_key", idempotency_key),
    ):
        if value is not None:
            kwargs[name] = value
    if input_reference:
        kwargs["input_reference"] = list(input_reference)
    client = _client(state)
    with api_errors(), client:
        request_ids = _paid_request_ids(client)
        try:
            # The client checks the references against the model's row before sending.
            video = client.videos.create(**kwargs)
        except KeyboardInterrupt as exc:
            # The client records the job on the interrupt once the POST has succeeded.
            created = getattr(exc, "deerapi_video_id", None)
            hints = _wait_hints(created, output) if created and (wait or output) else []
            _interrupted(created, action="creating the job", resume=hints)
        video_id = str(video.id)
        _started(video_id, request_ids, what="Created", waiting=bool(wait or output))
        if not (wait or output):
            state.output.video(video)
            return
        _finish(client, _wait(client, video_id, state.timeout, output), output)


def _finish(client: DeerAPI, video: Any, output: Path | None) -> None:
    """Show the ended job, or save its video to ``output`` and say where."""
    state = current_state()
    if output is None:
        state.output.video(video)
        return
    video_id = str(video.id)
    path = _download(client, video_id, output, "video")
    if state.output.json_mode:
        state.output.emit_json({"video": to_data(video), "path": str(path)})
    else:
        _downloaded(path, video_id, "video")


@cli.command()
@click.argument("video_id")
@click.argument("prompt")
@click.option(
    "--model", default=None, help="Model id for the remix (Sora 2 only: Veo 3 has no remix)."
)
@click.option("--wait", is_flag=True, help="Wait for the remix to end, showing its progress.")
@_idempotency_option
@_json_option
def remix(
    video_id: str, prompt: str, model: str | None, wait: bool, idempotency_key: str | None
) -> None:
    """Start a (paid) remix of the completed video VIDEO_ID with a new PROMPT."""
    state = current_state()
    kwargs: dict[str, Any] = {"prompt": prompt}
    if model is not None:
        kwargs["model"] = model
    if idempotency_key is not None:
        kwargs["idempotency_key"] = idempotency_key
    client = _client(state)
    with api_errors(), client:
        request_ids = _paid_request_ids(client)
        try:
            video = client.videos.remix(video_id, **kwargs)
        except KeyboardInterrupt as exc:
            created = getattr(exc, "deerapi_video_id", None)
            hints = _wait_hints(created, None) if created and wait else []
            _interrupted(created, action="creating the remix", resume=hints)
        _started(str(video.id), request_ids, what="Remixed into", waiting=wait)
        if wait:
            video = _wait(client, str(video.id), state.timeout)
        state.output.video(video)


@cli.command()
@click.argument("video_id")
@click.option("--wait", is_flag=True, help="Wait for the job to end, showing its progress.")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Save the finished video here (implies --wait): resumes a `create --output`.",
)
@_json_option
def get(video_id: str, wait: bool, output: Path | None) -> None:
    """Show a video job's status (and wait for it with --wait, then save it with --output)."""
    state = current_state()
    if output is not None:
        check_output(output)
    client = _client(state)
    with api_errors(), client:
        if not (wait or output):
            state.output.video(client.videos.retrieve(video_id))
            return
        _finish(client, _wait(client, video_id, state.timeout, output), output)


@cli.command(name="list")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help=(
        f"How many videos to show, newest first. They are fetched in pages of up to {MAX_PAGE} "
        "(the API's page size), as many pages as that takes."
    ),
)
@_json_option
def list_(limit: int) -> None:
    """List your video jobs, newest first."""
    state = current_state()
    client = _client(state)
    with api_errors(), client:
        videos: list[Any] = []
        # ``limit`` here is a count of videos; the client's ``limit`` is the page size.
        for video in client.videos.list(limit=min(limit, MAX_PAGE), order="desc"):
            videos.append(video)
            if len(videos) >= limit:
                break
        state.output.videos(videos)


@cli.command()
@click.argument("video_id")
@click.option(
    "--variant",
    type=click.Choice(VARIANT_CHOICES),
    default="video",
    show_default=True,
    help="Which asset to download.",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Target file [default: VIDEO_ID.mp4 / .webp / .jpg].",
)
@_json_option
def download(video_id: str, variant: str, output: Path | None) -> None:
    """Download a completed job's video, thumbnail or spritesheet."""
    state = current_state()
    path = output or _default_path(video_id, variant)
    check_output(path)
    client = _client(state)
    with api_errors(), client:
        written = _download(client, video_id, path, variant)
        _downloaded(written, video_id, variant)


@cli.command()
@click.argument("video_id")
@_json_option
def delete(video_id: str) -> None:
    """Delete a video job and its content."""
    state = current_state()
    client = _client(state)
    with api_errors(), client:
        result = client.videos.delete(video_id)
        data = to_data(result)
        state.output.message(
            data if isinstance(data, dict) else {"id": video_id, "deleted": True},
            f"Deleted {video_id}",
            plain=lambda: video_id,
        )


#: What ``--mock-shape`` and ``--mock-unserved`` take (the mock's SHAPES and UNSERVABLE; named
#: here so that ``--help`` works without the [mock] extra). Shared with ``conformance``.
MOCK_SHAPES = ("deerapi", "proxy")
MOCK_UNSERVABLE = ("listVideos", "deleteVideo")


def _serve_until_interrupted() -> None:
    """Block until Ctrl-C raises KeyboardInterrupt (the server runs in a background thread)."""
    while True:
        time.sleep(3600)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=4010,
    show_default=True,
    help="Port to listen on; 0 picks a free one (printed, with the URL).",
)
@click.option(
    "--api-key",
    "mock_key",
    default=None,
    metavar="KEY",
    help="The key the mock accepts [default: DEERAPI_KEY, else a random one, printed].",
)
@click.option(
    "--speed",
    type=click.FloatRange(min=0),
    default=60.0,
    show_default=True,
    help=(
        "Mock seconds per real second (an 8-second job completes in 8/speed s); 0 stops the "
        "mock's clock, so jobs move only with --advance-on-retrieve."
    ),
)
@click.option(
    "--seed",
    type=int,
    default=None,
    help="Seed for the mock's ids: the same requests get the same ids [default: random].",
)
@click.option(
    "--job-duration",
    type=click.FloatRange(min=0),
    default=8.0,
    show_default=True,
    help="Mock seconds a job takes (0: jobs complete when created).",
)
@click.option(
    "--advance-on-retrieve",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Mock seconds each read of a job ages it by.",
)
@click.option(
    "--plant-defect",
    "defects",
    metavar="DEFECT",
    multiple=True,
    help="Plant this defect (repeatable; as `deerapi-videos conformance --plant-defect`).",
)
@click.option(
    "--mock-shape",
    type=click.Choice(MOCK_SHAPES),
    default="deerapi",
    show_default=True,
    help="Answer as the spec says, or as a new-api style gateway.",
)
@click.option(
    "--mock-unserved",
    type=click.Choice(MOCK_UNSERVABLE),
    multiple=True,
    help="Answer this operation as a server without the route (repeatable).",
)
@_json_option
def mock(
    host: str,
    port: int,
    mock_key: str | None,
    speed: float,
    seed: int | None,
    job_duration: float,
    advance_on_retrieve: float,
    defects: tuple[str, ...],
    mock_shape: str,
    mock_unserved: tuple[str, ...],
) -> None:
    """Serve the bundled mock DeerAPI until Ctrl-C (for trying the CLI or testing apps).

    Prints its URL (with the port: --port 0 picks a free one) on stdout. The options after
    --speed rebuild the mock a conformance report names, to replay its failures.
    """
    state = current_state()
    try:
        from deerapi_videos_mock import DEFECTS, ManualClock, MockDeerAPI, ScaledClock
    except ImportError as exc:
        refuse(
            f"the mock needs its extra (missing: {exc.name or exc}): "
            "pip install 'deerapi-videos[mock]'",
            exit_code=EXIT_NOT_RUN,
        )
    unknown = sorted(set(defects) - set(DEFECTS))
    if unknown:
        raise click.BadParameter(
            f"unknown defect(s) {', '.join(unknown)}; known: {', '.join(sorted(DEFECTS))}",
            param_hint="--plant-defect",
        )
    key = mock_key or state.api_key
    generated = not key
    if not key:
        key = "sk-mock-" + secrets.token_urlsafe(16)
    the_mock = MockDeerAPI(
        api_key=key,
        clock=ManualClock() if speed == 0 else ScaledClock(speed=speed),
        job_duration=job_duration,
        seed=seed,
        advance_on_retrieve=advance_on_retrieve,
        defects=defects,
        response_shape=mock_shape,
        unserved=mock_unserved,
    )
    with contextlib.ExitStack() as stack:
        try:
            url = str(stack.enter_context(the_mock.serve(host, port)))
        except OSError as exc:
            hint = (
                "; pick another --port, or --port 0 for a free one"
                if exc.errno == errno.EADDRINUSE
                else ""
            )
            refuse(
                f"cannot listen on {host}:{port}: {exc.strerror or exc}{hint}",
                exit_code=EXIT_NOT_RUN,
            )
        except RuntimeError as exc:  # the server thread did not start
            refuse(f"the mock did not start: {exc}", exit_code=EXIT_NOT_RUN)
        bound = int(url.rsplit(":", 1)[1])
        clock = "its clock stopped" if speed == 0 else f"jobs run x{speed:g} real time"
        state.output.message(
            {"base_url": url, "port": bound},
            f"Mock DeerAPI listening on {url} (port {bound}; {clock}).",
            plain=lambda: url,
        )
        if generated:
            state.output.note(f"It accepts this throwaway key: {key}")
        shown_key = key if generated else "<your key>"
        state.output.note(
            f"Try: DEERAPI_BASE_URL={url} DEERAPI_KEY={shown_key} "
            "deerapi-videos create 'a cat' --wait --output cat.mp4\nCtrl-C stops it."
        )
        with contextlib.suppress(KeyboardInterrupt):  # the way to stop it: exit 0
            _serve_until_interrupted()


def _register_conformance() -> None:
    from ._batch import batch
    from ._conformance import conformance

    cli.add_command(conformance)
    cli.add_command(batch)


_register_conformance()
