"""Content expiry: when a failed download means "expired", not "not found".

A completed job carries ``expires_at`` (Veo: one hour after ``completed_at``); after it, the
content endpoint answers 404 or 410. The download path then reads the job: if the job still
exists and its state says its content expired (``expires_at`` passed, status ``expired``, or a
410 for a completed job), the download raises :class:`ContentExpiredError` naming the time;
otherwise the original error stands. Pure: the sync and async clients do the retrieve.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ._errors import APIStatusError, ContentExpiredError

if TYPE_CHECKING:
    from deerapi_videos_generated.models.video import Video

__all__ = ["EXPIRY_STATUSES", "could_be_expiry", "expired_content_error"]

#: Answers of the content endpoint that may mean the content expired.
EXPIRY_STATUSES = frozenset({404, 410})
#: Clock skew allowed between the server's ``expires_at`` and this machine (seconds).
SKEW = 300


def could_be_expiry(error: APIStatusError) -> bool:
    """Whether a content download's error is worth a look at the job (a 404 or a 410)."""
    return error.status_code in EXPIRY_STATUSES


def expired_content_error(
    video: Video, cause: APIStatusError, now: float | None = None
) -> ContentExpiredError | None:
    """The error a 404/410 on ``video``'s content means, if its state says it expired."""
    if cause.status_code not in EXPIRY_STATUSES:
        return None
    raw_status = video.status
    status = str(getattr(raw_status, "value", raw_status)).strip().lower()
    expires_at = video.expires_at if type(video.expires_at) is int else None
    current = time.time() if now is None else now
    expired = (
        status == "expired"
        or (expires_at is not None and expires_at <= current + SKEW)
        or (cause.status_code == 410 and status == "completed")
    )
    return ContentExpiredError(video.id, expires_at, cause) if expired else None
