"""`python -m loadgen serve|check`."""

import sys

from loadgen.cli import main

sys.exit(main())
