"""The JUnit and Markdown reports and the drift computation, on hand-built results."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from deerapi_videos.auth import REDACTED
from deerapi_videos_conformance import (
    CHECK_MEANINGS,
    CheckResult,
    ConformanceResult,
    Exchange,
    PaidJob,
    ReproStep,
    compute_coverage,
    compute_drift,
)
from deerapi_videos_conformance._checks import meaning
from deerapi_videos_conformance._report import (
    ReportContext,
    group_checks,
    redact,
    render_junit,
    render_markdown,
    write_reports,
)
from deerapi_videos_conformance._repro import ID_OF, body_file_name, render_step

BASE = "http://127.0.0.1:4010"
SECRET = "sk-planted-secret-0123456789"


def video(**extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "video_1",
        "object": "video",
        "created_at": 1758941485,
        "status": "queued",
        "model": "sora-2",
        "progress": 0,
        "seconds": "4",
        "size": "720x1280",
    }
    body.update(extra)
    return body


def exchange(
    operation: str,
    method: str,
    path: str,
    status: int,
    body: Any,
    headers: dict[str, str] | None = None,
) -> Exchange:
    return Exchange(
        operation=operation,
        method=method,
        url=BASE + path,
        status_code=status,
        request_headers={"Authorization": f"Bearer {REDACTED}"},
        response_headers=headers if headers is not None else {"x-request-id": "req_1"},
        response_json=body,
        elapsed_s=0.01,
    )


def result(checks: list[CheckResult], exchanges: list[Exchange] | None = None) -> ConformanceResult:
    return ConformanceResult(
        checks=checks,
        exchanges=exchanges or [],
        paid_jobs=[PaidJob("POST /v1/videos", "video_1", {"model": "sora-2", "seconds": "4"})],
        cases_per_phase={"examples": 4, "coverage": 30, "fuzzing": 20, "stateful": 6},
        duration_s=12.345,
    )


FAILING = CheckResult(
    operation="DELETE /v1/videos/{video_id}",
    check="use_after_free",
    passed=False,
    message="Use after free\n\nThe resource was deleted but GET still answers 200",
    request_id="req_del_42",
    curl=f"curl -X DELETE -H 'Authorization: Bearer {SECRET}' {BASE}/v1/videos/video_1",
)
PASSING = [
    CheckResult("GET /v1/videos", "status_code_conformance", True, ""),
    CheckResult("GET /v1/videos", "status_code_conformance", True, ""),
    CheckResult("DELETE /v1/videos/{video_id}", "use_after_free", True, ""),
    CheckResult("DELETE /v1/videos/{video_id}", "not_a_server_error", True, ""),
]


def test_groups_per_operation_and_check() -> None:
    groups = group_checks([*PASSING, FAILING, FAILING])
    by_key = {(g.operation, g.check): g for g in groups}
    assert len(groups) == 3
    failing = by_key[("DELETE /v1/videos/{video_id}", "use_after_free")]
    assert (failing.passed, len(failing.failures), failing.ok) == (1, 2, False)
    assert failing.distinct_failures() == [(FAILING, 2)]
    assert by_key[("GET /v1/videos", "status_code_conformance")].total == 2


def test_markdown_names_failure_request_id_and_redacted_curl() -> None:
    md = render_markdown(
        result([*PASSING, FAILING]), None, ReportContext(base_url=BASE, secrets=(SECRET,))
    )
    assert "**Result: NOT CONFORMANT**" in md
    assert "| `DELETE /v1/videos/{video_id}` | use_after_free | **FAIL** (1 failed) | 2 |" in md
    assert "| `GET /v1/videos` | status_code_conformance | pass | 2 |" in md
    assert "### `DELETE /v1/videos/{video_id}` — use_after_free" in md
    assert "`req_del_42`" in md
    assert f"curl -X DELETE -H 'Authorization: Bearer {REDACTED}'" in md
    assert SECRET not in md
    assert "| `POST /v1/videos` | `video_1` | model=sora-2, seconds=4 |" in md
    assert "Duration: 12.3 s" in md
    assert "examples 4, coverage 30, fuzzing 20, stateful 6" in md
    assert "Not computed" in md  # no drift given


def test_markdown_when_conformant() -> None:
    md = render_markdown(result(PASSING))
    assert "**Result: CONFORMANT** — 3 of 3 checks passed" in md
    assert "## Failures\n\nNone." in md


def test_junit_is_valid_xml_with_one_case_per_check() -> None:
    xml = render_junit(
        result([*PASSING, FAILING]), None, ReportContext(base_url=BASE, secrets=(SECRET,))
    )
    root = ET.fromstring(xml)
    assert root.tag == "testsuites"
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures")) == ("3", "1")
    cases = suite.findall("testcase")
    assert {(c.get("classname"), c.get("name")) for c in cases} == {
        ("GET /v1/videos", "status_code_conformance"),
        ("DELETE /v1/videos/{video_id}", "use_after_free"),
        ("DELETE /v1/videos/{video_id}", "not_a_server_error"),
    }
    failure = suite.find("testcase[@name='use_after_free']/failure")
    assert failure is not None
    assert failure.get("message") == "Use after free"
    assert "req_del_42" in (failure.text or "")
    assert SECRET not in xml


def test_redact_blanks_bearer_tokens_without_a_secret_list() -> None:
    assert redact("-H 'Authorization: Bearer abc.def'") == f"-H 'Authorization: Bearer {REDACTED}'"
    assert redact("key sk-1 here", ["sk-1"]) == f"key {REDACTED} here"


def test_write_reports_creates_folders(tmp_path: Path) -> None:
    junit, md = tmp_path / "a" / "c.xml", tmp_path / "b" / "c.md"
    written = write_reports(result(PASSING), junit_path=junit, markdown_path=md)
    assert written == [junit, md]
    ET.parse(junit)
    assert md.read_text(encoding="utf-8").startswith("# DeerAPI conformance report")


# -- drift ----------------------------------------------------------------------------------------


def test_no_drift_when_responses_match_the_spec() -> None:
    full = video(completed_at=None, error=None, expires_at=None, remixed_from_video_id=None)
    drift = compute_drift(
        [
            exchange("POST /v1/videos", "POST", "/v1/videos", 200, full),
            exchange("GET /v1/videos/{video_id}", "GET", "/v1/videos/video_1", 200, full),
        ]
    )
    assert not drift.has_drift
    assert drift.exchanges_seen == 2
    assert drift.unseen_fields == ["Video.prompt"]


def test_drift_finds_fields_values_headers_and_status_codes() -> None:
    odd = video(
        status="expired",
        model="sora-3",
        watermark=True,
        error={"code": "x", "message": "m", "hint": 1},
    )
    drift = compute_drift(
        [
            exchange(
                "GET /v1/videos/{video_id}",
                "GET",
                "/v1/videos/video_1",
                200,
                odd,
                {
                    "x-request-id": "r",
                    "x-ratelimit-remaining": "9",
                    "content-type": "application/json",
                },
            ),
            exchange(
                "GET /v1/videos",
                "GET",
                "/v1/videos?limit=2",
                200,
                {"object": "list", "data": [odd], "has_more": False, "total": 1},
            ),
            exchange("DELETE /v1/videos/{video_id}", "DELETE", "/v1/videos/video_1", 418, {}),
            exchange(
                "GET /v1/videos/{video_id}/content",
                "GET",
                "/v1/videos/video_1/content?variant=video",
                200,
                None,
                {"x-request-id": "r", "content-length": "10", "content-type": "video/mp4"},
            ),
            exchange("GET /v1/other", "GET", "/v1/other", 200, {}),
        ]
    )
    assert drift.has_drift
    assert drift.undocumented_fields == {
        "Video.watermark": {"retrieveVideo", "listVideos"},
        "VideoError.hint": {"retrieveVideo", "listVideos"},
        "VideoList.total": {"listVideos"},
    }
    assert drift.undocumented_values == {"Video.status": {"expired"}, "Video.model": {"sora-3"}}
    assert drift.undocumented_headers == {"x-ratelimit-remaining": {"retrieveVideo"}}
    assert drift.undocumented_status_codes == {"deleteVideo": {418}}
    assert drift.unknown_endpoints == {"GET /v1/other"}
    assert "VideoList.first_id" in drift.unseen_fields
    assert "Video.completed_at" in drift.unseen_fields
    md = render_markdown(result(PASSING), drift)
    assert "- `Video.watermark` (in listVideos, retrieveVideo)" in md
    assert "- `Video.status`: expired" in md
    assert "- `Video.model`: sora-3" in md
    assert "- `x-ratelimit-remaining` (in retrieveVideo)" in md
    assert "- deleteVideo: 418" in md
    assert "- `VideoList.first_id`" in md
    ET.fromstring(render_junit(result(PASSING), drift))


def test_drift_with_a_given_spec() -> None:
    spec = {
        "paths": {
            "/things/{id}": {
                "get": {
                    "operationId": "getThing",
                    "responses": {
                        "200": {
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Thing"}
                                }
                            }
                        }
                    },
                }
            }
        },
        "components": {
            "schemas": {
                "Thing": {
                    "type": "object",
                    "properties": {"kind": {"type": "string", "enum": ["a", "b"]}, "n": {}},
                }
            }
        },
    }
    ex = exchange("getThing", "GET", "/things/1", 200, {"kind": "c"}, {})
    drift = compute_drift([ex], spec)
    assert drift.undocumented_values == {"Thing.kind": {"c"}}
    assert drift.unseen_fields == ["Thing.n"]


@pytest.mark.parametrize("status", [400, 404, 500])
def test_error_envelopes_are_walked(status: int) -> None:
    body = {"error": {"message": "m", "type": None, "param": None, "code": None, "extra": 1}}
    ex = exchange("GET /v1/videos/{video_id}", "GET", "/v1/videos/x", status, body)
    drift = compute_drift([ex])
    if status == 400:  # retrieve documents no 400
        assert drift.undocumented_status_codes == {"retrieveVideo": {400}}
    else:
        assert drift.undocumented_fields == {"ErrorDetail.extra": {"retrieveVideo"}}


def test_unsupported_method_probes_and_echoed_fuzz_are_not_drift() -> None:
    fuzzed = video(model="\x00#{'^ \u00e9")
    drift = compute_drift(
        [
            exchange("POST /v1/videos", "PUT", "/v1/videos", 405, {"error": {"message": "no"}}),
            exchange("POST /v1/videos", "POST", "/v1/videos", 200, fuzzed),
        ]
    )
    assert drift.probes_skipped == 1
    assert drift.undocumented_status_codes == {}
    assert drift.undocumented_values == {}


def test_junit_escapes_characters_xml_cannot_hold() -> None:
    bad = CheckResult(
        "POST /v1/videos",
        "negative_data_rejection",
        False,
        "accepted prompt '\x00\x1b[31m\ud800'",
        "req_x",
        "curl -d 'prompt=\x00'",
    )
    xml = render_junit(result([bad]))
    root = ET.fromstring(xml)  # parses: no raw control characters
    failure = root.find("testsuite/testcase/failure")
    assert failure is not None and "\\x00" in (failure.text or "")


def test_reports_with_a_lone_surrogate_are_written(tmp_path: Path) -> None:
    bad = CheckResult("GET /v1/videos", "x", False, "value '\ud800'", None, None)
    write_reports(result([bad]), junit_path=tmp_path / "r.xml", markdown_path=tmp_path / "r.md")
    assert "\\ud800" in (tmp_path / "r.md").read_text(encoding="utf-8")
    ET.parse(tmp_path / "r.xml")


# -- replayable reports: seed and settings, check meanings, repro commands, coverage -------------

CONTEXT = ReportContext(
    base_url=BASE,
    seed=7,
    settings=(("phases", "examples, stateful"), ("planted defects", "delete_noop")),
    rerun="deerapi-videos conformance --seed 7 --plant-defect delete_noop",
    mock_command="deerapi-videos mock --port 4010 --seed 7 --speed 0 --plant-defect delete_noop",
)
CREATE_BODY = b'--b\r\nContent-Disposition: form-data; name="prompt"\r\n\r\na cat\r\n--b--\r\n'
CHAIN = CheckResult(
    operation="DELETE /v1/videos/{video_id}",
    check="use_after_free",
    passed=False,
    message="Deleted resource still available",
    request_id="req_9",
    repro=(
        ReproStep(
            "POST",
            f"{BASE}/v1/videos",
            (("Content-Type", "multipart/form-data; boundary=b"),),
            CREATE_BODY,
            capture="VIDEO_1",
        ),
        ReproStep("DELETE", f"{BASE}/v1/videos/video_9", ids=(("video_9", "VIDEO_1"),)),
        ReproStep("GET", f"{BASE}/v1/videos/video_9", ids=(("video_9", "VIDEO_1"),)),
    ),
)


def test_seed_settings_and_commands_are_in_both_reports() -> None:
    md = render_markdown(result([*PASSING, CHAIN]), None, CONTEXT)
    assert "- Seed: 7" in md and "| seed | `7` |" in md
    assert "| planted defects | `delete_noop` |" in md
    assert f"```sh\n{CONTEXT.rerun}\n```" in md
    assert f"export DEERAPI_KEY=sk-mock-repro\n{CONTEXT.mock_command}\n" in md
    suite = ET.fromstring(render_junit(result([*PASSING, CHAIN]), None, CONTEXT)).find("testsuite")
    assert suite is not None
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["seed"] == "7" and props["setting.phases"] == "examples, stateful"
    assert props["rerun"] == CONTEXT.rerun and props["mock_command"] == CONTEXT.mock_command
    failure = suite.find("testcase[@name='use_after_free']/failure")
    assert failure is not None and CONTEXT.mock_command in (failure.text or "")


def test_the_seed_the_engine_drew_is_recorded_when_none_was_given() -> None:
    drawn = result(PASSING)
    drawn.seed = 123456789
    assert "- Seed: 123456789" in render_markdown(drawn)
    assert 'name="seed" value="123456789"' in render_junit(drawn)


def test_every_check_shown_has_a_one_line_meaning() -> None:
    odd = CheckResult("GET /v1/videos", "brand_new_check", True, "")
    md = render_markdown(result([*PASSING, CHAIN, odd]))
    section = md.split("## What the checks mean\n\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert section == [
        f"- `brand_new_check`: {meaning('brand_new_check')}",
        f"- `not_a_server_error`: {CHECK_MEANINGS['not_a_server_error']}",
        f"- `status_code_conformance`: {CHECK_MEANINGS['status_code_conformance']}",
        f"- `use_after_free`: {CHECK_MEANINGS['use_after_free']}",
    ]
    assert "st explain brand_new_check" in section[0]
    assert all("\n" not in text for text in CHECK_MEANINGS.values())


def test_repro_commands_read_the_key_from_the_environment_in_double_quotes(
    tmp_path: Path,
) -> None:
    md_path = tmp_path / "r" / "conformance.md"
    write_reports(
        result([CHAIN]), junit_path=tmp_path / "r" / "c.xml", markdown_path=md_path, context=CONTEXT
    )
    md = md_path.read_text(encoding="utf-8")
    block = md.split("  ```sh\n", 1)[1].split("  ```", 1)[0]
    lines = [line.strip() for line in block.splitlines()]
    body_file = tmp_path / "r" / "conformance-bodies" / body_file_name(CREATE_BODY)
    assert body_file.read_bytes() == CREATE_BODY  # byte for byte, CRLF and all
    assert lines == [
        ID_OF,
        'VIDEO_1=$(curl -sS -X POST -H "Authorization: Bearer $DEERAPI_KEY" '
        "-H 'Content-Type: multipart/form-data; boundary=b' "
        f"--data-binary @{body_file} {BASE}/v1/videos | id_of)",
        'curl -sS -i -X DELETE -H "Authorization: Bearer $DEERAPI_KEY" '
        f'"{BASE}/v1/videos/${{VIDEO_1}}"',
        'curl -sS -i -X GET -H "Authorization: Bearer $DEERAPI_KEY" '
        f'"{BASE}/v1/videos/${{VIDEO_1}}"',
    ]
    assert "'Authorization: Bearer $DEERAPI_KEY'" not in md  # never single-quoted
    xml = (tmp_path / "r" / "c.xml").read_text(encoding="utf-8")
    assert f"--data-binary @{body_file}" in xml


def test_repro_steps_quote_what_the_shell_would_expand() -> None:
    odd = ReproStep(
        "GET",
        f"{BASE}/v1/videos/video_1?x=$HOME&y=`id`",
        ids=(("video_1", "VIDEO_1"),),
        authorization="Bearer not-the-key",
    )
    line = render_step(odd)
    assert line.endswith(f'"{BASE}/v1/videos/${{VIDEO_1}}?x=\\$HOME&y=\\`id\\`"')
    assert "-H 'Authorization: Bearer not-the-key'" in line  # a wrong key is literal
    inline = render_step(ReproStep("POST", f"{BASE}/v1/videos", body=b'{"prompt": "it\'s"}'))
    assert '--data-binary \'{"prompt": "it\'"\'"\'s"}\'' in inline
    binary = render_step(ReproStep("POST", f"{BASE}/v1/videos", body=b"a\r\n\x00'"))
    assert "--data-binary $'a\\x0d\\x0a\\x00\\x27'" in binary  # no body file: ANSI-C quotes
    assert render_step(ReproStep("GET", BASE, authorization=None)).count("Authorization") == 0


def test_coverage_says_what_was_exercised_of_what_the_spec_describes() -> None:
    full = video(completed_at=None, error=None, expires_at=None, remixed_from_video_id=None)
    created = Exchange(
        operation="POST /v1/videos",
        method="POST",
        url=BASE + "/v1/videos",
        status_code=200,
        request_headers={},
        response_headers={"x-request-id": "req_1"},
        response_json=full,
        elapsed_s=0.01,
        request_fields=("prompt", "seconds", "Idempotency-Key"),
    )
    exchanges = [
        created,
        exchange("GET /v1/videos/{video_id}", "GET", "/v1/videos/video_1", 200, full),
        exchange("GET /v1/videos/{video_id}", "GET", "/v1/videos/nope", 404, {"error": {}}),
        exchange("GET /v1/videos/{video_id}", "PUT", "/v1/videos/video_1", 405, None),  # probe
    ]
    drift = compute_drift(exchanges)
    coverage = compute_coverage(exchanges, drift=drift)
    by_id = {op.operation_id: op for op in coverage.operations}
    assert len(by_id) == 6
    retrieve, create = by_id["retrieveVideo"], by_id["createVideo"]
    assert retrieve.requests == 2 and dict(retrieve.statuses_seen) == {200: 1, 404: 1}
    assert "401" in retrieve.described_unseen() and "200" not in retrieve.described_unseen()
    assert create.fields_sent == {"prompt", "seconds", "Idempotency-Key"}
    assert "input_reference" in create.fields_described
    assert coverage.totals()["operations"] == (2, 6)
    assert coverage.response_fields["Video"][1] >= {"id", "status"}
    md = render_markdown(result(PASSING), drift, coverage=coverage)
    section = md.split("## Spec coverage\n\n", 1)[1].split("\n## ", 1)[0]
    assert "operations 2 of 6" in section
    assert "| `retrieveVideo` (`GET /v1/videos/{video_id}`) | 2 | 200 (1), 404 (1) |" in section
    assert "never sent: `model`, `size`, `input_reference`" in section
    assert "- `Video`: 12 of 13; never seen: `prompt`" in section
    props = ET.fromstring(render_junit(result(PASSING), drift, coverage=coverage)).iter("property")
    assert {p.get("name"): p.get("value") for p in props}["coverage.operations"] == "2/6"
