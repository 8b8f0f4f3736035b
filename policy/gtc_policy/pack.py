"""The gtc-demo policy pack: each rule function wrapped as a MANDATORY pulumi-policy policy."""
from typing import Callable, List, Mapping

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyPack,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from .rules import (charts, cluster_access, exposure, gpu_pods, grafana, images, kinds, namespaces, pod_security, rbac,
                    reach, resources, secrets, spaces, tokens, versions)
from .inputs import inputs_or_outputs, remember
from .secret_markers import keep_secret_markers

PACK_NAME = "gtc-demo-guardrails"
ENFORCEMENT = EnforcementLevel.MANDATORY

Check = Callable[[str, str, Mapping], List[str]]

# (policy name, description the CLI prints above each violation, rule)
RESOURCE_RULES = [
    ("pinned-images", "Every container image is pinned to a tag or digest, never untagged or latest.",
     images.check),
    ("gpu-pods-tolerate-taint-and-use-nvidia-runtime",
     "Pods requesting nvidia.com/gpu tolerate the nvidia.com/gpu:NoSchedule taint and use RuntimeClass nvidia.",
     gpu_pods.check),
    ("no-load-balancer-services",
     "No Service of type LoadBalancer: the Gateway (created by Cilium) is the only public entry.",
     exposure.check_load_balancers),
    ("gateway-routes-from-named-namespaces", "No Gateway listener takes routes from every namespace.",
     exposure.check_gateway_listeners),
    ("secret-data-from-pulumi-secrets", "Kubernetes Secret data comes only from Pulumi secrets.",
     secrets.check_secret_data),
    ("no-credentials-in-configmaps", "ConfigMaps hold no credentials.", secrets.check_config_maps),
    ("no-credentials-in-env-literals", "Container env holds no credential literals.",
     secrets.check_env_literals),
    ("pulumi-secrets-only-in-secrets", "A Pulumi secret goes only into a Kubernetes Secret (or a chart's values).",
     secrets.check_secrets_outside_secrets),
    ("no-credential-literals", "No value shaped like a credential is written as a literal, in any field.",
     secrets.check_credential_literals),
    ("no-credential-flags-on-command-lines", "No command-line flag named like a credential takes a literal value.",
     secrets.check_credential_flags),
    ("container-resources", "Every container has cpu and memory requests and limits.", resources.check),
    ("doks-version-pinned", "The DOKS cluster version is an exact version, not a prefix or latest.",
     versions.check_cluster),
    ("chart-versions-pinned", "Every Helm chart has an exact version.", versions.check_charts),
    ("spaces-not-public", "Spaces buckets and objects are private.", spaces.check),
    ("pods-restricted-security-context",
     "Every pod runs non-root with no privilege escalation, all capabilities dropped, a seccomp profile and no "
     "host namespaces (the restricted Pod Security Standard).", pod_security.check),
    ("namespaces-pod-security-labels", "Every namespace carries a pod-security.kubernetes.io/enforce level.",
     namespaces.check_psa_labels),
    ("no-allow-all-ingress", "No NetworkPolicy admits every pod on (nearly) every port, or any public address.",
     reach.check_allow_all_ingress),
    ("no-node-ports-or-external-ips", "No Service opens a node port or external IPs (DOKS nodes are public).",
     reach.check_node_exposure),
    ("no-host-paths-or-host-ports", "No pod mounts a hostPath or binds a hostPort.", reach.check_host_access),
    ("rbac-roles-least-privilege", "No Role or ClusterRole grants Secrets, exec/attach/port-forward, token minting, "
     "impersonate, escalate or bind.", rbac.check_roles),
    ("rbac-bindings-scoped", "No binding of the built-in admin roles, or of every account.", rbac.check_bindings),
    ("pods-only-in-kinds-the-pack-reads", "Only Deployments, StatefulSets, DaemonSets, Jobs, CronJobs and DGDs run "
     "pods; no *Patch resources.", kinds.check),
    ("no-secrets-on-command-lines", "No secret is passed as a command-line argument.",
     reach.check_secret_on_command_line),
    ("grafana-sidecar-own-namespace",
     "Grafana's sidecars search one namespace through a namespaced Role, never ALL (cluster-wide Secrets).",
     grafana.check),
]
# Reported on every preview; refused (mandatory) where the pack config says so: policy/enforce-digests.json,
# which the prod deploy passes (docs/security.md, "Images").
DIGEST_POLICY = ("images-pinned-by-digest", "Every container image is pinned to an @sha256 digest.", images.check_digests)
DIGEST_ENFORCEMENT = EnforcementLevel.ADVISORY


