"""The requests the client sends validate against openapi.yaml, for inputs generated from it.

Each property builds a sync or async client on an ``httpx.MockTransport`` that records the
request, calls one public method with generated arguments, and checks the captured request with
``check_request`` (method, path template, bearer auth, Idempotency-Key, query, body) and that the
arguments round-trip into it. ``test_validator_can_fail.py`` shows the same checks catching
planted defects.
"""

from __future__ import annotations

import io
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from deerapi_videos import InvalidParameterError
from deerapi_videos.model_table import model_table
from deerapi_videos.testing import no_sleep
from hypothesis import given
from hypothesis import strategies as st

from contract_tests.builders import IMAGE_MAKERS
from contract_tests.client_vs_spec._clients import FLAVOURS, Recorder, call, json_answer
from contract_tests.client_vs_spec._support import (
    check_request,
    enum_of,
    examples,
    form_fields,
    form_parts,
    hostile_text,
    model_ids,
    prompts,
)
from contract_tests.paths import SPEC_PATH

SPEC: dict[str, Any] = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
KEY_PATTERN = SPEC["components"]["parameters"]["IdempotencyKey"]["schema"]["pattern"]
SIZES = enum_of(SPEC, "VideoSize")
SECONDS = enum_of(SPEC, "VideoSeconds")
MIMES = sorted(IMAGE_MAKERS)
TABLE = model_table()

idempotency_keys = st.from_regex(KEY_PATTERN, fullmatch=True).filter(lambda k: 1 <= len(k) <= 255)


def addresses_one_video(video_id: str) -> bool:
    """An id that can only mean ``/v1/videos/{id}``: no path step, no URL syntax, no spaces."""
    return video_id not in (".", "..") and not any(
        ch in "/\\?#%" or ch.isspace() or not ch.isprintable() for ch in video_id
    )


video_ids = st.one_of(
    st.from_regex(r"video_[0-9a-f]{8,48}", fullmatch=True),
    st.text(st.characters(codec="utf-8"), min_size=1, max_size=40),
    hostile_text,
).filter(lambda s: s.strip() != "" and addresses_one_video(s))
filenames = st.one_of(
    st.sampled_from(
        [
            "frame.png",
            "../../etc/passwd",
            'a"b.png',
            "x\r\nContent-Type: text/html",
            "ファイル.webp",
            "",
        ]
    ),
    st.text(st.characters(codec="utf-8"), max_size=30),
)


@st.composite
def one_reference(draw: st.DrawFn, size: str | None) -> tuple[Any, bytes, str]:
    """(the argument in one of the accepted forms, the image bytes, its MIME type); ``size``
    ``WxH`` gives the pixel size, None any."""
    mime = draw(st.sampled_from(MIMES))
    if size is None:
        width, height = draw(st.integers(1, 4096)), draw(st.integers(1, 4096))
    else:
        width, height = (int(v) for v in size.split("x"))
    content = IMAGE_MAKERS[mime](width, height)
    form = draw(st.sampled_from(["bytes", "file", "tuple2", "tuple3", "path"]))
    name = draw(filenames)
    if form == "bytes":
        return content, content, mime
    if form == "file":
        return io.BytesIO(content), content, mime
    if form == "tuple2":
        return (name, content), content, mime
    if form == "tuple3":
        return (name, content, mime), content, mime
    return ("path", name), content, mime  # written to a temporary file by the test


@st.composite
def create_arguments(draw: st.DrawFn) -> dict[str, Any]:
    """Arguments a create accepts: for the default model, a known model (from its row of the
    model table) or an unknown one (anything non-empty)."""
    args: dict[str, Any] = {"prompt": draw(prompts)}
    kind = draw(st.sampled_from(["default", "known", "unknown"]))
    if kind == "known":
        args["model"] = draw(st.sampled_from(sorted(TABLE.models)))
    elif kind == "unknown":
        args["model"] = draw(model_ids(SPEC).filter(lambda m: TABLE.get(m) is None))
    spec = TABLE.get(args.get("model"))
    if draw(st.booleans()):
        if spec is None:
            args["seconds"] = draw(st.one_of(st.sampled_from(SECONDS), prompts, st.integers(1, 99)))
        else:
            value = draw(st.sampled_from(spec.seconds))
            args["seconds"] = int(value) if draw(st.booleans()) else value
    if draw(st.booleans()):
        args["size"] = draw(
            st.sampled_from(SIZES) | prompts if spec is None else st.sampled_from(spec.sizes)
        )
    most = 3 if spec is None else spec.max_references
    count = draw(st.integers(0, most))
    if count:
        pixels = None
        if spec is not None and spec.reference_matches_size:
            pixels = args.get("size", spec.default_size)
        refs = [draw(one_reference(pixels)) for _ in range(count)]
        args["input_reference"] = (refs, count > 1 or draw(st.booleans()))
    if draw(st.booleans()):
        args["idempotency_key"] = draw(idempotency_keys)
    return args


