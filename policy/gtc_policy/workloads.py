"""Where pods and containers live in each resource type the pack inspects.

Kubernetes workloads carry a pod template at a type-specific path. A DynamoGraphDeployment carries one
pod per component: in `nvidia.com/v1beta1` (what the program declares) `spec.components[i].podTemplate.spec`,
a plain PodSpec; in the deprecated `v1alpha1`, `spec.services.<name>`, whose container is
`extraPodSpec.mainContainer` and whose resources may sit on the service (`resources`, with a `gpu` key)
or on the container. Rules see all of them through the same `PodView`/`ContainerView` shapes.
"""
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Tuple

from .props import as_list, as_map, as_str, child, child_or_unknown, raw_value, reveal

POD_SPEC_PATHS: Dict[str, Tuple[str, ...]] = {
    "kubernetes:core/v1:Pod": ("spec",),
    "kubernetes:apps/v1:Deployment": ("spec", "template", "spec"),
    "kubernetes:apps/v1:StatefulSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:DaemonSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:ReplicaSet": ("spec", "template", "spec"),
    "kubernetes:core/v1:ReplicationController": ("spec", "template", "spec"),
    "kubernetes:core/v1:PodTemplate": ("template", "spec"),
    # The Prometheus operator's custom resources carry pod fields in their spec (hostNetwork, volumes,
    # containers, securityContext) and become StatefulSets: the pod rules read them as pods.
    "kubernetes:monitoring.coreos.com/v1:Prometheus": ("spec",),
    "kubernetes:monitoring.coreos.com/v1:Alertmanager": ("spec",),
    "kubernetes:monitoring.coreos.com/v1:ThanosRuler": ("spec",),
    "kubernetes:monitoring.coreos.com/v1alpha1:PrometheusAgent": ("spec",),
    "kubernetes:batch/v1:Job": ("spec", "template", "spec"),
    "kubernetes:batch/v1:CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
DGD_TYPE = "kubernetes:nvidia.com/v1alpha1:DynamoGraphDeployment"
DGD_V1BETA1_TYPE = "kubernetes:nvidia.com/v1beta1:DynamoGraphDeployment"
DGD_TYPES = (DGD_TYPE, DGD_V1BETA1_TYPE)
GPU_RESOURCE = "nvidia.com/gpu"
CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")
HOST_NAMESPACES = ("hostIPC", "hostPID", "hostNetwork")


@dataclass
class ContainerView:
    where: str                      # e.g. 'container "loadgen"' or 'service "TrtllmWorker" mainContainer'
    image: Any
    requests: Dict[str, Any]
    limits: Dict[str, Any]
    env: List[Any] = field(default_factory=list)
    security_context: Dict[str, Any] = field(default_factory=dict)
    host_ports: List[Any] = field(default_factory=list)     # ports[].hostPort values that are set
    argv: List[Any] = field(default_factory=list)           # command + args, as given (secrets still wrapped)


@dataclass
class PodView:
    where: str                      # '' for a workload's only pod, 'service "X"' for a DGD service
    containers: List[ContainerView]
    tolerations: List[Any]
    runtime_class: Optional[str]
    gpus: bool                      # does any container ask for a GPU
    security_context: Dict[str, Any] = field(default_factory=dict)
    host_namespaces: List[str] = field(default_factory=list)   # hostIPC/hostPID/hostNetwork set to true
    host_paths: List[str] = field(default_factory=list)        # volumes[].hostPath.path


def _quantity_positive(value: Any) -> bool:
    value = reveal(value)
    if value is None:
        return False
    try:
        return float(str(value)) > 0
    except ValueError:
        return True  # e.g. "4G"-style oddities: treat as a request, the stricter reading


def _asks_for_gpu(requests: Mapping, limits: Mapping) -> bool:
    return any(_quantity_positive(child(side, key))
               for side in (requests, limits) for key in (GPU_RESOURCE, "gpu"))


def _k8s_container(where: str, container: Any) -> ContainerView:
    return ContainerView(
        where=where,
        image=child_or_unknown(container, "image"),
        requests=dict(as_map(child(container, "resources", "requests"))),
        limits=dict(as_map(child(container, "resources", "limits"))),
        env=as_list(child(container, "env")),
        security_context=dict(as_map(child(container, "securityContext"))),
        host_ports=[child(port, "hostPort") for port in as_list(child(container, "ports"))
                    if child(port, "hostPort") is not None],
        argv=[raw for key in ("command", "args") for raw in _raw_items(container, key)],
    )


def _raw_items(container: Any, key: str) -> List[Any]:
    """A list's items without unwrapping secrets: a secret in a command line is what a rule looks for."""
    value = raw_value(container, key) if isinstance(container, Mapping) else None
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return [value[i] for i in range(len(value))]
    return [] if value is None else [value]  # a whole list given as one secret


def _k8s_pod(pod_spec: Any) -> PodView:
    containers = []
    for list_name in CONTAINER_LISTS:
        for item in as_list(child(pod_spec, list_name)):
            label = "container" if list_name == "containers" else list_name[:-1]
            containers.append(_k8s_container(f'{label} "{as_str(child(item, "name"))}"', item))
    return PodView(
        where="",
        containers=containers,
        tolerations=as_list(child(pod_spec, "tolerations")),
        runtime_class=as_str(child(pod_spec, "runtimeClassName")),
        gpus=any(_asks_for_gpu(c.requests, c.limits) for c in containers),
        security_context=dict(as_map(child(pod_spec, "securityContext"))),
        host_namespaces=[key for key in HOST_NAMESPACES if child(pod_spec, key) is True],
        host_paths=[as_str(child(v, "hostPath", "path")) or "?" for v in as_list(child(pod_spec, "volumes"))
                    if child(v, "hostPath") is not None],
    )


def _dgd_service_pod(service_name: str, service: Any) -> PodView:
    where = f'service "{service_name}"'
    extra = child(service, "extraPodSpec")
    main = child(extra, "mainContainer")
    main_view = _k8s_container(f"{where} mainContainer", main if main is not None else {})
    # Service-level resources (Dynamo's own shape) count for the main container.
    for side, target in (("requests", main_view.requests), ("limits", main_view.limits)):
        for key, value in as_map(child(service, "resources", side)).items():
            target.setdefault(key, value)
    main_view.env = as_list(child(service, "envs")) + main_view.env
    containers = [main_view]
    for list_name in CONTAINER_LISTS:
        for item in as_list(child(extra, list_name)):
            containers.append(_k8s_container(f'{where} {list_name[:-1]} "{as_str(child(item, "name"))}"', item))
    return PodView(
        where=where,
        containers=containers,
        tolerations=as_list(child(extra, "tolerations")),
        runtime_class=as_str(child(extra, "runtimeClassName")),
        gpus=any(_asks_for_gpu(c.requests, c.limits) for c in containers),
        security_context=dict(as_map(child(extra, "securityContext"))),
        host_namespaces=[key for key in HOST_NAMESPACES if child(extra, key) is True],
    )


def _dgd_component_pod(component: Any) -> PodView:
    pod = _k8s_pod(child(component, "podTemplate", "spec") or {})
    pod.where = f'component "{as_str(child(component, "name"))}"'
    return pod


def dgd_components(resource_type: str, props: Mapping) -> List[Tuple[str, str]]:
    """(name, component type) of each component/service of a DGD, either API version; [] for other types."""
    if resource_type == DGD_V1BETA1_TYPE:
        return [(as_str(child(c, "name")) or "", as_str(child(c, "type")) or "")
                for c in as_list(child(props, "spec", "components"))]
    if resource_type == DGD_TYPE:
        return [(str(name), as_str(child(spec, "componentType")) or "")
                for name, spec in as_map(child(props, "spec", "services")).items()]
    return []


def pod_views(resource_type: str, props: Mapping) -> List[PodView]:
    """Every pod the resource would run, or [] for types that run none."""
    if resource_type in POD_SPEC_PATHS:
        pod_spec = child(props, *POD_SPEC_PATHS[resource_type])
        return [_k8s_pod(pod_spec)] if pod_spec is not None else []
    if resource_type == DGD_V1BETA1_TYPE:
        return [_dgd_component_pod(c) for c in as_list(child(props, "spec", "components"))]
    if resource_type == DGD_TYPE:
        return [_dgd_service_pod(str(name), service)
                for name, service in as_map(child(props, "spec", "services")).items()]
    return []


def graph_envs(resource_type: str, props: Mapping) -> List[Any]:
    """A DGD's graph-wide env (`spec.env` in v1beta1, `spec.envs` in v1alpha1), which every component inherits."""
    if resource_type == DGD_V1BETA1_TYPE:
        return as_list(child(props, "spec", "env"))
    return as_list(child(props, "spec", "envs")) if resource_type == DGD_TYPE else []
