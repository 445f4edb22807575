"""Live contract tests: against ``DEERAPI_BASE_URL`` (default https://api.deerapi.com) with
``DEERAPI_KEY``. Skipped without a key; never run in CI (``tox -e live``)."""

from __future__ import annotations

import os

import pytest

LIVE_BASE_URL = os.environ.get("DEERAPI_BASE_URL", "https://api.deerapi.com")
LIVE_KEY = os.environ.get("DEERAPI_KEY", "")

requires_key = pytest.mark.skipif(not LIVE_KEY, reason="DEERAPI_KEY is not set")
