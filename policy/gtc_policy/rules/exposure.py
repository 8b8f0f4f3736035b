"""No path from outside to the model API, decided by which pods each object reaches, not by names.

The Dynamo frontends serve the model without any token; only the load generator (behind its control
token) and the verification Job call them. So whatever the spelling, nothing may put a public address or a
public route in front of the frontend pods:
- a Service reaches them when its selector could select their labels (the DGD's pod template labels plus
  the operator's `nvidia.com/...` labels, taken as matching whatever they say): such a Service may not be a
  LoadBalancer or NodePort or carry externalIPs, and no route or Ingress may send traffic to it, as a
  backend or as a mirror (nor to the Services the operator creates, `<graph>-<component>`);
- a NetworkPolicy or CiliumNetworkPolicy that could select them may admit only same-namespace pods and
  Prometheus, never an address block, another namespace or a Cilium entity (`ingress` is the Gateway).
The Gateway is the one public entry: one Gateway, listeners that take routes from named namespaces only
(never `All`), and plain HTTP only redirecting to HTTPS. Any other LoadBalancer Service is a second public
address and needs a reviewer's `policy.gtc-demo.io/allow-load-balancer: "true"`.
"""
from typing import Any, Dict, Iterable, List, Mapping, Set, Tuple

from pulumi_policy.proxy import UnknownValueError

from ..props import as_list, as_map, as_str, child, subject
from ..selectors import could_select, namespace_names
from ..workloads import DGD_TYPES, DGD_V1BETA1_TYPE, dgd_components

SERVICE_TYPE = "kubernetes:core/v1:Service"
INGRESS_TYPE = "kubernetes:networking.k8s.io/v1:Ingress"
NETWORK_POLICY_TYPE = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
CILIUM_POLICY_TYPE = "kubernetes:cilium.io/v2:CiliumNetworkPolicy"
GATEWAY_API = "kubernetes:gateway.networking.k8s.io/"
ALLOW_LOAD_BALANCER_ANNOTATION = "policy.gtc-demo.io/allow-load-balancer"
DYNAMO_COMPONENT_TYPE_LABEL = "nvidia.com/dynamo-component-type"
OPERATOR_LABELS = ("nvidia.com/",)  # set by the Dynamo operator on the graph's pods: open keys
FRONTEND_COMPONENT = "frontend"
PROMETHEUS_LABEL = "operator.prometheus.io/name"
MONITORING_NS = "monitoring"
Resource = Tuple[str, str, str, Mapping]


def _kind(resource_type: str) -> str:
    return resource_type.rsplit(":", 1)[-1]


def _is_gateway_api(resource_type: str, kind: str = "") -> bool:
    return resource_type.startswith(GATEWAY_API) and (not kind or _kind(resource_type) == kind)


def check_load_balancers(resource_type: str, name: str, props: Mapping) -> List[str]:
    """Any LoadBalancer Service is a second public address unless a reviewer opted it in."""
    if resource_type != SERVICE_TYPE or as_str(child(props, "spec", "type")) != "LoadBalancer":
        return []
    if as_str(child(props, "metadata", "annotations", ALLOW_LOAD_BALANCER_ANNOTATION)) != "true":
        return [f"{subject(resource_type, name)}: type LoadBalancer opens a public load balancer; the "
                "Gateway is the only public entry (Cilium creates its Service), use ClusterIP and an "
                f'HTTPRoute, or annotate {ALLOW_LOAD_BALANCER_ANNOTATION}: "true" after review']
    return []


def check_gateway_listeners(resource_type: str, name: str, props: Mapping) -> List[str]:
    if not _is_gateway_api(resource_type, "Gateway"):
        return []
    found = []
    for listener in as_list(child(props, "spec", "listeners")):
        if as_str(child(listener, "allowedRoutes", "namespaces", "from")) == "All":
            found.append(f'{subject(resource_type, name)}: listener "{as_str(child(listener, "name"))}" takes routes '
                         "from every namespace, so any namespace's route is public; name the namespaces (Selector)")
    return found


