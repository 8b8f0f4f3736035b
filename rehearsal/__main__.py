"""Entry point for `python -m rehearsal` (what `make demo` runs)."""

import sys

from rehearsal.cli import main

sys.exit(main())
