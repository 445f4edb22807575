"""openapi.yaml: valid OpenAPI 3.1, the six operations, and examples that obey their schemas."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from openapi_spec_validator import validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from contract_tests.paths import SPEC_PATH

OPERATIONS = {
    ("post", "/v1/videos"): "createVideo",
    ("get", "/v1/videos"): "listVideos",
    ("get", "/v1/videos/{video_id}"): "retrieveVideo",
    ("delete", "/v1/videos/{video_id}"): "deleteVideo",
    ("get", "/v1/videos/{video_id}/content"): "downloadVideoContent",
    ("post", "/v1/videos/{video_id}/remix"): "remixVideo",
}
ERROR_STATUSES = {"400", "401", "403", "404", "409", "429", "500", "502", "503"}


def schema_validator(spec: dict[str, Any], pointer: str) -> jsonschema.Draft202012Validator:
    """A validator for the schema at ``pointer`` (``#/components/...``), resolving refs."""
    resource = Resource.from_contents(spec, default_specification=DRAFT202012)
    registry: Registry[Any] = Registry().with_resource("spec.yaml", resource)
    return jsonschema.Draft202012Validator({"$ref": f"spec.yaml{pointer}"}, registry=registry)


def test_spec_is_valid_openapi_3_1(spec: dict[str, Any]) -> None:
    assert spec["openapi"].startswith("3.1")
    validate(spec, base_uri=SPEC_PATH.as_uri())


def test_invalid_spec_is_rejected(spec: dict[str, Any]) -> None:
    # The validator itself must be able to fail: a response without a description is invalid.
    broken = {**spec, "paths": {"/x": {"get": {"responses": {"200": {}}}}}}
    with pytest.raises(Exception, match="description"):
        validate(broken)


def test_describes_the_six_operations(spec: dict[str, Any]) -> None:
    found = {
        (method, path): op["operationId"]
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method in {"get", "post", "delete", "put", "patch"}
    }
    assert found == OPERATIONS


@pytest.mark.parametrize(("method", "path"), sorted(OPERATIONS))
def test_every_operation_documents_errors_and_bearer_auth(
    spec: dict[str, Any], method: str, path: str
) -> None:
    expected = {"401", "403", "429", "500", "502", "503"}
    if "{video_id}" in path:
        expected.add("404")
    if method == "post":
        expected |= {"400", "409"}  # invalid input; idempotency-key reuse or a job's state
    assert expected <= set(spec["paths"][path][method]["responses"])
    assert set(spec["paths"][path][method]["responses"]) - {"200", "206"} <= ERROR_STATUSES
    assert spec["security"] == [{"bearerAuth": []}]
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


@pytest.mark.parametrize("name", ["TooManyRequests", "ServiceUnavailable"])
def test_retry_after_documented(spec: dict[str, Any], name: str) -> None:
    assert "Retry-After" in spec["components"]["responses"][name]["headers"]


def test_error_envelope_shape(spec: dict[str, Any]) -> None:
    detail = spec["components"]["schemas"]["ErrorDetail"]["properties"]
    assert set(detail) == {"message", "type", "param", "code"}


def test_create_is_multipart_with_the_pages_fields(spec: dict[str, Any]) -> None:
    body = spec["paths"]["/v1/videos"]["post"]["requestBody"]["content"]
    assert set(body) == {"multipart/form-data"}
    schemas = spec["components"]["schemas"]
    props = schemas["CreateVideoRequest"]["properties"]
    assert set(props) == {"prompt", "model", "seconds", "size", "input_reference"}
    assert schemas["CreateVideoRequest"]["required"] == ["prompt"]
    assert schemas["VideoSeconds"]["enum"] == ["4", "8", "12"]
    assert schemas["VideoSize"]["enum"] == ["720x1280", "1280x720", "1024x1792", "1792x1024"]
    assert schemas["VideoModel"]["enum"] == ["sora-2", "sora-2-pro"]
    encoding = body["multipart/form-data"]["encoding"]["input_reference"]["contentType"]
    assert {t.strip() for t in encoding.split(",")} == {"image/jpeg", "image/png", "image/webp"}


def test_links_from_create_to_the_follow_up_operations(spec: dict[str, Any]) -> None:
    links = spec["paths"]["/v1/videos"]["post"]["responses"]["200"]["links"]
    targets = {
        spec["components"]["links"][v["$ref"].rsplit("/", 1)[1]]["operationId"]
        for v in links.values()
    }
    assert targets == {"retrieveVideo", "downloadVideoContent", "remixVideo", "deleteVideo"}


def _examples(spec: dict[str, Any]) -> list[tuple[str, str, Any]]:
    """(id, schema pointer or inline schema marker, value) for every JSON example in the spec."""
    found = []
    for item in spec["paths"].values():
        for op in item.values():
            if not isinstance(op, dict) or "responses" not in op:
                continue
            bodies = [("request", op.get("requestBody", {}).get("content", {}))]
            bodies += [(status, r.get("content", {})) for status, r in op["responses"].items()]
            for where, content in bodies:
                for media in content.values():
                    for name, ex in media.get("examples", {}).items():
                        found.append(
                            (f"{op['operationId']}-{where}-{name}", media["schema"], ex["value"])
                        )
    for name, resp in spec["components"]["responses"].items():
        for media in resp.get("content", {}).values():
            for ex_name, ex in media.get("examples", {}).items():
                found.append((f"{name}-{ex_name}", media["schema"], ex["value"]))
    return found


def test_spec_has_examples(spec: dict[str, Any]) -> None:
    assert len(_examples(spec)) >= 10


def test_every_example_validates_against_its_schema(spec: dict[str, Any]) -> None:
    for ident, schema, value in _examples(spec):
        pointer = schema["$ref"].removeprefix("#")
        errors = list(schema_validator(spec, "#" + pointer).iter_errors(value))
        assert not errors, f"{ident}: {errors[0].message}"


def test_example_check_catches_a_wrong_example(spec: dict[str, Any]) -> None:
    bad = {"id": "v", "object": "video", "created_at": "yesterday", "status": "queued"}
    assert list(schema_validator(spec, "#/components/schemas/Video").iter_errors(bad))
