"""Fixtures for the CLI tests: a mock DeerAPI served on loopback and a CliRunner bound to it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from click.testing import CliRunner, Result
from deerapi_videos.testing import no_sleep
from deerapi_videos_cli._commands import cli
from deerapi_videos_mock import MockDeerAPI

API_KEY = "sk-cli-test-key-5f1e"
JOB_DURATION = 8.0


@dataclass
class Served:
    mock: MockDeerAPI
    base_url: str
    runner: CliRunner

    def invoke(self, *args: str, env: dict[str, str | None] | None = None, **kw: Any) -> Result:
        """Run ``deerapi-videos ARGS`` against the mock (key and URL from the environment)."""
        full_env: dict[str, str | None] = {
            "DEERAPI_KEY": API_KEY,
            "DEERAPI_BASE_URL": self.base_url,
            **(env or {}),
        }
        return self.runner.invoke(cli, list(args), env=full_env, catch_exceptions=False, **kw)


@pytest.fixture
def served() -> Iterator[Served]:
    """A fresh mock whose jobs finish on their second retrieve; the client never sleeps."""
    mock = MockDeerAPI(
        api_key=API_KEY, job_duration=JOB_DURATION, advance_on_retrieve=JOB_DURATION / 2
    )
    with no_sleep(), mock.serve("127.0.0.1", 0) as base_url:
        yield Served(mock, str(base_url), CliRunner())
