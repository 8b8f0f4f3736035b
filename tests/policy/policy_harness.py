"""Drive the gtc-demo policy pack the way the Pulumi engine does, without the CLI.

`analyze()` builds the engine's AnalyzeRequest (properties as a protobuf Struct, secrets in the
engine's wire form from `secret()`) and hands it to pulumi-policy's own analyzer servicer, the object
`PolicyPack` serves over gRPC. So each test exercises the real ResourceValidationArgs, the real
unknown/secret handling and the real diagnostic text the CLI prints.
"""
import sys
from pathlib import Path
from typing import Any, Dict, Iterable, List, NamedTuple, Optional, Tuple

from google.protobuf import json_format, struct_pb2

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "policy"))

from gtc_policy import inputs, pack  # noqa: E402
from gtc_policy.secret_markers import keep_secret_markers  # noqa: E402
from pulumi.runtime.proto import analyzer_pb2  # noqa: E402
from pulumi_policy.deserialize import SPECIAL_SECRET_SIG, SPECIAL_SIG_KEY  # noqa: E402
from pulumi_policy.policy import _PolicyAnalyzerServicer  # noqa: E402
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, unknown_checking_proxy  # noqa: E402

PROJECT, STACK = "gtc-demo", "dev"
UNKNOWN = UNKNOWN_STRING_VALUE

keep_secret_markers()  # what policy/__main__.py does before serving


class Diagnostic(NamedTuple):
    policy: str
    message: str
    mandatory: bool
    urn: str


def secret(value: Any) -> Dict[str, Any]:
    """A value as the engine sends a Pulumi secret to an analyzer."""
    return {SPECIAL_SIG_KEY: SPECIAL_SECRET_SIG, "value": value}


def urn_for(resource_type: str, name: str) -> str:
    return f"urn:pulumi:{STACK}::{PROJECT}::{resource_type}::{name}"


def _struct(props: Dict[str, Any]) -> struct_pb2.Struct:
    return json_format.ParseDict(props, struct_pb2.Struct())


def _servicer() -> _PolicyAnalyzerServicer:
    return _PolicyAnalyzerServicer(pack.PACK_NAME, "0.0.1", pack.build_policies(), pack.ENFORCEMENT)


def _diagnostics(response) -> List[Diagnostic]:
    return [Diagnostic(d.policyName, d.message, d.enforcementLevel == analyzer_pb2.MANDATORY, d.urn)
            for d in response.diagnostics]


def analyze(resource_type: str, name: str, props: Dict[str, Any], urn: str = "") -> List[Diagnostic]:
    request = analyzer_pb2.AnalyzeRequest(type=resource_type, name=name, urn=urn or urn_for(resource_type, name),
                                          properties=_struct(props))
    return _diagnostics(_servicer().Analyze(request, None))


def analyze_stack(resources: Iterable[Tuple[str, str, Dict[str, Any]]],
                  inputs_seen: Optional[Dict[str, Dict[str, Any]]] = None) -> List[Diagnostic]:
    """`resources` as (type, name, outputs) or (type, name, outputs, urn), as the engine's AnalyzeStack.

    `inputs_seen` (urn -> inputs) is what the engine showed the resource policies before (Analyze); without
    it the stack policies see only the outputs given."""
    inputs.forget_all()
    for urn, props in (inputs_seen or {}).items():  # wrapped as the engine's Analyze hands them over
        inputs.remember(urn, unknown_checking_proxy(props))
    request = analyzer_pb2.AnalyzeStackRequest(resources=[
        analyzer_pb2.AnalyzerResource(type=r[0], name=r[1], urn=r[3] if len(r) > 3 else urn_for(r[0], r[1]),
                                      properties=_struct(r[2]))
        for r in resources])
    return _diagnostics(_servicer().AnalyzeStack(request, None))


def messages(resource_type: str, name: str, props: Dict[str, Any], policy: Optional[str] = None) -> List[str]:
    """The violation messages (description line stripped) one policy reports for one resource."""
    return [d.message.split("\n", 1)[1] for d in analyze(resource_type, name, props)
            if policy is None or d.policy == policy]


