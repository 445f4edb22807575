"""Drift: what the API returned that ``openapi.yaml`` does not describe, and what it never sent.

Computed after a run from the recorded exchanges, so it costs no extra requests. Drift is
information, not a conformance failure: the spec allows extra fields (``additionalProperties``)
and any string for ``status`` and ``model``, but a maintainer wants to know when the API starts
sending something new (so the spec can describe it) or stops sending a documented field.

Five kinds of drift are reported:

* fields present in a response body that the response's schema does not list;
* values of open enums (``status``, ``model``: ``anyOf: [{enum}, {type: string}]``) outside the
  known list, when they look like identifiers (a fuzzed model name echoed back is not drift);
* response headers neither the spec nor HTTP itself defines, and status codes an operation does
  not document (requests with a method the path does not have are probes, skipped);
* shape differences, each with a suggested spec change: a field the schema expects
  (``x-deerapi-expected-fields``, or ``required``) left out of responses, a value of another
  JSON type than the schema's (``progress`` as a float), a number outside the schema's bounds;
* fields of a schema the run saw that never appeared in any response.

The models the Video answers named are counted too (``models_seen``), so a run per model
(``--model``) shows which models the drift belongs to.

PyYAML is needed to read the spec; it comes with the ``[conformance]`` extra.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

__all__ = ["Drift", "ExchangeLike", "ShapeDifference", "compute_drift", "load_spec"]

# Headers HTTP itself (or the transport in front of any API) defines; never reported as drift.
GENERIC_HEADERS = frozenset(
    {
        "accept-ranges",
        "access-control-allow-credentials",
        "access-control-allow-headers",
        "access-control-allow-methods",
        "access-control-allow-origin",
        "access-control-expose-headers",
        "access-control-max-age",
        "age",
        "alt-svc",
        "cache-control",
        "connection",
        "content-disposition",
        "content-encoding",
        "content-language",
        "content-length",
        "content-range",
        "content-type",
        "date",
        "etag",
        "expires",
        "keep-alive",
        "last-modified",
        "location",
        "pragma",
        "server",
        "strict-transport-security",
        "transfer-encoding",
        "vary",
        "via",
        "x-content-type-options",
    }
)

# Values of open enums worth reporting look like identifiers (``expired``, ``sora-3``). Others are
# generated inputs the API echoed back (a fuzzed ``model`` on create), not something it invented.
_IDENTIFIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")

_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


class ExchangeLike(Protocol):
    """The parts of a recorded request/response pair that drift reads (see ``Exchange``)."""

    @property
    def operation(self) -> str: ...
    @property
    def method(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def status_code(self) -> int: ...
    @property
    def response_headers(self) -> Mapping[str, str]: ...
    @property
    def response_json(self) -> Any: ...


@dataclass
class ShapeDifference:
    """One way responses differed from what the spec says of a field, and what to change.

    ``kind``: ``"omitted"`` (an expected field left out), ``"type"`` (another JSON type),
    ``"bound"`` (a number outside ``minimum``/``maximum``). ``count`` of ``seen`` objects of the
    schema differed; ``example`` is one received value's JSON kind; ``suggestion`` is the spec
    change that would describe what the API sends.
    """

    location: str
    kind: str
    count: int
    seen: int
    example: str
    suggestion: str
    operations: set[str] = field(default_factory=set)

    def describe(self) -> str:
        what = {
            "omitted": "left out",
            "type": f"sent as {self.example}",
            "bound": f"out of bounds ({self.example})",
        }[self.kind]
        return (
            f"`{self.location}` {what} in {self.count} of {self.seen} responses; "
            f"suggested spec change: {self.suggestion}"
        )


@dataclass
class Drift:
    """Differences between what a run saw and what the spec describes.

    Keys are readable locations: ``Schema.field`` for body fields (``VideoList.data[].foo``
    style is not used: the schema named is the one that describes the object holding the
    field), ``operationId`` for status codes and headers.
    """

    #: ``Schema.field`` -> operations whose responses carried it.
    undocumented_fields: dict[str, set[str]] = field(default_factory=dict)
    #: ``Schema.field`` -> values outside its known list (``Video.status``, ``Video.model``).
    undocumented_values: dict[str, set[str]] = field(default_factory=dict)
    #: header name (lower case) -> operations whose responses carried it.
    undocumented_headers: dict[str, set[str]] = field(default_factory=dict)
    #: operationId -> status codes it answered that the spec does not list for it.
    undocumented_status_codes: dict[str, set[int]] = field(default_factory=dict)
    #: ``Schema.field`` documented for a schema the run saw, never present in any response.
    unseen_fields: list[str] = field(default_factory=list)
    #: exchanges whose method and path match no operation in the spec.
    unknown_endpoints: set[str] = field(default_factory=set)
    #: ``Schema.field:kind`` -> how responses differed from the field's description.
    shape_differences: dict[str, ShapeDifference] = field(default_factory=dict)
    #: model ids named by Video answers -> how many answers named each.
    models_seen: dict[str, int] = field(default_factory=dict)
    #: ``Schema`` -> its documented fields, for each schema the run saw answers of (with
    #: ``unseen_fields``: the response side of the spec coverage).
    documented_fields: dict[str, list[str]] = field(default_factory=dict)
    #: exchanges examined.
    exchanges_seen: int = 0
    #: requests with a method their path does not have (``unsupported_method`` probes): skipped.
    probes_skipped: int = 0

    @property
    def has_drift(self) -> bool:
        """Whether the API sent anything the spec does not describe (unseen fields excluded)."""
        return bool(
            self.undocumented_fields
            or self.undocumented_values
            or self.undocumented_headers
            or self.undocumented_status_codes
            or self.unknown_endpoints
            or self.shape_differences
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy, with sets sorted."""
        return {
            "undocumented_fields": {
                k: sorted(v) for k, v in sorted(self.undocumented_fields.items())
            },
            "undocumented_values": {
                k: sorted(v) for k, v in sorted(self.undocumented_values.items())
            },
            "undocumented_headers": {
                k: sorted(v) for k, v in sorted(self.undocumented_headers.items())
            },
            "undocumented_status_codes": {
                k: sorted(v) for k, v in sorted(self.undocumented_status_codes.items())
            },
            "unseen_fields": list(self.unseen_fields),
            "unknown_endpoints": sorted(self.unknown_endpoints),
            "shape_differences": {
                key: {
                    "location": d.location,
                    "kind": d.kind,
                    "count": d.count,
                    "seen": d.seen,
                    "example": d.example,
                    "suggestion": d.suggestion,
                    "operations": sorted(d.operations),
                }
                for key, d in sorted(self.shape_differences.items())
            },
            "models_seen": dict(sorted(self.models_seen.items())),
            "exchanges_seen": self.exchanges_seen,
            "probes_skipped": self.probes_skipped,
        }


