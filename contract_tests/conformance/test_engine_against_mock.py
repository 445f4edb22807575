"""The conformance engine against the mock on loopback: every phase, every check, both modes.

One engine run per module (the mock is stateful and the run is the expensive part); the tests
read its result.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from deerapi_videos.auth import REDACTED
from deerapi_videos_conformance import (
    ALL_PHASES,
    CHECK_MEANINGS,
    ConformanceResult,
    compute_coverage,
    compute_drift,
    run_conformance,
)

from .conftest import API_KEY, PROFILE, new_mock, served


@pytest.fixture(scope="module")
def clean_run() -> Iterator[ConformanceResult]:
    mock = new_mock()
    with served(mock) as base_url:
        yield run_conformance(
            base_url,
            API_KEY,
            max_examples=PROFILE.max_examples,
            seed=PROFILE.seed,
            stateful_steps=PROFILE.stateful_steps,
        )


@pytest.fixture(scope="module")
def instant_jobs_run() -> ConformanceResult:
    """A stateful-only run against a mock whose jobs are completed as soon as they are created.

    With jobs that age on retrieve, whether schemathesis' random link walks ever reach a
    completed video depends on the seed and on code changes that shift generation (seen: no
    remix success in 100 steps). Instant jobs make every create -> remix/content chain a
    success path. Jobs moving through queued/in_progress are covered by the clean run above and
    by the pytest state machine, which drives the clock itself.
    """
    with served(new_mock(job_duration=0.0)) as base_url:
        return run_conformance(
            base_url,
            API_KEY,
            phases=("stateful",),
            max_examples=PROFILE.max_examples,
            seed=PROFILE.seed,
            stateful_steps=PROFILE.stateful_steps,
        )


def _describe(result: ConformanceResult) -> str:
    seen = sorted({(f.operation, f.check, f.message.splitlines()[0]) for f in result.failures})
    return "\n".join(f"{op} {check}: {msg}" for op, check, msg in seen)


def test_the_mock_conforms_to_the_spec(clean_run: ConformanceResult) -> None:
    assert clean_run.passed, _describe(clean_run)


def test_every_phase_generated_cases(clean_run: ConformanceResult) -> None:
    for phase in ALL_PHASES:
        assert clean_run.cases_per_phase.get(phase, 0) > 0, clean_run.cases_per_phase


def test_every_check_ran(clean_run: ConformanceResult) -> None:
    ran = {check.check for check in clean_run.checks}
    expected = {
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "response_headers_conformance",
        "negative_data_rejection",
        "positive_data_acceptance",
        "use_after_free",
        "ensure_resource_availability",
        "ignored_auth",
        "unsupported_method",
    }
    assert expected <= ran, expected - ran


def test_positive_and_negative_inputs_were_sent(clean_run: ConformanceResult) -> None:
    counts = clean_run.status_counts()
    for operation in ("POST /v1/videos", "POST /v1/videos/{video_id}/remix", "GET /v1/videos"):
        assert counts[(operation, 400)] > 0, f"no rejected input on {operation}"
    assert counts[("POST /v1/videos", 200)] > 0
    assert counts[("GET /v1/videos", 200)] > 0


def test_stateful_phase_reaches_completed_videos(instant_jobs_run: ConformanceResult) -> None:
    """Links chain create -> retrieve -> content/remix on completed videos: success paths run."""
    assert not instant_jobs_run.failures, _describe(instant_jobs_run)
    stateful = instant_jobs_run.status_counts(phase="stateful")
    assert stateful[("POST /v1/videos", 200)] > 0
    assert stateful[("GET /v1/videos/{video_id}", 200)] > 0
    assert stateful[("POST /v1/videos/{video_id}/remix", 200)] > 0, stateful
    assert stateful[("GET /v1/videos/{video_id}/content", 200)] > 0, stateful
    assert stateful[("DELETE /v1/videos/{video_id}", 200)] > 0, stateful
    completed = [
        e
        for e in instant_jobs_run.exchanges
        if e.phase == "stateful"
        and isinstance(e.response_json, dict)
        and e.response_json.get("status") == "completed"
    ]
    assert completed


def test_exchanges_are_recorded_with_the_key_redacted(clean_run: ConformanceResult) -> None:
    assert clean_run.exchanges
    for exchange in clean_run.exchanges:
        assert API_KEY not in str(exchange.request_headers)
    authorized = [e for e in clean_run.exchanges if "Authorization" in e.request_headers]
    assert authorized
    assert {e.request_headers["Authorization"] for e in authorized} <= {
        f"Bearer {REDACTED}",
        REDACTED,
    }
    assert any(e.response_json is not None for e in clean_run.exchanges)
    assert any("X-Request-Id" in {k.title() for k in e.response_headers} for e in authorized)


def test_paid_jobs_are_the_accepted_creates_and_remixes(clean_run: ConformanceResult) -> None:
    accepted = {
        e.response_json["id"]
        for e in clean_run.exchanges
        if e.method == "POST" and e.status_code == 200 and isinstance(e.response_json, dict)
    }
    assert {job.video_id for job in clean_run.paid_jobs} == accepted
    assert all(set(job.settings) == {"model", "seconds", "size"} for job in clean_run.paid_jobs)


def test_every_check_that_ran_has_a_meaning(clean_run: ConformanceResult) -> None:
    """A schemathesis upgrade that adds a check fails here until the report can explain it."""
    ran = {check.check for check in clean_run.checks}
    assert ran <= set(CHECK_MEANINGS), ran - set(CHECK_MEANINGS)


def test_the_run_records_the_seed_it_used(clean_run: ConformanceResult) -> None:
    if PROFILE.seed is not None:
        assert clean_run.seed == PROFILE.seed
    else:  # nightly: schemathesis drew one, and the result names it
        assert isinstance(clean_run.seed, int)


def test_the_same_seed_sends_the_same_requests() -> None:
    """What makes a report's rerun command a replay: a seed, a seeded mock, the same run."""

    def run(seed: int) -> list[tuple[str, str, int]]:
        with served(new_mock(seed=seed)) as base_url:
            result = run_conformance(
                base_url, API_KEY, phases=("fuzzing", "stateful"), max_examples=3, seed=seed
            )
        assert result.seed == seed
        return [(e.method, urlsplit(e.url).path, e.status_code) for e in result.exchanges]

    first = run(20261129)
    assert first and run(20261129) == first


def test_coverage_of_a_full_run(clean_run: ConformanceResult) -> None:
    coverage = compute_coverage(clean_run.exchanges, drift=compute_drift(clean_run.exchanges))
    assert coverage.totals()["operations"] == (6, 6)
    for op in coverage.operations:
        assert op.requests > 0 and op.described_seen(), op
        assert op.undescribed_seen() == [], op  # the mock answers only what the spec lists
    sent = {f for op in coverage.operations for f in op.fields_sent}
    assert {"prompt", "seconds", "size", "limit", "variant"} <= sent
    assert all(e.request_fields is not None for e in clean_run.exchanges)
