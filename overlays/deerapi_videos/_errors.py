"""The exceptions the client raises, and how an error response becomes one.

Every message is built from redacted text: a server that echoes the API key in an error body does
not put the key into an exception message (see ``_auth.Redactor``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

import httpx

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "ContentExpiredError",
    "DeerAPIError",
    "DownloadError",
    "InternalServerError",
    "InvalidParameterError",
    "JobMayExistError",
    "JobResponseValidationError",
    "NotFoundError",
    "PermissionDeniedError",
    "PollTimeoutError",
    "RateLimitError",
    "ResponseValidationError",
    "VideoFailedError",
    "error_code_of",
    "error_message_of",
    "status_error_from_response",
]

_BODY_LIMIT = 2000


class DeerAPIError(Exception):
    """Base class of every error this package raises.

    Attributes:
        message: the one-line description (also ``str(error)``).
        video_id: the job this call was about, once one exists: after a successful create or
            remix every error of the same call carries the new job's id (resume with
            ``videos.poll(video_id)``; do not create it again). None before any job exists.
        idempotency_key: the ``Idempotency-Key`` of the call's POST, if it sent one: re-send
            with it so a server that honours it does not start a second job.

    Errors pickle (for multiprocessing) without their ``__cause__`` chain, whose transport
    errors may hold the request and its ``Authorization`` header; what the cause said is in
    ``message``.
    """

    message: str
    video_id: str | None = None
    idempotency_key: str | None = None

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only constructors defeat BaseException's pickling (cls(*args)); rebuild from
        # the attributes instead. They hold only redacted text and DeerAPIErrors.
        return (_rebuild, (type(self), self.args, dict(self.__dict__)))


def _rebuild(cls: type[DeerAPIError], args: tuple[Any, ...], state: dict[str, Any]) -> Any:
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class InvalidParameterError(DeerAPIError, ValueError):
    """An argument was rejected before any request was sent.

    ``param`` names the argument; ``allowed`` lists the accepted values where there is a list.
    """

    def __init__(self, param: str, message: str, allowed: Iterable[str] = ()) -> None:
        self.param = param
        self.allowed: tuple[str, ...] = tuple(allowed)
        text = f"{param}: {message}"
        if self.allowed:
            text += f" (allowed: {', '.join(repr(a) for a in self.allowed)})"
        super().__init__(text)


class APIConnectionError(DeerAPIError):
    """The request failed without an HTTP response (connection refused, reset, DNS, ...)."""

    def __init__(self, message: str, *, request_id: str | None = None) -> None:
        super().__init__(message)
        self.request_id = request_id


class APITimeoutError(APIConnectionError):
    """The request timed out."""


class APIStatusError(DeerAPIError):
    """The server answered with a non-success status.

    Attributes:
        status_code: the HTTP status.
        request_id: the ``x-request-id`` response header, for support.
        message, type, param, code: the error envelope's fields (``message`` is a useful summary
            even when the body was not JSON).
        headers: the response headers.
        body: the response body as text (redacted, truncated to 2000 characters).
        retry_after: the delay in seconds the server asked for, if it sent a readable one.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        request_id: str | None = None,
        type: str | None = None,
        param: str | None = None,
        code: str | None = None,
        headers: httpx.Headers | None = None,
        body: str = "",
        retry_after: float | None = None,
    ) -> None:
        self.status_code = status_code
        self.request_id = request_id
        self.type = type
        self.param = param
        self.code = code
        self.headers = headers if headers is not None else httpx.Headers()
        self.body = body
        self.retry_after = retry_after
        self.error_message = message
        text = f"HTTP {status_code}: {message}"
        if code:
            text += f" [code={code}]"
        if param:
            text += f" [param={param}]"
        if request_id:
            text += f" (request id: {request_id})"
        super().__init__(text)


class BadRequestError(APIStatusError):
    """400."""


class AuthenticationError(APIStatusError):
    """401: the API key is missing or invalid."""


class PermissionDeniedError(APIStatusError):
    """403."""


class NotFoundError(APIStatusError):
    """404."""


class ContentExpiredError(NotFoundError):
    """A download after the job's content expired (its ``expires_at`` passed): it is gone.

    Raised instead of the plain 404 (or 410) the content endpoint answered, once a retrieve of
    the job shows that it expired. Veo content lives one hour after ``completed_at``: download
    right after ``create_and_poll`` returns.

    Attributes:
        video_id: the job whose content expired.
        expires_at: when it expired (Unix seconds), if the server said.
        status_code, request_id, ...: those of the download's answer (404 or 410).
    """

    def __init__(self, video_id: str, expires_at: int | None, cause: APIStatusError) -> None:
        self.video_id = video_id
        self.expires_at = expires_at
        if expires_at is not None:
            import datetime

            when = datetime.datetime.fromtimestamp(expires_at, datetime.UTC)
            stamp = when.isoformat(timespec="seconds").replace("+00:00", "Z")
            at = f"at {stamp} (expires_at={expires_at})"
        else:
            at = "(the server gave no expires_at)"
        super().__init__(
            f"the content of video {video_id} expired {at} and can no longer be downloaded; "
            "download promptly after the job completes",
            status_code=cause.status_code,
            request_id=cause.request_id,
            type=cause.type,
            param=cause.param,
            code=cause.code,
            headers=cause.headers,
            body=cause.body,
            retry_after=cause.retry_after,
        )


