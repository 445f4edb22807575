"""The sync client is generated from the async one; the drift check catches a hand edit."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from contract_tests.paths import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
import unasync


def test_the_committed_sync_files_are_what_the_script_writes() -> None:
    unasync.check()


def test_every_sync_file_carries_the_do_not_edit_header() -> None:
    for path in unasync.TARGET.glob("*.py"):
        assert path.read_text(encoding="utf-8").startswith(unasync.HEADER), path


@pytest.fixture
def copy_of_sync(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    target = tmp_path / "_sync"
    shutil.copytree(unasync.TARGET, target)
    monkeypatch.setattr(unasync, "TARGET", target)
    return target


def test_a_hand_edit_of_a_generated_file_fails_the_check(copy_of_sync: Path) -> None:
    path = copy_of_sync / "_client.py"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("max_retries: int = 2", "max_retries: int = 5"), encoding="utf-8")
    with pytest.raises(unasync.DriftError, match=r"_client\.py"):
        unasync.check()


def test_a_stray_file_in_sync_fails_the_check(copy_of_sync: Path) -> None:
    (copy_of_sync / "_extra.py").write_text("x = 1\n", encoding="utf-8")
    with pytest.raises(unasync.DriftError, match="not generated"):
        unasync.check()


def test_async_keywords_and_names_become_sync() -> None:
    source = (
        "async def f(c: httpx.AsyncClient) -> AsyncIterator[int]:\n"
        "    async with g:\n"
        "        await _clock.asleep(1)\n"
        "        async for x in r.aiter_bytes():\n"
        "            await r.aclose()\n"
    )
    out = unasync.unasync_text(source).removeprefix(unasync.HEADER)
    assert out == (
        "def f(c: httpx.Client) -> Iterator[int]:\n"
        "    with g:\n"
        "        _clock.sleep(1)\n"
        "        for x in r.iter_bytes():\n"
        "            r.close()\n"
    )
