"""openapi.yaml: valid OpenAPI 3.1, the six operations, and examples that obey their schemas."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from deerapi_videos.model_table import model_table, table_data
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
ERROR_STATUSES = {"400", "401", "403", "404", "409", "410", "429", "500", "502", "503"}


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
    # Repeated parts: one per reference image (Veo: first, then last frame).
    assert props["input_reference"]["type"] == "array"
    assert props["input_reference"]["items"] == {"type": "string", "format": "binary"}
    encoding = body["multipart/form-data"]["encoding"]["input_reference"]["contentType"]
    assert {t.strip() for t in encoding.split(",")} == {"image/jpeg", "image/png", "image/webp"}


def test_known_values_are_the_model_tables(spec: dict[str, Any]) -> None:
    """The spec's enums hold exactly what the shipped model table lists; seconds and size also
    take any other non-empty string (unknown models)."""
    table = model_table()
    schemas = spec["components"]["schemas"]
    assert set(schemas["VideoModel"]["enum"]) == set(table.models)
    assert set(schemas["VideoSeconds"]["enum"]) == set(table.seconds)
    assert set(schemas["VideoSize"]["enum"]) == set(table.sizes)
    for name in ("seconds", "size"):
        branches = schemas["CreateVideoRequest"]["properties"][name]["anyOf"]
        assert {"type": "string", "minLength": 1} in branches
    assert {"sora-2", "veo3"} == set(table.families())
    assert table.get(None).id == "sora-2" == table.default_model


def test_the_spec_carries_the_shipped_model_table(spec: dict[str, Any]) -> None:
    """``x-deerapi-models`` is a copy of ``deerapi_videos/models.json`` (the one home)."""
    shipped = table_data()
    copy = spec["x-deerapi-models"]
    assert copy["default_model"] == shipped["default_model"]
    assert copy["max_reference_bytes"] == shipped["max_reference_bytes"]
    assert copy["models"] == shipped["models"]


def test_model_table_rows_say_what_the_research_supports() -> None:
    table = model_table()
    sora = [m for m, row in table.models.items() if row.family == "sora-2"]
    assert sora == [
        "sora-2",
        "sora-2-2025-10-06",
        "sora-2-2025-12-08",
        "sora-2-pro",
        "sora-2-pro-2025-10-06",
    ]
    for model in sora:
        row = table.models[model]
        assert row.seconds == ("4", "8", "12") and row.remix and row.max_references == 1
        assert row.reference_matches_size and row.default_size == "720x1280"
        pro = {"1024x1792", "1792x1024"}
        assert (pro <= set(row.sizes)) == ("pro" in model)
    veo = table.families()["veo3"]
    for model in veo:
        row = table.models[model]
        assert row.sizes == ("16x9", "9x16") and "8" in row.seconds
        assert row.max_references == 2 and not row.reference_matches_size and not row.remix
        assert row.content_ttl_seconds == 3600
    # Only veo3.1-pro is on DeerAPI's pages; the others are marked as assumptions.
    assert {m: table.models[m].evidence for m in veo} == {
        "veo3.1-pro": "deerapi",
        "veo3.1": "assumption",
        "veo3": "assumption",
    }


def test_documented_and_undocumented_operations_are_marked(spec: dict[str, Any]) -> None:
    flags = {
        op["operationId"]: op.get("x-deerapi-documented")
        for item in spec["paths"].values()
        for op in item.values()
        if isinstance(op, dict) and "operationId" in op
    }
    assert flags == {
        "createVideo": True,
        "remixVideo": True,
        "retrieveVideo": True,
        "downloadVideoContent": True,
        "listVideos": False,
        "deleteVideo": False,
    }


def test_info_names_the_sora_2_shutdown_and_both_families(spec: dict[str, Any]) -> None:
    text = spec["info"]["description"]
    assert "2026-09-24" in text and "Veo" in text and "x-deerapi-models" in text
    assert "X-Oneapi-Request-Id" in text and "expires_at" in text


def test_every_response_names_both_request_id_headers(spec: dict[str, Any]) -> None:
    responses = list(spec["components"]["responses"].values())
    for item in spec["paths"].values():
        for op in item.values():
            if isinstance(op, dict) and "responses" in op:
                responses += [r for r in op["responses"].values() if "$ref" not in r]
    for response in responses:
        assert {"X-Request-Id", "X-Oneapi-Request-Id"} <= set(response.get("headers", {}))


def test_the_client_needs_only_what_the_spec_requires(spec: dict[str, Any]) -> None:
    """``required`` is what a client may rely on; what DeerAPI/OpenAI always send is
    ``x-deerapi-expected-fields`` (drift, not a failure, when missing)."""
    schemas = spec["components"]["schemas"]
    assert schemas["Video"]["required"] == ["id", "status"]
    assert schemas["VideoList"]["required"] == ["data"]
    assert schemas["DeletedVideo"]["required"] == ["id", "deleted"]
    for name in ("Video", "VideoList", "DeletedVideo", "VideoError"):
        expected = schemas[name]["x-deerapi-expected-fields"]
        assert set(schemas[name].get("required", [])) <= set(expected)
        assert set(expected) <= set(schemas[name]["properties"])


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
