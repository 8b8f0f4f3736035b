"""Every namespace the program creates carries Pod Security Admission labels and a default-deny NetworkPolicy.

Without PSA labels the cluster admits privileged pods, host namespaces and added capabilities in our
namespaces; without a default-deny policy any pod can reach the unauthenticated Dynamo frontends, the load
generator's control API and Prometheus. The allows the demo needs are separate policies (components/
network_policies.py), so a missing default-deny is visible on its own.

The stack rule decides on the inputs the program set (gtc_policy/inputs.py), so it holds on a preview where
every Kubernetes output is unknown. What is still unknown in the inputs (a NetworkPolicy whose namespace
comes from another resource's output) is decided at `up`: such a policy could be the default-deny of any
namespace, so no namespace is reported missing one until the values are known.
"""
from typing import Iterable, List, Mapping, Set, Tuple

from pulumi_policy.proxy import UnknownValueError

from ..props import as_list, as_map, as_str, child, subject

NAMESPACE_TYPE = "kubernetes:core/v1:Namespace"
NETWORK_POLICY_TYPE = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
PSA_ENFORCE = "pod-security.kubernetes.io/enforce"
PSA_LEVELS = ("privileged", "baseline", "restricted")
# The one namespace whose pods read the node (node-exporter, dcgm-exporter); components/network_policies.py
# says why. Anywhere else `privileged` admits host namespaces and hostPath pods beside the demo's workloads.
PRIVILEGED_NAMESPACES = ("monitoring",)


def check_psa_labels(resource_type: str, name: str, props: Mapping) -> List[str]:
    if resource_type != NAMESPACE_TYPE:
        return []
    level = as_str(child(props, "metadata", "labels", PSA_ENFORCE))
    if level not in PSA_LEVELS:
        shown = f'"{level}"' if level is not None else "missing"
        return [f"{subject(resource_type, name)}: label {PSA_ENFORCE} is {shown}; "
                f"set one of {', '.join(PSA_LEVELS)} (and warn/audit labels) so admission checks its pods"]
    namespace = as_str(child(props, "metadata", "name"))
    if level == "privileged" and namespace not in PRIVILEGED_NAMESPACES:
        return [f'{subject(resource_type, name)}: namespace "{namespace}" enforces "privileged", which admits host '
                f"namespaces and hostPath pods; only {', '.join(PRIVILEGED_NAMESPACES)} may (use baseline or restricted)"]
    return []


def is_default_deny(props: Mapping) -> bool:
    """Selects every pod, covers Ingress, and allows nothing in."""
    spec = child(props, "spec")
    selects_all = not as_map(child(spec, "podSelector", "matchLabels")) and \
        not as_list(child(spec, "podSelector", "matchExpressions"))
    types = [as_str(t) for t in as_list(child(spec, "policyTypes"))]
    return selects_all and "Ingress" in types and not as_list(child(spec, "ingress"))


def check_stack_default_deny(resources: Iterable[Tuple[str, str, str, Mapping]]) -> List[Tuple[str, str]]:
    """[(urn, message)] for each Namespace with no default-deny NetworkPolicy in it."""
    resources = list(resources)
    denied: Set[str] = set()
    undecided = False  # a default-deny (or a policy that may be one) whose namespace is not known yet
    for resource_type, _n, _u, props in resources:
        if resource_type != NETWORK_POLICY_TYPE:
            continue
        try:
            if is_default_deny(props):
                denied.add(as_str(child(props, "metadata", "namespace")) or "default")
        except UnknownValueError:
            undecided = True
    found = []
    for resource_type, name, urn, props in resources:
        if resource_type != NAMESPACE_TYPE:
            continue
        try:
            namespace = as_str(child(props, "metadata", "name")) or ""
        except UnknownValueError:
            continue  # an unknown name (auto-named at `up`): decided at `up`
        if undecided and namespace not in denied:
            continue
        if namespace not in denied:
            found.append((urn, f'{subject(resource_type, name)}: namespace "{namespace}" has no default-deny '
                               "NetworkPolicy (podSelector {}, policyTypes [Ingress], no ingress rules)"))
    return found
