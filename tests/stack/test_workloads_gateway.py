"""Public entry: the Let's Encrypt issuer, the Cilium Gateway and its routes; Dynamo stays private."""

import json

import pytest

ISSUER = "kubernetes:cert-manager.io/v1:ClusterIssuer"
GATEWAY = "kubernetes:gateway.networking.k8s.io/v1:Gateway"
ROUTE = "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute"
RELEASE = "kubernetes:helm.sh/v3:Release"
HOSTS = {"dev": "gtc-2026.dev.digitalocean.solutions", "prod": "gtc-2026.digitalocean.solutions"}


def route(plan, name):
    return plan.get(ROUTE, f"gateway-route-{name}").plain


@pytest.mark.parametrize("stack,name,server", [
    ("dev", "letsencrypt-staging", "https://acme-staging-v02.api.letsencrypt.org/directory"),
    ("prod", "letsencrypt-prod", "https://acme-v02.api.letsencrypt.org/directory"),
])
def test_cluster_issuer_uses_dns01_on_digitalocean(dev_plan, prod_plan, stack, name, server):
    plan = {"dev": dev_plan, "prod": prod_plan}[stack]
    issuer = plan.get(ISSUER).plain
    assert issuer["metadata"]["name"] == name
    acme = issuer["spec"]["acme"]
    assert acme["server"] == server
    assert acme["email"] == "solutions-engineering@digitalocean.com"
    assert acme["privateKeySecretRef"]["name"] == f"{name}-account-key"
    assert acme["solvers"] == [{
        "selector": {"dnsZones": [{"dev": "dev.digitalocean.solutions", "prod": "digitalocean.solutions"}[stack]]},
        "dns01": {"digitalocean": {"tokenSecretRef": {"name": "digitalocean-dns", "key": "access-token"}}},
    }]


def test_issuer_after_cert_manager_and_its_token(stack_plan):
    issuer = stack_plan.get(ISSUER)
    assert stack_plan.depends_on(issuer, stack_plan.get(RELEASE, "platform-cert-manager"))
    assert stack_plan.depends_on(issuer, stack_plan.get("kubernetes:core/v1:Secret",
                                                        "platform-secret-cert-manager-digitalocean-dns"))


def test_gateway_listeners_and_certificate(stack_plan):
    gateway = stack_plan.get(GATEWAY).plain
    host = HOSTS[stack_plan.stack]
    issuer = stack_plan.get(ISSUER).plain["metadata"]["name"]
    assert gateway["metadata"]["annotations"]["cert-manager.io/cluster-issuer"] == issuer
    assert gateway["spec"]["gatewayClassName"] == "cilium"
    listeners = {l["name"]: l for l in gateway["spec"]["listeners"]}
    assert set(listeners) == {"https", "http"}
    https, http = listeners["https"], listeners["http"]
    assert (https["port"], https["protocol"], https["hostname"]) == (443, "HTTPS", host)
    assert https["tls"] == {"mode": "Terminate", "certificateRefs": [{"kind": "Secret", "name": "gtc-demo-tls"}]}
    assert (http["port"], http["protocol"], http["hostname"]) == (80, "HTTP", host)
    assert "tls" not in http


@pytest.mark.parametrize("release", ["cert-manager", "external-dns"])
def test_gateway_after_cert_manager_and_external_dns(stack_plan, release):
    assert stack_plan.depends_on(stack_plan.get(GATEWAY), stack_plan.get(RELEASE, f"platform-{release}"))


def test_http_redirects_to_https(stack_plan):
    redirect = route(stack_plan, "https-redirect")
    assert redirect["spec"]["parentRefs"] == [{"name": "gtc-demo", "namespace": "dynamo-workload", "sectionName": "http"}]
    assert redirect["spec"]["rules"] == [{"filters": [
        {"type": "RequestRedirect", "requestRedirect": {"scheme": "https", "statusCode": 301}}]}]


def test_ui_and_grafana_routes(stack_plan):
    ui, grafana = route(stack_plan, "loadgen"), route(stack_plan, "grafana")
    assert ui["metadata"]["namespace"] == "dynamo-workload"
    # Issue 28: every UI request has Envoy's request timeout, except the live feed's websocket (it would be cut).
    assert ui["spec"]["rules"] == [{"matches": [{"path": {"type": "Exact", "value": "/ws"}}],
                                    "backendRefs": [{"name": "loadgen", "port": 80}]},
                                   {"matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                                    "backendRefs": [{"name": "loadgen", "port": 80}], "timeouts": {"request": "30s"}}]
    assert grafana["metadata"]["namespace"] == "monitoring"
    assert grafana["spec"]["rules"] == [{"matches": [{"path": {"type": "PathPrefix", "value": "/grafana"}}],
                                         "backendRefs": [{"name": "kube-prometheus-stack-grafana", "port": 80}]}]
    for r in (ui, grafana):
        assert r["spec"]["parentRefs"][0]["sectionName"] == "https"


def test_every_route_names_the_stack_hostname_for_external_dns(stack_plan):
    routes = stack_plan.by_type(ROUTE)
    assert len(routes) == 3
    for r in routes:
        assert r.plain["spec"]["hostnames"] == [HOSTS[stack_plan.stack]]


def test_dynamo_frontends_are_never_routed_publicly(stack_plan):
    text = json.dumps([r.plain for r in stack_plan.by_type(ROUTE)])
    for private in ("frontend", "8000", "trtllmworker"):
        assert private not in text.lower()
    assert not [r for r in stack_plan.resources if r.type.endswith(":Ingress")]
    for service in stack_plan.by_type("kubernetes:core/v1:Service"):
        assert service.plain["spec"].get("type", "ClusterIP") == "ClusterIP"


def test_routes_after_their_backends(stack_plan):
    ui = stack_plan.get(ROUTE, "gateway-route-loadgen")
    assert stack_plan.depends_on(ui, stack_plan.get("kubernetes:core/v1:Service", "loadgen-service"))
    grafana = stack_plan.get(ROUTE, "gateway-route-grafana")
    assert stack_plan.depends_on(grafana, stack_plan.get(RELEASE, "platform-kube-prometheus-stack"))


def test_public_urls_are_exported(stack_plan):
    host = HOSTS[stack_plan.stack]
    assert stack_plan.outputs["uiUrl"] == f"https://{host}/"
    assert stack_plan.outputs["grafanaUrl"] == f"https://{host}/grafana"


def _admitted(listener: dict) -> set[str]:
    namespaces = listener["allowedRoutes"]["namespaces"]
    assert namespaces["from"] == "Selector"
    [expression] = namespaces["selector"]["matchExpressions"]
    assert (expression["key"], expression["operator"]) == ("kubernetes.io/metadata.name", "In")
    return set(expression["values"])


def test_route_namespaces_are_allowed_by_the_listeners(stack_plan):
    listeners = {l["name"]: l for l in stack_plan.get(GATEWAY).plain["spec"]["listeners"]}
    for r in stack_plan.by_type(ROUTE):
        namespace = r.plain["metadata"]["namespace"]
        for parent in r.plain["spec"]["parentRefs"]:
            assert namespace in _admitted(listeners[parent["sectionName"]]), (r.name, namespace)


def test_listeners_admit_only_the_namespaces_of_our_routes(stack_plan):
    """Issue 16: not every part-of namespace (cert-manager, external-dns, dynamo-system) may attach a route."""
    listeners = {l["name"]: l for l in stack_plan.get(GATEWAY).plain["spec"]["listeners"]}
    assert _admitted(listeners["https"]) == {"dynamo-workload", "monitoring"}
    assert _admitted(listeners["http"]) == {"dynamo-workload"}
