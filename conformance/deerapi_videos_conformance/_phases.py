"""schemathesis' phases, in the order the engine runs them (imports nothing heavy)."""

from __future__ import annotations

from typing import Literal

__all__ = ["ALL_PHASES", "Phase"]

Phase = Literal["examples", "coverage", "fuzzing", "stateful"]
ALL_PHASES: tuple[Phase, ...] = ("examples", "coverage", "fuzzing", "stateful")