def resource_policy(name: str, description: str, check: Check,
                    enforcement: EnforcementLevel = ENFORCEMENT) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        remember(args.urn, args.props)
        for message in check(args.resource_type, args.name, args.props):
            report_violation(message, None)
    return ResourceValidationPolicy(name=name, description=description, validate=validate,
                                    enforcement_level=enforcement)


# Rules that read Kubernetes objects: run on what each Helm release renders too (rules/charts.py).
CLOUD_OR_RELEASE_RULES = {"doks-version-pinned", "chart-versions-pinned", "spaces-not-public", "grafana-sidecar-own-namespace"}
RENDERED_RULES = [(rule, check) for rule, _description, check in RESOURCE_RULES if rule not in CLOUD_OR_RELEASE_RULES]


def _validate_rendered_charts(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    for message in charts.check(args.resource_type, args.name, args.props, args.urn, RENDERED_RULES):
        report_violation(message, None)


def _stack_policy(check):
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        for urn, message in check((r.resource_type, r.name, r.urn, inputs_or_outputs(r.urn, r.props))
                                  for r in args.resources):
            report_violation(message, urn)
    return validate


STACK_RULES = [
    ("namespaces-default-deny", "Every namespace the program creates has a default-deny NetworkPolicy.",
     namespaces.check_stack_default_deny),
    ("model-api-private", "Nothing publishes the Dynamo frontend pods: no Service, route, mirror, policy or Gateway "
     "path from outside, by selector.", exposure.check_stack_model_api_private),
    ("workloads-in-managed-namespaces", "Every namespaced object lives in a namespace the stack creates.",
     namespaces.check_stack_managed_namespaces),
    ("api-tokens-only-where-bound", "A pod mounts an API token only when a binding gives its account a role.",
     tokens.check_stack_tokens),
]


def _validate_cluster_access(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    for message in cluster_access.check(args.resource_type, args.name, args.props, args.urn):
        report_violation(message, None)


def build_policies() -> List[Policy]:
    policies: List[Policy] = [resource_policy(*rule) for rule in RESOURCE_RULES]
    policies.append(resource_policy(*DIGEST_POLICY, enforcement=DIGEST_ENFORCEMENT))
    policies.append(ResourceValidationPolicy(
        name="prod-control-plane-allowlist",
        description="A production cluster's Kubernetes API accepts only the listed addresses.",
        validate=_validate_cluster_access, enforcement_level=ENFORCEMENT))
    policies.append(ResourceValidationPolicy(
        name="helm-releases-rendered",
        description="What each Helm release renders passes the resource rules (reviewed chart needs: policy/chart-baseline.json).",
        validate=_validate_rendered_charts, enforcement_level=ENFORCEMENT))
    policies += [StackValidationPolicy(name=name, description=description, validate=_stack_policy(check),
                                       enforcement_level=ENFORCEMENT) for name, description, check in STACK_RULES]
    return policies


def serve() -> None:
    """Run the pack as the analyzer plugin the Pulumi CLI talks to (blocks forever)."""
    keep_secret_markers()
    PolicyPack(name=PACK_NAME, policies=build_policies(), enforcement_level=ENFORCEMENT)
