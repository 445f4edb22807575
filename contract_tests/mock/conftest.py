"""Fixtures for the mock's own tests: a fresh mock, clients, and a spec checker.

``client`` checks every response against ``openapi.yaml`` (documented status, media type,
body schema, required headers, ``X-Request-Id``) through an event hook; ``raw_client`` does
not (for faults that break the contract on purpose).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from deerapi_videos_mock import MockDeerAPI

from ._support import AUTH, KEY, SpecChecker


@pytest.fixture(scope="session")
def spec_checker() -> SpecChecker:
    return SpecChecker()


@pytest.fixture
def mock() -> MockDeerAPI:
    return MockDeerAPI(api_key=KEY)


@pytest_asyncio.fixture
async def client(mock: MockDeerAPI, spec_checker: SpecChecker) -> AsyncIterator[httpx.AsyncClient]:
    async def check(response: httpx.Response) -> None:
        await response.aread()
        if response.status_code != 405:
            spec_checker.check(response)

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=mock.app),
        base_url="http://mock",
        headers=AUTH,
        event_hooks={"response": [check]},
    ) as c:
        yield c


@pytest_asyncio.fixture
async def raw_client(mock: MockDeerAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=mock.app), base_url="http://mock", headers=AUTH
    ) as c:
        yield c
