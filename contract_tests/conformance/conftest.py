"""Profiles and mock factories for the schemathesis contract suite.

Two profiles, picked with ``DEERAPI_PROFILE``:

- ``dev`` (default, also CI): few examples per operation, short stateful runs; the whole
  contract suite stays around a minute on a shared 2-core machine.
- ``nightly``: many more examples and longer stateful scenarios (``tox -e nightly``).

The hypothesis profiles are registered under their own names and applied to this suite's tests
explicitly (``settings(parent=...)``), so loading them never changes other layers' tests.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from deerapi_videos_mock import MockDeerAPI
from hypothesis import HealthCheck, settings

API_KEY = "sk-mock"
JOB_DURATION = 8.0  # mock seconds from create to completed


@dataclass(frozen=True)
class ContractProfile:
    name: str
    max_examples: int  # per operation and phase (engine runs and @schema.parametrize tests)
    stateful_examples: int  # hypothesis examples (scenarios) for the state machine test
    stateful_steps: int  # steps per stateful scenario
    seed: int | None  # engine runs: a fixed seed keeps CI reproducible; nightly explores


PROFILES = {
    "dev": ContractProfile("dev", max_examples=8, stateful_examples=15, stateful_steps=12, seed=1),
    "nightly": ContractProfile(
        "nightly", max_examples=150, stateful_examples=200, stateful_steps=40, seed=None
    ),
}

PROFILE = PROFILES[os.environ.get("DEERAPI_PROFILE", "dev")]

_COMMON: dict[str, Any] = {
    "deadline": None,  # the ASGI round trip time says nothing about conformance
    "database": None,  # no .hypothesis/ directory shared between concurrent runs
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.filter_too_much],
}
settings.register_profile(
    "deerapi-contract-dev", max_examples=PROFILE.max_examples, derandomize=True, **_COMMON
)
settings.register_profile(
    "deerapi-contract-nightly", max_examples=PROFILE.max_examples, derandomize=False, **_COMMON
)
HYPOTHESIS = settings.get_profile(f"deerapi-contract-{PROFILE.name}")


def new_mock(*, defects: set[str] | frozenset[str] = frozenset(), **options: Any) -> MockDeerAPI:
    """A mock whose jobs advance as they are polled, so stateful runs reach ``completed``."""
    params = inspect.signature(MockDeerAPI).parameters
    kwargs: dict[str, Any] = {"api_key": API_KEY, "defects": set(defects), **options}
    if "job_duration" in params:
        kwargs.setdefault("job_duration", JOB_DURATION)
    if "advance_on_retrieve" in params:
        # Each retrieve moves the job half its duration on: completed on the second poll.
        kwargs.setdefault("advance_on_retrieve", JOB_DURATION / 2)
    else:  # pragma: no cover - older mock: finish jobs at creation instead
        kwargs["job_duration"] = 0.0
    return MockDeerAPI(**kwargs)


@contextmanager
def served(mock: MockDeerAPI) -> Iterator[str]:
    """The mock on a real loopback socket (what the engine and live mode talk to)."""
    with mock.serve(host="127.0.0.1", port=0) as base_url:
        yield str(base_url)
