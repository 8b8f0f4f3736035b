"""One command per operator need, generated from the names the program itself uses (stack output `operatorCommands`).

Everything in the cluster is ClusterIP except the Gateway, so a laptop reaches the UI, Grafana and
the two Dynamo frontends through `kubectl port-forward` with the stack's kubeconfig output. The
names below (Services, namespaces, pod labels) come from the components that create them, so the
commands cannot drift from the deployment; tests/stack runs each one through the real kubectl.
"""

from __future__ import annotations

from typing import Optional
from urllib.parse import urlparse

from components.gateway import GRAFANA_PORT, GRAFANA_SERVICE
from components.dgd import FRONTEND_COMPONENTS
from components.k8s_common import GRAPH_COMPONENT
from components.loadgen import APP as LOADGEN_SERVICE
from components.loadgen import SERVICE_PORT as LOADGEN_PORT
from components.platform import MONITORING_NS, WORKLOAD_NS

# Pod labels the Dynamo operator sets on a DGD's pods (its PodMonitors select and relabel on them).
DGD_LABEL = "nvidia.com/dynamo-graph-deployment-name"
COMPONENT_TYPE_LABEL = "nvidia.com/dynamo-component-type"
# Local ports: the rehearsal's (UI 3000, KV 8000, round-robin 8001), Grafana next to the UI.
LOCAL_PORTS = {"ui": 3000, "grafana": 3001, "frontendKv": 8000, "frontendRoundRobin": 8001}


def kubeconfig_path(stack: str) -> str:
    return f"~/.kube/gtc-demo-{stack}.yaml"


def _service(url: str) -> tuple[str, int]:
    """(Service name, port) of an in-cluster URL such as http://svc.ns.svc.cluster.local:8000."""
    parsed = urlparse(url)
    return parsed.hostname.split(".", 1)[0], parsed.port or 80


def operator_commands(stack: str, dgd_name: str, frontend_url: str, baseline_url: str,
                      verification_job: Optional[str], verification_urn: Optional[str]) -> dict[str, str]:
    """Need -> the one shell command that meets it (run from the repository, Pulumi logged in).

    Without a verification Job (`verification.run: false`) its two commands are left out."""
    kubeconfig = kubeconfig_path(stack)
    kubectl = f"kubectl --kubeconfig {kubeconfig}"
    kv_service, kv_port = _service(frontend_url)
    rr_service, rr_port = _service(baseline_url)
    workers = f"{DGD_LABEL}={dgd_name},{COMPONENT_TYPE_LABEL}=worker"
    ports = LOCAL_PORTS
    commands = {
        # umask first, so the file is never readable by others, not even between its creation and a chmod.
        # It holds no credential: its exec entry asks `doctl` (authenticated as the operator) for one.
        "kubeconfig": f"(umask 077 && mkdir -p ~/.kube && pulumi stack output kubeconfig --show-secrets -s {stack} "
                      f"> {kubeconfig})",
        "ui": f"{kubectl} -n {WORKLOAD_NS} port-forward svc/{LOADGEN_SERVICE} {ports['ui']}:{LOADGEN_PORT}",
        "grafana": f"{kubectl} -n {MONITORING_NS} port-forward svc/{GRAFANA_SERVICE} {ports['grafana']}:{GRAFANA_PORT}",
        "frontendKv": f"{kubectl} -n {WORKLOAD_NS} port-forward svc/{kv_service} {ports['frontendKv']}:{kv_port}",
        "frontendRoundRobin": f"{kubectl} -n {WORKLOAD_NS} port-forward svc/{rr_service} "
                              f"{ports['frontendRoundRobin']}:{rr_port}",
        "check": f"python -m loadgen check --frontend-url http://127.0.0.1:{ports['frontendKv']} "
                 f"--baseline-url http://127.0.0.1:{ports['frontendRoundRobin']}",
        "workerLogs": f"{kubectl} -n {WORKLOAD_NS} logs -f --prefix --max-log-requests 16 --tail 100 -l {workers}",
        "workerPods": f"{kubectl} -n {WORKLOAD_NS} get pods -o wide -l {workers}",
        # Dynamo 1.6.1's frontends grow ~70-100 MB an hour at booth load (ai-dynamo/dynamo#11933; README,
        # "An hour of auto mode"): on a multi-day event, recreate them before the doors open. One at a time:
        # the other router keeps serving while its twin's replacement becomes Ready.
        "restartFrontends": _one_frontend_at_a_time(f"{kubectl} -n {WORKLOAD_NS}"),
    }
    if verification_job and verification_urn:
        commands["verificationLogs"] = f"{kubectl} -n {WORKLOAD_NS} logs job/{verification_job}"
        commands["rerunVerification"] = f"pulumi up -s {stack} --replace '{verification_urn}'"
    return commands


def _one_frontend_at_a_time(kubectl: str) -> str:
    """Delete one frontend's pod, wait until its replacement exists and is Ready, then the next; stop at the
    first failure (the program's own per-component pod label, components/dgd.py). A subshell, so the
    failure's `exit` never closes the operator's own shell."""
    names = " ".join(name.lower() for name in FRONTEND_COMPONENTS)
    return (f"(for c in {names}; do sel={GRAPH_COMPONENT}=$c; "
            f"{kubectl} delete pod -l $sel --wait=true && "
            f"until {kubectl} get pod -l $sel -o name | grep -q .; do sleep 2; done && "
            f"{kubectl} wait pod -l $sel --for=condition=Ready --timeout=600s || exit 1; done)")