# --- minimal, compliant building blocks each test mutates -------------------------------------------

def container(name: str = "app", image: str = "registry.example/app:1.2.3", **extra: Any) -> Dict[str, Any]:
    return {"name": name, "image": image,
            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"},
                          "limits": {"cpu": "500m", "memory": "256Mi"}}, **extra}


def deployment(*containers: Dict[str, Any], **pod_extra: Any) -> Dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "app"},
            "spec": {"selector": {"matchLabels": {"app": "app"}},
                     "template": {"metadata": {"labels": {"app": "app"}},
                                  "spec": {"containers": list(containers) or [container()], **pod_extra}}}}


GPU_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}


def dgd_worker(**overrides: Any) -> Dict[str, Any]:
    worker = {"componentType": "worker", "replicas": 2,
              "resources": {"requests": {"cpu": "16", "memory": "200Gi", "gpu": "4"},
                            "limits": {"cpu": "32", "memory": "400Gi", "gpu": "4"}},
              "extraPodSpec": {"runtimeClassName": "nvidia", "tolerations": [GPU_TOLERATION],
                               "mainContainer": {"image": "nvcr.io/nvidia/ai-dynamo/tensorrtllm-runtime:0.8.1"}}}
    worker.update(overrides)
    return worker


def dgd(**services: Dict[str, Any]) -> Dict[str, Any]:
    frontend = {"componentType": "frontend", "replicas": 1,
                "resources": {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"cpu": "2", "memory": "4Gi"}},
                "extraPodSpec": {"mainContainer": {"image": "nvcr.io/nvidia/ai-dynamo/dynamo-frontend:0.8.1"}}}
    return {"apiVersion": "nvidia.com/v1alpha1", "kind": "DynamoGraphDeployment",
            "metadata": {"name": "gtc-demo", "namespace": "dynamo-workload"},
            "spec": {"services": services or {"Frontend": frontend, "TrtllmWorker": dgd_worker()}}}


def dgd_v1beta1_worker(**pod_overrides: Any) -> Dict[str, Any]:
    """A v1beta1 component (the shape the program declares): a plain PodSpec with a `main` container."""
    main = container("main", "nvcr.io/nvidia/ai-dynamo/tensorrtllm-runtime:1.6.1")
    main["resources"]["limits"]["nvidia.com/gpu"] = "4"
    pod = {"runtimeClassName": "nvidia", "tolerations": [GPU_TOLERATION], "containers": [main], **pod_overrides}
    return {"name": "TrtllmWorker", "type": "worker", "replicas": 2, "podTemplate": {"spec": pod}}


def dgd_v1beta1(*components: Dict[str, Any]) -> Dict[str, Any]:
    frontend = {"name": "Frontend", "type": "frontend", "replicas": 1, "podTemplate": {"spec": {
        "containers": [container("main", "nvcr.io/nvidia/ai-dynamo/dynamo-frontend:1.6.1")]}}}
    return {"apiVersion": "nvidia.com/v1beta1", "kind": "DynamoGraphDeployment",
            "metadata": {"name": "gtc-demo", "namespace": "dynamo-workload"},
            "spec": {"components": list(components) or [frontend, dgd_v1beta1_worker()]}}


DEPLOYMENT = "kubernetes:apps/v1:Deployment"
JOB = "kubernetes:batch/v1:Job"
POD = "kubernetes:core/v1:Pod"
DGD = "kubernetes:nvidia.com/v1alpha1:DynamoGraphDeployment"
DGD_V1BETA1 = "kubernetes:nvidia.com/v1beta1:DynamoGraphDeployment"
SERVICE = "kubernetes:core/v1:Service"
SECRET = "kubernetes:core/v1:Secret"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
HTTP_ROUTE = "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute"
RELEASE = "kubernetes:helm.sh/v3:Release"
CLUSTER = "digitalocean:index/kubernetesCluster:KubernetesCluster"
BUCKET = "digitalocean:index/spacesBucket:SpacesBucket"
