"""Model-aware requests: known models are checked against their row of the model table before
anything is sent; unknown models go out as given, said once in the log (sync and async)."""

from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from deerapi_videos import InvalidParameterError, VideoSeconds, VideoSize
from deerapi_videos._validation import _unvalidated
from deerapi_videos.model_table import model_table

from contract_tests.builders import jpeg, png, webp
from contract_tests.client_vs_spec._support import parse_multipart

pytestmark = pytest.mark.asyncio

TABLE = model_table()


def _parts(route: respx.Route) -> list[tuple[str | None, str | None, bytes]]:
    request = route.calls[-1].request
    parts = parse_multipart(request.headers["content-type"], request.content)
    return [(p.name, p.content_type, p.data) for p in parts]


@pytest.mark.parametrize(
    ("kwargs", "param", "model_words", "allowed"),
    [
        ({"size": "16x9"}, "size", "'sora-2' (the default", ("720x1280", "1280x720")),
        ({"model": "sora-2", "seconds": "8.0"}, "seconds", "'sora-2'", ("4", "8", "12")),
        ({"model": "sora-2-pro", "size": "9x16"}, "size", "'sora-2-pro'", None),
        ({"model": "veo3.1-pro", "size": "1280x720"}, "size", "'veo3.1-pro'", ("16x9", "9x16")),
        ({"model": "veo3.1-pro", "seconds": 4}, "seconds", "'veo3.1-pro'", ("8",)),
        ({"model": "veo3", "seconds": "12"}, "seconds", "'veo3'", ("4", "6", "8")),
        (
            {"model": "veo3.1", "input_reference": [png(8, 8)] * 3},
            "input_reference",
            "at most 2 reference image(s) (first and last frame), got 3",
            None,
        ),
        (
            {"model": "sora-2-2025-12-08", "input_reference": [png(720, 1280), png(720, 1280)]},
            "input_reference",
            "at most 1",
            None,
        ),
        (
            {"input_reference": png(1280, 720)},  # no size: sora-2's default 720x1280
            "input_reference",
            "the default size '720x1280' (size was omitted)",
            ("720x1280",),
        ),
        (
            {"model": "sora-2-pro", "size": "1792x1024", "input_reference": jpeg(1024, 1792)},
            "input_reference",
            "1024x1792 pixels but model 'sora-2-pro' needs it to match size='1792x1024'",
            ("1792x1024",),
        ),
    ],
)
async def test_a_known_models_row_is_enforced_before_sending(
    api: Any,
    mock: respx.MockRouter,
    kwargs: dict[str, Any],
    param: str,
    model_words: str,
    allowed: tuple[str, ...] | None,
) -> None:
    with pytest.raises(InvalidParameterError) as info:
        await api.videos.create(prompt="a boat", **kwargs)
    error = info.value
    assert error.param == param and model_words in str(error)
    if allowed is not None:
        assert error.allowed == allowed and all(repr(a) in str(error) for a in allowed)
    assert len(mock.calls) == 0


async def test_veo_sends_a_first_and_a_last_frame_in_order(
    api: Any, mock: respx.MockRouter, video: Any, tmp_path: Path
) -> None:
    route = mock.post("/v1/videos").mock(return_value=httpx.Response(200, json=video()))
    last = tmp_path / "last.webp"
    last.write_bytes(webp(1920, 1080))
    await api.videos.create(
        prompt="a boat",
        model="veo3.1-pro",
        size="16x9",
        seconds=8,
        input_reference=(("first.png", png(64, 36), "image/png"), last),
    )
    refs = [(ctype, data) for name, ctype, data in _parts(route) if name == "input_reference"]
    assert refs == [("image/png", png(64, 36)), ("image/webp", webp(1920, 1080))]
    fields = {name: data for name, _, data in _parts(route) if name != "input_reference"}
    assert fields == {
        "prompt": b"a boat",
        "model": b"veo3.1-pro",
        "seconds": b"8",
        "size": b"16x9",
    }


