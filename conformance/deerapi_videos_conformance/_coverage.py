"""Spec coverage: how much of what ``openapi.yaml`` describes a run exercised.

Computed after a run from the recorded exchanges (no extra requests), per operation: how many
requests it got, which of its described status codes were answered (and which were never seen),
and which of its described request fields (query parameters, headers, body properties) were
sent. Response fields come from the drift walk (``Drift.documented_fields``: the fields of each
schema the run saw answers of, and which of them appeared).

A conformance verdict says nothing about what was never tried; this says what was. Requests with
a method the path does not have (``unsupported_method`` probes) are left out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ._drift import Drift, ExchangeLike, _SpecIndex, load_spec

__all__ = ["Coverage", "OperationCoverage", "compute_coverage"]

_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


@dataclass
class OperationCoverage:
    """One operation: described vs exercised."""

    operation_id: str
    method: str
    path: str
    #: Requests the run sent to it (with its own method).
    requests: int = 0
    #: Status codes the spec lists for it (``"200"``, ``"4XX"``, ``"default"``), in its order.
    statuses_described: list[str] = field(default_factory=list)
    #: Status code -> how many answers had it.
    statuses_seen: Counter[int] = field(default_factory=Counter)
    #: Request fields the spec describes: query and header parameters, body properties.
    fields_described: list[str] = field(default_factory=list)
    #: Of those, the ones some request carried (headers compared without case).
    fields_sent: set[str] = field(default_factory=set)

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"

    def described_seen(self) -> list[str]:
        """Described status codes some answer had (``4XX`` counts any 4xx)."""
        return [s for s in self.statuses_described if self._answered(s)]

    def described_unseen(self) -> list[str]:
        """Described status codes no answer had."""
        return [s for s in self.statuses_described if not self._answered(s)]

    def undescribed_seen(self) -> list[int]:
        """Status codes answered that the spec does not list for this operation."""
        described = set(self.statuses_described)
        if "default" in described:
            return []
        return sorted(
            code
            for code in self.statuses_seen
            if str(code) not in described and f"{str(code)[0]}XX" not in described
        )

    def _answered(self, status: str) -> bool:
        if status == "default":
            return any(str(c) not in self.statuses_described for c in self.statuses_seen)
        if status.upper().endswith("XX"):
            return any(str(c)[0] == status[0] for c in self.statuses_seen)
        return int(status) in self.statuses_seen if status.isdigit() else False


@dataclass
class Coverage:
    """Every operation the spec describes, and the response fields of the schemas seen."""

    operations: list[OperationCoverage] = field(default_factory=list)
    #: Schema -> (its documented fields, those that appeared in some answer).
    response_fields: dict[str, tuple[list[str], set[str]]] = field(default_factory=dict)

    def totals(self) -> dict[str, tuple[int, int]]:
        """(exercised, described) for operations, status codes, request and response fields."""
        ops = self.operations
        response = self.response_fields.values()
        return {
            "operations": (sum(1 for o in ops if o.requests), len(ops)),
            "status codes": (
                sum(len(o.described_seen()) for o in ops),
                sum(len(o.statuses_described) for o in ops),
            ),
            "request fields": (
                sum(len(o.fields_sent) for o in ops),
                sum(len(o.fields_described) for o in ops),
            ),
            "response fields": (
                sum(len(seen) for _, seen in response),
                sum(len(documented) for documented, _ in response),
            ),
        }


def _fields(index: _SpecIndex, item: Mapping[str, Any], op: Mapping[str, Any]) -> list[str]:
    names: list[str] = []
    for param in [*(item.get("parameters") or []), *(op.get("parameters") or [])]:
        _, resolved = index.resolve(param)
        if isinstance(resolved, Mapping) and resolved.get("in") in ("query", "header"):
            names.append(str(resolved.get("name")))
    _, body = index.resolve(op.get("requestBody") or {})
    for media in ((body or {}).get("content") or {}).values():
        _, schema = index.resolve((media or {}).get("schema") or {})
        for name in (schema or {}).get("properties") or {}:
            if name not in names:
                names.append(str(name))
    return names


def compute_coverage(
    exchanges: Iterable[ExchangeLike],
    spec: Mapping[str, Any] | None = None,
    drift: Drift | None = None,
) -> Coverage:
    """What ``exchanges`` exercised of ``spec`` (``load_spec()`` unless given); response fields
    from ``drift`` when given."""
    spec = spec if spec is not None else load_spec()
    index = _SpecIndex(spec)
    coverage = Coverage()
    by_id: dict[str, OperationCoverage] = {}
    for path, item in (spec.get("paths") or {}).items():
        for method in _METHODS:
            op = item.get(method)
            if not isinstance(op, Mapping):
                continue
            entry = OperationCoverage(
                operation_id=str(op.get("operationId", f"{method.upper()} {path}")),
                method=method.upper(),
                path=str(path),
                statuses_described=[str(s) for s in (op.get("responses") or {})],
                fields_described=_fields(index, item, op),
            )
            coverage.operations.append(entry)
            by_id[entry.operation_id] = entry
    for exchange in exchanges:
        found = index.find(exchange.method, exchange.url, exchange.operation)
        if not found:  # a probe with another method, or a path the spec does not have
            continue
        entry = by_id[found.operation_id]
        entry.requests += 1
        entry.statuses_seen[exchange.status_code] += 1
        sent = {str(f).lower() for f in getattr(exchange, "request_fields", ())}
        entry.fields_sent |= {f for f in entry.fields_described if f.lower() in sent}
    if drift is not None:
        unseen = set(drift.unseen_fields)
        for schema, documented in sorted(drift.documented_fields.items()):
            seen = {f for f in documented if f"{schema}.{f}" not in unseen}
            coverage.response_fields[schema] = (list(documented), seen)
    return coverage
