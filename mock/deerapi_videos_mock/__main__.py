"""``python -m deerapi_videos_mock --port 4010 [--api-key KEY] [--speed 60]``."""

from __future__ import annotations

import sys

from ._run import main

if __name__ == "__main__":
    sys.exit(main())
