"""The ``deerapi-videos`` commands: one click command per API operation, plus mock and conformance.

Exit codes: 0 success; 1 the API or the client reported an error (one line on stderr with the
request id); 2 usage errors (click's convention); 130 interrupted (Ctrl-C), after saying which
video id to resume with.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
from deerapi_videos import DeerAPI, VideoContentVariant
from deerapi_videos.model_table import model_table

from ._output import EXIT_API_ERROR, EXIT_INTERRUPTED, Output, to_data
from ._progress import DownloadProgress, WaitProgress
from ._state import State, current_state

__all__ = ["cli"]

F = TypeVar("F", bound=Callable[..., Any])

# The choices are the client's (one home each: the spec for variants, through the generated
# layer; the model table for what each model takes).
VARIANT_CHOICES = tuple(member.value for member in VideoContentVariant)
_LOG_HANDLER_NAME = "deerapi-videos-cli"
_VARIANT_SUFFIX = {"video": ".mp4", "thumbnail": ".webp", "spritesheet": ".jpg"}


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
    """Print the one error line and exit 1."""
    current_state().output.error(exc)
    sys.exit(EXIT_API_ERROR)


@contextmanager
def api_errors() -> Iterator[None]:
    """Turn every client error into the one error line and exit code 1."""
    from deerapi_videos import DeerAPIError

    try:
        yield
    except DeerAPIError as exc:
        fail(exc)


def _interrupted(video_id: str | None, *, action: str, output: Path | None = None) -> NoReturn:
    out = current_state().output
    if video_id:
        download = f"deerapi-videos download {video_id}"
        if output is not None:
            download += f" --output {output}"
        out.note(f"\nInterrupted while {action}. The job {video_id} keeps running on the server.")
        out.note(f"Check it with: deerapi-videos get {video_id}")
        out.note(f"Fetch it when completed with: {download}")
    else:
        out.note(
            f"\nInterrupted while {action}, before the API answered: a job may have been "
            "created. Check with: deerapi-videos list"
        )
    if out.json_mode:
        out.emit_json({"interrupted": True, "video_id": video_id})
    sys.exit(EXIT_INTERRUPTED)


def _wait(client: DeerAPI, video_id: str, timeout: float | None) -> Any:
    """Poll until the job ends, drawing status and percentage; Ctrl-C names the video id."""
    out = current_state().output
    bar = WaitProgress(video_id, enabled=out.show_progress, console=out.err)
    kwargs: dict[str, Any] = {"on_progress": bar}
    if timeout is not None:
        kwargs["timeout"] = timeout
    try:
        with bar:
            return client.videos.poll(video_id, **kwargs)
    except KeyboardInterrupt:
        _interrupted(video_id, action=f"waiting ({bar.status}, {bar.progress}%)")


def _download(client: DeerAPI, video_id: str, path: Path, variant: str) -> Path:
    """Stream one asset to ``path`` with a bytes / rate / ETA bar."""
    out = current_state().output
    bar = DownloadProgress(path.name, enabled=out.show_progress, console=out.err)
    try:
        with bar:
            written = client.videos.download_content(video_id, path, variant=variant, on_bytes=bar)
    except KeyboardInterrupt:
        _interrupted(video_id, action="downloading", output=path)
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


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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
    ctx.obj = State(api_key=api_key, base_url=base_url, output=output, timeout=timeout)


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
    help="Save the finished video here (implies --wait).",
)
@_json_option
def create(
    prompt: str,
    model: str | None,
    seconds: str | None,
    size: str | None,
    input_reference: tuple[Path, ...],
    wait: bool,
    output: Path | None,
) -> None:
    """Start a (paid) video job from PROMPT."""
    state = current_state()
    _known_values(model, "seconds", seconds)
    _known_values(model, "size", size)
    kwargs: dict[str, Any] = {"prompt": prompt}
    for name, value in (("model", model), ("seconds", seconds), ("size", size)):
        if value is not None:
            kwargs[name] = value
    if input_reference:
        kwargs["input_reference"] = list(input_reference)
    with api_errors():
        client = state.client()
        with client:
            try:
                video = client.videos.create(**kwargs)
            except KeyboardInterrupt as exc:
                # The client records the job on the interrupt once the POST has succeeded.
                _interrupted(getattr(exc, "deerapi_video_id", None), action="creating the job")
            video_id = str(video.id)
            if not (wait or output):
                state.output.video(video)
                return
            state.output.note(f"Created {video_id}; waiting for it (Ctrl-C stops waiting).")
            video = _wait(client, video_id, state.timeout)
            if output is None:
                state.output.video(video)
                return
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
@_json_option
def remix(video_id: str, prompt: str, model: str | None, wait: bool) -> None:
    """Start a (paid) remix of the completed video VIDEO_ID with a new PROMPT."""
    state = current_state()
    kwargs: dict[str, Any] = {"prompt": prompt}
    if model is not None:
        kwargs["model"] = model
    with api_errors():
        client = state.client()
        with client:
            try:
                video = client.videos.remix(video_id, **kwargs)
            except KeyboardInterrupt as exc:
                _interrupted(getattr(exc, "deerapi_video_id", None), action="creating the remix")
            if wait:
                video = _wait(client, str(video.id), state.timeout)
            state.output.video(video)


@cli.command()
@click.argument("video_id")
@click.option("--wait", is_flag=True, help="Wait for the job to end, showing its progress.")
@_json_option
def get(video_id: str, wait: bool) -> None:
    """Show a video job's status (and wait for it with --wait)."""
    state = current_state()
    with api_errors():
        client = state.client()
        with client:
            video = (
                _wait(client, video_id, state.timeout) if wait else client.videos.retrieve(video_id)
            )
            state.output.video(video)


