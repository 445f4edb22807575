"""schemathesis' pytest integration against the in-process (ASGI) mock.

- ``test_operation_conforms``: one test per operation (``@schema.parametrize()``); explicit
  examples and coverage cases run as hypothesis' explicit examples, then fuzzed cases, in positive
  and negative mode, each through ``case.call_and_validate()`` (every check).
- The shipped hooks (``deerapi_videos_conformance.fitting``) fit each positive create to its
  model's row of the model table (real images, a size and length the model takes), as a user
  running schemathesis on ``openapi.yaml`` would load them.
- ``TestStatefulWorkflow``: hypothesis state machine built from the spec's links
  (``schema.as_state_machine()``); each step drives the mock's clock, so jobs complete and remix
  and content run in their success paths, which ``test_stateful_success_paths`` asserts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from deerapi_videos.spec import spec_path
from deerapi_videos_conformance import fitting, install_false_report_filters
from hypothesis import settings
from schemathesis.config import SchemathesisConfig

from .conftest import API_KEY, HYPOTHESIS, JOB_DURATION, PROFILE, new_mock

MOCK = new_mock()

CONFIG = SchemathesisConfig.from_dict(
    {
        "generation": {"mode": "all", "max-examples": PROFILE.max_examples, "database": "none"},
        "checks": {"enabled": True},
        "phases": {
            "examples": {"enabled": True},
            "coverage": {"enabled": True},
            "fuzzing": {"enabled": True},
            "stateful": {"enabled": True, "max-steps": PROFILE.stateful_steps},
        },
        "auth": {"openapi": {"bearerAuth": {"bearer": API_KEY}}},
    }
)
schema = schemathesis.openapi.from_path(str(spec_path()), config=CONFIG)
schema.app = MOCK.app
install_false_report_filters(schema)


@pytest.fixture(autouse=True, scope="module")
def _fit_cases_to_the_model_table() -> Iterator[None]:
    """Positive creates fitted to their model's row of the model table (the shipped hooks)."""
    with fitting():
        yield


@schema.parametrize()
@settings(HYPOTHESIS)
def test_operation_conforms(case: schemathesis.Case[Any]) -> None:
    case.call_and_validate()


STATEFUL_STATUSES: Counter[tuple[str, int]] = Counter()


class Workflow(schema.as_state_machine()):  # type: ignore[misc]
    def setup(self) -> None:
        # Every scenario starts from an empty mock: hypothesis replays scenarios (shrinking,
        # the explicit phase) and needs the same answers each time.
        MOCK.reset()

    def before_call(self, case: schemathesis.Case[Any]) -> None:
        # Drive the mock's clock: every step ages the jobs by half their duration, so a job is
        # `in_progress` on the step after its creation (content/remix answer 409) and
        # `completed` one step later (their success paths).
        MOCK.clock.advance(JOB_DURATION / 2)
        super().before_call(case)

    def after_call(self, response: Any, case: schemathesis.Case[Any]) -> None:
        super().after_call(response, case)
        STATEFUL_STATUSES[(case.operation.label, response.status_code)] += 1


TestStatefulWorkflow = Workflow.TestCase
TestStatefulWorkflow.settings = settings(
    HYPOTHESIS,
    max_examples=PROFILE.stateful_examples,
    stateful_step_count=PROFILE.stateful_steps,
)


SUCCESS_PATHS = (
    ("POST /v1/videos", 200),
    ("POST /v1/videos/{video_id}/remix", 200),
    ("GET /v1/videos/{video_id}/content", 200),
)


def test_stateful_success_paths() -> None:
    """Runs after ``TestStatefulWorkflow`` in file order; runs the machine itself if it is alone.

    The scenarios hypothesis draws for the machine differ between a run of this module alone
    and the whole suite (state other modules leave in schemathesis' and hypothesis' caches), and
    a short run may then reach no completed job. What is asserted is that the machine can reach
    each success path, so a run that missed one gets a longer run of its own.
    """
    if not STATEFUL_STATUSES:
        Workflow.run(settings=TestStatefulWorkflow.settings)
    if any(STATEFUL_STATUSES[path] == 0 for path in SUCCESS_PATHS):
        longer = settings(TestStatefulWorkflow.settings, max_examples=4 * PROFILE.stateful_examples)
        Workflow.run(settings=longer)
    assert STATEFUL_STATUSES[("POST /v1/videos", 200)] > 0, STATEFUL_STATUSES
    assert STATEFUL_STATUSES[("POST /v1/videos/{video_id}/remix", 200)] > 0, STATEFUL_STATUSES
    assert STATEFUL_STATUSES[("GET /v1/videos/{video_id}/content", 200)] > 0, STATEFUL_STATUSES
