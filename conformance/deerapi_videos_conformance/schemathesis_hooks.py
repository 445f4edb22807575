"""schemathesis hooks for running ``schemathesis run`` directly on ``openapi.yaml``.

The schema cannot say that ``input_reference`` parts must be images, nor which ``size`` and
``seconds`` each model takes (that is the model table, ``deerapi_videos.model_table``). Loaded
as schemathesis' hooks module, this fits every positive create to its model's row, with real
JPEG/PNG/WebP images, and drops the few reports that are false for this API (see
``deerapi_videos_conformance._hooks``), so a run against the bundled mock shows no false
failures::

    deerapi-videos mock --port 4010 &
    SCHEMATHESIS_HOOKS=deerapi_videos_conformance.schemathesis_hooks \\
        schemathesis run http://127.0.0.1:4010/openapi.yaml --url http://127.0.0.1:4010 \\
        -H "Authorization: Bearer sk-mock"

``DEERAPI_MODEL=veo3.1-pro`` makes every positive create ask for that model. (A
``schemathesis.toml`` with ``hooks = "deerapi_videos_conformance.schemathesis_hooks"`` does the
same as the environment variable.)
"""

from __future__ import annotations

import os

from ._hooks import activate

__all__: list[str] = []

activate(os.environ.get("DEERAPI_MODEL") or None)
