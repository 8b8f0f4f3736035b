"""A pod mounts a Kubernetes API token only when its account is bound to a role: an unused token is a
credential a compromised container can spend (the load generator faces the internet).

Kubernetes mounts the ServiceAccount's token unless the pod or the account says
`automountServiceAccountToken: false`. Decided over the stack: a pod whose account no RoleBinding or
ClusterRoleBinding of the stack names must not mount it. The Dynamo graph's pods are the operator's
(it gives them the account Dynamo's discovery needs), so DGDs are not checked here.
"""
from typing import Iterable, List, Mapping, Set, Tuple

from pulumi_policy.proxy import UnknownValueError

from ..props import as_list, as_str, child, subject
from ..workloads import POD_SPEC_PATHS

SERVICE_ACCOUNT_TYPE = "kubernetes:core/v1:ServiceAccount"
BINDING_TYPES = ("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
                 "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding")
Resource = Tuple[str, str, str, Mapping]


def _bound(resources: List[Resource]) -> Set[Tuple[str, str]]:
    found = set()
    for resource_type, _n, _u, props in resources:
        if resource_type in BINDING_TYPES:
            namespace = as_str(child(props, "metadata", "namespace")) or "default"
            for s in as_list(child(props, "subjects")):
                if as_str(child(s, "kind")) == "ServiceAccount":
                    found.add((as_str(child(s, "namespace")) or namespace, as_str(child(s, "name")) or ""))
    return found


def _accounts_that_refuse(resources: List[Resource]) -> Set[Tuple[str, str]]:
    return {(as_str(child(p, "metadata", "namespace")) or "default", as_str(child(p, "metadata", "name")) or "")
            for t, _n, _u, p in resources
            if t == SERVICE_ACCOUNT_TYPE and child(p, "automountServiceAccountToken") is False}


def check_stack_tokens(resources: Iterable[Resource]) -> List[Tuple[str, str]]:
    resources = list(resources)
    bound, refusing = _bound(resources), _accounts_that_refuse(resources)
    found = []
    for resource_type, name, urn, props in resources:
        if resource_type not in POD_SPEC_PATHS:
            continue
        try:
            pod = child(props, *POD_SPEC_PATHS[resource_type])
            namespace = as_str(child(props, "metadata", "namespace")) or "default"
            account = as_str(child(pod, "serviceAccountName")) or "default"
            mounts = child(pod, "automountServiceAccountToken")
        except UnknownValueError:
            continue
        if mounts is False or (mounts is None and (namespace, account) in refusing):
            continue
        if (namespace, account) not in bound:
            said = "sets automountServiceAccountToken: true" if mounts is True else "mounts its account's API token"
            found.append((urn, f'{subject(resource_type, name)}: {said} (account "{account}"), and no binding of the '
                               "stack gives that account anything to do; set automountServiceAccountToken: false"))
    return found
