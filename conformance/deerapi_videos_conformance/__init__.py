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
    from ._budget import (
        CHEAPEST_SETTINGS,
        Budget,
        BudgetExceeded,
        PaidRequestGuard,
        cheapest_settings,
    )
    from ._checks import CHECK_MEANINGS
    from ._coverage import Coverage, compute_coverage
    from ._drift import Drift, ShapeDifference, compute_drift
    from ._engine import (
        CheckResult,
        ConformanceResult,
        Exchange,
        PaidJob,
        Progress,
        probe_not_served,
        run_conformance,
    )
    from ._hooks import (
        fit_create_body,
        fitting,
        install_false_report_filters,
        reference_images,
    )
    from ._idempotency import PROBE_PAID_JOBS, IdempotencyProbe, ProbeAnswer
    from ._images import IMAGE_KINDS, image
    from ._report import ReportContext, group_checks, write_reports
    from ._repro import ReproStep

_LAZY = {
    "IMAGE_KINDS": "._images",
    "image": "._images",
    "CHEAPEST_SETTINGS": "._budget",
    "Budget": "._budget",
    "BudgetExceeded": "._budget",
    "PaidRequestGuard": "._budget",
    "cheapest_settings": "._budget",
    "CHECK_MEANINGS": "._checks",
    "Coverage": "._coverage",
    "compute_coverage": "._coverage",
    "Drift": "._drift",
    "ShapeDifference": "._drift",
    "compute_drift": "._drift",
    "CheckResult": "._engine",
    "ConformanceResult": "._engine",
    "Exchange": "._engine",
    "PaidJob": "._engine",
    "Progress": "._engine",
    "probe_not_served": "._engine",
    "run_conformance": "._engine",
    "IdempotencyProbe": "._idempotency",
    "PROBE_PAID_JOBS": "._idempotency",
    "ProbeAnswer": "._idempotency",
    "fit_create_body": "._hooks",
    "fitting": "._hooks",
    "install_false_report_filters": "._hooks",
    "reference_images": "._hooks",
    "ReproStep": "._repro",
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
    "CHECK_MEANINGS",
    "IMAGE_KINDS",
    "PROBE_PAID_JOBS",
    "Budget",
    "BudgetExceeded",
    "CheckResult",
    "ConformanceResult",
    "Coverage",
    "Drift",
    "Exchange",
    "IdempotencyProbe",
    "PaidJob",
    "PaidRequestGuard",
    "Phase",
    "ProbeAnswer",
    "Progress",
    "ReportContext",
    "ReproStep",
    "ShapeDifference",
    "cheapest_settings",
    "compute_coverage",
    "compute_drift",
    "fit_create_body",
    "fitting",
    "group_checks",
    "image",
    "install_false_report_filters",
    "probe_not_served",
    "reference_images",
    "run_conformance",
    "write_reports",
]
