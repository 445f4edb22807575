"""Spec-driven helpers for the client-vs-spec properties.

- ``resolved(spec, name)``: a component schema with its ``$ref`` s inlined (the spec has no cycles).
- ``body_strategy(spec, name)``: hypothesis values a schema admits (schemathesis' JSON Schema
  engine, so ``anyOf`` / nullable / ``additionalProperties`` are honoured as written).
- ``check_request(spec, request, api_key)``: everything wrong with a captured ``httpx.Request``
  against ``openapi.yaml`` (an empty list when it conforms): method and path template, path
  parameters, bearer auth, declared header and query parameters, and the body (a strict
  multipart parser for ``createVideo``, JSON for ``remixVideo``, nothing for the others).
- ``parse_multipart``: byte-exact multipart/form-data parser; any structure it cannot account for
  is an error, so an injected part or header cannot hide.
- hypothesis profiles ``dev`` (default) and ``nightly`` (``DEERAPI_PROFILE=nightly``), registered
  only if nobody registered them first.
"""

from __future__ import annotations

import copy
import json
import os
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_to_bytes

import httpx
import jsonschema
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from contract_tests.spec.test_spec import schema_validator

API_KEY = "sk-test-0123456789abcdef0123456789abcdef"
BASE_URL = "https://api.deerapi.com"

# -- hypothesis profiles -------------------------------------------------------------------------


def _profile(name: str, **values: Any) -> settings:
    try:
        return settings.get_profile(name)
    except InvalidArgument:
        settings.register_profile(name, **values)
        return settings.get_profile(name)


_profile("dev", max_examples=25, deadline=None, derandomize=True, database=None)
_profile("nightly", max_examples=400, deadline=None, derandomize=False, database=None)

