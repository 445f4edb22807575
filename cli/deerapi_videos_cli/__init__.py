"""The ``deerapi-videos`` command line (``pip install 'deerapi-videos[cli]'``).

Nothing here is imported by the client: ``import deerapi_videos`` never loads click or rich.
This module itself imports them only inside :func:`main`, so a missing extra is reported as one
clear line instead of a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

__all__ = ["cli", "main"]

INSTALL_HINT = "pip install 'deerapi-videos[cli]'"


def main(argv: Sequence[str] | None = None) -> None:
    """Run the command line (the ``deerapi-videos`` console script)."""
    try:
        import click  # noqa: F401
        import rich  # noqa: F401
    except ImportError as exc:
        missing = exc.name or "click/rich"
        sys.stderr.write(
            f"deerapi-videos: the command line needs {missing}, which is not installed: "
            f"{INSTALL_HINT}\n"
        )
        raise SystemExit(1) from None
    from ._commands import cli

    cli.main(args=list(argv) if argv is not None else None, prog_name="deerapi-videos")


def __getattr__(name: str) -> Any:
    # ``cli`` (the click group, for CliRunner in tests and embedding) loads click on first use.
    if name == "cli":
        from ._commands import cli

        return cli
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