def load_spec(path: Path | None = None) -> dict[str, Any]:
    """Read ``openapi.yaml`` (the packaged copy unless ``path`` is given).

    Raises:
        ModuleNotFoundError: without PyYAML (``pip install 'deerapi-videos[conformance]'``).
    """
    import yaml  # PyYAML is an optional dependency: imported only when drift is computed.
    from deerapi_videos.spec import spec_path

    with (path or spec_path()).open(encoding="utf-8") as fh:
        loaded = yaml.safe_load(fh)
    if not isinstance(loaded, dict):
        raise ValueError("openapi.yaml does not hold a mapping")
    return loaded


@dataclass(frozen=True)
class _Operation:
    operation_id: str
    method: str
    template: str
    pattern: re.Pattern[str]
    responses: Mapping[str, Any]


class _SpecIndex:
    def __init__(self, spec: Mapping[str, Any]) -> None:
        self.spec = spec
        self.operations: list[_Operation] = []
        for template, item in (spec.get("paths") or {}).items():
            regex = re.sub(r"\\\{[^/}]+\\\}", "[^/]+", re.escape(template))
            pattern = re.compile(f"(?:^|/){regex.lstrip('/')}$")
            for method in _METHODS:
                op = item.get(method)
                if isinstance(op, Mapping):
                    self.operations.append(
                        _Operation(
                            operation_id=str(op.get("operationId", f"{method.upper()} {template}")),
                            method=method.upper(),
                            template=template,
                            pattern=pattern,
                            responses=op.get("responses") or {},
                        )
                    )
        # Longer templates first, so ``/v1/videos/{id}/content`` wins over ``/v1/videos/{id}``.
        self.operations.sort(key=lambda o: len(o.template), reverse=True)

    def resolve(self, node: Any) -> tuple[str | None, Any]:
        """Follow ``$ref`` chains; return the last component name seen and the target."""
        name: str | None = None
        seen = 0
        while isinstance(node, Mapping) and "$ref" in node and seen < 32:
            ref = str(node["$ref"])
            if not ref.startswith("#/"):
                return name, {}
            target: Any = self.spec
            for part in ref[2:].split("/"):
                target = target.get(part.replace("~1", "/").replace("~0", "~"), {})
            name = ref.rsplit("/", 1)[-1]
            node = target
            seen += 1
        return name, node

    def find(self, method: str, url: str, operation: str) -> _Operation | None | Literal[False]:
        """The operation an exchange belongs to; ``False`` for a probe with a method the path
        does not have (schemathesis' ``unsupported_method`` check: not drift); ``None`` when no
        path matches."""
        path = urlsplit(url).path or url
        path_known = False
        for op in self.operations:
            if op.pattern.search(path):
                path_known = True
                if op.method == method.upper():
                    return op
        if path_known:
            return False
        for op in self.operations:  # fall back to the engine's operation label
            if operation in (op.operation_id, f"{op.method} {op.template}"):
                return op if op.method == method.upper() else False
        return None


