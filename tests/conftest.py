"""Suite-wide: a SIGTERM (a CI time-out, `kill`) unwinds like Ctrl-C, so fixtures stop what they started."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tools.guard import sigterm_as_interrupt  # noqa: E402


def pytest_configure(config):
    sigterm_as_interrupt()