def _frontend_pods(resources: List[Resource]) -> List[Tuple[str, Dict[str, str]]]:
    """(namespace, labels) of every frontend component of every DGD."""
    pods = []
    for resource_type, _name, _urn, props in resources:
        if resource_type not in DGD_TYPES:
            continue
        namespace = as_str(child(props, "metadata", "namespace")) or "default"
        # v1beta1 components carry a pod template with labels; a v1alpha1 service only the operator's labels.
        templates = as_list(child(props, "spec", "components")) if resource_type == DGD_V1BETA1_TYPE else []
        for i, (_component, component_type) in enumerate(dgd_components(resource_type, props)):
            if component_type.lower() != FRONTEND_COMPONENT:
                continue
            template = templates[i] if i < len(templates) else None
            labels = {str(k): as_str(v) or "" for k, v in as_map(child(template, "podTemplate", "metadata", "labels")).items()}
            labels[DYNAMO_COMPONENT_TYPE_LABEL] = FRONTEND_COMPONENT
            pods.append((namespace, labels))
    return pods


def _operator_services(resources: List[Resource]) -> Set[Tuple[str, str]]:
    """(namespace, name) of the Services the Dynamo operator creates for frontends: `<graph>-<component>`."""
    found = set()
    for resource_type, _name, _urn, props in resources:
        if resource_type in DGD_TYPES:
            namespace = as_str(child(props, "metadata", "namespace")) or "default"
            graph = as_str(child(props, "metadata", "name")) or ""
            found |= {(namespace, f"{graph}-{c.lower()}") for c, t in dgd_components(resource_type, props)
                      if t.lower() == FRONTEND_COMPONENT}
    return found


def _reaches(namespace: str, selector: Any, pods, flat: bool) -> bool:
    return any(ns == namespace and could_select(selector, labels, OPERATOR_LABELS, flat=flat) for ns, labels in pods)


def _backend_refs(value: Any, depth: int = 0) -> Iterable[Any]:
    """Every backendRef in a route's spec: rules' backends, filters' mirrors, however deep."""
    if depth > 8:
        return
    for key, item in as_map(value).items():
        if key in ("backendRef", "backendRefs"):
            yield from (as_list(item) if as_list(item) else [item])
        if as_map(item):
            yield from _backend_refs(item, depth + 1)
        for element in as_list(item):
            yield from _backend_refs(element, depth + 1)


def route_backends(resource_type: str, props: Mapping) -> List[Tuple[str, str]]:
    """(namespace, Service name) each route or Ingress sends traffic to, mirrors included."""
    namespace = as_str(child(props, "metadata", "namespace")) or "default"
    if _is_gateway_api(resource_type) and _kind(resource_type).endswith("Route"):
        return [(as_str(child(ref, "namespace")) or namespace, as_str(child(ref, "name")) or "")
                for ref in _backend_refs(child(props, "spec"))
                if (as_str(child(ref, "kind")) or "Service") == "Service"]
    if resource_type == INGRESS_TYPE:
        names = [as_str(child(props, "spec", "defaultBackend", "service", "name"))]
        names += [as_str(child(path, "backend", "service", "name"))
                  for rule in as_list(child(props, "spec", "rules")) for path in as_list(child(rule, "http", "paths"))]
        return [(namespace, n) for n in names if n]
    return []


def _peer_allowed(peer: Any) -> bool:
    """Same-namespace pods, or Prometheus in `monitoring`: the frontends' only clients."""
    if child(peer, "ipBlock") is not None:
        return False
    namespaces = child(peer, "namespaceSelector")
    if namespaces is None:
        return child(peer, "podSelector") is not None
    names = namespace_names(namespaces)
    return names == {MONITORING_NS} and as_str(child(peer, "podSelector", "matchLabels", PROMETHEUS_LABEL)) is not None


