"""no-load-balancer-services, dynamo-frontends-private, dynamo-frontend-services-unrouted."""
from policy_harness import DGD, DGD_V1BETA1, HTTP_ROUTE, SERVICE, analyze_stack, dgd, dgd_v1beta1, messages

LB_POLICY = "no-load-balancer-services"
ROUTE_POLICY = "dynamo-frontends-private"
OPT_IN = "policy.gtc-demo.io/allow-load-balancer"


def service(kind="ClusterIP", annotations=None, selector=None):
    return {"metadata": {"name": "loadgen", "annotations": annotations or {}},
            "spec": {"type": kind, "selector": selector or {"app": "loadgen"}, "ports": [{"port": 80}]}}


def route(*backends):
    return {"metadata": {"name": "ui"},
            "spec": {"parentRefs": [{"name": "gtc-demo"}],
                     "rules": [{"backendRefs": [{"name": b, "port": 8000} for b in backends]}]}}


def test_cluster_ip_service_passes():
    assert messages(SERVICE, "loadgen", service(), LB_POLICY) == []


def test_load_balancer_service_is_a_violation():
    found = messages(SERVICE, "loadgen", service("LoadBalancer"), LB_POLICY)
    assert len(found) == 1
    assert found[0].startswith('Service "loadgen": type LoadBalancer opens a public load balancer')


def test_opt_in_annotation_allows_a_reviewed_load_balancer():
    props = service("LoadBalancer", annotations={OPT_IN: "true"})
    assert messages(SERVICE, "loadgen", props, LB_POLICY) == []


def test_opt_in_cannot_expose_a_dynamo_frontend():
    props = service("LoadBalancer", annotations={OPT_IN: "true"},
                    selector={"nvidia.com/dynamo-component-type": "frontend"})
    assert messages(SERVICE, "frontend-lb", props, LB_POLICY) == [
        'Service "frontend-lb": type LoadBalancer exposes a Dynamo frontend '
        "(nvidia.com/dynamo-component-type=frontend) publicly; frontends stay ClusterIP"]


def test_route_to_the_load_generator_passes():
    assert messages(HTTP_ROUTE, "ui", route("loadgen"), ROUTE_POLICY) == []


def test_route_to_a_frontend_is_a_violation():
    assert messages(HTTP_ROUTE, "ui", route("loadgen", "gtc-demo-frontend"), ROUTE_POLICY) == [
        'HTTPRoute "ui": routes public traffic to "gtc-demo-frontend", a Dynamo frontend; '
        "frontends are reachable only inside the cluster"]


def test_stack_policy_finds_routes_to_operator_services_of_frontends_with_other_names():
    graph = dgd()
    graph["spec"]["services"]["Router"] = dict(graph["spec"]["services"].pop("Frontend"))
    found = analyze_stack([(DGD, "gtc-demo", graph), (HTTP_ROUTE, "ui", route("gtc-demo-router")),
                           (HTTP_ROUTE, "grafana", route("grafana"))])
    assert [(d.policy, d.urn.rsplit("::", 1)[1], d.message.split("\n", 1)[1]) for d in found] == [
        ("dynamo-frontend-services-unrouted", "ui",
         'HTTPRoute "ui": routes public traffic to "gtc-demo-router", the Service the Dynamo operator '
         "creates for a DGD frontend")]
    assert all(d.mandatory for d in found)


def test_stack_policy_reads_v1beta1_frontend_components():
    graph = dgd_v1beta1()
    graph["spec"]["components"][0]["name"] = "Router"
    found = analyze_stack([(DGD_V1BETA1, "gtc-demo", graph), (HTTP_ROUTE, "ui", route("gtc-demo-router"))])
    assert [d.message.split("\n", 1)[1] for d in found] == [
        'HTTPRoute "ui": routes public traffic to "gtc-demo-router", the Service the Dynamo operator '
        "creates for a DGD frontend"]


def test_stack_policy_passes_when_no_route_reaches_a_frontend():
    assert analyze_stack([(DGD, "gtc-demo", dgd()), (HTTP_ROUTE, "ui", route("loadgen"))]) == []
