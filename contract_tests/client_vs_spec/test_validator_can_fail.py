"""The request checks can fail: defects planted in real client requests are reported.

Two kinds of plants:
- in the client's own request path (monkeypatched for one test only): a multipart builder that
  drops the file name, one that sends the image as octet-stream, one that adds a form field, a
  wrong path, a lost Authorization header, a bad Idempotency-Key, a JSON body with an extra field;
- in a captured, conforming request rebuilt with one thing changed (hand-made mutations).
Each must make ``check_request`` report a problem naming what is wrong.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
import yaml
from deerapi_videos_generated.api.videos import create_video, list_videos, remix_video
from deerapi_videos_generated.models.create_video_request import CreateVideoRequest

from contract_tests.builders import IMAGE_MAKERS
from contract_tests.client_vs_spec._clients import Recorder, call
from contract_tests.client_vs_spec._support import (
    API_KEY,
    check_request,
    parse_multipart,
)
from contract_tests.paths import SPEC_PATH

SPEC: dict[str, Any] = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
PNG = IMAGE_MAKERS["image/png"](720, 1280)
CREATE = {
    "prompt": "a cat",
    "model": "sora-2",
    "seconds": "4",
    "size": "720x1280",
    "input_reference": PNG,
}


def _captured(method: str, *args: Any, **kwargs: Any) -> httpx.Request:
    recorder = Recorder()
    call("sync", recorder, method, *args, **kwargs)
    return recorder.requests[-1]


def test_unplanted_requests_conform() -> None:
    """The baseline the plants below depart from."""
    assert check_request(SPEC, _captured("create", **CREATE)) == []
    assert check_request(SPEC, _captured("remix", "video_1", prompt="cry", model="sora-2")) == []
    assert check_request(SPEC, _captured("list", limit=5, order="asc", after="video_0")) == []


# -- defects planted in the client's request path ------------------------------------------------


def _drop_filename(original: Callable[..., Any]) -> Callable[..., Any]:
    def to_multipart(self: CreateVideoRequest) -> Any:
        return [
            (name, (None, value[1], value[2])) if name == "input_reference" else (name, value)
            for name, value in original(self)
        ]

    return to_multipart


def _octet_stream(original: Callable[..., Any]) -> Callable[..., Any]:
    def to_multipart(self: CreateVideoRequest) -> Any:
        return [
            (name, (value[0], value[1], "application/octet-stream"))
            if name == "input_reference"
            else (name, value)
            for name, value in original(self)
        ]

    return to_multipart


def _extra_field(original: Callable[..., Any]) -> Callable[..., Any]:
    def to_multipart(self: CreateVideoRequest) -> Any:
        return [*original(self), ("seconds", (None, b"12", "text/plain"))]

    return to_multipart


def _wrong_path(original: Callable[..., Any]) -> Callable[..., Any]:
    def get_kwargs(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        result["url"] = result["url"].replace("/v1/videos", "/v1/video")
        return result

    return get_kwargs


def _bad_key(original: Callable[..., Any]) -> Callable[..., Any]:
    def get_kwargs(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        result["headers"]["Idempotency-Key"] = "not allowed/ key"
        return result

    return get_kwargs


def _no_key(original: Callable[..., Any]) -> Callable[..., Any]:
    def get_kwargs(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        result["headers"].pop("Idempotency-Key")
        return result

    return get_kwargs


def _json_extra(original: Callable[..., Any]) -> Callable[..., Any]:
    def get_kwargs(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        result["json"] = {**result["json"], "seconds": "4"}
        return result

    return get_kwargs


def _limit_zero(original: Callable[..., Any]) -> Callable[..., Any]:
    def get_kwargs(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        result["params"] = {**result["params"], "limit": 0, "page": 2}
        return result

    return get_kwargs


PLANTS: list[
    tuple[str, Any, str, Callable[..., Any], str, tuple[Any, ...], dict[str, Any], str]
] = [
    (
        "drop-filename",
        CreateVideoRequest,
        "to_multipart",
        _drop_filename,
        "create",
        (),
        CREATE,
        "has no filename",
    ),
    (
        "octet-stream",
        CreateVideoRequest,
        "to_multipart",
        _octet_stream,
        "create",
        (),
        CREATE,
        "Content-Type 'application/octet-stream'",
    ),
    (
        "injected-field",
        CreateVideoRequest,
        "to_multipart",
        _extra_field,
        "create",
        (),
        CREATE,
        "sent twice",
    ),
    (
        "wrong-path",
        create_video,
        "_get_kwargs",
        _wrong_path,
        "create",
        (),
        CREATE,
        "no such operation",
    ),
    (
        "bad-idempotency-key",
        create_video,
        "_get_kwargs",
        _bad_key,
        "create",
        (),
        CREATE,
        "header Idempotency-Key",
    ),
    (
        "no-idempotency-key",
        remix_video,
        "_get_kwargs",
        _no_key,
        "remix",
        ("video_1",),
        {"prompt": "cry"},
        "without an Idempotency-Key",
    ),
    (
        "remix-extra-field",
        remix_video,
        "_get_kwargs",
        _json_extra,
        "remix",
        ("video_1",),
        {"prompt": "cry"},
        "Additional properties",
    ),
    ("list-bad-query", list_videos, "_get_kwargs", _limit_zero, "list", (), {}, "query limit"),
]


@pytest.mark.parametrize(
    ("owner", "attribute", "plant", "method", "args", "kwargs", "expected"),
    [p[1:] for p in PLANTS],
    ids=[p[0] for p in PLANTS],
)
def test_defect_planted_in_the_client_is_reported(
    monkeypatch: pytest.MonkeyPatch,
    owner: Any,
    attribute: str,
    plant: Callable[..., Any],
    method: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    expected: str,
) -> None:
    monkeypatch.setattr(owner, attribute, plant(getattr(owner, attribute)))
    problems = check_request(SPEC, _captured(method, *args, **kwargs))
    assert any(expected in p for p in problems), problems


# -- mutations of a captured, conforming request ---------------------------------------------------


def _rebuild_create(
    request: httpx.Request, edit: Callable[[list[Any]], list[Any]]
) -> httpx.Request:
    parts = parse_multipart(request.headers["content-type"], request.content)
    files = [(p.name, (p.filename, p.data, p.content_type)) for p in parts]
    headers = {
        k: v
        for k, v in request.headers.items()
        if k.lower() not in ("content-type", "content-length")
    }
    return httpx.Request(request.method, request.url, files=edit(files), headers=headers)


def _with_headers(request: httpx.Request, **changes: str | None) -> httpx.Request:
    headers = httpx.Headers(request.headers)
    for name, value in changes.items():
        name = name.replace("_", "-")
        if value is None:
            del headers[name]
        else:
            headers[name] = value
    return httpx.Request(request.method, request.url, content=request.content, headers=headers)


def _with_url(request: httpx.Request, url: str) -> httpx.Request:
    return httpx.Request(request.method, url, content=request.content, headers=request.headers)


MUTATIONS: list[tuple[str, str, Callable[[httpx.Request], httpx.Request], str]] = [
    ("no-auth", "create", lambda r: _with_headers(r, authorization=None), "Authorization"),
    (
        "basic-auth",
        "create",
        lambda r: _with_headers(r, authorization="Basic eDp5"),
        "Authorization",
    ),
    (
        "other-key",
        "retrieve",
        lambda r: _with_headers(r, authorization="Bearer sk-other"),
        "Authorization",
    ),
    (
        "put-method",
        "create",
        lambda r: httpx.Request("PUT", r.url, content=r.content, headers=r.headers),
        "no such operation",
    ),
    (
        "http-scheme",
        "retrieve",
        lambda r: _with_url(r, str(r.url).replace("https://", "http://")),
        "not the base URL",
    ),
    (
        "empty-prompt",
        "create",
        lambda r: _rebuild_create(r, lambda f: [("prompt", (None, b"", "text/plain")), *f[1:]]),
        "body prompt",
    ),
    (
        "bad-seconds",
        "create",
        # Any non-empty string is a length some model may take; an empty one is not.
        lambda r: _rebuild_create(r, lambda f: [f[0], ("seconds", (None, b"", "text/plain"))]),
        "body seconds",
    ),
    (
        "unknown-field",
        "create",
        lambda r: _rebuild_create(r, lambda f: [*f, ("quality", (None, b"hd", "text/plain"))]),
        "Additional properties",
    ),
    (
        "prompt-as-file",
        "create",
        lambda r: _rebuild_create(r, lambda f: [("prompt", ("p.txt", b"cat", "text/plain"))]),
        "sent as a file",
    ),
    (
        "no-prompt",
        "create",
        lambda r: _rebuild_create(r, lambda f: [("model", (None, b"sora-2", "text/plain"))]),
        "'prompt' is a required property",
    ),
    (
        "gif-image",
        "create",
        lambda r: _rebuild_create(
            r, lambda f: [f[0], ("input_reference", ("a.gif", b"GIF89a", "image/gif"))]
        ),
        "not one of",
    ),
    (
        "form-remix",
        "remix",
        lambda r: httpx.Request(
            "POST",
            r.url,
            data={"prompt": "x"},
            headers={"authorization": f"Bearer {API_KEY}", "idempotency-key": "k"},
        ),
        "Content-Type",
    ),
    (
        "remix-no-prompt",
        "remix",
        lambda r: httpx.Request(
            "POST",
            r.url,
            json={"model": "sora-2"},
            headers={"authorization": f"Bearer {API_KEY}", "idempotency-key": "k"},
        ),
        "'prompt' is a required property",
    ),
    (
        "remix-not-json",
        "remix",
        lambda r: _with_url(
            httpx.Request("POST", r.url, content=b"{prompt:", headers=r.headers), str(r.url)
        ),
        "does not parse",
    ),
    (
        "get-with-body",
        "retrieve",
        lambda r: httpx.Request("GET", r.url, content=b"{}", headers=r.headers),
        "has no request body",
    ),
    (
        "limit-too-big",
        "list",
        lambda r: _with_url(r, "https://api.deerapi.com/v1/videos?limit=101"),
        "query limit",
    ),
    (
        "limit-not-int",
        "list",
        lambda r: _with_url(r, "https://api.deerapi.com/v1/videos?limit=ten"),
        "query limit",
    ),
    (
        "order-unknown",
        "list",
        lambda r: _with_url(r, "https://api.deerapi.com/v1/videos?order=random"),
        "query order",
    ),
    (
        "after-empty",
        "list",
        lambda r: _with_url(r, "https://api.deerapi.com/v1/videos?after="),
        "query after",
    ),
    (
        "limit-twice",
        "list",
        lambda r: _with_url(r, "https://api.deerapi.com/v1/videos?limit=1&limit=2"),
        "sent 2 times",
    ),
    (
        "variant-unknown",
        "download_content",
        lambda r: _with_url(r, "https://api.deerapi.com/v1/videos/v1/content?variant=gif"),
        "query variant",
    ),
    (
        "empty-id",
        "retrieve",
        lambda r: _with_url(r, "https://api.deerapi.com/v1/videos/"),
        "no such operation",
    ),
]


@pytest.mark.parametrize(
    ("method", "mutate", "expected"), [m[1:] for m in MUTATIONS], ids=[m[0] for m in MUTATIONS]
)
def test_mutated_request_is_reported(
    method: str, mutate: Callable[[httpx.Request], httpx.Request], expected: str, tmp_path: Any
) -> None:
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = {}
    if method == "create":
        kwargs = CREATE
    elif method == "remix":
        args, kwargs = ("video_1",), {"prompt": "cry"}
    elif method in ("retrieve",):
        args = ("video_1",)
    elif method == "download_content":
        args = ("video_1", tmp_path / "x.mp4")
    original = _captured(method, *args, **kwargs)
    assert check_request(SPEC, original) == []
    mutated = mutate(original)
    mutated.read()
    problems = check_request(SPEC, mutated)
    assert any(expected in p for p in problems), problems


def test_multipart_parser_rejects_smuggled_structure() -> None:
    """The parser is strict: a part with a stray header or no separator is an error."""
    boundary = "b0undary"
    ok = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="prompt"\r\n\r\n'
        f"cat\r\n--{boundary}--\r\n"
    )
    assert [
        p.data for p in parse_multipart(f"multipart/form-data; boundary={boundary}", ok.encode())
    ] == [b"cat"]
    bad = [
        ok.replace("Content-Disposition", "X-Injected: 1\r\nContent-Disposition"),
        ok.replace('name="prompt"', 'name="prompt"; name="model"'),
        ok.replace("\r\n\r\ncat", "cat"),
        ok[:-4],
        "preamble\r\n" + ok,
    ]
    for body in bad:
        with pytest.raises(ValueError):
            parse_multipart(f"multipart/form-data; boundary={boundary}", body.encode())
