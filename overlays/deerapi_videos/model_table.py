"""What each known model accepts, for code built on the client (the mock, the conformance check,
the CLI) and for callers who want to offer choices.

The table has one home, ``deerapi_videos/models.json``, shipped with the package; the client
validates against it before sending::

    from deerapi_videos.model_table import model_table

    table = model_table()
    table.get("veo3.1-pro").sizes        # ('16x9', '9x16')
    table.get(None).id                   # 'sora-2': the model used when none is given
    table.get("my-new-model")            # None: unknown, sent unvalidated
"""

from ._models import ModelSpec, ModelTable, model_table, table_data

__all__ = ["ModelSpec", "ModelTable", "model_table", "table_data"]
