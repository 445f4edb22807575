"""pytest plugin (entry point ``pytest11: deerapi_videos``): fixtures with a mock DeerAPI.

Loaded in every pytest run where ``deerapi-videos`` is installed, so it imports nothing but
pytest at import time; the mock (the ``[mock]`` extra) is imported only when a fixture runs.

Fixtures:

- ``deerapi_mock``: a fresh :class:`deerapi_videos_mock.MockDeerAPI`; talk to it in-process with
  ``httpx.ASGITransport(app=deerapi_mock.app)``.
- ``deerapi_mock_server``: ``(mock, base_url)`` with the mock served by uvicorn on
  ``127.0.0.1:<free port>`` for the test's duration.

Jobs finish on their own: the mock's clock is a ``ManualClock`` (it never follows real time), and
every retrieve of a job ages it by the job's whole duration (``advance_on_retrieve``), so a
poller's first read finds it ``completed`` (or ``failed``) and ``create_and_poll`` returns at once,
without real waiting. A test that wants to move jobs itself asks for a manual clock: then jobs
change only through ``mock.clock.advance(...)``, ``mock.complete(...)`` or ``mock.complete_all()``.

Both fixtures accept ``MockDeerAPI`` keyword arguments through a marker, plus
``manual_clock=True``::

    @pytest.mark.deerapi_mock(job_duration=0, defects={"delete_noop"})
    def test_my_app(deerapi_mock_server): ...

    @pytest.mark.deerapi_mock(manual_clock=True)
    def test_progress(deerapi_mock): ...    # jobs stay queued until the test advances the clock
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from deerapi_videos_mock import MockDeerAPI

_MARKER = "deerapi_mock"
_MANUAL = "manual_clock"
_MISSING_EXTRA = "the deerapi_mock fixtures need the mock extra: pip install 'deerapi-videos[mock]'"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{_MARKER}(**kwargs): keyword arguments for the MockDeerAPI of the deerapi_mock and "
        f"deerapi_mock_server fixtures; {_MANUAL}=True: jobs move only when the test moves them",
    )


def _build(request: pytest.FixtureRequest) -> MockDeerAPI:
    try:
        from deerapi_videos_mock import MockDeerAPI
    except ImportError as exc:
        pytest.fail(f"{_MISSING_EXTRA} ({exc})", pytrace=False)
    kwargs: dict[str, Any] = {}
    for marker in reversed(list(request.node.iter_markers(_MARKER))):
        kwargs.update(marker.kwargs)  # the closest marker wins
    manual = kwargs.pop(_MANUAL, False)
    if not isinstance(manual, bool):
        raise TypeError(f"{_MANUAL} must be True or False, not {manual!r}")
    mock = MockDeerAPI(**kwargs)  # a ManualClock unless the marker passes a clock
    if not manual and "advance_on_retrieve" not in kwargs:
        mock.advance_on_retrieve = mock.job_duration  # each read of a job ends it
    return mock


@pytest.fixture
def deerapi_mock(request: pytest.FixtureRequest) -> MockDeerAPI:
    """A fresh in-memory mock DeerAPI (ASGI app at ``.app``, ``ManualClock`` at ``.clock``);
    jobs end on their first retrieve unless the test's marker says ``manual_clock=True``."""
    return _build(request)


@pytest.fixture
def deerapi_mock_server(request: pytest.FixtureRequest) -> Iterator[tuple[MockDeerAPI, str]]:
    """``(mock, base_url)``: a fresh mock served on loopback for this test; jobs end on their
    first retrieve unless the test's marker says ``manual_clock=True``."""
    mock = _build(request)
    with mock.serve() as base_url:
        yield mock, base_url
