"""The edge of every public call: only :class:`DeerAPIError` leaves, and it names the job.

:func:`guarded` wraps each public method of the video resources (sync and async, and the
iterators ``list`` returns). While a call runs, a :class:`JobRecord` (one per outermost call, in
a context variable, so nested calls such as ``create_and_poll`` -> ``create`` share it) collects
what the caller needs to resume without paying twice: the POST's idempotency key as soon as it
is chosen, and the video id as soon as a job exists. On the way out:

- a :class:`DeerAPIError` gets ``video_id`` and ``idempotency_key`` from the record where it has
  none, plus a note saying how to resume;
- any other ``Exception`` (whatever the server, the OS or a bug raised) becomes a
  :class:`DeerAPIError` naming the original type, with the key redacted and the original as
  ``__cause__``;
- ``KeyboardInterrupt`` and ``asyncio.CancelledError`` pass through unchanged in type (callers
  rely on them to stop), carrying ``deerapi_video_id`` and ``deerapi_idempotency_key``
  attributes and a note, so the job is recoverable.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncIterator, Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from ._errors import DeerAPIError

__all__ = ["JobRecord", "guarded", "note_idempotency_key", "note_video_id"]

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


@dataclass
class JobRecord:
    """What the current outermost call knows about its job."""

    idempotency_key: str | None = None
    video_id: str | None = None


_record: ContextVar[JobRecord | None] = ContextVar("deerapi_videos_job", default=None)


def note_idempotency_key(key: str) -> None:
    """Record the idempotency key of the POST about to be sent."""
    record = _record.get()
    if record is not None:
        record.idempotency_key = key


def note_video_id(video_id: str) -> None:
    """Record the id of the job this call is about (after a successful POST, or the caller's)."""
    record = _record.get()
    if record is not None:
        record.video_id = video_id


def _resume_note(record: JobRecord) -> str | None:
    if record.video_id is not None:
        return (
            f"deerapi_videos: job {record.video_id} exists; resume with "
            f"videos.poll({record.video_id!r}) instead of creating it again"
        )
    if record.idempotency_key is not None:
        return (
            "deerapi_videos: a POST may have started a job; re-send only with "
            f"idempotency_key={record.idempotency_key!r}"
        )
    return None


def _annotate(exc: BaseException, record: JobRecord) -> None:
    if isinstance(exc, DeerAPIError):
        if exc.video_id is None and record.video_id is not None:
            exc.video_id = record.video_id
        if exc.idempotency_key is None and record.idempotency_key is not None:
            exc.idempotency_key = record.idempotency_key
    else:
        exc.deerapi_video_id = record.video_id  # type: ignore[attr-defined]
        exc.deerapi_idempotency_key = record.idempotency_key  # type: ignore[attr-defined]
    note = _resume_note(record)
    if note is not None and note not in getattr(exc, "__notes__", ()):
        exc.add_note(note)


def _translate(
    exc: BaseException, record: JobRecord, redact: Callable[[str], str]
) -> BaseException:
    """The exception to raise instead of ``exc`` (``exc`` itself when it may leave)."""
    if not isinstance(exc, DeerAPIError) and isinstance(exc, Exception):
        error = DeerAPIError(f"unexpected {type(exc).__name__}: {redact(str(exc))}")
        error.__cause__ = exc
        exc = error
    _annotate(exc, record)
    return exc


class _Scope:
    """Enter: make (or join) the call's record. Exit: translate what escapes."""

    def __init__(self, redact: Callable[[str], str]) -> None:
        self._redact = redact
        self._token: Any = None
        self.record = JobRecord()

    def __enter__(self) -> JobRecord:
        current = _record.get()
        if current is None:
            self._token = _record.set(self.record)
        else:
            self.record = current
        return self.record

    def close(self) -> None:
        if self._token is not None:
            _record.reset(self._token)
            self._token = None

    def fail(self, exc: BaseException) -> BaseException:
        return _translate(exc, self.record, self._redact)


def _redactor_of(owner: Any) -> Callable[[str], str]:
    # Every guarded resource holds its client's redactor; a missing one is a bug, not a reason
    # to let the key through unredacted.
    redact: Callable[[str], str] = owner._redact
    return redact


def guarded(method: F) -> F:
    """Wrap a resource method (coroutine, plain, or returning an iterator) in the boundary."""
    if inspect.iscoroutinefunction(method):

        @functools.wraps(method)
        async def async_call(self: Any, *args: Any, **kwargs: Any) -> Any:
            scope = _Scope(_redactor_of(self))
            scope.__enter__()
            try:
                return await method(self, *args, **kwargs)
            except BaseException as exc:
                error = scope.fail(exc)
                if error is exc:
                    raise
                raise error from exc
            finally:
                scope.close()

        return cast(F, async_call)

    @functools.wraps(method)
    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        scope = _Scope(_redactor_of(self))
        scope.__enter__()
        try:
            result = method(self, *args, **kwargs)
        except BaseException as exc:
            error = scope.fail(exc)
            if error is exc:
                raise
            raise error from exc
        finally:
            scope.close()
        if isinstance(result, AsyncIterator):
            return _guard_async_iterator(result, _redactor_of(self))
        if isinstance(result, Iterator):
            return _guard_iterator(result, _redactor_of(self))
        return result

    return cast(F, call)


def _guard_iterator(inner: Iterator[T], redact: Callable[[str], str]) -> Iterator[T]:
    scope = _Scope(redact)
    while True:
        scope.__enter__()
        try:
            item = next(inner)
        except StopIteration:
            return
        except BaseException as exc:
            error = scope.fail(exc)
            if error is exc:
                raise
            raise error from exc
        finally:
            scope.close()
        yield item


async def _guard_async_iterator(
    inner: AsyncIterator[T], redact: Callable[[str], str]
) -> AsyncIterator[T]:
    scope = _Scope(redact)
    while True:
        scope.__enter__()
        try:
            item = await anext(inner)
        except StopAsyncIteration:
            return
        except BaseException as exc:
            error = scope.fail(exc)
            if error is exc:
                raise
            raise error from exc
        finally:
            scope.close()
        yield item
