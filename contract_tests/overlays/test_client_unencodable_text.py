"""Text that cannot travel: a clear ``InvalidParameterError`` naming the field, nothing sent.

A lone surrogate (``"\\ud800"``) cannot be encoded as UTF-8, and an HTTP header value cannot hold
non-ASCII text (httpx encodes ``str`` header values as ASCII). Both used to escape as a bare
``UnicodeEncodeError`` from deep inside httpx (or ``urllib.parse.quote``) instead of an error
naming the argument. Sync and async.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx
from deerapi_videos import DeerAPI, InvalidParameterError

from contract_tests.overlays.conftest import SECRET

pytestmark = pytest.mark.asyncio

LONE = "cat \ud800"

# (id, call, the param the error must name)
CASES: list[tuple[str, Any, str]] = [
    ("create-prompt", lambda v: v.create(prompt=LONE), "prompt"),
    ("create-model", lambda v: v.create(prompt="a cat", model=LONE), "model"),
    ("create-key", lambda v: v.create(prompt="a cat", idempotency_key=LONE), "idempotency_key"),
    (
        "create-key-header",
        lambda v: v.create(prompt="a cat", extra_headers={"Idempotency-Key": LONE}),
        "idempotency_key",
    ),
    ("create-header", lambda v: v.create(prompt="a cat", extra_headers={"X-Tag": LONE}), "X-Tag"),
    ("create-header-latin", lambda v: v.create(prompt="a", extra_headers={"X-T": "café"}), "X-T"),
    ("create-header-name", lambda v: v.create(prompt="a", extra_headers={LONE: "x"}), "extra"),
    ("create-header-crlf", lambda v: v.create(prompt="a", extra_headers={"X-A": "a\r\nB"}), "X-A"),
    ("remix-prompt", lambda v: v.remix("video_1", prompt=LONE), "prompt"),
    ("remix-model", lambda v: v.remix("video_1", prompt="more", model=LONE), "model"),
    ("remix-id", lambda v: v.remix(LONE, prompt="more"), "video_id"),
    ("remix-key", lambda v: v.remix("v_1", prompt="m", idempotency_key=LONE), "idempotency_key"),
    ("retrieve-id", lambda v: v.retrieve(LONE), "video_id"),
    ("retrieve-header", lambda v: v.retrieve("video_1", extra_headers={"X-A": LONE}), "X-A"),
    ("delete-id", lambda v: v.delete(LONE), "video_id"),
    ("poll-id", lambda v: v.poll(LONE), "video_id"),
    ("poll-header", lambda v: v.poll("video_1", extra_headers={"X-A": LONE}), "X-A"),
    ("download-id", lambda v: v.download_content(LONE, "out.mp4"), "video_id"),
    ("list-after", lambda v: v.list(after=LONE), "after"),
    ("list-header", lambda v: v.list(extra_headers={"X-A": LONE}), "X-A"),
    ("create-and-poll", lambda v: v.create_and_poll(prompt=LONE), "prompt"),
]


@pytest.mark.parametrize(("call", "param"), [pytest.param(c, p, id=i) for i, c, p in CASES])
async def test_unencodable_text_is_refused_before_any_request(
    api: Any,
    mock: respx.MockRouter,
    call: Any,
    param: str,
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)  # download_content's target, never written
    with pytest.raises(InvalidParameterError) as info:
        await call(api.videos)
    assert param in info.value.param
    assert param in str(info.value)
    assert not isinstance(info.value, UnicodeError), "a clear error, not an encoding crash"
    assert info.value.__cause__ is None or not isinstance(info.value.__cause__, UnicodeError)
    assert len(mock.calls) == 0
    assert list(tmp_path.iterdir()) == []


async def test_a_long_prompt_is_not_echoed_in_the_error(api: Any, mock: respx.MockRouter) -> None:
    prompt = "a cat on a piano " * 200 + "\udfff"
    with pytest.raises(InvalidParameterError) as info:
        await api.videos.create(prompt=prompt)
    assert "U+DFFF" in str(info.value) and "3400" in str(info.value), "says what and where"
    assert len(str(info.value)) < 300
    assert len(mock.calls) == 0


async def test_non_ascii_unicode_that_encodes_is_still_sent(
    api: Any, mock: respx.MockRouter, video: Any
) -> None:
    route = mock.post("/v1/videos").mock(return_value=httpx.Response(200, json=video()))
    await api.videos.create(prompt="猫がピアノを弾く 🎹", model="sora-2-ünï")
    body = route.calls[0].request.content
    assert "猫がピアノを弾く 🎹".encode() in body and "sora-2-ünï".encode() in body


@pytest.mark.parametrize(
    "headers", [{"X-A": LONE}, {"X-A": "café"}, {LONE: "1"}, {"X-A": "a\nb"}], ids=range(4)
)
async def test_bad_default_headers_are_refused_at_construction(headers: dict[str, str]) -> None:
    with pytest.raises(InvalidParameterError) as info:
        DeerAPI(api_key=SECRET, default_headers=headers)
    assert info.value.param.startswith("default_headers")
