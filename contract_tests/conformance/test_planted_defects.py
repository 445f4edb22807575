"""The suite can fail: each defect planted in the mock is reported, by the check meant for it."""

from __future__ import annotations

import pytest
from deerapi_videos_conformance import ConformanceResult, run_conformance

from .conftest import API_KEY, PROFILE, new_mock, served

# defect -> (operation the defect lives in, check that must catch it)
DEFECTS = {
    "wrong_field_type": ("GET /v1/videos/{video_id}", "response_schema_conformance"),
    "undocumented_status": ("GET /v1/videos/{video_id}", "status_code_conformance"),
    "server_error_on_valid": ("GET /v1/videos", "not_a_server_error"),
    "accept_invalid_input": ("POST /v1/videos", "negative_data_rejection"),
    "delete_noop": ("DELETE /v1/videos/{video_id}", "use_after_free"),
    # Further defects the mock offers:
    "missing_required_field": ("GET /v1/videos/{video_id}", "response_schema_conformance"),
    "wrong_content_type": ("GET /v1/videos/{video_id}/content", "content_type_conformance"),
}


def _run(defect: str) -> ConformanceResult:
    # Jobs complete at creation: some defects only show on a success path (content of a
    # completed video), which random link walks reach only by luck when jobs age on retrieve.
    mock = new_mock(defects={defect}, job_duration=0.0)
    with served(mock) as base_url:
        return run_conformance(
            base_url,
            API_KEY,
            max_examples=PROFILE.max_examples,
            seed=PROFILE.seed,
            stateful_steps=PROFILE.stateful_steps,
        )


@pytest.mark.parametrize("defect", sorted(DEFECTS))
def test_planted_defect_is_reported_by_its_check(defect: str) -> None:
    operation, check = DEFECTS[defect]
    result = _run(defect)
    assert not result.passed, f"{defect} went unnoticed"
    caught = result.failed_checks()
    assert any(c == check for _, c in caught), f"{defect}: {check} did not fire; got {caught}"
    failures = [f for f in result.failures if f.check == check]
    assert any(f.operation == operation for f in failures), [f.operation for f in failures]
    assert all(f.curl and API_KEY not in f.curl for f in failures)