def _policy_findings(resource_type: str, name: str, props: Mapping, pods) -> List[str]:
    namespace = as_str(child(props, "metadata", "namespace")) or "default"
    tail = "to the Dynamo frontend pods, which serve the model without a token; admit the load generator " \
           "(same namespace) and Prometheus only"
    found = []
    if resource_type == NETWORK_POLICY_TYPE and _reaches(namespace, child(props, "spec", "podSelector"), pods, False):
        for i, rule in enumerate(as_list(child(props, "spec", "ingress"))):
            peers = as_list(child(rule, "from"))
            if not peers:
                found.append(f"{subject(resource_type, name)}: ingress[{i}] admits every source {tail}")
            for peer in peers:
                if not _peer_allowed(peer):
                    what = "an address block" if child(peer, "ipBlock") is not None else "another namespace"
                    found.append(f"{subject(resource_type, name)}: ingress[{i}] admits {what} {tail}")
                    break
    if resource_type == CILIUM_POLICY_TYPE and _reaches(namespace, child(props, "spec", "endpointSelector"), pods, False):
        for i, rule in enumerate(as_list(child(props, "spec", "ingress"))):
            if any(as_list(child(rule, key)) for key in ("fromEntities", "fromCIDR", "fromCIDRSet")):
                found.append(f"{subject(resource_type, name)}: ingress[{i}] admits Cilium entities or CIDRs {tail}")
    return found


def check_stack_model_api_private(resources: Iterable[Resource]) -> List[Tuple[str, str]]:
    """[(urn, message)]: every object that puts an address, a route or a policy hole in front of a frontend."""
    resources = list(resources)
    pods = _frontend_pods(resources)
    frontend_services = _operator_services(resources)
    found = []
    for resource_type, name, urn, props in resources:
        try:
            if resource_type == SERVICE_TYPE:
                namespace = as_str(child(props, "metadata", "namespace")) or "default"
                selector = child(props, "spec", "selector")
                if as_map(selector) and _reaches(namespace, selector, pods, True):
                    frontend_services.add((namespace, as_str(child(props, "metadata", "name")) or name))
                    kind = as_str(child(props, "spec", "type")) or "ClusterIP"
                    if kind in ("LoadBalancer", "NodePort") or as_list(child(props, "spec", "externalIPs")):
                        shown = f"type {kind}" if kind != "ClusterIP" else "externalIPs"
                        found.append((urn, f"{subject(resource_type, name)}: selects the Dynamo frontend pods and "
                                           f"publishes them ({shown}); the model API stays ClusterIP, behind the load generator"))
            found += [(urn, m) for m in _policy_findings(resource_type, name, props, pods)]
        except UnknownValueError:
            continue  # decided at `up`, when the value is known
    for resource_type, name, urn, props in resources:
        try:
            for namespace, backend in route_backends(resource_type, props):
                if (namespace, backend) in frontend_services:
                    found.append((urn, f'{subject(resource_type, name)}: sends traffic to "{backend}", a Service of the '
                                       "Dynamo frontend pods (the model API, no token); frontends are reached only "
                                       "inside the cluster"))
        except UnknownValueError:
            continue
    return found + _gateway_findings(resources)


def _gateway_findings(resources: List[Resource]) -> List[Tuple[str, str]]:
    gateways = [(t, n, u, p) for t, n, u, p in resources if _is_gateway_api(t, "Gateway")]
    found = []
    if len(gateways) > 1:
        found += [(u, f"{subject(t, n)}: one of {len(gateways)} Gateways; each is a public load balancer, and the "
                      "stack has one entry") for t, n, u, p in gateways]
    plain = {}  # (gateway namespace, gateway name) -> names of its plain-HTTP listeners
    for _t, _n, _u, props in gateways:
        key = (as_str(child(props, "metadata", "namespace")) or "default", as_str(child(props, "metadata", "name")) or "")
        plain[key] = {as_str(child(l, "name")) for l in as_list(child(props, "spec", "listeners"))
                      if as_str(child(l, "protocol")) == "HTTP"}
    for resource_type, name, urn, props in resources:
        if not (_is_gateway_api(resource_type) and _kind(resource_type).endswith("Route")):
            continue
        namespace = as_str(child(props, "metadata", "namespace")) or "default"
        for parent in as_list(child(props, "spec", "parentRefs")):
            key = (as_str(child(parent, "namespace")) or namespace, as_str(child(parent, "name")) or "")
            section = as_str(child(parent, "sectionName"))
            listeners = plain.get(key, set())
            on_plain = section in listeners if section else bool(listeners)
            forwards = any(as_list(child(rule, "backendRefs")) for rule in as_list(child(props, "spec", "rules")))
            if on_plain and forwards:
                found.append((urn, f"{subject(resource_type, name)}: serves over the Gateway's plain-HTTP listener; "
                                   "HTTP only redirects to HTTPS (attach to the HTTPS listener by sectionName)"))
                break
    return found
