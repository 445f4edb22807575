"""Conformance of a DeerAPI-compatible server to ``openapi.yaml``, checked with schemathesis.

Used by the ``conformance`` command and the contract tests, never by the client. Importing the
package is cheap (``ALL_PHASES`` needs nothing else); the engine, the reports and schemathesis
load at the first use of any other name, so a missing ``[conformance]`` extra surfaces there as
an ``ImportError``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._phases import ALL_PHASES, Phase

if TYPE_CHECKING:
    from ._budget import CHEAPEST_SETTINGS, Budget, BudgetExceeded, PaidRequestGuard
    from ._drift import Drift, compute_drift
    from ._engine import (
        CheckResult,
        ConformanceResult,
        Exchange,
        PaidJob,
        Progress,
        run_conformance,
    )
    from ._hooks import install_false_report_filters
    from ._report import ReportContext, group_checks, write_reports

_LAZY = {
    "CHEAPEST_SETTINGS": "._budget",
    "Budget": "._budget",
    "BudgetExceeded": "._budget",
    "PaidRequestGuard": "._budget",
    "Drift": "._drift",
    "compute_drift": "._drift",
    "CheckResult": "._engine",
    "ConformanceResult": "._engine",
    "Exchange": "._engine",
    "PaidJob": "._engine",
    "Progress": "._engine",
    "run_conformance": "._engine",
    "install_false_report_filters": "._hooks",
    "ReportContext": "._report",
    "group_checks": "._report",
    "write_reports": "._report",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "ALL_PHASES",
    "CHEAPEST_SETTINGS",
    "Budget",
    "BudgetExceeded",
    "CheckResult",
    "ConformanceResult",
    "Drift",
    "Exchange",
    "PaidJob",
    "PaidRequestGuard",
    "Phase",
    "Progress",
    "ReportContext",
    "compute_drift",
    "group_checks",
    "install_false_report_filters",
    "run_conformance",
    "write_reports",
]
