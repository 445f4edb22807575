"""The tolerant reader: turn a decoded 2xx body into a generated model, refusing only what the
client cannot work with.

Rules (a field's rule comes from the generated model's annotations, see
:func:`._response_check.field_rules`):

- The body must be a JSON object, and every field the spec marks ``required`` (``Video``: ``id``
  and ``status``; ``VideoList``: ``data``; ``DeletedVideo``: ``id`` and ``deleted``) must be
  present with a usable value (``id`` non-empty). Otherwise the body is *unusable*:
  :class:`UnusableBody`, which the caller turns into a ``ResponseValidationError``. Items of a
  list are videos too: an item without a usable ``id``/``status`` makes the page unusable.
- Every other field is read leniently. Absent or ``null`` (where allowed): as is. A number where
  an integer is expected (``progress: 12.5``, a float timestamp): truncated to an integer. A value
  outside the spec's bounds (``progress: 150``): kept. Any other value of the wrong type (a
  string ``created_at``, an ``error`` object without a ``message``): the typed attribute stays
  unset and the value is kept, under its own key, in ``additional_properties`` (so
  ``to_dict()`` still returns what the server sent). Unknown strings (``status``, ``model``,
  ``size``) are strings; extra fields are kept in ``additional_properties``.
- Each difference from the spec becomes a :class:`ResponseDeviation`, handed to the caller
  (``on_deviation``), which logs it once and keeps it on the client; it is never raised, so a
  create or remix whose answer carries an id never turns a paid job into an error.
"""

from __future__ import annotations

import logging
import math
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

# ``_response_check`` loads attrs and the generated models: imported at first use (a body read),
# so ``import deerapi_videos`` stays light.
if TYPE_CHECKING:
    from ._response_check import FieldRule

__all__ = ["DeviationLog", "ResponseDeviation", "UnusableBody", "read_tolerantly"]

M = TypeVar("M")

#: At most this many distinct deviations are kept per client (each with a count).
MAX_KEPT = 100

logger = logging.getLogger("deerapi_videos")


@dataclass(frozen=True)
class ResponseDeviation:
    """A place where a response differed from the spec, and what the client did about it.

    Attributes:
        operation: the call it was first seen on, e.g. ``"GET /v1/videos/video_1"``.
        model: the spec schema, ``"Video"``, ``"VideoList"``, ``"DeletedVideo"``.
        path: the field, e.g. ``"progress"``, ``"data[0].seconds"``, ``"error.message"``.
        expected: what the spec says, e.g. ``"an integer from 0 to 100"``.
        received: what arrived, as its JSON kind (``"a number (12.5)"``, ``"a string"``); never
            the text of a string.
        action: ``"kept"`` (the value is used as sent), ``"coerced to 12"`` (a float truncated
            to an integer) or ``"set aside"`` (the typed attribute is unset; the value is in
            ``additional_properties`` under its key).
    """

    operation: str
    model: str
    path: str
    expected: str
    received: str
    action: str

    def __str__(self) -> str:
        return (
            f"{self.model}.{self.path}: expected {self.expected}, got {self.received} "
            f"({self.action})"
        )


class UnusableBody(Exception):
    """The body lacks what the client needs (``path`` empty: the body itself)."""

    def __init__(self, path: str, expected: str, received: str) -> None:
        super().__init__(f"{path or 'the body'}: expected {expected}, got {received}")
        self.path = path
        self.expected = expected
        self.received = received


# A step from an instance to a nested one: an attribute name or a list index.
_Step = str | int
# (steps to the object, JSON key, raw value): put back into additional_properties.
_Restore = tuple[tuple[_Step, ...], str, Any]
# (path, expected, received, action) before the operation and model are known.
_Note = tuple[str, str, str, str]


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


