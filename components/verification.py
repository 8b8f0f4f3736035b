"""The last step of `pulumi up`: an in-cluster Job proves the booth works, and its numbers become stack outputs.

After the DynamoGraphDeployment is Ready, the Gateway is Programmed and the load generator is up,
a Job runs `python -m loadgen check` (the load generator's own image) against both frontends and
the public HTTPS URL: a streamed completion from each, a multi-turn conversation whose turn 2 the
KV frontend serves from cache, and the UI and its API answering through the Gateway with TLS.

Why a Job: the pulumi-kubernetes provider awaits a Job until it completes and fails the update when
it fails, printing the pod's termination message; the check writes its short verdict there (what
failed, where to look), so a broken booth fails `pulumi up` with that text.

Why a ConfigMap for the numbers: a Job's outputs carry only its status, not what its pod found.
The check merges its JSON report into a ConfigMap this component creates (the Job's
ServiceAccount may `get`/`patch` that one object, nothing else), and the program reads it back
after the Job completed (`ConfigMap.get`, a real provider read), so verdict and numbers are stack
outputs. The read happens in `pulumi up` only: in a preview the Job has not run yet.

The Job's name is a hash of everything it checks (image, URLs, arguments), so a config change
re-runs it; `pulumi up --replace <verificationJobUrn>` re-runs it unchanged; `pulumi destroy`
deletes the Job, its RBAC and the ConfigMap with the rest of the stack.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Optional

import pulumi
import pulumi_kubernetes as k8s

from components.config import StackConfig
from components.infra import POOL_LABEL
from components.k8s_common import FRONTEND_CLIENT, PART_OF, restricted_security_context
from components.platform import WORKLOAD_NS, Platform

APP = "verification"
REPORT_CONFIGMAP = "gtc-demo-verification"
REPORT_KEY = "report.json"
RUN_AS_USER = 10001
# How long the check keeps trying the public URL (DNS record and certificate can lag the Gateway).
PUBLIC_WAIT_SECONDS = 900
# The Job's own deadline (Kubernetes fails it after this) and how much longer Pulumi waits.
DEADLINE_SECONDS = PUBLIC_WAIT_SECONDS + 900
PULUMI_GRACE_MINUTES = 5


def check_args(cfg: StackConfig, frontend_url: str, baseline_url: str) -> list[str]:
    """The `python -m loadgen check` command line the Job runs."""
    args = ["python", "-m", "loadgen", "check",
            "--frontend-url", frontend_url, "--baseline-url", baseline_url, "--model", cfg.model.name,
            "--public-url", f"https://{cfg.hostname}/", "--public-wait", str(PUBLIC_WAIT_SECONDS),
            "--summary-file", "/dev/termination-log",
            "--report-configmap", f"{WORKLOAD_NS}/{REPORT_CONFIGMAP}"]
    if cfg.lets_encrypt.staging:
        # Let's Encrypt's staging CA is in no trust store: TLS is served and checked for the hostname's
        # route, but the chain cannot be verified.
        args.append("--public-insecure")
    return args


def job_name(image: str, args: list[str]) -> str:
    """`verify-<hash>`: a new name (a new run) whenever the image or anything checked changes."""
    digest = hashlib.sha256(json.dumps([image, args]).encode()).hexdigest()[:10]
    return f"verify-{digest}"


def report_outputs(data: Optional[dict[str, str]]) -> dict[str, Any]:
    """The stack output `verification`: the verdict and the numbers from the check's report."""
    if not data or REPORT_KEY not in data:
        return {"verdict": "not run"}
    report = json.loads(data[REPORT_KEY])
    routers = report.get("routers", {})
    return {
        "verdict": report.get("verdict"),
        "checkedAt": report.get("checkedAt"),
        "kvTurn2CachedFraction": report.get("kvTurn2CachedFraction"),
        "ttftMsByTurn": {name: r.get("ttft_ms") for name, r in routers.items()},
        "ttftDrop": {name: r.get("ttft_drop") for name, r in routers.items()},
        "publicUrl": (report.get("public") or {}).get("url"),
        "publicOk": (report.get("public") or {}).get("ok"),
        "failures": [f"{f['check']}: {f['detail']}" for f in report.get("failures", [])],
    }


@dataclass
class VerificationArgs:
    config: StackConfig
    platform: Platform
    image: pulumi.Input[str]
    frontend_url: str
    baseline_url: str
    # What must be up first: the DGD (Ready), the Gateway (Programmed), its routes, the load generator.
    waits_for: list[pulumi.Resource]