_JSON_TYPES = {
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    list: "array",
    dict: "object",
    type(None): "null",
}


def _json_type(value: Any) -> str:
    return _JSON_TYPES.get(type(value), "object")


def _kind_of(value: Any) -> str:
    """A value's JSON kind, numbers with their value (never a string's text)."""
    kind = _json_type(value)
    if kind in ("integer", "number"):
        return f"{'an' if kind == 'integer' else 'a'} {kind} ({value!r})"
    return {"null": "null", "array": "an array", "object": "an object"}.get(kind, f"a {kind}")


class _Walker:
    def __init__(self, index: _SpecIndex, drift: Drift) -> None:
        self.index = index
        self.drift = drift
        self.seen_fields: dict[str, set[str]] = {}  # schema name -> fields seen
        self.documented: dict[str, list[str]] = {}  # schema name -> documented fields
        self.objects: dict[str, int] = {}  # schema name -> objects of it seen

    def _difference(
        self,
        location: str,
        kind: str,
        example: str,
        suggestion: str,
        operation: str,
        schema_name: str,
    ) -> None:
        key = f"{location}:{kind}"
        found = self.drift.shape_differences.get(key)
        if found is None:
            found = self.drift.shape_differences[key] = ShapeDifference(
                location, kind, 0, 0, example, suggestion
            )
        found.count += 1
        found.operations.add(operation)
        found.seen = self.objects.get(schema_name, 0)

    def _check_scalar(
        self, value: Any, schema: Mapping[str, Any], location: str, operation: str
    ) -> None:
        declared = schema.get("type")
        if declared is None:
            return
        allowed = [declared] if isinstance(declared, str) else list(declared)
        actual = _json_type(value)
        schema_name = location.split(".", 1)[0]
        fits = actual in allowed or (actual == "integer" and "number" in allowed)
        if not fits:
            widened = sorted({*allowed, "number" if actual in ("integer", "number") else actual})
            spelled = widened[0] if len(widened) == 1 else f"[{', '.join(widened)}]"
            if allowed == ["integer"] and actual == "number":
                spelled = "number"
            self._difference(
                location,
                "type",
                _kind_of(value),
                f"`type: {spelled}` for `{location}` (it says {' or '.join(allowed)})",
                operation,
                schema_name,
            )
            return
        if actual in ("integer", "number") and not isinstance(value, bool):
            for bound in ("minimum", "maximum"):
                limit = schema.get(bound)
                if not isinstance(limit, int | float):
                    continue
                if (value < limit) if bound == "minimum" else (value > limit):
                    self._difference(
                        location,
                        "bound",
                        _kind_of(value),
                        f"drop `{bound}: {limit}` from `{location}`",
                        operation,
                        schema_name,
                    )

    def walk(
        self, value: Any, schema: Any, name: str | None, operation: str, location: str | None
    ) -> None:
        """Visit ``value`` described by ``schema``; ``location`` names the field holding it."""
        ref_name, schema = self.index.resolve(schema)
        name = ref_name or name
        if not isinstance(schema, Mapping):
            return
        for key in ("anyOf", "oneOf"):
            if key in schema:
                self._walk_union(value, schema[key], name, operation, location)
                return
        for sub in schema.get("allOf") or ():
            self.walk(value, sub, name, operation, location)
        if isinstance(value, Mapping):
            self._walk_object(value, schema, name, operation)
        elif isinstance(value, list) and "items" in schema:
            for item in value:
                self.walk(item, schema["items"], None, operation, location)
        elif (
            isinstance(value, str) and location and "enum" in schema and value not in schema["enum"]
        ):
            self.drift.undocumented_values.setdefault(location, set()).add(value)
        if location and not isinstance(value, Mapping | list):
            self._check_scalar(value, schema, location, operation)

    def _walk_union(
        self,
        value: Any,
        branches: Sequence[Any],
        name: str | None,
        operation: str,
        location: str | None,
    ) -> None:
        resolved = [self.index.resolve(b) for b in branches]
        if isinstance(value, Mapping):
            for branch_name, branch in resolved:
                if isinstance(branch, Mapping) and (
                    branch.get("type") == "object" or "properties" in branch
                ):
                    self.walk(value, branch, branch_name or name, operation, location)
                    return
            return
        if isinstance(value, str) and location:
            # An open enum (``anyOf: [{enum: [...]}, {type: string}]``): a value outside every
            # listed enum is valid but new.
            known = [b["enum"] for _, b in resolved if isinstance(b, Mapping) and "enum" in b]
            if known and not any(value in enum for enum in known) and _IDENTIFIER.match(value):
                self.drift.undocumented_values.setdefault(location, set()).add(value)

    def _walk_object(
        self, value: Mapping[str, Any], schema: Mapping[str, Any], name: str | None, operation: str
    ) -> None:
        props: Mapping[str, Any] = schema.get("properties") or {}
        label = name or "(inline)"
        seen: set[str] = set()
        if props:
            self.documented.setdefault(label, list(props))
            seen = self.seen_fields.setdefault(label, set())
            self.objects[label] = self.objects.get(label, 0) + 1
            expected = schema.get("x-deerapi-expected-fields") or schema.get("required") or ()
            required = set(schema.get("required") or ())
            for key in expected:
                if key not in value:
                    where = f"{label}.{key}"
                    suggestion = (
                        f"drop `{key}` from `required` of `{label}`"
                        if key in required
                        else f"drop `{key}` from `x-deerapi-expected-fields` of `{label}`"
                    )
                    self._difference(where, "omitted", "missing", suggestion, operation, label)
            if label == "Video" and _IDENTIFIER.match(str(value.get("model"))):
                model = str(value["model"])
                self.drift.models_seen[model] = self.drift.models_seen.get(model, 0) + 1
        for key, sub_value in value.items():
            if key in props:
                seen.add(key)
                self.walk(sub_value, props[key], None, operation, f"{label}.{key}")
            elif props or schema.get("additionalProperties") is False:
                self.drift.undocumented_fields.setdefault(f"{label}.{key}", set()).add(operation)


