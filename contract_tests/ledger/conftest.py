"""Fixtures for the ledger's tests: the mock on loopback and a ledgered client bound to it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from deerapi_videos import DeerAPI
from deerapi_videos.ledger import JobLedger, LedgeredVideos
from deerapi_videos.testing import no_sleep
from deerapi_videos_mock import MockDeerAPI

KEY = "sk-ledger-test"


@pytest.fixture
def mock() -> MockDeerAPI:
    """A mock whose jobs take 8 s of its clock and whose videos are 4 KiB."""
    return MockDeerAPI(api_key=KEY, job_duration=8.0, content_size=4096)


@pytest.fixture
def served(mock: MockDeerAPI) -> Iterator[str]:
    """The mock on loopback (its URL); the client never sleeps."""
    with no_sleep(), mock.serve() as base_url:
        yield base_url


def jobs_on(base_url: str, path: Path, **kw: object) -> tuple[DeerAPI, JobLedger, LedgeredVideos]:
    """A blocking client, a ledger at ``path`` and the ledgered videos over both."""
    client = DeerAPI(api_key=KEY, base_url=base_url)
    ledger = JobLedger(path)
    return client, ledger, LedgeredVideos(client, ledger, **kw)  # type: ignore[arg-type]
