"""Client-vs-spec properties: hypothesis profiles are registered by ``_support`` (``dev`` by
default, ``DEERAPI_PROFILE=nightly`` for deeper runs); no fixtures beyond the session ``spec``."""

from __future__ import annotations

import contract_tests.client_vs_spec._support  # noqa: F401  (registers the profiles)
