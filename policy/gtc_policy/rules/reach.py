"""What can reach our pods and the nodes: no allow-all ingress beside a default-deny, no node ports, no host
paths or host ports, no ClusterRole that reads Secrets, no credential on a command line.

DOKS nodes have public addresses and the Dynamo frontends have no authentication, so a NodePort or an
`externalIPs` entry publishes the model to the internet; an allow-all ingress rule silently undoes the
namespace's default-deny; a hostPath volume or a hostPort reaches into the node; a ClusterRole that reads
Secrets reads every credential in the cluster; a command-line argument is visible in `ps` and the pod spec.
Found by the re-audit (issue 22): each was planted into the prod plan and passed the pack before.
"""
import ipaddress
from typing import Any, List, Mapping

from ..props import as_list, as_map, as_str, child, is_secret, subject
from ..workloads import pod_views

NETWORK_POLICY_TYPE = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
SERVICE_TYPE = "kubernetes:core/v1:Service"
CLUSTER_ROLE_TYPE = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole"
READ_VERBS = {"get", "list", "watch", "*"}


def _peer_is_everyone(peer: Any) -> bool:
    peer = as_map(peer)
    if not peer:
        return True
    cidr = as_str(child(peer, "ipBlock", "cidr"))
    if cidr is not None:
        try:
            return ipaddress.ip_network(cidr, strict=False).prefixlen == 0
        except ValueError:
            return False
    namespaces = child(peer, "namespaceSelector")
    pods = child(peer, "podSelector")
    return namespaces is not None and not as_map(namespaces) and (pods is None or not as_map(pods))


def check_allow_all_ingress(resource_type: str, name: str, props: Mapping) -> List[str]:
    """An ingress rule open to every source on every port (a rule that names ports is a deliberate allow)."""
    if resource_type != NETWORK_POLICY_TYPE:
        return []
    found = []
    for i, rule in enumerate(as_list(child(props, "spec", "ingress"))):
        if as_list(child(rule, "ports")):
            continue
        peers = as_list(child(rule, "from"))
        if not peers or any(_peer_is_everyone(p) for p in peers):
            found.append(f"{subject(resource_type, name)}: ingress[{i}] admits every source on every port, which "
                         "undoes the namespace's default-deny; name the sources and the ports")
    return found


def check_node_exposure(resource_type: str, name: str, props: Mapping) -> List[str]:
    if resource_type != SERVICE_TYPE:
        return []
    found = []
    if as_str(child(props, "spec", "type")) == "NodePort":
        found.append(f"{subject(resource_type, name)}: type NodePort opens a port on every node, and DOKS nodes have "
                     "public addresses; use ClusterIP (the Gateway is the only public entry)")
    if as_list(child(props, "spec", "externalIPs")):
        found.append(f"{subject(resource_type, name)}: spec.externalIPs publishes the Service on those addresses; "
                     "remove it (the Gateway is the only public entry)")
    return found


def _port(value: Any) -> str:
    """Numbers arrive as floats (protobuf Struct): 3000.0 -> 3000."""
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def check_host_access(resource_type: str, name: str, props: Mapping) -> List[str]:
    found = []
    for pod in pod_views(resource_type, props):
        where = f"{pod.where} " if pod.where else ""
        found += [f"{subject(resource_type, name)}: {where}hostPath volume {path!r} reaches into the node"
                  for path in pod.host_paths]
        for container in pod.containers:
            found += [f"{subject(resource_type, name)}: {container.where} hostPort {_port(port)} binds a port on the node"
                      for port in container.host_ports]
    return found


def check_cluster_role_secrets(resource_type: str, name: str, props: Mapping) -> List[str]:
    if resource_type != CLUSTER_ROLE_TYPE:
        return []
    for rule in as_list(child(props, "rules")):
        groups = {as_str(g) for g in as_list(child(rule, "apiGroups"))}
        resources = {as_str(r) for r in as_list(child(rule, "resources"))}
        verbs = {as_str(v) for v in as_list(child(rule, "verbs"))}
        if groups & {"", "*"} and resources & {"secrets", "*"} and verbs & READ_VERBS:
            return [f"{subject(resource_type, name)}: reads Secrets in every namespace; use a Role in the one "
                    "namespace that needs it (as Grafana's sidecars do)"]
    return []


def check_secret_on_command_line(resource_type: str, name: str, props: Mapping) -> List[str]:
    return [f"{subject(resource_type, name)}: {container.where} passes a secret in its command line (visible in "
            "`ps` and the pod spec); pass it as an environment variable from a Secret"
            for pod in pod_views(resource_type, props) for container in pod.containers
            if any(is_secret(arg) for arg in container.argv)]
