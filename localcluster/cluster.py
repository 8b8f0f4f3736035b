"""A real Kubernetes control plane on this machine, with kwok nodes shaped like the stack's pools.

etcd, kube-apiserver, kube-controller-manager and kube-scheduler run as plain processes on
127.0.0.1 inside a network namespace of their own (`ip netns`), with kwok playing the kubelets:
pods are scheduled for real and kwok marks them Running/Ready (Jobs' pods Succeeded) without a
container runtime. The namespace holds only a loopback interface, so nothing the API server is told
to call (a chart's admission webhook at a fake pod IP, say) can ever leave the machine: such a call
fails at once instead. Every port is fixed *inside* that private namespace, where nothing else runs.

    python -m localcluster up      # < 60 s once the tools are built; prints the kubeconfig path
    python -m localcluster down
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from localcluster import cilium, restart_always, tools
from tools.priority import inherit_priority

REPO = Path(__file__).resolve().parents[1]

# Ports inside the cluster's private network namespace (nothing else listens there).
ETCD_CLIENT, ETCD_PEER = 2379, 2380
APISERVER = 6443
CONTROLLER_MANAGER, SCHEDULER, KWOK_SERVER = 10257, 10259, 10247

SERVICE_CIDR = "10.96.0.0/16"  # never routed: the namespace has only loopback
POD_CIDR = "10.244.0.0/16"

MANAGEMENT_NODE, GPU_NODE = "local-management", "local-gpu"
POOL_LABEL = "gtc-demo/pool"          # as components/infra.py labels the DOKS pools
GPU_LABEL = "doks.digitalocean.com/gpu-brand"  # DOKS labels its GPU nodes ...
GPU_TAINT = {"key": "nvidia.com/gpu", "effect": "NoSchedule"}  # ... and taints them


class ClusterError(RuntimeError):
    """The local control plane could not be brought up (or reached); the message says what to do."""


@dataclass(frozen=True)
class Cluster:
    """Where one clone's local cluster keeps its state; the kubeconfig is what the `local` stack reads."""

    root: Path

    @classmethod
    def for_this_clone(cls) -> "Cluster":
        key = hashlib.sha256(str(REPO).encode()).hexdigest()[:8]
        return cls(Path(os.environ.get("GTC_LOCALCLUSTER_DIR", tools.CACHE / "localcluster" / key)))

    @property
    def netns(self) -> str:
        return "gtc-" + hashlib.sha256(str(self.root).encode()).hexdigest()[:10]

    @property
    def kubeconfig(self) -> Path:
        return self.root / "kubeconfig"

    @property
    def pids(self) -> Path:
        return self.root / "pids.json"

    def in_netns(self, argv: list[str]) -> list[str]:
        """A command line that runs inside the cluster's network namespace."""
        return ["ip", "netns", "exec", self.netns, *argv]

    def is_up(self) -> bool:
        return self.pids.exists() and (Path("/run/netns") / self.netns).exists()


def _run(argv: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(argv, check=True, capture_output=True, text=True, **kw)


def _require_root() -> None:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        raise ClusterError("the local control plane needs root and iproute2 (`ip netns`) for its private "
                           "network namespace; run as root (CI does) and `apt-get install iproute2`")


def _private_dir(path: Path) -> Path:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)  # also when it existed, and whatever the umask
    return path


