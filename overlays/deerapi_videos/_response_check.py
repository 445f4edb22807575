"""Check a decoded 2xx body against the generated model's type annotations.

Used two ways: :func:`find_mismatch` reports the first place a body breaks the spec (tests,
logging), and :func:`field_rules` gives the per-field rules the client's tolerant reader
(:mod:`._tolerant`) applies one field at a time. The client does not refuse a body because of a
mismatch: only a body without a usable ``id``/``status`` (the spec's ``required`` fields) is
unusable. Strictness about everything else belongs to the conformance check.

The generated ``from_dict`` methods ``cast`` without checking: ``{"created_at": "yesterday"}``
becomes a ``Video`` whose ``created_at`` is a string, and a body missing a required key raises a
bare ``KeyError``. :func:`find_mismatch` walks the decoded JSON with the annotations of the
generated attrs classes (``typing.get_type_hints``, resolved once per class and cached as a tree
of small checker functions) and returns the first place the body breaks them, or None.

What each annotation accepts (JSON value):

- ``str``, ``bool``: exactly that; ``int``: an integer, never a bool; ``float``: int or float.
- ``X | None``: null too; ``X | Unset``: the key may be absent (otherwise it is required).
- ``str | SomeEnum``: any string (unknown statuses and models must still parse); a bare enum: one
  of its values.
- a generated model (``VideoError``): an object checked the same way, recursively; its
  ``additional_properties`` accept any extra key with any value.
- ``list[X]``: an array whose every item is an ``X``; ``dict[str, X]``: an object of ``X``.
- ``Any``, and any annotation this module does not know: anything (a test asserts the response
  models use none, so a regenerated model with a new kind of field fails a test, not a user).

Beyond types, the few value constraints of openapi.yaml's response schemas are in
:data:`VALUE_CONSTRAINTS` (a test compares them with the spec).

Checking the decoded JSON *before* ``from_dict`` (against the same annotations) rather than the
object after it: ``from_dict`` loses the path of a missing key deep in a list, and its ``anyOf``
fallbacks silently keep a malformed ``error`` object as a plain dict. After a clean check,
``from_dict`` cannot fail.
"""

from __future__ import annotations

import enum
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import attrs
import deerapi_videos_generated.models as generated_models
from deerapi_videos_generated.types import Unset

__all__ = [
    "VALUE_CONSTRAINTS",
    "FieldRule",
    "Mismatch",
    "describe_value",
    "field_rules",
    "find_mismatch",
    "unknown_annotations",
]


@dataclass
class Mismatch:
    """Where and how a body breaks its model: ``path`` (``data[3].progress``; ``""`` is the body
    itself), what was ``expected`` and what was ``received`` (a JSON kind, never the raw text)."""

    expected: str
    received: str
    segments: list[str] = field(default_factory=list)  # innermost first, built on the way up

    @property
    def path(self) -> str:
        return "".join(reversed(self.segments)).lstrip(".")


# A checker returns None when the value fits, else the Mismatch.
Checker = Callable[[object], Mismatch | None]

_KIND = {
    type(None): "null",
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    str: "a string",
    list: "an array",
    dict: "an object",
}


def describe_value(value: object) -> str:
    """The JSON kind of a decoded value; numbers and booleans show their value (never a string's
    text, which could echo anything, a key included)."""
    if value == "":
        return "an empty string"
    kind = _KIND.get(type(value), type(value).__name__)
    if isinstance(value, bool):
        return f"{kind} ({str(value).lower()})"
    if isinstance(value, int | float):
        return f"{kind} ({value!r})"
    return kind


def _accept_any(value: object) -> Mismatch | None:
    return None


def _exact(kind: type, expected: str) -> Checker:
    def check(value: object) -> Mismatch | None:
        if type(value) is kind:  # exact: bool is not an int, and JSON gives only builtins
            return None
        return Mismatch(expected, describe_value(value))

    return check


def _number(value: object) -> Mismatch | None:
    if type(value) is int or type(value) is float:
        return None
    return Mismatch("a number", describe_value(value))


def _null(value: object) -> Mismatch | None:
    return None if value is None else Mismatch("null", describe_value(value))


