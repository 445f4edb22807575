"""Every answer OpenAI's published schemas allow, and the shapes gateways send, parse through the
client: retrieve, create, remix, list and delete (sync and async). Nothing raises; a create or
remix never turns a paid job into an error.

The OpenAI schemas (``VideoResource``, ``VideoListResource``, ``DeletedVideoResource``) are in
``fixtures/openai_video_schemas.yaml``, with their source. Proxy shapes follow new-api's
``OpenAIVideo`` struct and other gateways (see /work/research/upstream_video_shapes.md): empty
fields omitted (``seconds``, ``size``, ``progress``, ``completed_at``, ...), ``progress`` as a
float, statuses such as ``unknown``, extra objects (``usage``, ``metadata``, ``task_id``), list
pages without ``has_more`` / ``first_id`` / ``last_id``.

One exclusion, on purpose: OpenAI's ``id`` is any string, ``""`` included. An empty id cannot be
polled, so the client refuses it (tested in ``test_responses.py``); generated ids are non-empty.

``refusal(operation, body)`` is what the tests assert on; it also measures, with
``python -m contract_tests.client_vs_spec.test_tolerant_reader N``, how many of N drawn answers a
client refuses (the closing note's before/after figures).
"""

from __future__ import annotations

import copy
import math
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from deerapi_videos import DeerAPIError, DeletedVideo, Video
from hypothesis import given, settings
from hypothesis import strategies as st

from contract_tests.client_vs_spec._clients import FLAVOURS, call, json_answer
from contract_tests.client_vs_spec._support import examples, json_from_schema

FIXTURE = Path(__file__).with_name("fixtures") / "openai_video_schemas.yaml"
OPENAI: dict[str, Any] = yaml.safe_load(FIXTURE.read_text(encoding="utf-8"))


def _inline(node: Any) -> Any:
    """The schema with its ``#/Name`` references inlined and OpenAI's ``format: unixtime``
    annotation dropped."""
    if isinstance(node, dict):
        if "$ref" in node:
            return _inline(OPENAI[node["$ref"].removeprefix("#/")])
        return {
            k: _inline(v)
            for k, v in node.items()
            if not (k == "format" and v == "unixtime") and k != "title"
        }
    if isinstance(node, list):
        return [_inline(v) for v in node]
    return node


def openai_schema(name: str) -> dict[str, Any]:
    return _inline(copy.deepcopy(OPENAI[name]))  # type: ignore[no-any-return]


def _usable_id(body: dict[str, Any], n: int = 0) -> dict[str, Any]:
    if body.get("id") == "":
        body = {**body, "id": f"video_{n}"}
    return body


def _usable_ids(page: dict[str, Any]) -> dict[str, Any]:
    return {**page, "data": [_usable_id(v, i) for i, v in enumerate(page["data"])]}


OPENAI_VIDEOS = json_from_schema(openai_schema("VideoResource")).map(_usable_id)
OPENAI_LISTS = json_from_schema(openai_schema("VideoListResource")).map(_usable_ids)
OPENAI_DELETED = json_from_schema(openai_schema("DeletedVideoResource"))

# -- proxy shapes --------------------------------------------------------------------------------

OMITTABLE = (
    "object",
    "model",
    "progress",
    "created_at",
    "completed_at",
    "expires_at",
    "prompt",
    "size",
    "seconds",
    "remixed_from_video_id",
    "error",
)
EXTRAS = st.dictionaries(
    st.sampled_from(["usage", "metadata", "task_id", "quality", "video_url"]),
    st.one_of(
        st.just({"total_tokens": 1, "nested": {"a": [1, None]}}),
        st.text(max_size=10),
        st.integers(),
        st.none(),
    ),
)


@st.composite
def proxy_videos(draw: st.DrawFn) -> dict[str, Any]:
    """A gateway's job object: an OpenAI one with empty fields omitted, a float progress, a
    gateway status word, a Veo size/model, extra objects."""
    body = dict(draw(OPENAI_VIDEOS))
    for key in draw(st.sets(st.sampled_from(OMITTABLE))):
        body.pop(key, None)
    if draw(st.booleans()):
        body["progress"] = draw(st.floats(0, 100, allow_nan=False))
    if draw(st.booleans()):
        body["status"] = draw(st.sampled_from(["unknown", "processing", "expired", "queued"]))
    if draw(st.booleans()):
        body.update(model="veo3.1-pro", size="16x9", seconds="8")
    if draw(st.booleans()):
        body["seconds"] = ""  # CometAPI's Veo answers
    body.update(draw(EXTRAS))
    return body


@st.composite
def proxy_lists(draw: st.DrawFn) -> dict[str, Any]:
    page = dict(draw(OPENAI_LISTS))
    page["data"] = draw(st.lists(proxy_videos(), max_size=3))
    for key in draw(st.sets(st.sampled_from(["object", "has_more", "first_id", "last_id"]))):
        page.pop(key, None)
    return page


PROXY_VIDEOS = proxy_videos()
PROXY_LISTS = proxy_lists()

# -- one call ------------------------------------------------------------------------------------

LAST_PAGE = {"object": "list", "data": [], "has_more": False, "first_id": None, "last_id": None}


def _handler(operation: str, body: Any) -> Any:
    pages = 0

    def answer(request: httpx.Request) -> httpx.Response:
        nonlocal pages
        if operation == "list":
            pages += 1
            return json_answer(200, body if pages == 1 else LAST_PAGE)
        return json_answer(200, body)

    return answer


