"""The conformance engine per model: the shipped hooks fit cases to the model table, a live run
pays for its model's cheapest job only, drift names shape differences with a suggested spec
change, and an operation the server does not serve is its own outcome."""

from __future__ import annotations

from typing import Any

import pytest
from deerapi_videos.model_table import model_table
from deerapi_videos_conformance import (
    Budget,
    cheapest_settings,
    compute_drift,
    fit_create_body,
    reference_images,
    run_conformance,
)
from deerapi_videos_conformance._engine import Exchange
from hypothesis import given, settings
from schemathesis.transport.serialization import Binary

from .conftest import API_KEY, PROFILE, new_mock, served


def _pixels(data: bytes) -> tuple[int, int]:
    if data.startswith(b"\x89PNG"):
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data.startswith(b"\xff\xd8"):
        sof = data.index(b"\xff\xc0")
        return int.from_bytes(data[sof + 7 : sof + 9], "big"), int.from_bytes(
            data[sof + 5 : sof + 7], "big"
        )
    return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("sora-2", {"model": "sora-2", "seconds": "4", "size": "720x1280"}),
        ("sora-2-pro", {"model": "sora-2-pro", "seconds": "4", "size": "720x1280"}),
        ("veo3.1-pro", {"model": "veo3.1-pro", "seconds": "8", "size": "16x9"}),
        ("veo3", {"model": "veo3", "seconds": "4", "size": "16x9"}),
        ("veo3-fast", {"model": "veo3-fast"}),  # unknown: the server's defaults
        (None, {"model": "sora-2", "seconds": "4", "size": "720x1280"}),
    ],
)
def test_cheapest_settings_come_from_the_model_table(
    model: str | None, expected: dict[str, str]
) -> None:
    assert dict(cheapest_settings(model)) == expected


def test_fitting_makes_a_positive_create_one_the_model_takes() -> None:
    junk = [Binary(b"PK\x03\x04 a zip"), Binary(b"%PDF-1.4"), Binary(b"\x00")]
    sora = fit_create_body({"prompt": "x", "size": "16x9", "seconds": "6", "input_reference": junk})
    assert (sora["size"], sora["seconds"]) == ("720x1280", "4")  # sora-2's defaults
    (image,) = sora["input_reference"]
    assert isinstance(image, Binary) and _pixels(image.data) == (720, 1280)
    pro = fit_create_body(
        {"prompt": "x", "size": "1792x1024", "input_reference": junk}, "sora-2-pro"
    )
    assert pro["model"] == "sora-2-pro" and _pixels(pro["input_reference"][0].data) == (1792, 1024)
    veo = fit_create_body(
        {"prompt": "x", "size": "720x1280", "input_reference": junk}, "veo3.1-pro"
    )
    assert veo["size"] == "16x9" and len(veo["input_reference"]) == 2  # first and last frame
    unknown = {"prompt": "x", "model": "veo3-fast", "size": "21x9", "seconds": "5"}
    assert fit_create_body(unknown) == unknown, "an unknown model keeps its values"


@pytest.mark.parametrize("model", [None, "veo3.1-pro"])
def test_reference_images_strategy_gives_images_the_model_takes(model: str | None) -> None:
    spec = model_table().get(model)
    assert spec is not None

    @settings(max_examples=10, database=None, deadline=None)
    @given(images=reference_images(model))
    def check(images: list[bytes]) -> None:
        assert 1 <= len(images) <= spec.max_references
        for data in images:
            assert data[:3] == b"\xff\xd8\xff" or data[:4] in (b"\x89PNG", b"RIFF")
            if spec.reference_matches_size:
                assert "x".join(map(str, _pixels(data))) == spec.default_size

    check()


def test_a_live_veo_run_pays_for_its_cheapest_job_and_never_remixes_it() -> None:
    mock = new_mock()
    with served(mock) as base_url:
        result = run_conformance(
            base_url,
            API_KEY,
            live=True,
            budget=Budget(max_paid_jobs=2, allow_remix=True),
            model="veo3.1-pro",
            phases=("examples",),
            max_examples=PROFILE.max_examples,
            seed=PROFILE.seed,
            sleep=lambda _: None,
        )
    (job,) = mock.paid_jobs
    assert (job.model, job.seconds, job.size) == ("veo3.1-pro", "8", "16x9")
    assert not any(v.remixed_from_video_id for v in mock.paid_jobs), "Veo has no remix"
    assert result.model == "veo3.1-pro" and result.passed, [f.message for f in result.failures]


def _exchange(operation: str, method: str, url: str, body: Any) -> Exchange:
    return Exchange(operation, method, url, 200, {"x-oneapi-request-id": "r"}, {}, body, 0.0)


def test_drift_names_each_shape_difference_with_a_spec_change() -> None:
    video = {"id": "v", "object": "video", "status": "in_progress", "model": "veo3.1-pro"}
    exchanges = [
        _exchange("retrieveVideo", "GET", "http://m/v1/videos/v", {**video, "progress": 42.5}),
        _exchange("retrieveVideo", "GET", "http://m/v1/videos/v", {**video, "progress": 150}),
        _exchange("retrieveVideo", "GET", "http://m/v1/videos/v", video),
        _exchange("listVideos", "GET", "http://m/v1/videos", {"object": "list", "data": []}),
    ]
    drift = compute_drift(exchanges)
    found = {key: d for key, d in drift.shape_differences.items()}
    assert found["Video.progress:type"].suggestion.startswith("`type: number`")
    assert (found["Video.progress:type"].count, found["Video.progress:type"].seen) == (1, 3)
    assert "drop `maximum: 100`" in found["Video.progress:bound"].suggestion
    assert found["Video.progress:omitted"].count == 1
    assert found["Video.created_at:omitted"].count == 3
    assert "x-deerapi-expected-fields" in found["VideoList.has_more:omitted"].suggestion
    assert drift.models_seen == {"veo3.1-pro": 3}
    assert drift.has_drift
    assert "shape_differences" in drift.to_dict()


def test_an_unserved_operation_is_its_own_outcome_not_a_pass_or_a_crash() -> None:
    mock = new_mock(unserved={"listVideos", "deleteVideo"})
    with served(mock) as base_url:
        result = run_conformance(
            base_url,
            API_KEY,
            phases=("examples", "stateful"),
            max_examples=PROFILE.max_examples,
            seed=PROFILE.seed,
            stateful_steps=PROFILE.stateful_steps,
        )
    assert set(result.not_served) == {"listVideos", "deleteVideo"}
    assert "404" in result.not_served["listVideos"]
    checked = {c.operation for c in result.checks}
    assert "GET /v1/videos" not in checked and "DELETE /v1/videos/{video_id}" not in checked
    assert result.passed, [f.message for f in result.failures]
    served_mock = new_mock()
    with served(served_mock) as base_url:
        again = run_conformance(base_url, API_KEY, phases=("examples",), seed=PROFILE.seed)
    assert again.not_served == {}, "a server that serves them is checked as usual"
