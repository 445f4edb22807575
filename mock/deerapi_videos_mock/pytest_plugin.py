"""pytest plugin (entry point ``pytest11: deerapi_videos``): fixtures with a mock DeerAPI.

Loaded in every pytest run where ``deerapi-videos`` is installed, so it imports nothing but
pytest at import time; the mock (the ``[mock]`` extra) is imported only when a fixture runs.

Fixtures:

- ``deerapi_mock``: a fresh :class:`deerapi_videos_mock.MockDeerAPI` on a ``ManualClock``;
  talk to it in-process with ``httpx.ASGITransport(app=deerapi_mock.app)``.
- ``deerapi_mock_server``: ``(mock, base_url)`` with the mock served by uvicorn on
  ``127.0.0.1:<free port>`` for the test's duration.

Both accept ``MockDeerAPI`` keyword arguments through a marker::

    @pytest.mark.deerapi_mock(job_duration=0, defects={"delete_noop"})
    def test_my_app(deerapi_mock_server): ...
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from deerapi_videos_mock import MockDeerAPI

_MARKER = "deerapi_mock"
_MISSING_EXTRA = "the deerapi_mock fixtures need the mock extra: pip install 'deerapi-videos[mock]'"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{_MARKER}(**kwargs): keyword arguments for the MockDeerAPI of the deerapi_mock and "
        "deerapi_mock_server fixtures",
    )


def _build(request: pytest.FixtureRequest) -> MockDeerAPI:
    try:
        from deerapi_videos_mock import MockDeerAPI
    except ImportError as exc:
        pytest.fail(f"{_MISSING_EXTRA} ({exc})", pytrace=False)
    kwargs: dict[str, Any] = {}
    for marker in reversed(list(request.node.iter_markers(_MARKER))):
        kwargs.update(marker.kwargs)  # the closest marker wins
    return MockDeerAPI(**kwargs)


@pytest.fixture
def deerapi_mock(request: pytest.FixtureRequest) -> MockDeerAPI:
    """A fresh in-memory mock DeerAPI (ASGI app at ``.app``, ``ManualClock`` at ``.clock``)."""
    return _build(request)


@pytest.fixture
def deerapi_mock_server(request: pytest.FixtureRequest) -> Iterator[tuple[MockDeerAPI, str]]:
    """``(mock, base_url)``: a fresh mock served on loopback for this test."""
    mock = _build(request)
    with mock.serve() as base_url:
        yield mock, base_url
