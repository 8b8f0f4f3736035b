"""What can reach our pods and the nodes: no ingress open to everyone or to the internet beside a
default-deny, however its ports and peers are written; no node ports; no host paths or host ports; no
secret on a command line.

DOKS nodes have public addresses and the Dynamo frontends have no authentication, so a NodePort or an
`externalIPs` entry publishes the model to the internet; an allow-all ingress rule silently undoes the
namespace's default-deny (issue 29: decided on the ports, ranges and address union a rule admits, not on
its spelling); a hostPath volume or a hostPort reaches into the node; a command-line argument is visible
in `ps` and the pod spec. What a role grants is rules/rbac.py.
"""
import ipaddress
from typing import Any, Dict, List, Mapping, Optional, Tuple

from ..props import as_list, as_map, as_str, child, is_secret, reveal, subject
from ..selectors import selects_everything
from ..workloads import pod_views

NETWORK_POLICY_TYPE = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
SERVICE_TYPE = "kubernetes:core/v1:Service"


PORT_SPACE = 65535
BROAD_PORTS = 1024  # more open ports than this on one protocol is an allow-all in effect
PRIVATE = [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10",
                                              "169.254.0.0/16", "127.0.0.0/8", "fc00::/7", "fe80::/10", "::1/128")]
CILIUM_POLICY_TYPES = ("kubernetes:cilium.io/v2:CiliumNetworkPolicy", "kubernetes:cilium.io/v2:CiliumClusterwideNetworkPolicy")
CILIUM_OPEN_ENTITIES = {"world", "all"}


def _number(value: Any) -> Optional[int]:
    value = reveal(value)
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)) and float(value).is_integer():
        return int(value)
    return None


def open_ports(ports: List[Any]) -> Dict[str, int]:
    """How many ports per protocol a rule's `ports` opens (no entry, or one without `port`: all of them)."""
    if not ports:
        return {"TCP": PORT_SPACE, "UDP": PORT_SPACE, "SCTP": PORT_SPACE}
    ranges: Dict[str, List[Tuple[int, int]]] = {}
    for entry in ports:
        protocol = as_str(child(entry, "protocol")) or "TCP"
        port = child(entry, "port")
        first = _number(port)
        if port is None:
            first, last = 1, PORT_SPACE
        elif first is None:
            first = last = -1  # a named port: one port
        else:
            last = _number(child(entry, "endPort")) or first
        ranges.setdefault(protocol, []).append((first, max(first, last)))
    counts = {}
    for protocol, spans in ranges.items():
        covered, end = 0, -2
        for first, last in sorted(spans):
            if last <= end:
                continue
            covered += last - max(first, end + 1) + 1
            end = last
        counts[protocol] = covered
    return counts


def public_addresses(blocks: List[Any]) -> int:
    """Public addresses an ingress rule's ipBlocks admit, over their union (overlaps and `except`s counted once)."""
    admitted, excluded = [], []
    for block in blocks:
        try:
            admitted.append(ipaddress.ip_network(as_str(child(block, "cidr")) or "", strict=False))
            excluded += [ipaddress.ip_network(as_str(e) or "", strict=False) for e in as_list(child(block, "except"))]
        except ValueError:
            continue
    total = 0
    for version in (4, 6):
        nets = list(ipaddress.collapse_addresses(n for n in admitted if n.version == version))
        removed = list(ipaddress.collapse_addresses(n for n in excluded + PRIVATE if n.version == version))
        for net in nets:
            pieces = [net]
            for cut in removed:
                pieces = [rest for piece in pieces for rest in _minus(piece, cut)]
            total += sum(p.num_addresses for p in pieces)
    return total


def _minus(net, cut):
    if not net.overlaps(cut):
        return [net]
    if cut.supernet_of(net):
        return []
    return list(net.address_exclude(cut))


def _peer_is_everyone(peer: Any) -> bool:
    """Every pod in every namespace (an empty peer, or a namespaceSelector that matches them all)."""
    if not as_map(peer):
        return True
    namespaces, pods = child(peer, "namespaceSelector"), child(peer, "podSelector")
    return namespaces is not None and selects_everything(namespaces) and (pods is None or selects_everything(pods))


def ingress_findings(rule: Any) -> List[str]:
    """What one ingress rule opens that the default-deny should keep shut."""
    peers = as_list(child(rule, "from"))
    ports = open_ports(as_list(child(rule, "ports")))
    widest = max(ports.values())
    public = public_addresses([child(p, "ipBlock") for p in peers if child(p, "ipBlock") is not None])
    found = []
    if public:
        found.append(f"admits {public:,} public addresses (an ipBlock); the Gateway is the only way in from outside")
    if (not peers or any(_peer_is_everyone(p) for p in peers)) and widest > BROAD_PORTS:
        shown = "every port" if widest >= PORT_SPACE else f"{widest:,} ports"
        found.append(f"admits every pod in every namespace on {shown}")
    return found


def check_allow_all_ingress(resource_type: str, name: str, props: Mapping) -> List[str]:
    """An ingress rule open to everyone (however the peers and ports are spelled), or to the internet."""
    fix = "which undoes the namespace's default-deny; name the sources and the ports"
    if resource_type in CILIUM_POLICY_TYPES:
        return _cilium_findings(resource_type, name, props)
    if resource_type != NETWORK_POLICY_TYPE:
        return []
    return [f"{subject(resource_type, name)}: ingress[{i}] {finding}, {fix}"
            for i, rule in enumerate(as_list(child(props, "spec", "ingress"))) for finding in ingress_findings(rule)]


def _cilium_findings(resource_type: str, name: str, props: Mapping) -> List[str]:
    specs = [child(props, "spec")] + as_list(child(props, "specs"))
    found = []
    for spec in specs:
        for i, rule in enumerate(as_list(child(spec, "ingress"))):
            entities = {as_str(e) for e in as_list(child(rule, "fromEntities"))}
            cidrs = [{"cidr": as_str(c)} for c in as_list(child(rule, "fromCIDR"))]
            cidrs += [{"cidr": as_str(child(c, "cidr")), "except": as_list(child(c, "except"))}
                      for c in as_list(child(rule, "fromCIDRSet"))]
            if entities & CILIUM_OPEN_ENTITIES:
                found.append(f"{subject(resource_type, name)}: ingress[{i}] admits the entities "
                             f"{', '.join(sorted(entities & CILIUM_OPEN_ENTITIES))} (the internet); admit `ingress` "
                             "(the Gateway) instead")
            if public_addresses(cidrs):
                found.append(f"{subject(resource_type, name)}: ingress[{i}] admits public addresses by CIDR; the "
                             "Gateway is the only way in from outside")
            if "cluster" in entities and not as_list(child(rule, "toPorts")):
                found.append(f"{subject(resource_type, name)}: ingress[{i}] admits every pod in the cluster on every "
                             "port; name the ports")
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


def check_secret_on_command_line(resource_type: str, name: str, props: Mapping) -> List[str]:
    return [f"{subject(resource_type, name)}: {container.where} passes a secret in its command line (visible in "
            "`ps` and the pod spec); pass it as an environment variable from a Secret"
            for pod in pod_views(resource_type, props) for container in pod.containers
            if any(is_secret(arg) for arg in container.argv)]