class ConflictError(APIStatusError):
    """409: the job is not in a state that allows this, or an idempotency key was reused."""


class RateLimitError(APIStatusError):
    """429: rate limited; ``retry_after`` is the delay the server asked for, if any."""


class InternalServerError(APIStatusError):
    """A status >= 500."""


class JobMayExistError(DeerAPIError):
    """A POST that starts a paid job failed in a way that may have started the job anyway.

    Raised after a 500, 502, 504 (any 5xx except 501, 503, 505), after a timeout or a broken
    connection once the request was sent, or when a success answer could not be read (then as
    the subclass :class:`JobResponseValidationError`: the job was started). The
    request is never re-sent automatically: check the job list (``videos.list()``) before
    retrying, and re-send with the same ``idempotency_key`` so a server that honours it does not
    charge twice.

    Attributes:
        idempotency_key: the ``Idempotency-Key`` the POST carried.
        request_id: the response's request id, if a response arrived.
        status_code: the HTTP status, if a response arrived.
        cause: the underlying error (also ``__cause__``).
    """

    idempotency_key: str

    def __init__(
        self,
        message: str,
        *,
        idempotency_key: str,
        request_id: str | None,
        status_code: int | None,
        cause: BaseException,
    ) -> None:
        self.idempotency_key = idempotency_key
        self.request_id = request_id
        self.status_code = status_code
        self.cause = cause
        text = (
            f"{message}. A paid video job may have been started: check your jobs "
            f"(videos.list()) before retrying, and retry with idempotency_key="
            f"{idempotency_key!r} so the server can recognise the repeat."
        )
        if request_id:
            text += f" (request id: {request_id})"
        super().__init__(text)


class ResponseValidationError(DeerAPIError):
    """A success answer (2xx) whose body is not what openapi.yaml says it is.

    Raised instead of returning an object with a wrong-typed field inside (the generated models
    do not check types) or crashing later with an unrelated ``KeyError``/``TypeError``. GET and
    DELETE raise this class after the attempt (a malformed 200 is not retried: it is the
    server's answer, not a transient fault). POST create/remix raise the subclass
    :class:`JobResponseValidationError`.

    Attributes:
        operation: e.g. ``"GET /v1/videos/video_1"``.
        status_code: the (success) HTTP status.
        request_id: the response's ``x-request-id``, for support.
        model: the name of the expected model (``"Video"``, ``"VideoList"``, ``"DeletedVideo"``).
        path: where the body breaks it, e.g. ``"progress"``, ``"data[3].id"``, ``"error.code"``;
            ``""`` for the body itself (not JSON, or not a JSON object).
        expected: what the spec allows there, e.g. ``"an integer from 0 to 100"``.
        received: what arrived: its JSON kind (``"a string"``, ``"null"``, ``"missing"``,
            ``"an integer (101)"``, ``"invalid JSON"``); never the text itself.
        idempotency_key: the POST's ``Idempotency-Key``; None for GET and DELETE.
        job_started: True for a POST that starts a paid job (the subclass).
    """

    job_started: bool = False

    def __init__(
        self,
        *,
        operation: str,
        status_code: int,
        request_id: str | None,
        model: str,
        path: str,
        expected: str,
        received: str,
        idempotency_key: str | None = None,
    ) -> None:
        self.operation = operation
        self.status_code = status_code
        self.request_id = request_id
        self.model = model
        self.path = path
        self.expected = expected
        self.received = received
        self.idempotency_key = idempotency_key
        # Not super(): in JobResponseValidationError the next class is JobMayExistError.
        DeerAPIError.__init__(self, self._describe() + self._request_id_note())

    def _describe(self) -> str:
        where = f"field {self.path!r}" if self.path else "the body"
        return (
            f"{self.operation}: the HTTP {self.status_code} answer is not a {self.model} as "
            f"the API spec defines it: {where} should be {self.expected}, got {self.received}"
        )

    def _request_id_note(self) -> str:
        return f" (request id: {self.request_id})" if self.request_id else ""


