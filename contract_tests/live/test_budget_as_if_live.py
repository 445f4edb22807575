"""Live mode run against the mock as if it were the paying API (runs in CI).

Real loopback sockets, a key, ``live=True``: the mock's own count of accepted create/remix
requests (``mock.paid_jobs``) proves the engine never sent more paid requests than its budget,
while every phase still ran and the reads used the run's video.
"""

from __future__ import annotations

import pytest
from deerapi_videos_conformance import CHEAPEST_SETTINGS, Budget, run_conformance

from ..conformance.conftest import API_KEY, PROFILE, new_mock, served


def _no_sleep(_: float) -> None:
    """The mock finishes the job as it is polled; nothing to wait for."""


@pytest.mark.parametrize("max_paid_jobs", [0, 1, 2])
def test_live_mode_never_exceeds_its_budget(max_paid_jobs: int) -> None:
    mock = new_mock()
    budget = Budget(max_paid_jobs=max_paid_jobs)
    with served(mock) as base_url:
        result = run_conformance(
            base_url,
            API_KEY,
            budget=budget,
            live=True,
            max_examples=PROFILE.max_examples,
            seed=PROFILE.seed,
            stateful_steps=PROFILE.stateful_steps,
            sleep=_no_sleep,
        )
    paid = mock.paid_jobs
    assert len(paid) <= max_paid_jobs
    assert len(paid) == len(result.paid_jobs) == max_paid_jobs  # budget used, not exceeded
    assert result.paid_requests_refused == 0  # nothing even tried to go past the guard
    if max_paid_jobs:
        created = paid[0]
        assert (created.model, created.seconds, created.size) == tuple(CHEAPEST_SETTINGS.values())
    if max_paid_jobs >= 2:
        assert paid[1].remixed_from_video_id == paid[0].id
    # Every other create/remix that went out was one the API had to reject.
    sent = result.status_counts()
    assert sent[("POST /v1/videos", 200)] == min(max_paid_jobs, 1)
    assert sent[("POST /v1/videos", 400)] > 0
    assert sent[("POST /v1/videos/{video_id}/remix", 400)] > 0
    for phase in ("examples", "coverage", "fuzzing"):
        assert result.cases_per_phase.get(phase, 0) > 0, result.cases_per_phase
    if max_paid_jobs:
        # Reads were pointed at the run's video and it reached `completed`.
        assert sent[("GET /v1/videos/{video_id}", 200)] > 0
        assert sent[("GET /v1/videos/{video_id}/content", 200)] > 0
    failures = sorted({(f.operation, f.check, f.message.splitlines()[0]) for f in result.failures})
    assert result.passed, "\n".join(" ".join(f) for f in failures)


def test_the_wire_guard_refuses_an_unbudgeted_paid_request() -> None:
    """Last line of defence: a request that could start a job is never sent unless armed."""
    import requests
    from deerapi_videos_conformance import BudgetExceeded, PaidRequestGuard

    mock = new_mock()
    guard = PaidRequestGuard(api_key=API_KEY, budget=Budget(max_paid_jobs=1))
    with served(mock) as base_url, requests.Session() as session:
        guard.mount(session)
        headers = {"Authorization": f"Bearer {API_KEY}"}
        with pytest.raises(BudgetExceeded):
            session.post(f"{base_url}/v1/videos", files={"prompt": (None, "cat")}, headers=headers)
        # Free requests pass: no prompt, or no valid key.
        free = session.post(f"{base_url}/v1/videos", files={"model": (None, "x")}, headers=headers)
        assert free.status_code == 400
        with guard.arm("create"):
            ok = session.post(
                f"{base_url}/v1/videos", files={"prompt": (None, "cat")}, headers=headers
            )
        assert ok.status_code == 200
        with pytest.raises(BudgetExceeded), guard.arm("create"):  # budget spent: cannot arm
            pass
    assert len(mock.paid_jobs) == 1
