"""Known openapi-python-client traps, each handled by config or a template and pinned here."""

from __future__ import annotations

import io
import re
from email.parser import BytesParser
from email.policy import HTTP

import httpx
import pytest
from deerapi_videos_generated import Client
from deerapi_videos_generated.api.videos import create_video, download_video_content
from deerapi_videos_generated.models import CreateVideoRequest, Video, VideoSeconds, VideoSize
from deerapi_videos_generated.types import File

from contract_tests.paths import GENERATED

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


def _parts(request: httpx.Request) -> list[tuple[str, str | None, bytes]]:
    """(field name, file name, payload) of each part of a multipart request."""
    head = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + request.read())
    parts = []
    for part in message.iter_parts():
        disposition = part.get("content-disposition")
        name = disposition.params["name"]
        parts.append((name, disposition.params.get("filename"), part.get_payload(decode=True)))
    return parts


def _build(body: CreateVideoRequest) -> httpx.Request:
    kwargs = create_video._get_kwargs(body=body)
    return httpx.Client(base_url="https://api.example").build_request(**kwargs)


def test_binary_responses_are_mapped_not_dropped() -> None:
    # Without content_type_overrides the generator drops video/mp4 and the 200 parses as None.
    response = httpx.Response(
        200, content=b"\x00\x00\x00\x18ftypmp42", headers={"content-type": "video/mp4"}
    )
    parsed = download_video_content._parse_response(
        client=Client(base_url="https://x"), response=response
    )
    assert isinstance(parsed, File)
    assert parsed.payload.read() == b"\x00\x00\x00\x18ftypmp42"


def test_enums_starting_with_a_digit_get_meaningful_names() -> None:
    assert VideoSeconds.SECONDS_4 == "4"
    assert VideoSize.SIZE_720X1280 == "720x1280"
    positional = [
        p.name for p in GENERATED.rglob("*.py") if re.search(r"\bVALUE_\d+\b", p.read_text())
    ]
    assert positional == []


@pytest.mark.parametrize("field", ["status", "model"])
def test_unknown_enum_value_does_not_raise_while_parsing(field: str) -> None:
    body = {
        "id": "v",
        "object": "video",
        "created_at": 1,
        "status": "queued",
        "model": "sora-2",
        "progress": 0,
        "seconds": "4",
        "size": "720x1280",
        field: "something-new",
    }
    assert getattr(Video.from_dict(body), field) == "something-new"


def test_file_part_without_a_file_name_is_refused() -> None:
    # httpx sends a part with no file name as a plain text field, losing the file.
    with pytest.raises(ValueError, match="file_name"):
        File(payload=io.BytesIO(PNG)).to_tuple()


def test_file_part_carries_its_file_name_and_type() -> None:
    body = CreateVideoRequest(
        prompt="cat",
        input_reference=[File(payload=io.BytesIO(PNG), file_name="f.png", mime_type="image/png")],
    )
    parts = {name: (filename, payload) for name, filename, payload in _parts(_build(body))}
    assert parts["input_reference"] == ("f.png", PNG)
    assert parts["prompt"] == (None, b"cat")


def test_several_references_are_repeated_parts_in_order() -> None:
    """``input_reference`` is an array: one part per image, same name, in order (Veo's first
    and last frame)."""
    first, last = PNG, PNG + b"-last"
    body = CreateVideoRequest(
        prompt="cat",
        input_reference=[
            File(payload=io.BytesIO(first), file_name="first.png", mime_type="image/png"),
            File(payload=io.BytesIO(last), file_name="last.png", mime_type="image/png"),
        ],
    )
    parts = [(n, f, p) for n, f, p in _parts(_build(body)) if n == "input_reference"]
    assert parts == [
        ("input_reference", "first.png", first),
        ("input_reference", "last.png", last),
    ]


def test_generated_client_has_a_default_timeout() -> None:
    timeout = Client(base_url="https://x").get_httpx_client().timeout
    assert timeout.read is not None and timeout.connect is not None
    assert timeout.read <= 120


def test_multipart_boundary_is_random_not_fixed() -> None:
    kwargs = create_video._get_kwargs(body=CreateVideoRequest(prompt="cat"))
    assert "Content-Type" not in kwargs["headers"]
    a = _build(CreateVideoRequest(prompt="cat")).headers["content-type"]
    b = _build(CreateVideoRequest(prompt="cat")).headers["content-type"]
    assert a.startswith("multipart/form-data; boundary=") and a != b
    assert "+++" not in a


def test_prompt_quoting_the_old_fixed_boundary_cannot_inject_a_field() -> None:
    hostile = (
        'x\r\n--+++\r\nContent-Disposition: form-data; name="model"\r\n\r\nsora-2-pro\r\n--+++--'
    )
    parts = _parts(_build(CreateVideoRequest(prompt=hostile)))
    assert [(name, payload) for name, _, payload in parts] == [("prompt", hostile.encode())]
