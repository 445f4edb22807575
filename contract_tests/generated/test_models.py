"""The generated models parse every response the spec allows into typed objects.

Covers the seeds' own example bodies (create: 12 fields, remix: 9), a completed job with
timestamps, a failed job with an error object, and unknown statuses, models and extra fields.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from deerapi_videos_generated.models import (
    ErrorResponse,
    Video,
    VideoError,
    VideoList,
    VideoModel,
    VideoStatus,
)
from deerapi_videos_generated.types import Unset

# Verbatim from the create-video and remix-video pages in ../shared/seeds/.
SEED_CREATE = json.loads("""{
  "id": "<string>", "object": "<string>", "created_at": 123, "status": "<string>",
  "completed_at": null, "error": null, "expires_at": null, "model": "<string>",
  "progress": 123, "remixed_from_video_id": null, "seconds": "<string>", "size": "<string>"
}""")
SEED_REMIX = json.loads("""{
  "id": "<string>", "object": "<string>", "model": "<string>", "status": "<string>",
  "progress": 123, "created_at": 123, "size": "<string>", "seconds": "<string>",
  "remixed_from_video_id": "<string>"
}""")
BASE: dict[str, Any] = {
    "id": "video_123",
    "object": "video",
    "created_at": 1758941485,
    "model": "sora-2",
    "progress": 0,
    "seconds": "4",
    "size": "720x1280",
}


def test_create_seed_parses() -> None:
    video = Video.from_dict(SEED_CREATE)
    assert video.id == "<string>"
    assert video.status == "<string>" and not isinstance(video.status, VideoStatus)
    assert video.completed_at is None and video.error is None and video.expires_at is None
    assert video.remixed_from_video_id is None
    assert video.progress == 123


def test_remix_seed_parses_without_the_fields_it_omits() -> None:
    video = Video.from_dict(SEED_REMIX)
    assert video.remixed_from_video_id == "<string>"
    assert isinstance(video.completed_at, Unset)
    assert isinstance(video.error, Unset)
    assert isinstance(video.expires_at, Unset)


def test_completed_job_has_timestamps() -> None:
    video = Video.from_dict(
        {
            **BASE,
            "status": "completed",
            "progress": 100,
            "completed_at": 1758941602,
            "expires_at": 1759027885,
            "error": None,
        }
    )
    assert video.status is VideoStatus.COMPLETED
    assert video.model is VideoModel.SORA_2
    assert video.completed_at == 1758941602 and video.expires_at == 1759027885


def test_failed_job_has_a_typed_error() -> None:
    video = Video.from_dict(
        {**BASE, "status": "failed", "error": {"code": "moderation_blocked", "message": "no"}}
    )
    assert video.status is VideoStatus.FAILED
    assert isinstance(video.error, VideoError)
    assert (video.error.code, video.error.message) == ("moderation_blocked", "no")


@pytest.mark.parametrize("status", ["expired", "pending_upstream", "PROCESSING", ""])
def test_unknown_status_model_and_extra_fields_are_kept(status: str) -> None:
    body = {**BASE, "status": status, "model": "sora-3-preview", "provider_job": {"x": 1}}
    video = Video.from_dict(body)
    assert video.status == status and not isinstance(video.status, VideoStatus)
    assert video.model == "sora-3-preview"
    assert video["provider_job"] == {"x": 1}
    # Nothing is lost: the object serialises back to what was received.
    assert video.to_dict() == body


def test_prompt_echo_is_typed() -> None:
    assert Video.from_dict({**BASE, "status": "queued", "prompt": "cat"}).prompt == "cat"


def test_missing_required_field_is_a_clear_error() -> None:
    body = {k: v for k, v in BASE.items() if k != "id"}
    with pytest.raises(KeyError, match="id"):
        Video.from_dict({**body, "status": "queued"})


def test_list_and_error_envelope_parse() -> None:
    page = VideoList.from_dict(
        {
            "object": "list",
            "data": [{**BASE, "status": "queued"}],
            "first_id": "video_123",
            "last_id": "video_123",
            "has_more": False,
        }
    )
    assert page.data[0].id == "video_123" and page.has_more is False
    err = ErrorResponse.from_dict(
        {
            "error": {
                "message": "bad",
                "type": "invalid_request_error",
                "param": "seconds",
                "code": None,
            }
        }
    )
    assert err.error.param == "seconds" and err.error.code is None
