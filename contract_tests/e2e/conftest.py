"""End-to-end tests against the mock DeerAPI: the client's sleeping is off for every test
(``deerapi_videos.testing.no_sleep``), so retries and polling never wait in real time."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from deerapi_videos.testing import no_sleep


@pytest.fixture(autouse=True)
def client_never_sleeps() -> Iterator[list[float]]:
    with no_sleep() as sleeps:
        yield sleeps
