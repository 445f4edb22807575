"""The pytest fixtures (``deerapi_mock``, ``deerapi_mock_server``) work as written: jobs end on
their own under ``create_and_poll``, without real waiting, unless a test asks for a manual clock.
"""

from __future__ import annotations

import httpx
import pytest
from deerapi_videos import AsyncDeerAPI, DeerAPI, VideoFailedError
from deerapi_videos.testing import no_sleep
from deerapi_videos_mock import ManualClock, MockDeerAPI

from contract_tests.asyncio_support import run_isolated


def test_server_fixture_jobs_end_under_create_and_poll(
    deerapi_mock_server: tuple[MockDeerAPI, str],
) -> None:
    mock, base_url = deerapi_mock_server
    assert isinstance(mock.clock, ManualClock)  # no real time involved
    with no_sleep() as sleeps, DeerAPI(base_url=base_url, api_key=mock.api_key) as client:
        video = client.videos.create_and_poll(prompt="a cat on a piano", seconds="4")
    assert video.status == "completed" and len(mock.paid_jobs) == 1
    assert sleeps == []  # the first read found it completed: no wait at all


def test_in_process_fixture_jobs_end_under_create_and_poll(deerapi_mock: MockDeerAPI) -> None:
    async def scenario() -> str:
        transport = httpx.ASGITransport(app=deerapi_mock.app)
        async with (
            httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http,
            AsyncDeerAPI(
                api_key=deerapi_mock.api_key, base_url="http://127.0.0.1", http_client=http
            ) as client,
        ):
            video = await client.videos.create_and_poll(prompt="a cat", seconds="4")
            return str(video.status)

    with no_sleep() as sleeps:
        assert run_isolated(scenario()) == "completed"
    assert sleeps == []


def test_failing_prompt_fails_at_once(deerapi_mock_server: tuple[MockDeerAPI, str]) -> None:
    mock, base_url = deerapi_mock_server
    with (
        DeerAPI(base_url=base_url, api_key=mock.api_key) as client,
        pytest.raises(VideoFailedError) as failed,
    ):
        client.videos.create_and_poll(prompt="a cat [mock:fail]", seconds="4")
    assert failed.value.code == "generation_failed"


@pytest.mark.deerapi_mock(manual_clock=True)
def test_manual_clock_jobs_move_only_when_the_test_moves_them(
    deerapi_mock_server: tuple[MockDeerAPI, str],
) -> None:
    mock, base_url = deerapi_mock_server
    with DeerAPI(base_url=base_url, api_key=mock.api_key) as client:
        video = client.videos.create(prompt="a cat", seconds="4")
        for _ in range(3):
            assert client.videos.retrieve(video.id).status == "queued"
        mock.clock.advance(4)
        assert client.videos.retrieve(video.id).status == "in_progress"
        mock.complete(video.id)
        assert client.videos.retrieve(video.id).status == "completed"


@pytest.mark.deerapi_mock(job_duration=20, advance_on_retrieve=5)
def test_explicit_advance_on_retrieve_wins(deerapi_mock: MockDeerAPI) -> None:
    assert deerapi_mock.advance_on_retrieve == 5 and deerapi_mock.job_duration == 20


@pytest.mark.deerapi_mock(job_duration=30)
def test_default_advance_follows_job_duration(deerapi_mock: MockDeerAPI) -> None:
    assert deerapi_mock.advance_on_retrieve == 30


@pytest.mark.deerapi_mock(manual_clock=True)
class TestClosestMarkerWins:
    @pytest.mark.deerapi_mock(manual_clock=False)
    def test_method_marker_overrides_class_marker(self, deerapi_mock: MockDeerAPI) -> None:
        assert deerapi_mock.advance_on_retrieve == deerapi_mock.job_duration

    def test_class_marker_applies(self, deerapi_mock: MockDeerAPI) -> None:
        assert deerapi_mock.advance_on_retrieve == 0
