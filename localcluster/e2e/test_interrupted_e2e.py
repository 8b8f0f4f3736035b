"""A signal to `make e2e` at each phase stops every process it started (issue 30).

A second, short e2e (its own control plane in its own network namespace and folder, only the branch
preview tests) runs under tools/guard.py exactly as `make e2e` runs it; it is stopped by each signal while
its control plane is starting and while the real `pulumi` CLI runs. Afterwards no process of that run is
left, and its network namespace and cluster folder are gone (the runner stops its cluster on the way out).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from localcluster.cluster import Cluster
from localcluster.e2e.pulumi_cli import REPO
from tools.guard import marked, run_ids_of as _chain


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _guard_id(guard: subprocess.Popen, deadline: float) -> str:
    while time.monotonic() < deadline:
        for pid in marked_any():
            chain = _chain(pid)
            if chain and _parent(pid) == guard.pid:
                return chain[-1]
        time.sleep(0.1)
    raise AssertionError("the guarded runner did not start")


def _parent(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except OSError:
        return -1


def marked_any() -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and _chain(int(p.name))]


PHASES = {
    # phase -> what shows it is under way
    "control plane starting": lambda cmd: "kube-apiserver" in cmd,
    # up() waits up to 90 s for the operator's CRDs: a signal then must still stop the operator it started.
    "Cilium's operator starting": lambda cmd: "cilium-operator-generic" in cmd,
    "pulumi CLI running": lambda cmd: cmd.split(" ", 1)[0].rsplit("/", 1)[-1] == "pulumi" and " preview " in cmd,
}


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
@pytest.mark.parametrize("phase", list(PHASES))
def test_a_signal_to_make_e2e_leaves_nothing_running(phase, signum, tmp_path):
    root = tmp_path / "cluster"
    cluster = Cluster(root)
    env = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "E2E_WORKDIR")}
    env.update(GTC_LOCALCLUSTER_DIR=str(root), GTC_E2E_PYTEST_ARGS="-k test_a_branch_preview -x")
    guard = subprocess.Popen([sys.executable, "-m", "tools.guard", "--grace", "60", "--",
                              sys.executable, "-m", "localcluster", "e2e"],
                             cwd=REPO, env=env, start_new_session=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    started = time.monotonic()
    run_id = _guard_id(guard, started + 30)
    seen = PHASES[phase]
    while not any(seen(_cmdline(pid)) for pid in marked(run_id)):
        assert guard.poll() is None and time.monotonic() < started + 240, f"never reached: {phase}"
        time.sleep(0.1)
    guard.send_signal(signum)
    code = guard.wait(timeout=120)
    left = marked(run_id)
    assert code == 128 + signum, code
    assert not left, f"still running after {signal.Signals(signum).name} during {phase}: " + \
        "; ".join(f"{pid} {_cmdline(pid)[:80]}" for pid in left)
    assert not (Path("/run/netns") / cluster.netns).exists(), "the second control plane's network namespace is left"
    assert not root.exists(), "the second control plane's folder is left"
