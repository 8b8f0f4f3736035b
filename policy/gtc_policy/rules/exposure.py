"""Nothing is exposed through a load balancer the program declares, and no route reaches a Dynamo frontend.

The only public entry is the Cilium Gateway: Cilium creates its LoadBalancer Service itself from the
Gateway resource, so the program registers no LoadBalancer Service at all. Any it does register is a
second public IP (and a second DO load balancer bill) unless a reviewer opted it in with
`ALLOW_LOAD_BALANCER_ANNOTATION: "true"`. A Dynamo frontend is never public, opt-in or not: it serves the
model without the load generator's control token.
"""
from typing import Iterable, List, Mapping, Set, Tuple

from ..props import as_list, as_map, as_str, child, subject
from ..workloads import DGD_TYPES, dgd_components

SERVICE_TYPE = "kubernetes:core/v1:Service"
ALLOW_LOAD_BALANCER_ANNOTATION = "policy.gtc-demo.io/allow-load-balancer"
DYNAMO_COMPONENT_TYPE_LABEL = "nvidia.com/dynamo-component-type"
FRONTEND_COMPONENT = "frontend"
ROUTE_KINDS = ("HTTPRoute", "GRPCRoute", "TLSRoute", "TCPRoute")
INGRESS_TYPE = "kubernetes:networking.k8s.io/v1:Ingress"


def _is_route(resource_type: str) -> bool:
    return resource_type.startswith("kubernetes:gateway.networking.k8s.io/") and \
        resource_type.rsplit(":", 1)[-1] in ROUTE_KINDS


def _selects_dynamo_frontend(props: Mapping) -> bool:
    return as_str(child(props, "spec", "selector", DYNAMO_COMPONENT_TYPE_LABEL)) == FRONTEND_COMPONENT


def check_load_balancers(resource_type: str, name: str, props: Mapping) -> List[str]:
    if resource_type != SERVICE_TYPE or as_str(child(props, "spec", "type")) != "LoadBalancer":
        return []
    if _selects_dynamo_frontend(props):
        return [f"{subject(resource_type, name)}: type LoadBalancer exposes a Dynamo frontend "
                f"({DYNAMO_COMPONENT_TYPE_LABEL}={FRONTEND_COMPONENT}) publicly; frontends stay ClusterIP"]
    opt_in = as_str(child(props, "metadata", "annotations", ALLOW_LOAD_BALANCER_ANNOTATION))
    if opt_in != "true":
        return [f"{subject(resource_type, name)}: type LoadBalancer opens a public load balancer; the "
                "Gateway is the only public entry (Cilium creates its Service), use ClusterIP and an "
                f'HTTPRoute, or annotate {ALLOW_LOAD_BALANCER_ANNOTATION}: "true" after review']
    return []


def backend_names(resource_type: str, props: Mapping) -> List[str]:
    """Service names a route or Ingress sends traffic to."""
    if _is_route(resource_type):
        return [as_str(child(ref, "name")) or ""
                for rule in as_list(child(props, "spec", "rules"))
                for ref in as_list(child(rule, "backendRefs"))
                if (as_str(child(ref, "kind")) or "Service") == "Service"]
    if resource_type == INGRESS_TYPE:
        names = [as_str(child(props, "spec", "defaultBackend", "service", "name"))]
        names += [as_str(child(path, "backend", "service", "name"))
                  for rule in as_list(child(props, "spec", "rules"))
                  for path in as_list(child(rule, "http", "paths"))]
        return [n for n in names if n]
    return []


def looks_like_frontend(service_name: str) -> bool:
    return FRONTEND_COMPONENT in service_name.lower()


def check_frontend_routes(resource_type: str, name: str, props: Mapping) -> List[str]:
    """Per-resource half: a route to any Service whose name says "frontend"."""
    return [f'{subject(resource_type, name)}: routes public traffic to "{backend}", a Dynamo frontend; '
            "frontends are reachable only inside the cluster"
            for backend in backend_names(resource_type, props) if looks_like_frontend(backend)]


def dgd_frontend_services(resource_type: str, props: Mapping) -> Set[str]:
    """Services the Dynamo operator creates for a DGD's frontends: `<dgd name>-<component name, lower-cased>`."""
    if resource_type not in DGD_TYPES:  # read no other resource's name: it may be unknown until `up`
        return set()
    dgd_name = as_str(child(props, "metadata", "name")) or ""
    return {f"{dgd_name}-{name.lower()}" for name, component_type in dgd_components(resource_type, props)
            if component_type.lower() == FRONTEND_COMPONENT}


def check_stack_frontend_routes(resources: Iterable[Tuple[str, str, str, Mapping]]) -> List[Tuple[str, str]]:
    """Stack half: routes to a DGD frontend Service whose name does not say "frontend" -> [(urn, message)]."""
    resources = list(resources)
    frontends: Set[str] = set()
    for resource_type, _name, _urn, props in resources:
        frontends |= dgd_frontend_services(resource_type, props)
    found = []
    for resource_type, name, urn, props in resources:
        for backend in backend_names(resource_type, props):
            if backend in frontends and not looks_like_frontend(backend):
                found.append((urn, f'{subject(resource_type, name)}: routes public traffic to "{backend}", '
                                   "the Service the Dynamo operator creates for a DGD frontend"))
    return found
