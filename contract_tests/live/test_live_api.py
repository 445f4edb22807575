"""The contract suite against the live DeerAPI, within the paid-job budget.

Starts at most ``Budget()`` (one job, cheapest settings) unless ``DEERAPI_MAX_PAID_JOBS`` raises
it (2 allows a remix of the run's video). ``DEERAPI_VIDEO_ID`` names an existing video for the
reads instead of creating one (set ``DEERAPI_MAX_PAID_JOBS=0`` too for a run that pays nothing).
"""

from __future__ import annotations

import os

import pytest
from deerapi_videos_conformance import Budget, run_conformance

from .conftest import LIVE_BASE_URL, LIVE_KEY, requires_key

pytestmark = [pytest.mark.live, requires_key]


def test_live_api_conforms_within_budget() -> None:
    budget = Budget(max_paid_jobs=int(os.environ.get("DEERAPI_MAX_PAID_JOBS", "1")))
    result = run_conformance(
        LIVE_BASE_URL,
        LIVE_KEY,
        budget=budget,
        live=True,
        max_examples=int(os.environ.get("DEERAPI_MAX_EXAMPLES", "5")),
        video_id=os.environ.get("DEERAPI_VIDEO_ID") or None,
    )
    assert len(result.paid_jobs) <= budget.max_paid_jobs
    assert result.paid_requests_refused == 0
    failures = sorted({(f.operation, f.check, f.message.splitlines()[0]) for f in result.failures})
    assert result.passed, "\n".join(" ".join(f) for f in failures)