#: The settings every property here runs with: the named profile, without the deadline and
#: the "too slow" health check (a 2-core CI machine is slow, not wrong).
PROFILE = settings(
    settings.get_profile(os.environ.get("DEERAPI_PROFILE", "dev")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def examples(n: int) -> settings:
    """The profile with at most ``n`` examples in the default run (nightly keeps its own)."""
    base = PROFILE.max_examples
    return settings(PROFILE, max_examples=base if base > 100 else min(base, n))


# -- schemas -------------------------------------------------------------------------------------


def _follow(spec: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = spec
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def inline_refs(spec: dict[str, Any], node: Any) -> Any:
    if isinstance(node, dict):
        if "$ref" in node:
            target = inline_refs(spec, _follow(spec, node["$ref"]))
            rest = {k: inline_refs(spec, v) for k, v in node.items() if k != "$ref"}
            return {**target, **rest} if rest else target
        return {k: inline_refs(spec, v) for k, v in node.items()}
    if isinstance(node, list):
        return [inline_refs(spec, v) for v in node]
    return node


def resolved(spec: dict[str, Any], name: str) -> dict[str, Any]:
    schema = inline_refs(spec, spec["components"]["schemas"][name])
    # Annotations only; drop them so the generator does not have to understand them.
    return _strip(copy.deepcopy(schema), {"examples", "description", "x-enum-varnames"})


def _strip(node: Any, keys: set[str]) -> Any:
    if isinstance(node, dict):
        for key in keys & set(node):
            if not isinstance(node[key], dict) or key != "description":
                del node[key]
        for value in node.values():
            _strip(value, keys)
    elif isinstance(node, list):
        for value in node:
            _strip(value, keys)
    return node


def json_from_schema(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values ``schema`` admits, via schemathesis' vendored JSON Schema generator."""
    import jsonschema_rs
    from schemathesis.core.jsonschema import CANONICALIZE_DRAFT_BY_VALIDATOR
    from schemathesis.generation.jsonschema.builder import build
    from schemathesis.generation.jsonschema.context import Alphabet

    return build(
        schema,
        draft=CANONICALIZE_DRAFT_BY_VALIDATOR[jsonschema_rs.Draft202012Validator],
        formats={},
        alphabet=Alphabet(allow_x00=True, codec="utf-8"),
        # Integers as ints: 1.0 is a JSON Schema integer too, but servers send 1.
        whole_floats=False,
    )


def body_strategy(spec: dict[str, Any], name: str) -> st.SearchStrategy[Any]:
    return json_from_schema(resolved(spec, name))


def enum_of(spec: dict[str, Any], name: str) -> list[str]:
    return list(spec["components"]["schemas"][name]["enum"])


def validator(spec: dict[str, Any], name: str) -> jsonschema.Draft202012Validator:
    return schema_validator(spec, f"#/components/schemas/{name}")


def errors_of(v: jsonschema.Draft202012Validator, instance: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
        for e in v.iter_errors(instance)
    ]


# -- multipart -----------------------------------------------------------------------------------


@dataclass
class Part:
    headers: dict[str, str]  # lower-cased names
    name: str | None
    filename: str | None
    content_type: str | None
    data: bytes


_PARAM = re.compile(r';\s*([A-Za-z0-9_*-]+)="((?:[^"\\]|\\.)*)"')


def _disposition(value: str) -> tuple[str, dict[str, str]]:
    kind, _, rest = value.partition(";")
    params: dict[str, str] = {}
    consumed = 0
    for match in _PARAM.finditer(";" + rest):
        if match.group(1).lower() in params:
            raise ValueError(f"duplicate Content-Disposition parameter {match.group(1)!r}")
        params[match.group(1).lower()] = match.group(2)
        consumed += len(match.group(0))
    leftover = _PARAM.sub("", ";" + rest).strip()
    if leftover:
        raise ValueError(f"unparsed Content-Disposition text {leftover!r}")
    return kind.strip().lower(), params


def _form_decode(value: str) -> str:
    """Undo the HTML5 form encoding httpx applies to names and filenames (%22, %0D, \\\\)."""
    value = re.sub(r"%([0-9A-F]{2})", lambda m: chr(int(m.group(1), 16)), value)
    return value.replace("\\\\", "\\")


def parse_multipart(content_type: str, body: bytes) -> list[Part]:
    """Parse a multipart/form-data body strictly. Raises ValueError on any irregularity."""
    kind, _, params = content_type.partition(";")
    if kind.strip().lower() != "multipart/form-data":
        raise ValueError(f"Content-Type is {content_type!r}, not multipart/form-data")
    match = re.search(r'boundary="?([^";]+)"?', params)
    if match is None:
        raise ValueError("no boundary in Content-Type")
    boundary = match.group(1).encode("ascii")
    delimiter = b"--" + boundary
    if not body.startswith(delimiter + b"\r\n"):
        raise ValueError("body does not start with the boundary")
    if not body.endswith(b"\r\n" + delimiter + b"--\r\n"):
        raise ValueError("body does not end with the closing boundary")
    inner = body[len(delimiter) + 2 : -(len(delimiter) + 6)]
    chunks = inner.split(b"\r\n" + delimiter + b"\r\n")
    parts: list[Part] = []
    for chunk in chunks:
        head, sep, data = chunk.partition(b"\r\n\r\n")
        if not sep:
            raise ValueError("part without a header/body separator")
        headers: dict[str, str] = {}
        for line in head.split(b"\r\n"):
            name, colon, value = line.decode("utf-8").partition(":")
            if not colon or not name or name != name.strip():
                raise ValueError(f"malformed part header line {line!r}")
            if name.lower() in headers:
                raise ValueError(f"duplicate part header {name!r}")
            headers[name.lower()] = value.strip()
        unknown = set(headers) - {"content-disposition", "content-type"}
        if unknown:
            raise ValueError(f"unexpected part headers {sorted(unknown)}")
        disposition, dparams = _disposition(headers.get("content-disposition", ""))
        if disposition != "form-data":
            raise ValueError(f"part disposition is {disposition!r}, not form-data")
        if set(dparams) - {"name", "filename"}:
            raise ValueError(f"unexpected Content-Disposition parameters {sorted(dparams)}")
        parts.append(
            Part(
                headers=headers,
                name=_form_decode(dparams["name"]) if "name" in dparams else None,
                filename=_form_decode(dparams["filename"]) if "filename" in dparams else None,
                content_type=headers.get("content-type"),
                data=data,
            )
        )
    return parts


# -- requests ------------------------------------------------------------------------------------


@dataclass
class Matched:
    path: str
    method: str
    operation: dict[str, Any]
    path_params: dict[str, str] = field(default_factory=dict)


def _template_regex(template: str) -> re.Pattern[str]:
    pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
    return re.compile(f"^{pattern}$")


def match_operation(spec: dict[str, Any], method: str, raw_path: str) -> Matched | None:
    for template, item in spec["paths"].items():
        op = item.get(method.lower())
        if op is None:
            continue
        m = _template_regex(template).match(raw_path)
        if m is None:
            continue
        params = {k: unquote_to_bytes(v).decode("utf-8") for k, v in m.groupdict().items()}
        return Matched(template, method.lower(), op, params)
    return None


def _parameters(spec: dict[str, Any], path: str, op: dict[str, Any]) -> list[dict[str, Any]]:
    raw = list(spec["paths"][path].get("parameters", [])) + list(op.get("parameters", []))
    return [inline_refs(spec, p) for p in raw]


def _param_validator(schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schema)


def _coerce(schema: dict[str, Any], raw: str) -> Any:
    if schema.get("type") == "integer":
        return int(raw) if re.fullmatch(r"-?[0-9]+", raw) else raw
    return raw


def check_request(
    spec: dict[str, Any],
    request: httpx.Request,
    api_key: str = API_KEY,
    *,
    require_idempotency_key: bool = True,
) -> list[str]:
    """Every way ``request`` departs from openapi.yaml (and the client's auth promise)."""
    problems: list[str] = []
    raw_path = request.url.raw_path.split(b"?", 1)[0].decode("ascii")
    matched = match_operation(spec, request.method, raw_path)
    if matched is None:
        return [f"{request.method} {raw_path}: no such operation in openapi.yaml"]
    op = matched.operation
    if request.url.scheme != "https" or request.url.host != httpx.URL(BASE_URL).host:
        problems.append(f"sent to {request.url.scheme}://{request.url.host}, not the base URL")

    # Auth (components.securitySchemes.bearerAuth).
    auth = request.headers.get_list("authorization")
    if auth != [f"Bearer {api_key}"]:
        problems.append(
            f"Authorization is {['<redacted>' if api_key in a else a for a in auth]}, "
            "not one 'Bearer <key>'"
        )

    params = _parameters(spec, matched.path, op)
    declared_query = {p["name"]: p for p in params if p["in"] == "query"}
    for p in params:
        schema = p.get("schema", {})
        if p["in"] == "path":
            value = matched.path_params.get(p["name"])
            if value is None:
                problems.append(f"path parameter {p['name']} missing")
                continue
            problems += [
                f"path {p['name']}: {e}" for e in errors_of(_param_validator(schema), value)
            ]
        elif p["in"] == "header":
            values = request.headers.get_list(p["name"])
            if len(values) > 1:
                problems.append(f"header {p['name']} sent {len(values)} times")
            if not values:
                if p["name"].lower() == "idempotency-key" and require_idempotency_key:
                    problems.append("POST without an Idempotency-Key header")
                elif p.get("required"):
                    problems.append(f"required header {p['name']} missing")
                continue
            problems += [
                f"header {p['name']}: {e}" for e in errors_of(_param_validator(schema), values[0])
            ]
        elif p["in"] == "query":
            values = request.url.params.get_list(p["name"])
            if len(values) > 1:
                problems.append(f"query {p['name']} sent {len(values)} times")
            if not values:
                if p.get("required"):
                    problems.append(f"required query parameter {p['name']} missing")
                continue
            problems += [
                f"query {p['name']}: {e}"
                for e in errors_of(_param_validator(schema), _coerce(schema, values[0]))
            ]
    undeclared = set(request.url.params.keys()) - set(declared_query)
    if undeclared:
        problems.append(f"undeclared query parameters {sorted(undeclared)}")

    body = request.content
    request_body = op.get("requestBody")
    if request_body is None:
        if body:
            problems.append(
                f"{request.method} {matched.path} has no request body, sent {len(body)} bytes"
            )
        return problems
    content_type = request.headers.get("content-type", "")
    media = content_type.split(";")[0].strip().lower()
    declared = request_body["content"]
    if media not in declared:
        return [*problems, f"Content-Type {content_type!r} not among {sorted(declared)}"]
    body_schema_ref = declared[media]["schema"]["$ref"]
    schema_name = body_schema_ref.rsplit("/", 1)[-1]
    body_schema = resolved(spec, schema_name)
    if media == "application/json":
        try:
            instance = json.loads(body)
        except ValueError as exc:
            return [*problems, f"JSON body does not parse: {exc}"]
    else:
        try:
            parts = parse_multipart(content_type, body)
        except (ValueError, UnicodeDecodeError) as exc:
            return [*problems, f"multipart body does not parse: {exc}"]
        instance: dict[str, Any] = {}
        encoding = declared[media].get("encoding", {})
        for part in parts:
            if part.name is None:
                problems.append("multipart part without a name")
                continue
            prop = body_schema.get("properties", {}).get(part.name, {})
            # An array property is sent as repeated parts, one per item (OpenAPI 3.1).
            repeated = prop.get("type") == "array"
            if repeated:
                prop = prop.get("items", {})
            if part.name in instance and not repeated:
                problems.append(f"multipart field {part.name!r} sent twice")
            if prop.get("format") == "binary":
                allowed = [
                    t.strip() for t in encoding.get(part.name, {}).get("contentType", "").split(",")
                ]
                if not part.filename:
                    problems.append(f"file part {part.name!r} has no filename")
                if part.content_type not in allowed:
                    problems.append(
                        f"file part {part.name!r} has Content-Type {part.content_type!r}, "
                        f"not one of {allowed}"
                    )
                if repeated:
                    instance.setdefault(part.name, []).append("<binary>")
                else:
                    instance[part.name] = "<binary>"
            elif repeated:
                if part.filename is not None:
                    problems.append(f"text field {part.name!r} sent as a file")
                instance.setdefault(part.name, []).append(part.data.decode("utf-8", "replace"))
            else:
                if part.filename is not None:
                    problems.append(f"text field {part.name!r} sent as a file")
                try:
                    instance[part.name] = part.data.decode("utf-8")
                except UnicodeDecodeError:
                    problems.append(f"field {part.name!r} is not UTF-8")
    problems += [f"body {e}" for e in errors_of(validator(spec, schema_name), instance)]
    return problems


def form_fields(request: httpx.Request) -> dict[str, Part]:
    """The multipart parts of a (conforming) create request, by field name (the first part of
    a repeated field; :func:`form_parts` has them all)."""
    fields: dict[str, Part] = {}
    for part in parse_multipart(request.headers["content-type"], request.content):
        fields.setdefault(part.name or "", part)
    return fields


def form_parts(request: httpx.Request, name: str) -> list[Part]:
    """Every part called ``name`` of a create request, in order."""
    parts = parse_multipart(request.headers["content-type"], request.content)
    return [p for p in parts if p.name == name]


# -- images for input_reference -------------------------------------------------------------------


# -- hostile text --------------------------------------------------------------------------------

HOSTILE_SNIPPETS = [
    '\r\n--boundary\r\nContent-Disposition: form-data; name="model"\r\n\r\nsora-2-pro\r\n',
    '"; name="seconds"; filename="x.png',
    "\r\n\r\n",
    "\n--\n",
    "Content-Type: image/png\r\n",
    '{"prompt": "override", "model": "x"}',
    "%22%0D%0A",
    '\\"\\',
    "\x00",
    "\u202e\u2066RTL\u2069",
    "🐈‍⬛🎹",
    "\uff46\uff55\uff4c\uff4c \uff57\uff49\uff44\uff54\uff48",  # full-width letters
    "a" * 5000,
]

hostile_text = st.lists(
    st.one_of(
        st.sampled_from(HOSTILE_SNIPPETS), st.text(st.characters(codec="utf-8"), max_size=40)
    ),
    min_size=1,
    max_size=4,
).map("".join)

#: Prompts the spec allows that the client also accepts (it rejects whitespace-only ones).
prompts = st.one_of(
    st.text(st.characters(codec="utf-8"), min_size=1, max_size=60), hostile_text
).filter(lambda s: s.strip() != "")


#: Non-empty model strings, the spec's known IDs first.
def model_ids(spec: dict[str, Any]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(enum_of(spec, "VideoModel")),
        st.text(st.characters(codec="utf-8"), min_size=1, max_size=30),
        hostile_text,
    ).filter(lambda s: s.strip() != "")
