"""The package version: read from the installed distribution's metadata, whose one source is
``pyproject.toml`` (``deerapi_videos.__version__`` and the ``User-Agent`` both come from here)."""

from __future__ import annotations

import functools

__all__ = ["DISTRIBUTION", "version"]

DISTRIBUTION = "deerapi-videos"


@functools.cache
def version() -> str:
    """The installed version of ``deerapi-videos``; ``"0+unknown"`` when run uninstalled."""
    from importlib import metadata  # here: only a client's construction pays for it

    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "0+unknown"
