"""Shared fixtures for every layer's tests: the spec, parsed once per session."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from contract_tests.paths import SPEC_PATH


@pytest.fixture(scope="session")
def spec() -> dict[str, Any]:
    """The parsed ``openapi.yaml``."""
    with SPEC_PATH.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)  # type: ignore[no-any-return]
