"""The e2e session: one `local` stack on the running local control plane, shared by the ordered tests.

Run it with `make e2e` (which builds the tools, starts the cluster and runs this inside the cluster's
network namespace), not by collecting it with the unit tests.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from localcluster.e2e.pulumi_cli import Workspace  # noqa: E402
from localcluster.e2e.summary import SUMMARY  # noqa: E402


@pytest.fixture(scope="session")
def kubeconfig() -> Path:
    path = os.environ.get("KUBECONFIG")
    if not path or not Path(path).exists():
        pytest.fail("KUBECONFIG must name the local cluster's kubeconfig: run this through `make e2e`")
    return Path(path)


@pytest.fixture(scope="session")
def workspace(kubeconfig) -> Workspace:
    root = Path(os.environ.get("E2E_WORKDIR") or tempfile.mkdtemp(prefix="gtc-e2e-"))
    ws = Workspace.create(root, kubeconfig)
    SUMMARY["workdir"] = str(root)
    ws.timings = SUMMARY["timings"]
    return ws


def pytest_terminal_summary(terminalreporter):
    timings = SUMMARY["timings"]
    if not timings:
        return
    tr = terminalreporter
    tr.section("pulumi e2e summary (local stack, real CLI)")
    if SUMMARY["resources"] is not None:
        tr.write_line(f"resources in the stack after `pulumi up`: {SUMMARY['resources']}")
    for phase, seconds in timings.items():
        tr.write_line(f"  {phase:<34} {seconds:7.1f} s")
    tr.write_line(f"  {'total (pulumi phases)':<34} {sum(timings.values()):7.1f} s")
    for note in SUMMARY["notes"]:
        tr.write_line(f"note: {note}")
    tr.write_line(f"work dir (state, logs): {SUMMARY.get('workdir')}")
