"""A production cluster's Kubernetes API is reachable only from listed addresses.

DOKS serves the API on a public endpoint; with no control-plane firewall anyone on the internet can try
it (a leaked kubeconfig is then all it takes). Which stack is production comes from the URN the engine
sends (`urn:pulumi:<stack>::...`), so the rule needs no configuration of its own.
"""
import ipaddress
from pathlib import Path
from typing import List, Mapping

import yaml

from ..props import as_list, child, subject

CLUSTER_TYPE = "digitalocean:index/kubernetesCluster:KubernetesCluster"
PRODUCTION_STACKS = ("prod",)
# The broadest entry an allowlist may hold: 0.0.0.0/1 + 128.0.0.0/1 is the whole internet in two entries.
# components/config.py refuses the same at preview (tests/policy/test_policy_hardening.py keeps them equal).
MIN_PREFIX = {4: 16, 6: 48}
# The most an allowlist may admit in all, unless the stack's committed file names a bound
# (`gtc-demo:cluster.controlPlaneAllowlistMaxAddresses`, which a reviewer sees change in the diff).
DEFAULT_MAX_ADDRESSES = 1024
REPO = Path(__file__).resolve().parents[3]


def max_addresses(stack: str) -> int:
    try:
        config = yaml.safe_load((REPO / f"Pulumi.{stack}.yaml").read_text())["config"]
        return int(config["gtc-demo:cluster"]["controlPlaneAllowlistMaxAddresses"])
    except (OSError, KeyError, TypeError, ValueError, yaml.YAMLError):
        return DEFAULT_MAX_ADDRESSES


def allowlist_size(cidrs: List[str]) -> int:
    """IPv4 addresses plus IPv6 /64s over the union of the entries (components/config.py counts the same)."""
    nets = []
    for cidr in cidrs:
        try:
            nets.append(ipaddress.ip_network(cidr, strict=False))
        except ValueError:
            continue
    total = 0
    for version, unit in ((4, 32), (6, 64)):
        for net in ipaddress.collapse_addresses(n for n in nets if n.version == version):
            total += 2 ** max(0, unit - net.prefixlen)
    return total


def too_broad(cidr: str) -> bool:
    try:
        net = ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return True
    return net.prefixlen < MIN_PREFIX[net.version]


def stack_of(urn: str) -> str:
    parts = urn.split(":", 3)
    return parts[2] if len(parts) > 3 and parts[0] == "urn" else ""


def check(resource_type: str, name: str, props: Mapping, urn: str = "") -> List[str]:
    if resource_type != CLUSTER_TYPE or stack_of(urn) not in PRODUCTION_STACKS:
        return []
    firewall = child(props, "controlPlaneFirewall")
    allowed = as_list(child(firewall, "allowedAddresses"))
    if child(firewall, "enabled") is not True or not allowed:
        return [f"{subject(resource_type, name)}: stack {stack_of(urn)!r} leaves the Kubernetes API open to the "
                "internet; enable controlPlaneFirewall with the operators' and the deploy runner's addresses "
                "(gtc-demo:cluster.controlPlaneAllowlist)"]
    broad = [str(child(firewall, "allowedAddresses", i)) for i in range(len(allowed))
             if too_broad(str(child(firewall, "allowedAddresses", i)))]
    if broad:
        return [f"{subject(resource_type, name)}: controlPlaneFirewall allows {', '.join(broad)}: broader than "
                f"/{MIN_PREFIX[4]} (IPv4) or /{MIN_PREFIX[6]} (IPv6), or not a CIDR; list the operators' and the "
                "deploy runner's addresses"]
    entries = [str(child(firewall, "allowedAddresses", i)) for i in range(len(allowed))]
    size, bound = allowlist_size(entries), max_addresses(stack_of(urn))
    if size > bound:
        return [f"{subject(resource_type, name)}: controlPlaneFirewall admits {size:,} addresses over {len(entries)} "
                f"entries, more than the {bound:,} that Pulumi.{stack_of(urn)}.yaml allows "
                "(gtc-demo:cluster.controlPlaneAllowlistMaxAddresses); list the operators' and the deploy runner's addresses"]
    return []
