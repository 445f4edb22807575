"""Narrow workarounds for reports schemathesis makes that are false for this API.

Each filter drops exactly one kind of report, for a documented reason; no check is switched off.
Filters are installed on one loaded schema (schema-scoped hooks), never globally.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from schemathesis.core.failures import Failure
from schemathesis.core.transport import Response
from schemathesis.generation.case import Case
from schemathesis.hooks import HookContext
from schemathesis.specs.openapi.schemas import OpenApiSchema

__all__ = ["FALSE_REPORT_FILTERS", "install_false_report_filters"]

FailureFilter = Callable[[HookContext, Failure, "Case[Any]", Response], bool]

# (name, why, predicate returning False for the report to drop)
FALSE_REPORT_FILTERS: list[tuple[str, str, FailureFilter]] = []


def install_false_report_filters(schema: OpenApiSchema) -> None:
    """Register each of ``FALSE_REPORT_FILTERS`` as a ``filter_failure`` hook of ``schema``."""
    for _name, _why, predicate in FALSE_REPORT_FILTERS:
        schema.hooks.register_hook_with_name(_as_hook(predicate), "filter_failure")


def _as_hook(predicate: FailureFilter) -> Callable[..., bool]:
    def filter_failure(
        context: HookContext, failure: Failure, case: Case[Any], response: Any
    ) -> bool:
        return predicate(context, failure, case, response)

    return filter_failure