async def test_one_reference_in_every_form_is_one_part(
    api: Any, mock: respx.MockRouter, video: Any
) -> None:
    route = mock.post("/v1/videos").mock(return_value=httpx.Response(200, json=video()))
    image = png(720, 1280)
    for form in (image, io.BytesIO(image), ("f.png", image), [image], ("f.png", image, None)):
        await api.videos.create(prompt="cat", input_reference=form)
        refs = [data for name, _, data in _parts(route) if name == "input_reference"]
        assert refs == [image], form


async def test_an_unknown_model_is_sent_as_given_and_said_once(
    api: Any, mock: respx.MockRouter, video: Any, logs: pytest.LogCaptureFixture
) -> None:
    _unvalidated.discard("veo3-fast")
    route = mock.post("/v1/videos").mock(return_value=httpx.Response(200, json=video()))
    refs = [png(10, 10), jpeg(11, 11), webp(12, 12)]
    for _ in range(2):
        await api.videos.create(
            prompt="a boat", model="veo3-fast", size="21x9", seconds=5, input_reference=refs
        )
    sent = _parts(route)
    assert ("size", None, b"21x9") in [(n, None, d) for n, _, d in sent]
    assert ("seconds", None, b"5") in [(n, None, d) for n, _, d in sent]
    assert [d for n, _, d in sent if n == "input_reference"] == refs
    notes = [r for r in logs.records if "not in the model table" in r.getMessage()]
    assert len(notes) == 1 and notes[0].levelno == logging.INFO
    assert notes[0].name == "deerapi_videos" and "'veo3-fast'" in notes[0].getMessage()


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"model": "veo3-fast", "input_reference": [png(8, 8), b"GIF89a..."]}, "input_reference"),
        ({"model": "veo3-fast", "size": ""}, "size"),
        ({"model": "veo3-fast", "seconds": " "}, "seconds"),
        ({"model": "veo3-fast", "seconds": 0}, "seconds"),
        ({"model": "veo3-fast", "seconds": False}, "seconds"),
        ({"model": "veo3-fast", "input_reference": [("a.png", png(8, 8), "image/gif")]}, None),
    ],
)
async def test_universal_checks_hold_for_unknown_models(
    api: Any, mock: respx.MockRouter, kwargs: dict[str, Any], param: str | None
) -> None:
    with pytest.raises(InvalidParameterError) as info:
        await api.videos.create(prompt="x", **kwargs)
    assert info.value.param == (param or "input_reference")
    assert len(mock.calls) == 0


async def test_a_reference_over_the_size_limit_is_refused(api: Any, mock: respx.MockRouter) -> None:
    limit = TABLE.max_reference_bytes
    big = png(8, 8) + b"\x00" * (limit - len(png(8, 8)) + 1)
    with pytest.raises(InvalidParameterError, match=f"at most {limit} bytes"):
        await api.videos.create(prompt="x", model="veo3-fast", input_reference=big)
    assert len(mock.calls) == 0


async def test_enum_members_and_plain_strings_are_both_accepted(
    api: Any, mock: respx.MockRouter, video: Any
) -> None:
    route = mock.post("/v1/videos").mock(return_value=httpx.Response(200, json=video()))
    await api.videos.create(
        prompt="x", model="veo3", seconds=VideoSeconds.SECONDS_6, size=VideoSize.SIZE_9X16
    )
    sent = {n: d for n, _, d in _parts(route)}
    assert (sent["seconds"], sent["size"]) == (b"6", b"9x16")


async def test_remix_refuses_a_model_without_remix(api: Any, mock: respx.MockRouter) -> None:
    with pytest.raises(InvalidParameterError) as info:
        await api.videos.remix("video_1", prompt="again", model="veo3.1-pro")
    assert info.value.param == "model" and "cannot be remixed" in str(info.value)
    assert "sora-2" in info.value.allowed and "veo3.1-pro" not in info.value.allowed
    assert len(mock.calls) == 0


async def test_the_table_is_one_shipped_file() -> None:
    assert TABLE.get(None) is TABLE.models["sora-2"]
    assert TABLE.get("no-such-model") is None
    assert {spec.family for spec in TABLE.models.values()} == {"sora-2", "veo3"}
