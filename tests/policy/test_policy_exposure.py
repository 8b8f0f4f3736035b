"""no-load-balancer-services and model-api-private (the frontends' Services found by their graph, not their name)."""
from policy_harness import DGD, DGD_V1BETA1, HTTP_ROUTE, SERVICE, analyze_stack, dgd, dgd_v1beta1, messages

LB_POLICY = "no-load-balancer-services"
ROUTE_POLICY = "model-api-private"
OPT_IN = "policy.gtc-demo.io/allow-load-balancer"


def service(kind="ClusterIP", annotations=None, selector=None):
    return {"metadata": {"name": "loadgen", "annotations": annotations or {}},
            "spec": {"type": kind, "selector": selector or {"app": "loadgen"}, "ports": [{"port": 80}]}}


def route(*backends):
    return {"metadata": {"name": "ui", "namespace": "dynamo-workload"},
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
    props["metadata"] = {"name": "frontend-lb", "namespace": "dynamo-workload", "annotations": {OPT_IN: "true"}}
    assert messages(SERVICE, "frontend-lb", props, LB_POLICY) == []  # reviewed: a second public address
    found = [d.message.split("\n", 1)[1] for d in analyze_stack([(DGD_V1BETA1, "gtc-demo", dgd_v1beta1()),
                                                                 (SERVICE, "frontend-lb", props)]) if d.policy == ROUTE_POLICY]
    assert found == ['Service "frontend-lb": selects the Dynamo frontend pods and publishes them (type LoadBalancer); '
                     "the model API stays ClusterIP, behind the load generator"]


def stack_messages(*resources):
    return [(d.urn.rsplit("::", 1)[1], d.message.split("\n", 1)[1]) for d in analyze_stack(resources)
            if d.policy == ROUTE_POLICY and d.mandatory]


def test_route_to_the_load_generator_passes():
    assert stack_messages((DGD_V1BETA1, "gtc-demo", dgd_v1beta1()), (HTTP_ROUTE, "ui", route("loadgen"))) == []


def test_route_to_a_frontend_is_a_violation():
    assert stack_messages((DGD_V1BETA1, "gtc-demo", dgd_v1beta1()), (HTTP_ROUTE, "ui", route("loadgen", "gtc-demo-frontend"))) == [
        ("ui", 'HTTPRoute "ui": sends traffic to "gtc-demo-frontend", a Service of the Dynamo frontend pods (the model '
               "API, no token); frontends are reached only inside the cluster")]


def test_stack_policy_finds_routes_to_operator_services_of_frontends_with_other_names():
    graph = dgd()
    graph["spec"]["services"]["Router"] = dict(graph["spec"]["services"].pop("Frontend"))
    found = stack_messages((DGD, "gtc-demo", graph), (HTTP_ROUTE, "ui", route("gtc-demo-router")),
                           (HTTP_ROUTE, "grafana", route("grafana")))
    assert [urn for urn, _ in found] == ["ui"] and '"gtc-demo-router"' in found[0][1]


def test_stack_policy_reads_v1beta1_frontend_components():
    graph = dgd_v1beta1()
    graph["spec"]["components"][0]["name"] = "Router"
    found = stack_messages((DGD_V1BETA1, "gtc-demo", graph), (HTTP_ROUTE, "ui", route("gtc-demo-router")))
    assert [urn for urn, _ in found] == ["ui"]


def test_stack_policy_passes_when_no_route_reaches_a_frontend():
    assert stack_messages((DGD, "gtc-demo", dgd()), (HTTP_ROUTE, "ui", route("loadgen"))) == []
