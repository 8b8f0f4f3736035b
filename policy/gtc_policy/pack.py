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

from .rules import cluster_access, exposure, gpu_pods, grafana, images, namespaces, pod_security, reach, resources, secrets, spaces, versions
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
    ("dynamo-frontends-private", "No route or Ingress sends public traffic to a Dynamo frontend.",
     exposure.check_frontend_routes),
    ("secret-data-from-pulumi-secrets", "Kubernetes Secret data comes only from Pulumi secrets.",
     secrets.check_secret_data),
    ("no-credentials-in-configmaps", "ConfigMaps hold no credentials.", secrets.check_config_maps),
    ("no-credentials-in-env-literals", "Container env holds no credential literals.",
     secrets.check_env_literals),
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
    ("no-allow-all-ingress", "No NetworkPolicy admits every source on every port.", reach.check_allow_all_ingress),
    ("no-node-ports-or-external-ips", "No Service opens a node port or external IPs (DOKS nodes are public).",
     reach.check_node_exposure),
    ("no-host-paths-or-host-ports", "No pod mounts a hostPath or binds a hostPort.", reach.check_host_access),
    ("no-cluster-role-reads-secrets", "No ClusterRole reads Secrets.", reach.check_cluster_role_secrets),
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


def _validate_cluster_access(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    for message in cluster_access.check(args.resource_type, args.name, args.props, args.urn):
        report_violation(message, None)


def _validate_stack_default_deny(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    found = namespaces.check_stack_default_deny(
        (r.resource_type, r.name, r.urn, inputs_or_outputs(r.urn, r.props)) for r in args.resources)
    for urn, message in found:
        report_violation(message, urn)


def _validate_stack_frontend_routes(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    found = exposure.check_stack_frontend_routes(
        (r.resource_type, r.name, r.urn, inputs_or_outputs(r.urn, r.props)) for r in args.resources)
    for urn, message in found:
        report_violation(message, urn)


def build_policies() -> List[Policy]:
    policies: List[Policy] = [resource_policy(*rule) for rule in RESOURCE_RULES]
    policies.append(resource_policy(*DIGEST_POLICY, enforcement=DIGEST_ENFORCEMENT))
    policies.append(ResourceValidationPolicy(
        name="prod-control-plane-allowlist",
        description="A production cluster's Kubernetes API accepts only the listed addresses.",
        validate=_validate_cluster_access, enforcement_level=ENFORCEMENT))
    policies.append(StackValidationPolicy(
        name="namespaces-default-deny",
        description="Every namespace the program creates has a default-deny NetworkPolicy.",
        validate=_validate_stack_default_deny, enforcement_level=ENFORCEMENT))
    policies.append(StackValidationPolicy(
        name="dynamo-frontend-services-unrouted",
        description="No route targets the Service the Dynamo operator creates for a DGD frontend.",
        validate=_validate_stack_frontend_routes,
        enforcement_level=ENFORCEMENT))
    return policies


def serve() -> None:
    """Run the pack as the analyzer plugin the Pulumi CLI talks to (blocks forever)."""
    keep_secret_markers()
    PolicyPack(name=PACK_NAME, policies=build_policies(), enforcement_level=ENFORCEMENT)
