"""The options given before the command name, shared by every command (``ctx.obj``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import click

from ._output import Output

if TYPE_CHECKING:
    from deerapi_videos import DeerAPI

__all__ = ["State", "current_state"]


@dataclass
class State:
    """Options given before the command name, shared by every command."""

    api_key: str | None
    base_url: str | None
    output: Output
    timeout: float | None
    #: ``-v`` count.
    verbose: int = 0
    #: The options before the command name that a resume hint must repeat (``--base-url URL``
    #: when typed on the command line, ``--timeout S``); never the key.
    resume_flags: tuple[str, ...] = ()

    def command(self, *args: str) -> str:
        """A ``deerapi-videos`` command line with this invocation's options, shell-quoted."""
        import shlex

        return shlex.join(["deerapi-videos", *self.resume_flags, *args])

    def client(self) -> DeerAPI:
        """A client for this invocation (the key and URL fall back to the environment)."""
        from deerapi_videos import DeerAPI

        kwargs: dict[str, Any] = {}
        if self.api_key:
            kwargs["api_key"] = self.api_key
        if self.base_url:
            kwargs["base_url"] = self.base_url
        return DeerAPI(**kwargs)


def _state() -> State:
    return cast(State, click.get_current_context().find_object(State))


def current_state() -> State:
    """The invocation's :class:`State` (the group created it)."""
    return cast(State, click.get_current_context().find_object(State))
