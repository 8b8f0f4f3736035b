"""`python -m loadgen serve|check`."""

import sys

from .cli import main

sys.exit(main())
