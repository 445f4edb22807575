"""Fixtures for the batch runner's tests: a limited mock served on loopback, a jobs file."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from deerapi_videos_batch import BatchOptions, BatchResult, load_jobs, run_batch
from deerapi_videos_mock import Fault, LimitedMock, Limits, MockDeerAPI, ScaledClock

from contract_tests.asyncio_support import run_isolated

from ._arrivals import Arrivals

API_KEY = "sk-batch-test"
#: The ``paused`` fixture's Retry-After, in seconds.
PAUSE = 1.0


@dataclass
class Served:
    limited: LimitedMock
    base_url: str
    workdir: Path

    @property
    def mock(self) -> MockDeerAPI:
        return self.limited.mock

    def write(self, records: list[dict[str, Any]], name: str = "jobs.jsonl") -> Path:
        path = self.workdir / name
        path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
        return path

    def options(self, **kw: Any) -> BatchOptions:
        values: dict[str, Any] = {
            "out_dir": self.workdir / "out",
            "ledger_path": self.workdir / "jobs.ledger.sqlite",
            "concurrency": 4,
            "reconcile_grace": 0.0,
            "first_poll": 0.3,
            "report_path": self.workdir / "report.json",
        }
        values.update(kw)
        return BatchOptions(**values)

    def run(self, path: Path, **kw: Any) -> BatchResult:
        api_key = kw.pop("api_key", API_KEY)
        return run_isolated(
            run_batch(load_jobs(path), self.options(**kw), api_key=api_key, base_url=self.base_url)
        )


def serve_limited(workdir: Path, limits: Limits, **mock_kw: Any) -> Iterator[Served]:
    settings: dict[str, Any] = {
        "api_key": API_KEY,
        "clock": ScaledClock(speed=60.0),
        "job_duration": 12.0,  # 0.2 s of real time
        "content_size": 8192,
    }
    settings.update(mock_kw)
    limited = LimitedMock(MockDeerAPI(**settings), limits)
    with limited.serve() as base_url:
        yield Served(limited, base_url, workdir)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """A mock with a generous rate limit whose jobs take about 0.2 s."""
    yield from serve_limited(tmp_path, Limits(rate=200.0, burst=50))


def prompts(count: int, **extra: Any) -> list[dict[str, Any]]:
    return [{"id": f"job-{i}", "prompt": f"batch job {i}", **extra} for i in range(count)]


@pytest.fixture
def paused(tmp_path: Path) -> Iterator[tuple[Served, Arrivals]]:
    """A mock whose jobs take 0.5 s and whose first read is answered 429 (``PAUSE`` s)."""
    for served in serve_limited(tmp_path, Limits(rate=500.0, burst=100), job_duration=30.0):
        arrivals = Arrivals(served.limited.app)
        served.limited.app = arrivals  # type: ignore[method-assign]
        served.mock.inject(
            Fault.rate_limit(retry_after=str(PAUSE), operations=("retrieveVideo",), times=1)
        )
        with LimitedMock.serve(served.limited) as base_url:
            served.base_url = base_url
            yield served, arrivals
