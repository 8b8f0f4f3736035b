"""`make e2e`: build what is missing, start the local control plane, run the e2e inside its network namespace.

`E2E_KEEP=1` stops after `pulumi up` and its checks, leaves the cluster and the stack up and prints
how to reach both; `make e2e-down` stops the cluster.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

from localcluster import tools
from localcluster.cluster import Cluster, ClusterError, down, up
from tools.guard import sigterm_as_interrupt

REPO = Path(__file__).resolve().parents[1]
STACK_FILE = REPO / "Pulumi.local.yaml"


def check_stack_is_local() -> None:
    """Refuse to point the e2e at a stack that would create DigitalOcean resources."""
    config = (yaml.safe_load(STACK_FILE.read_text()) or {}).get("config", {})
    kind = (config.get("gtc-demo:clusterSource") or {}).get("kind", "doks")
    if kind != "local":
        raise ClusterError(f"{STACK_FILE.name}: gtc-demo:clusterSource.kind={kind!r}; the e2e only runs a stack "
                           "whose cluster is the local control plane (allowed: 'local')")


def main() -> int:
    """Build, start, test, stop; a SIGTERM or SIGINT at any phase still stops the cluster it started."""
    sigterm_as_interrupt()
    keep = os.environ.get("E2E_KEEP") == "1"
    started = time.monotonic()
    try:
        check_stack_is_local()
        tools.ensure(tools.CLUSTER_BINARIES + tools.PULUMI_BINARIES)
        built = time.monotonic()
        cluster = Cluster.for_this_clone()
        try:
            up(cluster)
        except KeyboardInterrupt:
            down(cluster)  # stopped half-way up: what did start goes too
            raise
    except (ClusterError, tools.ToolBuildError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    cluster_up = time.monotonic()
    # Outside the cluster's folder, so the state and the CLI log outlive `down` for a look afterwards.
    workdir = tools.CACHE / "e2e" / cluster.root.name
    shutil.rmtree(workdir, ignore_errors=True)
    env = dict(os.environ, KUBECONFIG=str(cluster.kubeconfig), E2E_WORKDIR=str(workdir),
               PYTHONPATH=str(REPO))
    # GTC_E2E_PYTEST_ARGS narrows the run (test_interrupted_e2e.py starts a second, short e2e to stop it).
    argv = cluster.in_netns([sys.executable, "-m", "pytest", str(REPO / "localcluster" / "e2e"),
                             "-p", "no:cacheprovider", "-q", *os.environ.get("GTC_E2E_PYTEST_ARGS", "").split()])
    tests = subprocess.Popen(argv, cwd=REPO, env=env)
    try:
        rc = tests.wait()
    except KeyboardInterrupt:
        try:  # the tests got the same signal (same process group): their fixtures reap their CLI runs
            tests.wait(timeout=20)
        except subprocess.TimeoutExpired:
            tests.kill()
        down(cluster)
        raise
    print(f"[e2e] tools {built - started:.0f} s, control plane up {cluster_up - built:.0f} s, "
          f"pulumi e2e {time.monotonic() - cluster_up:.0f} s", file=sys.stderr)
    if keep:
        ns = cluster.netns
        print(f"""
[e2e] E2E_KEEP=1: the control plane and the `local` stack are still up.
  kubectl:  ip netns exec {ns} kubectl --kubeconfig {cluster.kubeconfig} get pods -A
  pulumi:   cd {workdir}/project && PATH={tools.BIN_DIR}:$PATH PULUMI_BACKEND_URL=file://{workdir}/state \\
              PULUMI_CONFIG_PASSPHRASE_FILE={workdir}/passphrase ip netns exec {ns} pulumi stack -s local
  stop:     make e2e-down""", file=sys.stderr)
    else:
        down(cluster)
    return rc


if __name__ == "__main__":
    raise SystemExit(main())