@cli.command(name="list")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="How many jobs to show (newest first; pages are followed as needed).",
)
@_json_option
def list_(limit: int) -> None:
    """List your video jobs."""
    state = current_state()
    with api_errors():
        client = state.client()
        with client:
            videos: list[Any] = []
            for video in client.videos.list(limit=min(limit, 100)):
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
    with api_errors():
        client = state.client()
        with client:
            written = _download(client, video_id, path, variant)
            _downloaded(written, video_id, variant)


@cli.command()
@click.argument("video_id")
@_json_option
def delete(video_id: str) -> None:
    """Delete a video job and its content."""
    state = current_state()
    with api_errors():
        client = state.client()
        with client:
            result = client.videos.delete(video_id)
            data = to_data(result)
            state.output.message(
                data if isinstance(data, dict) else {"id": video_id, "deleted": True},
                f"Deleted {video_id}",
                plain=lambda: video_id,
            )


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=4010, show_default=True)
@click.option(
    "--api-key",
    "mock_key",
    default=None,
    metavar="KEY",
    help="The key the mock accepts [default: DEERAPI_KEY, else a random one, printed].",
)
@click.option(
    "--speed",
    type=click.FloatRange(min=0, min_open=True),
    default=60.0,
    show_default=True,
    help="Mock seconds per real second (an 8-second job completes in 8/speed s).",
)
def mock(host: str, port: int, mock_key: str | None, speed: float) -> None:
    """Serve the bundled mock DeerAPI until Ctrl-C (for trying the CLI or testing apps)."""
    state = current_state()
    try:
        from deerapi_videos_mock import run
    except ImportError as exc:
        raise click.ClickException(
            f"the mock needs its extra ({exc.name or exc}): pip install 'deerapi-videos[mock]'"
        ) from exc
    key = mock_key or state.api_key
    generated = not key
    if not key:
        key = "sk-mock-" + secrets.token_urlsafe(16)

    def announce(url: str) -> None:
        state.output.note(f"Mock DeerAPI listening on {url} (jobs run x{speed:g} real time).")
        if generated:
            state.output.note(f"It accepts this throwaway key: {key}")
        shown_key = key if generated else "<your key>"
        state.output.note(
            f"Try: DEERAPI_BASE_URL={url} DEERAPI_KEY={shown_key} "
            "deerapi-videos create 'a cat' --wait --output cat.mp4\nCtrl-C stops it."
        )

    with contextlib.suppress(KeyboardInterrupt):
        run(host=host, port=port, api_key=key, speed=speed, announce=announce)


def _register_conformance() -> None:
    from ._batch import batch
    from ._conformance import conformance

    cli.add_command(conformance)
    cli.add_command(batch)


_register_conformance()
