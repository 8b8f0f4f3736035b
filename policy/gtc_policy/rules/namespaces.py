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
import json
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Set, Tuple

from pulumi_policy.proxy import UnknownValueError

from ..props import as_list, as_map, as_str, child, subject

NAMESPACE_TYPE = "kubernetes:core/v1:Namespace"
NETWORK_POLICY_TYPE = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
PSA_ENFORCE = "pod-security.kubernetes.io/enforce"
PSA_LEVELS = ("privileged", "baseline", "restricted")
# The level the program intends per namespace (components/network_policies.py sets the labels from the same file).
PINNED_FILE = Path(__file__).resolve().parents[3] / "manifests" / "pod-security.json"
PINNED: Dict[str, str] = {ns: entry["enforce"] for ns, entry in json.loads(PINNED_FILE.read_text())["namespaces"].items()}
# Pulumi's grouping resources: they carry objects, not a namespace of their own.
NOT_OBJECTS = ("kubernetes:helm.sh/", "kubernetes:yaml/", "kubernetes:kustomize/")
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "RuntimeClass",
                  "StorageClass", "PersistentVolume", "ClusterIssuer", "PriorityClass", "GatewayClass",
                  "CiliumClusterwideNetworkPolicy", "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"}


def check_psa_labels(resource_type: str, name: str, props: Mapping) -> List[str]:
    """The enforce level is the one pinned for the namespace, and only pinned namespaces are created."""
    if resource_type != NAMESPACE_TYPE:
        return []
    level = as_str(child(props, "metadata", "labels", PSA_ENFORCE))
    namespace = as_str(child(props, "metadata", "name"))
    if level not in PSA_LEVELS:
        shown = f'"{level}"' if level is not None else "missing"
        return [f"{subject(resource_type, name)}: label {PSA_ENFORCE} is {shown}; "
                f"set one of {', '.join(PSA_LEVELS)} (and warn/audit labels) so admission checks its pods"]
    if namespace not in PINNED:
        return [f'{subject(resource_type, name)}: namespace "{namespace}" has no pinned Pod Security level; add it to '
                f"manifests/pod-security.json (pinned: {', '.join(sorted(PINNED))})"]
    if level != PINNED[namespace]:
        return [f'{subject(resource_type, name)}: namespace "{namespace}" enforces "{level}", but its pinned level is '
                f'"{PINNED[namespace]}" (manifests/pod-security.json: change it there, with the reason, after review)']
    return []


def check_stack_managed_namespaces(resources: Iterable[Tuple[str, str, str, Mapping]]) -> List[Tuple[str, str]]:
    """[(urn, message)] for each namespaced object placed in a namespace the stack does not create: there no
    default-deny, no Pod Security level and no quota of ours applies (`default` included)."""
    resources = list(resources)
    managed: Set[str] = set()
    for resource_type, _n, _u, props in resources:
        if resource_type == NAMESPACE_TYPE:
            try:
                managed.add(as_str(child(props, "metadata", "name")) or "")
            except UnknownValueError:
                return []  # a namespace named at `up`: decided then
    found = []
    for resource_type, name, urn, props in resources:
        if not resource_type.startswith("kubernetes:") or resource_type.startswith(NOT_OBJECTS) \
                or resource_type.rsplit(":", 1)[-1] in CLUSTER_SCOPED:
            continue
        try:
            if child(props, "metadata") is None:
                continue  # not a Kubernetes object (a ConfigGroup, a Chart): what it makes is checked as itself
            namespace = as_str(child(props, "metadata", "namespace")) or "default"
        except UnknownValueError:
            continue
        if namespace not in managed:
            found.append((urn, f'{subject(resource_type, name)}: lives in namespace "{namespace}", which the stack does '
                               "not create (no default-deny, no pinned Pod Security level there); put it in one of "
                               f"{', '.join(sorted(managed)) or 'the namespaces the program creates'}"))
    return found


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
