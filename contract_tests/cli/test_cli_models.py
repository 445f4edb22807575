"""The CLI for both model families: create's model-aware options, and the conformance check per
model, against a gateway's shapes, and with operations the server does not serve."""

from __future__ import annotations

import json
from pathlib import Path

from contract_tests.builders import jpeg, png

from .conftest import Served
from .test_cli_conformance import QUICK, reports, run


def test_create_veo_with_a_first_and_a_last_frame(served: Served, tmp_path: Path) -> None:
    first, last = tmp_path / "first.png", tmp_path / "last.jpg"
    first.write_bytes(png(64, 36))
    last.write_bytes(jpeg(64, 36))
    result = served.invoke(
        "--json",
        "create",
        "a boat",
        "--model",
        "veo3.1-pro",
        "--size",
        "16x9",
        "--input-reference",
        str(first),
        "--input-reference",
        str(last),
    )
    assert result.exit_code == 0, result.output
    video = json.loads(result.stdout)
    assert (video["model"], video["size"], video["seconds"]) == ("veo3.1-pro", "16x9", "8")
    job = served.mock.get(video["id"])
    assert job is not None and job.input_references == (png(64, 36), jpeg(64, 36))


def test_create_refuses_what_a_known_model_does_not_take(served: Served) -> None:
    for args, words in [
        (("--seconds", "6"), "'6' is not one of '4', '8', '12' (model sora-2)"),
        (("--model", "veo3.1-pro", "--size", "720x1280"), "'16x9', '9x16' (model veo3.1-pro)"),
    ]:
        result = served.invoke("create", "x", *args)
        assert result.exit_code == 2, result.output
        assert words in result.stderr
    assert served.mock.requests == [], "nothing was sent"


def test_create_sends_an_unknown_models_values_as_given(served: Served) -> None:
    result = served.invoke(
        "--json", "create", "x", "--model", "veo3-fast", "--size", "21x9", "--seconds", "5"
    )
    assert result.exit_code == 0, result.output
    video = json.loads(result.stdout)
    assert (video["model"], video["size"], video["seconds"]) == ("veo3-fast", "21x9", "5")


def test_conformance_per_model_is_clean_on_the_mock(tmp_path: Path) -> None:
    result = run(tmp_path, *QUICK, "--model", "veo3.1-pro", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["passed"] and summary["model"] == "veo3.1-pro"
    assert {job["settings"]["model"] for job in summary["paid_jobs"]} == {"veo3.1-pro"}
    junit, markdown = reports(tmp_path)
    assert "# DeerAPI conformance report: model `veo3.1-pro`" in markdown
    assert {p.get("name"): p.get("value") for p in junit.iter("property")}["model"] == (
        "veo3.1-pro"
    )


def test_conformance_reports_not_served_as_its_own_outcome(tmp_path: Path) -> None:
    unserved = ("--mock-unserved", "listVideos", "--mock-unserved", "deleteVideo")
    result = run(tmp_path, *QUICK, *unserved)
    assert result.exit_code == 0, result.output
    assert "NOT SERVED listVideos: GET /v1/videos answered 404" in result.stdout
    assert "NOT SERVED deleteVideo" in result.stdout
    junit, markdown = reports(tmp_path)
    assert "## Not served" in markdown and "`listVideos`" in markdown
    skipped = [c for c in junit.iter("testcase") if c.find("skipped") is not None]
    assert {c.get("classname") for c in skipped} == {"listVideos", "deleteVideo"}
    assert not any(
        c.get("classname") in ("GET /v1/videos", "DELETE /v1/videos/{video_id}")
        for c in junit.iter("testcase")
    ), "no check ran on an operation that is not served"


def test_conformance_against_proxy_shapes_prints_the_drift(tmp_path: Path) -> None:
    result = run(tmp_path, "--seed", "1", "--max-examples", "4", "--mock-shape", "proxy")
    assert result.exit_code == 1, result.output  # float progress: the spec says integer
    assert "response_schema_conformance" in result.stdout
    for line in [
        "DRIFT `Video.progress` sent as a number",
        "suggested spec change: `type: number` for `Video.progress`",
        "DRIFT `Video.progress` left out",
        "DRIFT `VideoList.has_more` left out",
    ]:
        assert line in result.stdout, result.stdout
    _, markdown = reports(tmp_path)
    assert "`Video.task_id`" in markdown  # an extra object the spec does not describe


def test_mock_only_flags_are_refused_live(tmp_path: Path) -> None:
    result = run(
        tmp_path,
        "--base-url",
        "http://127.0.0.1:9",
        "--mock-shape",
        "proxy",
        env={"DEERAPI_KEY": "k"},
    )
    assert result.exit_code == 2 and "bundled mock only" in result.output
