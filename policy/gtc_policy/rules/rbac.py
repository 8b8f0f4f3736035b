"""What an RBAC rule or binding grants, whatever its name: no role that reads credentials, runs code in
other pods, mints tokens or raises its own rights, and no binding of the built-in admin roles or of every
account.

Each of these is a path to more than the role's holder should have: Secrets hold every credential;
`pods/exec`, `pods/attach` and `pods/portforward` run code in or reach into another pod (the Dynamo
frontends serve without a token); `serviceaccounts/token` mints a token for any account in the namespace;
`impersonate` acts as anyone, `escalate` and `bind` grant rights the holder lacks. A ClusterRole grants
them in every namespace, a Role in one: both are refused here, because the program's own roles need none
of them (the verification Job patches one named ConfigMap). What the charts grant is checked on what they
render, against the reviewed findings in policy/chart-baseline.json (policy/README.md).
"""
from typing import Any, List, Mapping, Set

from ..props import as_list, as_str, child, subject

ROLE_TYPES = ("kubernetes:rbac.authorization.k8s.io/v1:ClusterRole", "kubernetes:rbac.authorization.k8s.io/v1:Role")
BINDING_TYPES = ("kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding",
                 "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding")
READ = {"get", "list", "watch"}
WRITE = {"create", "update", "patch", "delete", "deletecollection"}
# (api group, resource) -> the verbs that make it dangerous, and what they give.
SENSITIVE = {
    ("", "secrets"): (READ | WRITE, "reads or writes Secrets"),
    ("", "pods/exec"): ({"create", "get"}, "runs commands in other pods (pods/exec)"),
    ("", "pods/attach"): ({"create", "get"}, "attaches to other pods (pods/attach)"),
    ("", "pods/portforward"): ({"create", "get"}, "forwards ports into other pods (pods/portforward)"),
    ("", "serviceaccounts/token"): ({"create"}, "mints service account tokens (serviceaccounts/token)"),
    ("", "nodes/proxy"): (READ | WRITE, "reaches the kubelet API (nodes/proxy)"),
    ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"): (WRITE, "rewrites admission webhooks"),
    ("admissionregistration.k8s.io", "validatingwebhookconfigurations"): (WRITE, "rewrites admission webhooks"),
}
# verb -> (the groups and resources the verb means something on, what it gives)
ESCALATING_VERBS = {
    "impersonate": ({"", "authentication.k8s.io"}, {"users", "groups", "serviceaccounts", "uids", "userextras"},
                    "impersonates other users and accounts"),
    "escalate": ({"rbac.authorization.k8s.io"}, {"roles", "clusterroles"}, "grants itself more (escalate)"),
    "bind": ({"rbac.authorization.k8s.io"}, {"roles", "clusterroles"}, "binds roles it does not hold (bind)"),
}
BUILT_IN_ADMIN_ROLES = {"cluster-admin", "admin", "edit", "system:masters"}
EVERYONE_GROUPS = ("system:serviceaccounts", "system:authenticated", "system:unauthenticated")


def _strings(value: Any) -> Set[str]:
    return {as_str(v) or "" for v in as_list(value)}


def grants(rule: Any) -> List[str]:
    """What one PolicyRule grants that no role of the program needs, in words."""
    groups, resources, verbs = (_strings(child(rule, k)) for k in ("apiGroups", "resources", "verbs"))
    if as_list(child(rule, "nonResourceURLs")) and not resources:
        return []
    verbs_all = "*" in verbs
    found = []
    for (group, resource), (dangerous, what) in SENSITIVE.items():
        group_hit = group in groups or "*" in groups
        resource_hit = resource in resources or "*" in resources or \
            ("/" in resource and f"{resource.split('/')[0]}/*" in resources)
        if group_hit and resource_hit and (verbs_all or verbs & dangerous):
            found.append(what)
    for verb, (verb_groups, verb_resources, what) in ESCALATING_VERBS.items():
        on_it = (groups & verb_groups or "*" in groups) and \
            (any(r.split("/")[0] in verb_resources for r in resources) or "*" in resources)
        if on_it and (verbs_all or verb in verbs):
            found.append(what)
    return list(dict.fromkeys(found))


def check_roles(resource_type: str, name: str, props: Mapping) -> List[str]:
    if resource_type not in ROLE_TYPES:
        return []
    scope = "in every namespace" if resource_type.endswith(":ClusterRole") else "in its namespace"
    found = []
    for i, rule in enumerate(as_list(child(props, "rules"))):
        found += [f"{subject(resource_type, name)}: rules[{i}] {what} {scope}" for what in grants(rule)]
    return found


def check_bindings(resource_type: str, name: str, props: Mapping) -> List[str]:
    if resource_type not in BINDING_TYPES:
        return []
    who = subject(resource_type, name)
    found = []
    role = as_str(child(props, "roleRef", "name")) or ""
    if role in BUILT_IN_ADMIN_ROLES:
        found.append(f"{who}: binds the built-in role {role!r}; bind a role that grants only what the account needs")
    for subject_ in as_list(child(props, "subjects")):
        kind, subject_name = as_str(child(subject_, "kind")), as_str(child(subject_, "name")) or ""
        if kind == "Group" and (subject_name in EVERYONE_GROUPS or subject_name.startswith("system:serviceaccounts:")):
            found.append(f"{who}: binds {role!r} to the group {subject_name!r}, every account it holds; "
                         "bind the one ServiceAccount that needs it")
        if kind == "User" and subject_name == "system:anonymous":
            found.append(f"{who}: binds {role!r} to anonymous requests")
    return found