_ARGS: dict[str, tuple[tuple[Any, ...], dict[str, Any]]] = {
    "retrieve": (("video_1",), {}),
    "create": ((), {"prompt": "a cat"}),
    "remix": (("video_1",), {"prompt": "a bow"}),
    "list": ((), {}),
    "delete": (("video_1",), {}),
}


def refusal(operation: str, body: Any, flavour: str = "sync") -> str | None:
    """None when the client returns ``body``'s object, else the name of what it raised."""
    args, kwargs = _ARGS[operation]
    try:
        result = call(flavour, _handler(operation, body), operation, *args, **kwargs)
    except DeerAPIError as exc:
        return type(exc).__name__
    _check(operation, body, result)
    return None


def _normalised(video: dict[str, Any]) -> dict[str, Any]:
    """What ``to_dict`` gives back: every field as sent, a float progress truncated."""
    out = dict(video)
    progress = out.get("progress")
    if type(progress) is float and math.isfinite(progress):
        out["progress"] = int(progress)
    return out


def _check(operation: str, body: Any, result: Any) -> None:
    if operation == "delete":
        assert isinstance(result, DeletedVideo) and result.id == body["id"]
        assert result.to_dict() == body
        return
    videos = result if operation == "list" else [result]
    sent = body["data"] if operation == "list" else [body]
    assert len(videos) == len(sent)
    for video, item in zip(videos, sent, strict=True):
        assert isinstance(video, Video)
        assert video.id == item["id"]
        assert str(getattr(video.status, "value", video.status)) == item["status"]
        assert video.to_dict() == _normalised(item), "every field is kept, extras included"


# -- the properties ------------------------------------------------------------------------------


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("operation", ["retrieve", "create", "remix"])
@examples(15)
@given(body=OPENAI_VIDEOS)
def test_every_openai_video_parses(flavour: str, operation: str, body: dict[str, Any]) -> None:
    assert refusal(operation, body, flavour) is None


@pytest.mark.parametrize("flavour", FLAVOURS)
@examples(15)
@given(body=OPENAI_LISTS)
def test_every_openai_list_page_parses(flavour: str, body: dict[str, Any]) -> None:
    assert refusal("list", body, flavour) is None


@pytest.mark.parametrize("flavour", FLAVOURS)
@examples(10)
@given(body=OPENAI_DELETED)
def test_every_openai_deleted_answer_parses(flavour: str, body: dict[str, Any]) -> None:
    assert refusal("delete", body, flavour) is None


@pytest.mark.parametrize("operation", ["retrieve", "create", "remix"])
@examples(20)
@given(body=PROXY_VIDEOS)
def test_every_proxy_video_parses(operation: str, body: dict[str, Any]) -> None:
    assert refusal(operation, body) is None


@examples(20)
@given(body=PROXY_LISTS)
def test_every_proxy_list_page_parses(body: dict[str, Any]) -> None:
    assert refusal("list", body) is None


@pytest.mark.parametrize(
    "body",
    [
        # new-api's Veo answer (ConvertToOpenAIVideo): no size, seconds, expires_at or error.
        {
            "id": "task_1",
            "object": "video",
            "model": "veo-3.1-generate-preview",
            "status": "in_progress",
            "progress": 50,
            "created_at": 1773283200,
            "completed_at": 1773283260,
        },
        # A queued job with every empty field omitted (progress 0 included).
        {"id": "task_2", "object": "video", "model": "sora-2", "status": "queued"},
        # A float progress, the "unknown" status, extra objects.
        {
            "id": "task_3",
            "status": "unknown",
            "progress": 37.5,
            "task_id": "task_3",
            "usage": {"seconds": 8},
            "metadata": {"durationSeconds": 8},
        },
    ],
    ids=["new-api-veo", "omitempty", "float-and-extras"],
)
@pytest.mark.parametrize("operation", ["retrieve", "create", "remix"])
def test_known_gateway_answers_parse(operation: str, body: dict[str, Any]) -> None:
    assert refusal(operation, body) is None


# -- measuring -----------------------------------------------------------------------------------

MEASURED = {
    "retrieve": OPENAI_VIDEOS,
    "create": OPENAI_VIDEOS,
    "remix": OPENAI_VIDEOS,
    "list": OPENAI_LISTS,
    "delete": OPENAI_DELETED,
}


def measure(n: int) -> dict[str, tuple[int, int]]:
    """For each operation: (answers refused, answers drawn) among ``n`` OpenAI-valid answers,
    and the same for proxy shapes (``proxy-*``). Derandomised, so runs are comparable."""
    results: dict[str, tuple[int, int]] = {}
    plans = [(op, op, strategy) for op, strategy in MEASURED.items()]
    plans += [(f"proxy-{op}", op, PROXY_VIDEOS) for op in ("retrieve", "create", "remix")]
    plans.append(("proxy-list", "list", PROXY_LISTS))
    for label, operation, strategy in plans:
        results[label] = _count(operation, strategy, n)
    return results


def _count(operation: str, strategy: st.SearchStrategy[Any], n: int) -> tuple[int, int]:
    counts = [0, 0]

    @settings(max_examples=n, derandomize=True, database=None, deadline=None)
    @given(body=strategy)
    def run(body: Any) -> None:
        counts[1] += 1
        try:
            if refusal(operation, body) is not None:
                counts[0] += 1
        except AssertionError:  # parsed, but not into what was sent
            counts[0] += 1

    run()
    return counts[0], counts[1]


if __name__ == "__main__":  # pragma: no cover - a measuring tool
    for label, (refused, drawn) in measure(int(sys.argv[1]) if len(sys.argv) > 1 else 100).items():
        print(f"{label:16} refused {refused:4} of {drawn}")
