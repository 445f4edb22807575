"""``python -m deerapi_videos_cli``: the ``deerapi-videos`` command line without its script."""

from . import main

main()
