"""Where the project's files are, for tests of every layer."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC_PATH = ROOT / "openapi.yaml"
GENERATED = ROOT / "generated" / "deerapi_videos_generated"