def _materialise(args: dict[str, Any], tmp: Path) -> tuple[dict[str, Any], list[tuple[bytes, str]]]:
    """The keyword arguments to pass, and the (bytes, MIME type) of each reference in order."""
    kwargs = dict(args)
    drawn = kwargs.pop("input_reference", None)
    if drawn is None:
        return kwargs, []
    refs, as_list = drawn
    values = []
    for index, (value, content, mime) in enumerate(refs):
        if isinstance(value, tuple) and value[0] == "path":
            safe = re.sub(r"[^A-Za-z0-9_.-]", "_", value[1]) or "image"
            path = tmp / f"{index}-{safe}{'.' + mime.split('/')[1]}"
            path.write_bytes(content)
            value = path
        values.append(value)
    kwargs["input_reference"] = values if as_list else values[0]
    return kwargs, [(content, mime) for _, content, mime in refs]


def _assert_key(request: Any, given_key: str | None) -> str:
    key = request.headers["idempotency-key"]
    assert re.fullmatch(KEY_PATTERN, key) and len(key) <= 255
    if given_key is not None:
        assert key == given_key, "a caller-supplied Idempotency-Key must never be replaced"
    return key


@pytest.mark.parametrize("flavour", FLAVOURS)
@examples(25)
@given(args=create_arguments())
def test_create_request_conforms_and_round_trips(flavour: str, args: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        kwargs, references = _materialise(args, Path(tmp))
        recorder = Recorder()
        call(flavour, recorder, "create", **kwargs)
    assert len(recorder.requests) == 1
    request = recorder.requests[0]
    assert check_request(SPEC, request) == []
    assert (request.method, request.url.path) == ("POST", "/v1/videos")
    _assert_key(request, args.get("idempotency_key"))

    fields = form_fields(request)
    expected = {"prompt"} | {
        k for k in ("model", "seconds", "size", "input_reference") if k in args
    }
    assert set(fields) == expected, "no field may be added, dropped or injected"
    assert fields["prompt"].data == args["prompt"].encode("utf-8")
    if "model" in args:
        assert fields["model"].data == args["model"].encode("utf-8")
    if "seconds" in args:
        assert fields["seconds"].data == str(args["seconds"]).encode()
    if "size" in args:
        assert fields["size"].data == args["size"].encode()
    parts = form_parts(request, "input_reference")
    assert [(p.data, p.content_type) for p in parts] == references, (
        "one part per reference, byte for byte, in order"
    )
    for part in parts:
        assert part.filename and not re.search(r"[/\\\x00-\x1f]", part.filename)


@pytest.mark.parametrize("flavour", FLAVOURS)
@examples(10)
@given(
    args=create_arguments(),
    failures=st.lists(st.sampled_from([429, 503]), min_size=1, max_size=2),
)
def test_create_retries_resend_the_same_request(
    flavour: str, args: dict[str, Any], failures: list[int]
) -> None:
    """429/503 are retried: every attempt carries the same key and the same bytes."""
    pending = list(failures)

    def answer(request: Any) -> Any:
        if pending:
            return json_answer(pending.pop(0), {"error": {"message": "slow down"}})
        from contract_tests.client_vs_spec._clients import default_answer

        return default_answer(request)

    with tempfile.TemporaryDirectory() as tmp, no_sleep():
        kwargs, _ = _materialise(args, Path(tmp))
        recorder = Recorder(answer)
        call(flavour, recorder, "create", client_kwargs={"max_retries": 2}, **kwargs)
    assert len(recorder.requests) == len(failures) + 1
    first = recorder.requests[0]
    for request in recorder.requests:
        assert check_request(SPEC, request) == []
        assert request.headers["idempotency-key"] == first.headers["idempotency-key"]
        assert request.content == first.content


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_each_call_gets_a_new_idempotency_key(flavour: str) -> None:
    recorder = Recorder()
    for _ in range(3):
        call(flavour, recorder, "create", prompt="a cat")
        call(flavour, recorder, "remix", "video_1", prompt="a cat")
    keys = [r.headers["idempotency-key"] for r in recorder.requests]
    assert len(set(keys)) == len(keys)


@pytest.mark.parametrize("flavour", FLAVOURS)
@examples(25)
@given(
    video_id=video_ids,
    prompt=prompts,
    # Models that can be remixed: any but a known model whose row says no remix (Veo).
    model=st.none() | model_ids(SPEC).filter(lambda m: TABLE.get(m) is None or TABLE.get(m).remix),
    key=st.none() | idempotency_keys,
)
def test_remix_request_conforms_and_round_trips(
    flavour: str, video_id: str, prompt: str, model: str | None, key: str | None
) -> None:
    recorder = Recorder()
    call(flavour, recorder, "remix", video_id, prompt=prompt, model=model, idempotency_key=key)
    (request,) = recorder.requests
    assert check_request(SPEC, request) == []
    assert request.method == "POST"
    _assert_key(request, key)
    from contract_tests.client_vs_spec._support import match_operation

    matched = match_operation(SPEC, "POST", request.url.raw_path.decode("ascii").split("?")[0])
    assert matched is not None and matched.operation["operationId"] == "remixVideo"
    assert matched.path_params == {"video_id": video_id}
    import json

    expected = {"prompt": prompt} | ({"model": model} if model is not None else {})
    assert json.loads(request.content) == expected


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize(
    ("method", "operation_id"), [("retrieve", "retrieveVideo"), ("delete", "deleteVideo")]
)
@examples(15)
@given(video_id=video_ids)
def test_retrieve_and_delete_requests_conform(
    flavour: str, method: str, operation_id: str, video_id: str
) -> None:
    recorder = Recorder()
    call(flavour, recorder, method, video_id)
    (request,) = recorder.requests
    assert check_request(SPEC, request) == []
    from contract_tests.client_vs_spec._support import match_operation

    matched = match_operation(SPEC, request.method, request.url.raw_path.decode("ascii"))
    assert matched is not None and matched.operation["operationId"] == operation_id
    assert matched.path_params == {"video_id": video_id}
    assert "idempotency-key" not in request.headers


@pytest.mark.parametrize("flavour", FLAVOURS)
@examples(25)
@given(
    limit=st.integers(1, 100),
    order=st.none() | st.sampled_from(enum_of(SPEC, "ListOrder")),
    after=st.none() | video_ids,
)
def test_list_request_conforms_and_round_trips(
    flavour: str, limit: int, order: str | None, after: str | None
) -> None:
    recorder = Recorder()
    call(flavour, recorder, "list", limit=limit, order=order, after=after)
    (request,) = recorder.requests
    assert check_request(SPEC, request) == []
    assert (request.method, request.url.path) == ("GET", "/v1/videos")
    params = request.url.params
    assert params["limit"] == str(limit)
    assert params.get("order") == order
    assert params.get("after") == after


@pytest.mark.parametrize("flavour", FLAVOURS)
@examples(15)
@given(video_id=video_ids, variant=st.sampled_from(enum_of(SPEC, "VideoContentVariant")))
def test_download_request_conforms(flavour: str, video_id: str, variant: str) -> None:
    recorder = Recorder()
    with tempfile.TemporaryDirectory() as tmp:
        call(
            flavour, recorder, "download_content", video_id, Path(tmp) / "out.bin", variant=variant
        )
    (request,) = recorder.requests
    assert check_request(SPEC, request) == []
    from contract_tests.client_vs_spec._support import match_operation

    matched = match_operation(SPEC, "GET", request.url.raw_path.decode("ascii").split("?")[0])
    assert matched is not None and matched.operation["operationId"] == "downloadVideoContent"
    assert matched.path_params == {"video_id": video_id}
    assert request.url.params["variant"] == variant


# -- inputs the spec forbids are refused before anything is sent --------------------------------

PNG_720 = IMAGE_MAKERS["image/png"](720, 1280)
BAD_CREATE = [
    ("prompt", {"prompt": ""}),
    ("prompt", {"prompt": " \t\n"}),
    ("seconds", {"prompt": "cat", "seconds": "5"}),
    ("seconds", {"prompt": "cat", "seconds": 5}),
    ("seconds", {"prompt": "cat", "seconds": True}),
    ("size", {"prompt": "cat", "size": "640x480"}),
    ("model", {"prompt": "cat", "model": ""}),
    ("input_reference", {"prompt": "cat", "input_reference": b"GIF89a not allowed"}),
    (
        "input_reference",
        {
            "prompt": "cat",
            "input_reference": ("a.png", IMAGE_MAKERS["image/png"](8, 8), "image/gif"),
        },
    ),
    (
        "input_reference",
        {"prompt": "cat", "size": "720x1280", "input_reference": IMAGE_MAKERS["image/png"](8, 8)},
    ),
    ("idempotency_key", {"prompt": "cat", "idempotency_key": "has space"}),
    ("idempotency_key", {"prompt": "cat", "idempotency_key": "k" * 256}),
    # Against the model table: a known model's row, or the default model's when none is given.
    ("size", {"prompt": "cat", "model": "veo3.1-pro", "size": "720x1280"}),
    ("size", {"prompt": "cat", "model": "sora-2", "size": "16x9"}),
    ("size", {"prompt": "cat", "model": "sora-2-2025-12-08", "size": "1792x1024"}),
    ("seconds", {"prompt": "cat", "model": "sora-2", "seconds": "6"}),
    ("seconds", {"prompt": "cat", "model": "veo3.1-pro", "seconds": 4}),
    (
        "input_reference",
        {"prompt": "cat", "model": "sora-2", "input_reference": [PNG_720, PNG_720]},
    ),
    (
        "input_reference",
        {"prompt": "cat", "model": "veo3.1", "input_reference": [PNG_720, PNG_720, PNG_720]},
    ),
    # Size omitted: the image must still match the default size (sora-2: 720x1280).
    ("input_reference", {"prompt": "cat", "input_reference": IMAGE_MAKERS["image/png"](1280, 720)}),
    (
        "input_reference",
        {"prompt": "cat", "model": "veo3", "input_reference": [PNG_720, b"not an image"]},
    ),
]


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize(
    ("param", "kwargs"), BAD_CREATE, ids=[f"{p}-{i}" for i, (p, _) in enumerate(BAD_CREATE)]
)
def test_forbidden_create_inputs_are_never_sent(
    flavour: str, param: str, kwargs: dict[str, Any]
) -> None:
    recorder = Recorder()
    with pytest.raises(InvalidParameterError) as info:
        call(flavour, recorder, "create", **kwargs)
    assert info.value.param == param
    assert recorder.requests == []


BAD_OTHER = [
    ("limit", "list", (), {"limit": 0}),
    ("limit", "list", (), {"limit": 101}),
    ("order", "list", (), {"order": "sideways"}),
    ("variant", "download_content", ("video_1", "out.mp4"), {"variant": "gif"}),
    ("video_id", "retrieve", ("",), {}),
    ("video_id", "delete", (" ",), {}),
    ("video_id", "retrieve", (".",), {}),
    ("video_id", "remix", ("..",), {"prompt": "x"}),
    ("video_id", "delete", ("../v1/videos",), {}),
    ("video_id", "retrieve", ("video_1?x=1",), {}),
    ("video_id", "retrieve", ("video_1#x",), {}),
    ("video_id", "download_content", ("%2e%2e", "out.mp4"), {}),
    ("video_id", "retrieve", ("video\\1",), {}),
    ("video_id", "retrieve", ("video 1",), {}),
    ("prompt", "remix", ("video_1",), {"prompt": ""}),
    ("model", "remix", ("video_1",), {"prompt": "x", "model": "veo3.1-pro"}),
]


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize(
    ("param", "method", "args", "kwargs"), BAD_OTHER, ids=[f"{m}-{p}" for p, m, _, _ in BAD_OTHER]
)
def test_forbidden_parameters_are_never_sent(
    flavour: str,
    param: str,
    method: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    tmp_path: Path,
) -> None:
    if method == "download_content":
        args = (args[0], tmp_path / args[1])
    recorder = Recorder()
    with pytest.raises(InvalidParameterError) as info:
        call(flavour, recorder, method, *args, **kwargs)
    assert info.value.param == param
    assert recorder.requests == []


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("method", ["create", "remix", "retrieve"])
def test_text_that_cannot_be_encoded_is_a_clear_error(flavour: str, method: str) -> None:
    """A lone surrogate cannot travel as UTF-8: a DeerAPIError naming the field, nothing sent."""
    recorder = Recorder()
    lone = "cat \ud800"
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = {}
    if method == "create":
        kwargs = {"prompt": lone}
    elif method == "remix":
        args, kwargs = ("video_1",), {"prompt": lone}
    else:
        args = (lone,)
    with pytest.raises(InvalidParameterError):
        call(flavour, recorder, method, *args, **kwargs)
    assert recorder.requests == []