def compute_drift(
    exchanges: Iterable[ExchangeLike], spec: Mapping[str, Any] | None = None
) -> Drift:
    """Compare recorded responses with the spec (``load_spec()`` unless ``spec`` is given)."""
    index = _SpecIndex(spec if spec is not None else load_spec())
    drift = Drift()
    walker = _Walker(index, drift)
    for exchange in exchanges:
        drift.exchanges_seen += 1
        op = index.find(exchange.method, exchange.url, exchange.operation)
        if op is False:
            drift.probes_skipped += 1
            continue
        if op is None:
            drift.unknown_endpoints.add(f"{exchange.method.upper()} {urlsplit(exchange.url).path}")
            continue
        response = op.responses.get(str(exchange.status_code))
        if response is None:
            response = op.responses.get(f"{str(exchange.status_code)[0]}XX")
        if response is None:
            response = op.responses.get("default")
        if response is None:
            drift.undocumented_status_codes.setdefault(op.operation_id, set()).add(
                exchange.status_code
            )
            continue
        _, response = index.resolve(response)
        documented_headers = {str(h).lower() for h in ((response or {}).get("headers") or {})}
        for header in exchange.response_headers:
            lowered = header.lower()
            if lowered not in documented_headers and lowered not in GENERIC_HEADERS:
                drift.undocumented_headers.setdefault(lowered, set()).add(op.operation_id)
        body = exchange.response_json
        if body is None:
            continue
        content: Mapping[str, Any] = (response or {}).get("content") or {}
        media = content.get("application/json")
        if media is None:
            media = next((m for t, m in content.items() if t.endswith("json")), None)
        if isinstance(media, Mapping) and "schema" in media:
            walker.walk(body, media["schema"], None, op.operation_id, None)
    for schema_name, fields in sorted(walker.documented.items()):
        seen = walker.seen_fields.get(schema_name, set())
        drift.unseen_fields.extend(f"{schema_name}.{f}" for f in fields if f not in seen)
        drift.documented_fields[schema_name] = list(fields)
    for difference in drift.shape_differences.values():
        difference.seen = walker.objects.get(difference.location.split(".", 1)[0], 0)
    return drift