def _write_private(path: Path, text: str) -> None:
    """Created 0600: never world-readable, not even between the write and a chmod."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    path.chmod(0o600)  # an existing file keeps its old mode through O_CREAT


def _write_pki(cluster: Cluster) -> str:
    """Service-account signing key and a random admin token, in a 0700 directory, each file 0600 from its
    creation (umask 077 for openssl's files); the serving cert the API server makes itself in pki/serving."""
    pki = _private_dir(cluster.root / "pki")
    previous = os.umask(0o077)
    try:
        _run(["openssl", "genrsa", "-out", str(pki / "sa.key"), "2048"])
        _run(["openssl", "rsa", "-in", str(pki / "sa.key"), "-pubout", "-out", str(pki / "sa.pub")])
    finally:
        os.umask(previous)
    token = secrets.token_hex(24)
    _write_private(pki / "tokens.csv", f'{token},admin,admin,"system:masters"\n')
    return token


def _write_kubeconfig(cluster: Cluster, token: str) -> None:
    document = {
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "gtc-local", "cluster": {
            "server": f"https://127.0.0.1:{APISERVER}",
            "certificate-authority": str(cluster.root / "pki" / "serving" / "apiserver.crt")}}],
        "users": [{"name": "gtc-local-admin", "user": {"token": token}}],
        "contexts": [{"name": "gtc-local", "context": {"cluster": "gtc-local", "user": "gtc-local-admin"}}],
        "current-context": "gtc-local",
    }
    _write_private(cluster.kubeconfig, json.dumps(document, indent=2))


def _commands(cluster: Cluster, bins: dict[str, Path]) -> dict[str, list[str]]:
    root, pki, kubeconfig = cluster.root, cluster.root / "pki", str(cluster.kubeconfig)
    return {
        "etcd": [str(bins["etcd"]), "--name=local", f"--data-dir={root / 'etcd'}",
                 f"--listen-client-urls=http://127.0.0.1:{ETCD_CLIENT}",
                 f"--advertise-client-urls=http://127.0.0.1:{ETCD_CLIENT}",
                 f"--listen-peer-urls=http://127.0.0.1:{ETCD_PEER}",
                 f"--initial-advertise-peer-urls=http://127.0.0.1:{ETCD_PEER}",
                 f"--initial-cluster=local=http://127.0.0.1:{ETCD_PEER}",
                 "--unsafe-no-fsync", "--log-level=warn"],
        "kube-apiserver": [
            str(bins["kube-apiserver"]), f"--etcd-servers=http://127.0.0.1:{ETCD_CLIENT}",
            "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", f"--secure-port={APISERVER}",
            "--anonymous-auth=false",  # every caller presents the admin token (readiness checks included)
            f"--cert-dir={pki / 'serving'}", f"--token-auth-file={pki / 'tokens.csv'}",
            "--authorization-mode=RBAC", f"--service-cluster-ip-range={SERVICE_CIDR}",
            f"--service-account-key-file={pki / 'sa.pub'}", f"--service-account-signing-key-file={pki / 'sa.key'}",
            "--service-account-issuer=https://kubernetes.default.svc", "--allow-privileged=true",
            # Webhooks and aggregated APIs are called at their endpoints (kwok pod IPs, unreachable in
            # the namespace), never through a DNS name.
            "--enable-aggregator-routing=true", "--endpoint-reconciler-type=none",
            # Admission webhooks' servers are containers, and none runs here: calling them could only
            # fail, rejecting every object they cover. CRD schemas, CEL rules and built-in admission stay on.
            "--disable-admission-plugins=ValidatingAdmissionWebhook,MutatingAdmissionWebhook", "-v=0"],
        "kube-controller-manager": [
            str(bins["kube-controller-manager"]), f"--kubeconfig={kubeconfig}", "--leader-elect=false",
            "--bind-address=127.0.0.1", f"--secure-port={CONTROLLER_MANAGER}",
            f"--service-account-private-key-file={pki / 'sa.key'}",
            f"--root-ca-file={pki / 'serving' / 'apiserver.crt'}", "--use-service-account-credentials=false",
            f"--cluster-cidr={POD_CIDR}", f"--service-cluster-ip-range={SERVICE_CIDR}",
            # Fast convergence for a test cluster: pods of deleted nodes and finished namespaces.
            "--concurrent-gc-syncs=20", "--concurrent-namespace-syncs=10", "-v=0"],
        "kube-scheduler": [str(bins["kube-scheduler"]), f"--kubeconfig={kubeconfig}", "--leader-elect=false",
                           "--bind-address=127.0.0.1", f"--secure-port={SCHEDULER}", "-v=0"],
        "kwok": [str(bins["kwok"]), f"--kubeconfig={kubeconfig}", "--manage-all-nodes=false",
                 "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
                 f"--cidr={POD_CIDR.replace('0.0/16', '0.1/16')}", "--node-ip=10.244.0.1",
                 f"--server-address=127.0.0.1:{KWOK_SERVER}", "--node-lease-duration-seconds=40"],
    }


