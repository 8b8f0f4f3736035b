"""Entry point the Pulumi CLI runs for `--policy-pack policy`: serves the gtc-demo pack over gRPC."""
import os
import sys

# The CLI starts this file with the pack directory as working directory; make the package importable
# however it is launched.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from gtc_policy.pack import serve  # noqa: E402

serve()
