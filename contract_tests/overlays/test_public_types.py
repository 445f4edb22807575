"""The public argument types mirror their one home: the model table and the spec's enums."""

from __future__ import annotations

from typing import get_args

from deerapi_videos import VideoContentVariant, types
from deerapi_videos.model_table import model_table


def test_known_models_are_the_tables_models() -> None:
    assert set(get_args(types.KnownModel)) == {spec.id for spec in model_table().models.values()}


def test_the_default_models_values_are_its_row() -> None:
    default = model_table().get(None)
    assert default is not None
    assert list(get_args(types.DefaultModelSeconds)) == list(default.seconds)
    assert list(get_args(types.DefaultModelSize)) == list(default.sizes)


def test_int_lengths_are_every_known_length() -> None:
    lengths = {int(s) for spec in model_table().models.values() for s in spec.seconds}
    assert set(get_args(types.SecondsInt)) == lengths


def test_variants_are_the_spec_enum() -> None:
    assert set(get_args(types.VariantName)) == {v.value for v in VideoContentVariant}