def _start(cluster: Cluster, name: str, argv: list[str]) -> int:
    log = open(cluster.root / f"{name}.log", "ab")
    proc = subprocess.Popen(cluster.in_netns(argv), stdout=log, stderr=subprocess.STDOUT, cwd=REPO,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    inherit_priority(proc.pid)  # a session of its own: keep the e2e lane's weight (tools/test_lanes.py)
    return proc.pid


def _wait(what: str, check, timeout: float, cluster: Cluster, log: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.3)
    tail = "\n".join((cluster.root / f"{log}.log").read_text(errors="replace").splitlines()[-20:])
    raise ClusterError(f"{what} did not come up within {timeout:.0f} s; last lines of {cluster.root / log}.log:\n{tail}")


def _kubectl_json(cluster: Cluster, args: list[str], payload: dict | None = None) -> subprocess.CompletedProcess:
    """Talk to the API server from inside the namespace with the Python client's own helper script."""
    argv = cluster.in_netns([sys.executable, "-m", "localcluster.kube", str(cluster.kubeconfig), *args])
    return subprocess.run(argv, input=json.dumps(payload) if payload is not None else None,
                          capture_output=True, text=True, cwd=REPO)


def nodes() -> list[dict]:
    """The kwok nodes: one management node, one 8-GPU node labelled and tainted as DOKS does."""
    fake = {"kwok.x-k8s.io/node": "fake"}
    base_labels = {"kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64", "type": "kwok"}

    def node(name: str, labels: dict, allocatable: dict, taints: list) -> dict:
        return {"apiVersion": "v1", "kind": "Node",
                "metadata": {"name": name, "annotations": fake,
                             "labels": {**base_labels, "kubernetes.io/hostname": name, **labels}},
                "spec": {"taints": taints},
                "status": {"allocatable": allocatable, "capacity": allocatable,
                           "nodeInfo": {"kubeletVersion": "kwok", "operatingSystem": "linux", "architecture": "amd64"}}}

    return [
        node(MANAGEMENT_NODE, {POOL_LABEL: "management"}, {"cpu": "32", "memory": "128Gi", "pods": "250"}, []),
        node(GPU_NODE, {POOL_LABEL: "gpu", GPU_LABEL: "nvidia"},
             {"cpu": "96", "memory": "1024Gi", "pods": "250", "nvidia.com/gpu": "8"}, [GPU_TAINT]),
    ]


def _create(cluster: Cluster, items: list[dict], what: str) -> None:
    made = _kubectl_json(cluster, ["create"], {"items": items})
    if made.returncode != 0:
        raise ClusterError(f"could not create {what}: {made.stderr.strip()[-2000:]}")


def _start_cilium(cluster: Cluster, bins: dict[str, Path], pids: dict[str, int], save) -> None:
    """What DOKS's Cilium brings: the Gateway API CRDs, then Cilium's operator, its GatewayClass and an address pool."""
    crds = cilium.gateway_api_crds()
    _create(cluster, crds, "the Gateway API CRDs")
    names = [crd["metadata"]["name"] for crd in crds]
    _wait("the Gateway API CRDs", lambda: _kubectl_json(cluster, ["established", *names]).returncode == 0, 30,
          cluster, "kube-apiserver")
    config_dir = cilium.write_config(cluster.root / "cilium-config")
    # Restarted whenever it exits, as kubelet restarts the Deployment's container on DOKS: the operator exits on
    # purpose when a slow API server lets its leader lease lapse (localcluster/restart_always.py).
    pids["cilium-operator"] = _start(cluster, "cilium-operator", restart_always.argv(
        "cilium-operator", cilium.argv(bins["cilium-operator-generic"], cluster.kubeconfig, config_dir)))
    save()  # before the wait: an interrupt during it must still find the operator to stop
    _wait("Cilium's operator (its CRDs)",
          lambda: _kubectl_json(cluster, ["established", *cilium.OPERATOR_CRDS]).returncode == 0, 90, cluster,
          "cilium-operator")
    _create(cluster, cilium.cluster_objects(), "the cilium GatewayClass and address pool")


def up(cluster: Cluster | None = None) -> Cluster:
    """Start the control plane and the kwok nodes; idempotent if it is already up."""
    cluster = cluster or Cluster.for_this_clone()
    _require_root()
    if cluster.is_up():
        print(f"[localcluster] already up; kubeconfig {cluster.kubeconfig}", file=sys.stderr)
        return cluster
    bins = tools.ensure(tools.CLUSTER_BINARIES)
    started = time.monotonic()
    down(cluster, quiet=True)  # leftovers of a crashed run
    cluster.root.mkdir(parents=True, exist_ok=True)
    _run(["ip", "netns", "add", cluster.netns])
    _run(cluster.in_netns(["ip", "link", "set", "lo", "up"]))
    token = _write_pki(cluster)
    _write_kubeconfig(cluster, token)
    commands = _commands(cluster, bins)
    pids: dict[str, int] = {}

    def save() -> None:
        cluster.pids.write_text(json.dumps(pids))

    try:
        pids["etcd"] = _start(cluster, "etcd", commands["etcd"]); save()
        _wait("etcd", lambda: _probe(cluster, f"http://127.0.0.1:{ETCD_CLIENT}/health"), 20, cluster, "etcd")
        pids["kube-apiserver"] = _start(cluster, "kube-apiserver", commands["kube-apiserver"]); save()
        _wait("kube-apiserver", lambda: _kubectl_json(cluster, ["ready"]).returncode == 0, 60, cluster,
              "kube-apiserver")
        for name in ("kube-controller-manager", "kube-scheduler", "kwok"):
            pids[name] = _start(cluster, name, commands[name]); save()
        made = _kubectl_json(cluster, ["apply"], {"items": nodes()})
        if made.returncode != 0:
            raise ClusterError(f"could not register the kwok nodes: {made.stderr.strip()}")
        _wait("kwok nodes Ready", lambda: _kubectl_json(cluster, ["nodes-ready"]).returncode == 0, 30, cluster, "kwok")
        _start_cilium(cluster, bins, pids, save)
        # The stand-in for the Dynamo operator (the DGD's Ready condition only; see standins).
        pids["standins"] = _start(cluster, "standins",
                                  [sys.executable, "-m", "localcluster.standins", str(cluster.kubeconfig)])
        save()
    except BaseException:
        down(cluster, quiet=True)
        raise
    print(f"[localcluster] up in {time.monotonic() - started:.1f} s; kubeconfig {cluster.kubeconfig}", file=sys.stderr)
    return cluster


def _probe(cluster: Cluster, url: str) -> bool:
    probe = subprocess.run(cluster.in_netns([sys.executable, "-c",
                                             f"import urllib.request as u; u.urlopen({url!r}, timeout=1)"]),
                           capture_output=True)
    return probe.returncode == 0


def down(cluster: Cluster | None = None, quiet: bool = False) -> None:
    """Stop every process of the cluster, drop its network namespace and its data."""
    cluster = cluster or Cluster.for_this_clone()
    if cluster.pids.exists():
        pids = json.loads(cluster.pids.read_text() or "{}")
        for name in reversed(list(pids)):
            _stop(pids[name])
    if (Path("/run/netns") / cluster.netns).exists():
        subprocess.run(["ip", "netns", "del", cluster.netns], capture_output=True)
    if cluster.root.exists():
        shutil.rmtree(cluster.root, ignore_errors=True)
    if not quiet:
        print(f"[localcluster] down ({cluster.root} removed)", file=sys.stderr)


def _alive(pid: int) -> bool:
    """Running and not a zombie (a zombie has exited; only its parent has not reaped it yet)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _stop(pid: int) -> None:
    """SIGTERM the process group we started, then SIGKILL what is left after 10 s."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if not _alive(pid):
            return
        time.sleep(0.1)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