def _enum(cls: type[enum.Enum]) -> Checker:
    values = frozenset(member.value for member in cls)
    expected = f"one of {', '.join(repr(v) for v in sorted(values, key=str))}"

    def check(value: object) -> Mismatch | None:
        if isinstance(value, str | int) and not isinstance(value, bool) and value in values:
            return None
        return Mismatch(expected, describe_value(value))

    return check


def _array_of(item_name: str) -> str:
    """ "an array of Video objects" from "a Video object"."""
    for article in ("a ", "an "):
        if item_name.startswith(article) and " or " not in item_name:
            return f"an array of {item_name[len(article) :]}s"
    return f"an array (items: {item_name})"


def _list(item: Checker, item_name: str) -> Checker:
    expected = _array_of(item_name)

    def check(value: object) -> Mismatch | None:
        if type(value) is not list:
            return Mismatch(expected, describe_value(value))
        for index, element in enumerate(value):
            problem = item(element)
            if problem is not None:
                problem.segments.append(f"[{index}]")
                return problem
        return None

    return check


def _mapping(item: Checker, item_name: str) -> Checker:
    def check(value: object) -> Mismatch | None:
        if type(value) is not dict:
            return Mismatch(f"an object of {item_name}", describe_value(value))
        for key, element in value.items():
            problem = item(element)
            if problem is not None:
                problem.segments.append(f"[{key!r}]")
                return problem
        return None

    return check


def _union(options: list[tuple[Checker, str]], expected: str) -> Checker:
    def check(value: object) -> Mismatch | None:
        problems = []
        for option, _ in options:
            problem = option(value)
            if problem is None:
                return None
            problems.append(problem)
        # One alternative of the value's own JSON kind (an object for a model) explains better.
        nested = [p for p in problems if p.segments]
        if len(nested) == 1:
            return nested[0]
        return Mismatch(expected, describe_value(value))

    return check


def _constrained(base: Checker, extra: Callable[[Any], bool], expected: str) -> Checker:
    def check(value: object) -> Mismatch | None:
        problem = base(value)
        if problem is None and extra(value):
            return None
        return Mismatch(expected, describe_value(value))

    return check


# (model name, JSON key) -> (extra check on a value of the right type, what is expected).
# Mirrors openapi.yaml's minLength/minimum/maximum on response schemas (a test compares them).
VALUE_CONSTRAINTS: dict[tuple[str, str], tuple[Callable[[Any], bool], str]] = {
    ("Video", "id"): (lambda v: len(v) >= 1, "a non-empty string"),
    ("Video", "progress"): (lambda v: 0 <= v <= 100, "an integer from 0 to 100"),
}

# Annotations seen that this module does not know (they accept anything); see the docstring.
_unknown: set[str] = set()


def unknown_annotations() -> frozenset[str]:
    return frozenset(_unknown)


def _is_enum(tp: object) -> bool:
    return isinstance(tp, type) and issubclass(tp, enum.Enum)


_SIMPLE: dict[object, tuple[Checker, str]] = {
    str: (_exact(str, "a string"), "a string"),
    int: (_exact(int, "an integer"), "an integer"),
    bool: (_exact(bool, "a boolean"), "a boolean"),
    float: (_number, "a number"),
    type(None): (_null, "null"),
    Any: (_accept_any, "anything"),
}


def _resolve(tp: object) -> tuple[Checker, str]:
    """The checker for one resolved annotation, and how to say what it expects."""
    if tp in _SIMPLE:
        return _SIMPLE[tp]
    if isinstance(tp, type):
        if attrs.has(tp):
            return _model_checker(tp), f"a {tp.__name__} object"
        if issubclass(tp, enum.Enum):
            return _enum(tp), f"a {tp.__name__} value"
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Union or origin is types.UnionType:
        members = [a for a in args if a is not Unset]  # Unset: the key may be absent
        if str in members:  # ``str | SomeEnum``: any string, known or not
            members = [a for a in members if not _is_enum(a)]
        if len(members) == 1:
            return _resolve(members[0])
        options = [_resolve(a) for a in members]
        expected = " or ".join(name for _, name in options)
        return _union(options, expected), expected
    if origin is list and len(args) == 1:
        item, name = _resolve(args[0])
        return _list(item, name), _array_of(name)
    if origin is dict and len(args) == 2:
        item, name = _resolve(args[1])
        return _mapping(item, name), f"an object of {name}"
    _unknown.add(str(tp))
    return _accept_any, "anything"


