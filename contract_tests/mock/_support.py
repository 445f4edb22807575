"""Helpers for the mock's tests: the spec checker and a create shortcut."""

from __future__ import annotations

from typing import Any

import httpx
import yaml
from deerapi_videos.spec import spec_path
from deerapi_videos_mock._app import route
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

KEY = "sk-mock"
AUTH = {"Authorization": f"Bearer {KEY}"}
_URI = "urn:deerapi-videos:openapi"


class SpecChecker:
    """Checks responses against the spec's documented responses for their operation."""

    def __init__(self) -> None:
        self.spec: dict[str, Any] = yaml.safe_load(spec_path().read_text())
        resource = Resource.from_contents(self.spec, default_specification=DRAFT202012)
        self.registry: Registry[Any] = Registry().with_resource(_URI, resource)
        self.operations: dict[str, tuple[str, str, dict[str, Any]]] = {}
        for path, item in self.spec["paths"].items():
            for method, op in item.items():
                if isinstance(op, dict) and "operationId" in op:
                    self.operations[op["operationId"]] = (method.upper(), path, op)

    def _deref(self, node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            target: Any = self.spec
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            node = target
        return node

    def validator(self, pointer: str) -> Draft202012Validator:
        return Draft202012Validator({"$ref": f"{_URI}#{pointer}"}, registry=self.registry)

    def check_body(self, pointer: str, body: Any) -> None:
        errors = sorted(self.validator(pointer).iter_errors(body), key=str)
        assert not errors, f"{pointer}: {[e.message for e in errors]}"

    def check(self, response: httpx.Response) -> None:
        operation, _, _ = route(response.request.method, response.request.url.path)
        assert operation is not None, f"unknown operation {response.request.url}"
        _, _, op = self.operations[operation]
        documented = op["responses"]
        status = str(response.status_code)
        assert status in documented, f"{operation}: undocumented status {status}"
        spec_response = self._deref(documented[status])
        assert response.headers.get("x-request-id", "").startswith("req_")
        for name, header in spec_response.get("headers", {}).items():
            header = self._deref(header)
            if header.get("required"):
                assert name.lower() in response.headers, f"{operation}: missing {name}"
        content = spec_response.get("content", {})
        media_type = response.headers.get("content-type", "").split(";")[0]
        assert media_type in content, f"{operation} {status}: undocumented type {media_type}"
        if media_type == "application/json":
            schema = content[media_type]["schema"]
            ref = schema["$ref"].removeprefix("#") if "$ref" in schema else None
            assert ref is not None
            self.check_body(ref, response.json())
        else:
            assert response.headers["content-length"] == str(len(response.content))


async def create(client: httpx.AsyncClient, prompt: str = "cat", **fields: Any) -> dict[str, Any]:
    """POST a create and return the video object (asserting 200)."""
    files: dict[str, Any] = {"prompt": (None, prompt)}
    headers = fields.pop("headers", None)
    for name, value in fields.items():
        files[name] = value if isinstance(value, tuple) else (None, value)
    response = await client.post("/v1/videos", files=files, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body
