"""The API reference page (docs/reference.md) documents the public surface: every name in
``deerapi_videos.__all__``, and every public method of the ``client.videos`` resources."""

from __future__ import annotations

import re

import deerapi_videos
from deerapi_videos import AsyncVideos, Videos

from contract_tests.paths import ROOT

REFERENCE = ROOT / "docs" / "reference.md"
_DIRECTIVE = re.compile(r"^::: (\S+)$", re.MULTILINE)


def _targets() -> list[str]:
    return _DIRECTIVE.findall(REFERENCE.read_text(encoding="utf-8"))


def test_every_public_name_and_only_those() -> None:
    top_level = {t.split(".")[1] for t in _targets() if t.count(".") >= 1}
    modules = {"testing", "types", "model_table", "ledger"}  # the public modules
    assert top_level == set(deerapi_videos.__all__) | modules


def test_every_resource_method() -> None:
    targets = _targets()
    for resource, path in (
        (Videos, "deerapi_videos.Videos"),
        (AsyncVideos, "deerapi_videos.AsyncVideos"),
    ):
        public = {name for name in vars(resource) if not name.startswith("_")}
        rendered = {t.removeprefix(path + ".") for t in targets if t.startswith(path + ".")}
        assert rendered == public, f"{path}: documented {sorted(rendered)}, has {sorted(public)}"
    private = {t for t in targets if "._" in t}
    assert private == set()