def _json_key(attribute: attrs.Attribute[Any]) -> str:
    # openapi-python-client appends "_" to property names that shadow Python names (object_).
    return attribute.name[:-1] if attribute.name.endswith("_") else attribute.name


def _allows_unset(tp: object) -> bool:
    origin = typing.get_origin(tp)
    return (origin is typing.Union or origin is types.UnionType) and Unset in typing.get_args(tp)


@dataclass(frozen=True)
class FieldRule:
    """How one field of a generated model is read.

    ``check`` is the full rule (type and value constraint) and ``type_check`` the type alone;
    ``expected`` / ``type_expected`` say what each wants. ``nested`` is the generated model an
    object value is (``error`` -> ``VideoError``), ``nested_list`` the model of a list's items
    (``data`` -> ``Video``). ``integer``: the annotation takes an ``int``.
    """

    key: str
    attribute: str
    required: bool
    check: Checker
    type_check: Checker
    expected: str
    type_expected: str
    nested: type | None = None
    nested_list: type | None = None
    integer: bool = False


def _members(tp: object) -> tuple[object, ...]:
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        return typing.get_args(tp)
    return (tp,)


def _nested_model(tp: object) -> type | None:
    for member in _members(tp):
        if isinstance(member, type) and attrs.has(member):
            return member
    return None


def _nested_list(tp: object) -> type | None:
    for member in _members(tp):
        if typing.get_origin(member) is list:
            (item,) = typing.get_args(member)
            if isinstance(item, type) and attrs.has(item):
                return item
    return None


_MODEL_CHECKERS: dict[type, Checker] = {}
_FIELD_RULES: dict[type, tuple[FieldRule, ...]] = {}


def field_rules(cls: type) -> tuple[FieldRule, ...]:
    """The rules of every field of the generated model ``cls`` (cached per class)."""
    _model_checker(cls)
    return _FIELD_RULES[cls]


def _model_checker(cls: type) -> Checker:
    """The checker of a generated attrs model, built on first use and cached per class."""
    cached = _MODEL_CHECKERS.get(cls)
    if cached is not None:
        return cached
    rules: list[FieldRule] = []
    expected_object = f"a {cls.__name__} object"

    def check_model(value: object) -> Mismatch | None:
        if type(value) is not dict:
            return Mismatch(expected_object, describe_value(value))
        for rule in rules:
            if rule.key in value:
                problem = rule.check(value[rule.key])
            elif rule.required:
                problem = Mismatch(rule.expected, "missing")
            else:
                continue
            if problem is not None:
                problem.segments.append(f".{rule.key}")
                return problem
        return None

    _MODEL_CHECKERS[cls] = check_model  # before resolving fields: a model may refer to itself
    # Forward references (VideoError, Video) are imported only under TYPE_CHECKING in the
    # generated modules: resolve them in the generated models package.
    hints = typing.get_type_hints(cls, localns=vars(generated_models))
    for attribute in attrs.fields(cls):
        if attribute.name == "additional_properties" or not attribute.init:
            continue  # extra keys: anything
        tp = hints[attribute.name]
        key = _json_key(attribute)
        type_check, type_expected = _resolve(tp)
        checker, expected = type_check, type_expected
        constraint = VALUE_CONSTRAINTS.get((cls.__name__, key))
        if constraint is not None:
            checker = _constrained(checker, *constraint)
            expected = constraint[1]
        required = attribute.default is attrs.NOTHING and not _allows_unset(tp)
        rules.append(
            FieldRule(
                key=key,
                attribute=attribute.name,
                required=required,
                check=checker,
                type_check=type_check,
                expected=expected,
                type_expected=type_expected,
                nested=_nested_model(tp),
                nested_list=_nested_list(tp),
                integer=int in _members(tp),
            )
        )
    _FIELD_RULES[cls] = tuple(rules)
    return check_model


def find_mismatch(model: type, data: object) -> Mismatch | None:
    """The first place ``data`` (decoded JSON) breaks ``model``'s annotations, or None."""
    return _model_checker(model)(data)
