"""Locate ``openapi.yaml``: inside an installed wheel, or at the top of a source checkout."""

from __future__ import annotations

from pathlib import Path

__all__ = ["spec_path"]


def spec_path() -> Path:
    """Return the path of the OpenAPI document this package was generated from.

    Raises:
        FileNotFoundError: if neither the packaged copy nor the checkout's file exists.
    """
    packaged = Path(__file__).with_name("openapi.yaml")
    if packaged.is_file():
        return packaged
    # An editable install (or a plain checkout) reads the source of truth itself.
    checkout = Path(__file__).resolve().parents[2] / "openapi.yaml"
    if checkout.is_file():
        return checkout
    raise FileNotFoundError(f"openapi.yaml not found at {packaged} or {checkout}")