class Verification(pulumi.ComponentResource):
    """Job `verify-<hash>` in dynamo-workload, its ServiceAccount/Role/RoleBinding and report ConfigMap."""

    def __init__(self, name: str, args: VerificationArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("gtc-demo:verification:Verification", name, None, opts)
        cfg = args.config
        namespace = args.platform.namespaces[WORKLOAD_NS].metadata.name
        child = pulumi.ResourceOptions(parent=self)
        labels = {"app.kubernetes.io/name": APP, **PART_OF}
        meta = lambda object_name: k8s.meta.v1.ObjectMetaArgs(name=object_name, namespace=namespace, labels=labels)  # noqa: E731

        self.report_map = k8s.core.v1.ConfigMap(f"{name}-report", metadata=meta(REPORT_CONFIGMAP), data={}, opts=child)
        account = k8s.core.v1.ServiceAccount(f"{name}-account", metadata=meta(APP),
                                             automount_service_account_token=False, opts=child)
        role = k8s.rbac.v1.Role(f"{name}-role", metadata=meta(APP), rules=[k8s.rbac.v1.PolicyRuleArgs(
            api_groups=[""], resources=["configmaps"], resource_names=[REPORT_CONFIGMAP], verbs=["get", "patch"])],
            opts=child)
        binding = k8s.rbac.v1.RoleBinding(
            f"{name}-binding", metadata=meta(APP),
            role_ref=k8s.rbac.v1.RoleRefArgs(api_group="rbac.authorization.k8s.io", kind="Role", name=APP),
            subjects=[k8s.rbac.v1.SubjectArgs(kind="ServiceAccount", name=APP, namespace=WORKLOAD_NS)],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[role, account]))

        self.args = check_args(cfg, args.frontend_url, args.baseline_url)
        self.job = k8s.batch.v1.Job(
            f"{name}-job",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=pulumi.Output.from_input(args.image).apply(lambda image: job_name(image, self.args)),
                namespace=namespace, labels=labels,
                # A failed check is run again by the next `pulumi up` instead of Pulumi waiting on the dead Job.
                annotations={"pulumi.com/replaceUnready": "true"}),
            spec=k8s.batch.v1.JobSpecArgs(
                backoff_limit=1,
                active_deadline_seconds=DEADLINE_SECONDS,
                template=k8s.core.v1.PodTemplateSpecArgs(
                    # FRONTEND_CLIENT: the NetworkPolicies let only labelled pods reach the frontends.
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels={**labels, **FRONTEND_CLIENT}),
                    spec=self._pod(args.image),
                ),
            ),
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[*args.waits_for, self.report_map, binding],
                delete_before_replace=True,  # a re-run reuses the name
                custom_timeouts=pulumi.CustomTimeouts(
                    create=f"{DEADLINE_SECONDS // 60 + PULUMI_GRACE_MINUTES}m",
                    update=f"{DEADLINE_SECONDS // 60 + PULUMI_GRACE_MINUTES}m"),
            ),
        )

        self.outputs: pulumi.Output = pulumi.Output.from_input({"verdict": "known after `pulumi up`"})
        if not pulumi.runtime.is_dry_run():
            result = k8s.core.v1.ConfigMap.get(
                f"{name}-result", f"{WORKLOAD_NS}/{REPORT_CONFIGMAP}",
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.job]))
            self.outputs = result.data.apply(report_outputs)
        self.register_outputs({"job": self.job.metadata.name, "verification": self.outputs})

    def _pod(self, image: pulumi.Input[str]) -> k8s.core.v1.PodSpecArgs:
        return k8s.core.v1.PodSpecArgs(
            restart_policy="Never",
            service_account_name=APP,
            automount_service_account_token=True,  # to write the report ConfigMap (its only permission)
            node_selector={POOL_LABEL: "management"},
            security_context=k8s.core.v1.PodSecurityContextArgs(
                run_as_non_root=True, run_as_user=RUN_AS_USER, run_as_group=RUN_AS_USER,
                seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
            ),
            containers=[k8s.core.v1.ContainerArgs(
                name="check",
                image=image,
                command=self.args,
                termination_message_policy="FallbackToLogsOnError",
                resources=k8s.core.v1.ResourceRequirementsArgs(
                    requests={"cpu": "100m", "memory": "256Mi"}, limits={"cpu": "1", "memory": "512Mi"}),
                security_context=restricted_security_context(),
                volume_mounts=[k8s.core.v1.VolumeMountArgs(name="tmp", mount_path="/tmp")],
            )],
            volumes=[k8s.core.v1.VolumeArgs(name="tmp", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(size_limit="64Mi"))],
        )
