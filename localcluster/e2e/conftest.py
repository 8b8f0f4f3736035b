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
from tools.guard import sigterm_as_interrupt  # noqa: E402


def pytest_configure(config):
    sigterm_as_interrupt()  # a SIGTERM unwinds like Ctrl-C: every CLI run is reaped by its fixture/finally


def _start_ticks(pid: int | str) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])


def plugins_started_since(ticks: int) -> list[str]:
    """Live Pulumi CLI or plugin processes (ours: run from the tools cache) started after `ticks`."""
    from localcluster import tools
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
            if state != "Z" and str(tools.CACHE) in cmdline and "pulumi" in cmdline \
                    and _start_ticks(proc.name) >= ticks:
                found.append(f"{proc.name} {cmdline[:160]}")
        except (OSError, IndexError):
            continue
    return found


@pytest.fixture(scope="session", autouse=True)
def no_plugin_outlives_the_e2e():
    """Every CLI run is reaped (pulumi_cli.py); a language host or provider still alive at the end is a leak."""
    started = _start_ticks(os.getpid())
    yield
    left = plugins_started_since(started)
    assert not left, f"Pulumi processes outlived their CLI: {left}"


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
    for stack, path in SUMMARY["previews"].items():  # what the PR workflow posts, as the real CLI printed it
        tr.section(f"pulumi preview --diff --policy-pack policy -s {stack} (real CLI, fake DigitalOcean API)")
        lines = Path(path).read_text().splitlines()
        findings = [line for line in lines if "[advisory]" in line or "[mandatory]" in line]
        end = next((i for i, line in enumerate(lines) if line.startswith("Resources:")), len(lines))
        for line in findings + lines[end:end + 6]:
            tr.write_line(line)
        tr.write_line(f"(whole preview: {path})")
    tr.write_line(f"work dir (state, logs): {SUMMARY.get('workdir')}")