class JobResponseValidationError(ResponseValidationError, JobMayExistError):
    """POST create/remix got a success answer it cannot read: a paid job WAS started.

    Both a :class:`ResponseValidationError` (same attributes, ``job_started`` is True) and a
    :class:`JobMayExistError` (``idempotency_key`` is always set; ``cause`` is a plain
    :class:`ResponseValidationError` with the same details): code that already handles
    ``JobMayExistError`` for a POST handles this too. The request is never re-sent
    automatically: look the job up (``videos.list()``) before retrying, and re-send only with the
    same ``idempotency_key``.
    """

    job_started = True
    idempotency_key: str
    status_code: int

    def __init__(self, unreadable: ResponseValidationError, *, idempotency_key: str) -> None:
        self.cause = unreadable
        self.__cause__ = unreadable
        ResponseValidationError.__init__(
            self,
            operation=unreadable.operation,
            status_code=unreadable.status_code,
            request_id=unreadable.request_id,
            model=unreadable.model,
            path=unreadable.path,
            expected=unreadable.expected,
            received=unreadable.received,
            idempotency_key=idempotency_key,
        )

    def _describe(self) -> str:
        return (
            f"{super()._describe()}. The server accepted the request, so a paid video job was "
            f"started even though its answer could not be read: check your jobs (videos.list()) "
            f"before retrying, and retry only with idempotency_key={self.idempotency_key!r} so "
            "the server can recognise the repeat."
        )


class PollTimeoutError(DeerAPIError):
    """Polling reached its deadline before the job ended. Resume with ``videos.poll(video_id)``."""

    video_id: str

    def __init__(self, video_id: str, status: str, progress: int | None, timeout: float) -> None:
        self.video_id = video_id
        self.status = status
        self.progress = progress
        self.timeout = timeout
        super().__init__(
            f"video {video_id} did not finish within {timeout:g}s: last status {status!r}, "
            f"progress {progress}%. Resume with videos.poll({video_id!r}); no new job is needed."
        )


class VideoFailedError(DeerAPIError):
    """The job ended without a video (``failed``, or an end such as ``expired``/``cancelled``)."""

    video_id: str

    def __init__(self, video_id: str, status: str, code: str | None, error_message: str) -> None:
        self.video_id = video_id
        self.status = status
        self.code = code
        self.error_message = error_message
        text = f"video {video_id} ended with status {status!r}"
        if code:
            text += f" [code={code}]"
        super().__init__(f"{text}: {error_message}")


class DownloadError(DeerAPIError):
    """A download could not be completed (interrupted or the size did not match) after retries.

    No file is left at the target path.
    """

    def __init__(self, message: str, *, bytes_received: int, expected: int | None) -> None:
        self.bytes_received = bytes_received
        self.expected = expected
        super().__init__(message)


_STATUS_CLASSES: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    429: RateLimitError,
}

_TAG = re.compile(r"<[^>]+>")
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_SPACE = re.compile(r"\s+")


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def error_code_of(body_text: str) -> str | None:
    """The ``code`` of a JSON error envelope, or None."""
    return _envelope(body_text)[3]


def error_message_of(body_text: str) -> str | None:
    """The ``message`` of a JSON error envelope, else a summary of an HTML or text body."""
    message = _envelope(body_text)[0]
    if message is not None:
        return message
    return _summary_of_text(body_text, "") or None


def _envelope(text: str) -> tuple[str | None, str | None, str | None, str | None]:
    """(message, type, param, code) from a JSON error envelope, or all None."""
    try:
        data = json.loads(text)
    except ValueError:
        return None, None, None, None
    if not isinstance(data, dict):
        return None, None, None, None
    error = data.get("error", data)
    if isinstance(error, str):
        return error, None, None, None
    if not isinstance(error, dict):
        return None, None, None, None
    # The envelope is the generated ErrorResponse shape; read it leniently (a gateway's JSON may
    # carry only part of it, or numbers where strings are expected).
    message = error.get("message")
    code = error.get("code")
    return (
        _str_or_none(message),
        _str_or_none(error.get("type")),
        _str_or_none(error.get("param")),
        str(code) if isinstance(code, int | str) and code != "" else None,
    )


def _summary_of_text(text: str, content_type: str) -> str:
    title = _TITLE.search(text)
    if title:
        return _SPACE.sub(" ", title.group(1)).strip()[:200]
    if "html" in content_type or text.lstrip().startswith("<"):
        text = _TAG.sub(" ", text)
    return _SPACE.sub(" ", text).strip()[:200]


def status_error_from_response(
    *,
    status_code: int,
    headers: httpx.Headers,
    body_text: str,
    request_id: str | None,
    retry_after: float | None,
) -> APIStatusError:
    """Map a (read, redacted) error response to its exception class with a useful message."""
    body = body_text[:_BODY_LIMIT]
    message, type_, param, code = _envelope(body_text)
    if message is None:
        reason = httpx.codes.get_reason_phrase(status_code) or "Error"
        summary = _summary_of_text(body_text, headers.get("content-type", ""))
        message = f"{reason}: {summary}" if summary else f"{reason} (empty response body)"
    if status_code in _STATUS_CLASSES:
        cls = _STATUS_CLASSES[status_code]
    elif status_code >= 500:
        cls = InternalServerError
    else:
        cls = APIStatusError
    return cls(
        message,
        status_code=status_code,
        request_id=request_id,
        type=type_,
        param=param,
        code=code,
        headers=headers,
        body=body,
        retry_after=retry_after,
    )
