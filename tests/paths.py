"""Where the repository's parts are, for tests in any sub-folder (``from paths import SRC``)."""

from pathlib import Path

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
SRC = ROOT / "src"
