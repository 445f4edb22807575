"""Keep the hostile suite's default run fast: its ``slow`` cells run only when asked for.

Unless the ``-m`` expression names ``slow``, the ``slow``-marked tests of this folder are
deselected; run them with ``-m slow`` (only them) or ``-m "slow or not slow"`` (the full matrix).
"""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "slow" in (config.option.markexpr or ""):
        return
    slow = [
        item
        for item in items
        if item.get_closest_marker("slow") is not None and HERE in item.path.resolve().parents
    ]
    if slow:
        config.hook.pytest_deselected(items=slow)
        dropped = {id(item) for item in slow}
        items[:] = [item for item in items if id(item) not in dropped]