class _Reader:
    def __init__(self) -> None:
        self.restores: list[_Restore] = []
        self.notes: list[_Note] = []

    def clean(
        self, cls: type, data: dict[str, Any], path: str, steps: tuple[_Step, ...]
    ) -> dict[str, Any]:
        """A copy of ``data`` that ``cls.from_dict`` reads without surprises.

        Raises:
            UnusableBody: a required field is missing or unusable.
        """
        from ._response_check import field_rules

        cleaned = dict(data)
        for rule in field_rules(cls):
            where = _join(path, rule.key)
            if rule.key not in data:
                if rule.required:
                    raise UnusableBody(where, rule.expected, "missing")
                continue
            value = data[rule.key]
            cleaned_value = self._field(rule, value, where, steps)
            if cleaned_value is _SET_ASIDE:
                del cleaned[rule.key]
                self.restores.append((steps, rule.key, value))
            else:
                cleaned[rule.key] = cleaned_value
        return cleaned

    def _field(self, rule: FieldRule, value: Any, where: str, steps: tuple[_Step, ...]) -> Any:
        from ._response_check import describe_value

        if rule.nested_list is not None and type(value) is list:
            items = []
            for index, item in enumerate(value):
                item_path = f"{where}[{index}]"
                if type(item) is not dict:
                    raise UnusableBody(
                        item_path, f"a {rule.nested_list.__name__} object", describe_value(item)
                    )
                item_steps = (*steps, rule.attribute, index)
                items.append(self.clean(rule.nested_list, item, item_path, item_steps))
            return items
        if rule.nested is not None and type(value) is dict:
            nested = _Reader()
            try:
                cleaned = nested.clean(rule.nested, value, where, (*steps, rule.attribute))
            except UnusableBody as exc:  # the nested object lacks what it needs
                if rule.required:
                    raise
                self.notes.append((exc.path, exc.expected, exc.received, "set aside"))
                return _SET_ASIDE
            self.restores += nested.restores
            self.notes += nested.notes
            return cleaned
        if rule.type_check(value) is None:
            if rule.check(value) is not None:  # a value constraint (``progress`` 0..100)
                if rule.required:
                    raise UnusableBody(where, rule.expected, describe_value(value))
                self.notes.append((where, rule.expected, describe_value(value), "kept"))
            return value
        if rule.required:
            raise UnusableBody(where, rule.expected, describe_value(value))
        if rule.integer and type(value) is float and math.isfinite(value):
            coerced = int(value)
            if rule.check(coerced) is not None:
                self.notes.append((where, rule.expected, describe_value(coerced), "kept"))
            self.notes.append(
                (where, rule.type_expected, describe_value(value), f"coerced to {coerced}")
            )
            return coerced
        self.notes.append((where, rule.type_expected, describe_value(value), "set aside"))
        return _SET_ASIDE


_SET_ASIDE: Any = object()


def read_tolerantly(
    model: type[M], data: object, on_deviation: Callable[[str, str, str, str], None]
) -> M:
    """``data`` (decoded JSON) as a ``model``; ``on_deviation(path, expected, received, action)``
    for each difference from the spec.

    Raises:
        UnusableBody: ``data`` is not an object, or lacks a usable required field.
    """
    from ._response_check import describe_value

    if type(data) is not dict:
        raise UnusableBody("", f"a JSON {model.__name__} object", describe_value(data))
    reader = _Reader()
    cleaned = reader.clean(model, data, "", ())
    try:
        instance = model.from_dict(cleaned)  # type: ignore[attr-defined]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:  # a gap in the rules
        raise UnusableBody("", f"a JSON {model.__name__} object", type(exc).__name__) from exc
    for steps, key, raw in reader.restores:
        target: Any = instance
        for step in steps:
            target = target[step] if isinstance(step, int) else getattr(target, step)
        target.additional_properties[key] = raw
    for note in reader.notes:
        on_deviation(*note)
    return instance  # type: ignore[no-any-return]


_INDEX = re.compile(r"\[\d+\]")


def _kind_key(model: str, path: str, expected: str, received: str) -> tuple[str, str, str, str]:
    """What makes two deviations the same kind: the field (any list position) and the JSON
    kinds, not the values (a float ``progress`` is one deviation however often it changes)."""
    return (model, _INDEX.sub("[]", path), expected, received.split(" (", 1)[0])


class DeviationLog:
    """The deviations one client has seen: each kind logged once and kept (its first
    occurrence, with how often the kind was seen), at most :data:`MAX_KEPT` kinds."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kept: dict[tuple[str, str, str, str], ResponseDeviation] = {}
        self._counts: dict[tuple[str, str, str, str], int] = {}

    def note(
        self,
        operation: str,
        model: str,
        request_id: str | None,
        path: str,
        expected: str,
        received: str,
        action: str,
    ) -> None:
        key = _kind_key(model, path, expected, received)
        with self._lock:
            if key in self._counts:
                self._counts[key] += 1
                return
            self._counts[key] = 1
            if len(self._kept) >= MAX_KEPT:
                return
            deviation = ResponseDeviation(operation, model, path, expected, received, action)
            self._kept[key] = deviation
        logger.warning(
            "%s: the answer differs from the spec at %s.%s: expected %s, got %s; %s, not "
            "refused (logged once; see client.response_deviations); request id: %s",
            operation,
            model,
            path,
            expected,
            received,
            action,
            request_id or "none",
        )

    def entries(self) -> list[ResponseDeviation]:
        """The distinct deviations, first seen first."""
        with self._lock:
            return list(self._kept.values())

    def count(self, deviation: ResponseDeviation) -> int:
        """How often ``deviation``'s kind was seen."""
        key = _kind_key(deviation.model, deviation.path, deviation.expected, deviation.received)
        with self._lock:
            return self._counts.get(key, 0)
