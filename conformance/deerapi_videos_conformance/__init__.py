"""Conformance of a DeerAPI-compatible server to ``openapi.yaml``, checked with schemathesis.

Imported by the ``conformance`` command and the contract tests, never by the client.
"""

from __future__ import annotations

from ._budget import CHEAPEST_SETTINGS, Budget, BudgetExceeded
from ._engine import (
    ALL_PHASES,
    CheckResult,
    ConformanceResult,
    Exchange,
    PaidJob,
    Progress,
    run_conformance,
)

__all__ = [
    "ALL_PHASES",
    "CHEAPEST_SETTINGS",
    "Budget",
    "BudgetExceeded",
    "CheckResult",
    "ConformanceResult",
    "Exchange",
    "PaidJob",
    "Progress",
    "run_conformance",
]
