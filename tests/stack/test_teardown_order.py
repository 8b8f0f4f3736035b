"""`pulumi destroy` order, proven on the dependency graph the program registers.

The engine deletes a resource before everything it depends on: its inputs' dependencies, its
dependsOn, its provider, its parent and its deletedWith target. So "A goes before B" is exactly
"A transitively depends on B" over those edges, which is what these tests assert.
"""
from typing import Iterable, Set


from plan import Plan, Resource, stack_config

VPC = "digitalocean:index/vpc:Vpc"
CLUSTER = "digitalocean:index/kubernetesCluster:KubernetesCluster"
NODE_POOL = "digitalocean:index/kubernetesNodePool:KubernetesNodePool"
NFS = "digitalocean:index/nfs:Nfs"
RELEASE = "kubernetes:helm.sh/v3:Release"
GATEWAY = "kubernetes:gateway.networking.k8s.io/v1:Gateway"
HTTP_ROUTE = "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute"
DGD = "kubernetes:nvidia.com/v1beta1:DynamoGraphDeployment"
JOB = "kubernetes:batch/v1:Job"
PV = "kubernetes:core/v1:PersistentVolume"
PVC = "kubernetes:core/v1:PersistentVolumeClaim"

# API group of a custom resource -> charts whose CRDs (and controllers, with their finalizers) it needs.
CRD_CHARTS = {
    "nvidia.com": {"dynamo-platform"},  # its operator applies the DGD CRD (there is no dynamo-crds chart)
    "cert-manager.io": {"cert-manager"},
    "acme.cert-manager.io": {"cert-manager"},
    "monitoring.coreos.com": {"kube-prometheus-stack"},
}
# Pre-existing account resources (seed 003): looked up, never created, never deleted.
PRE_EXISTING_TYPES = {
    "digitalocean:index/spacesBucket:SpacesBucket": "getSpacesBucket",
    "digitalocean:index/containerRegistry:ContainerRegistry": "getContainerRegistry",
    "digitalocean:index/domain:Domain": "getDomain",
}


def engine_dependencies(resource: Resource) -> Set[str]:
    deps = set(resource.dependencies)
    deps |= {urn for urns in resource.property_dependencies.values() for urn in urns}
    if resource.provider:
        deps.add(resource.provider.rsplit("::", 1)[0])  # "<provider urn>::<provider id>"
    if resource.parent:
        deps.add(resource.parent)
    if resource.options.get("deletedWith"):
        deps.add(resource.options["deletedWith"])
    return deps


def destroyed_before(plan: Plan, first: Resource, then: Resource) -> bool:
    """Whether `pulumi destroy` removes `first` before `then`."""
    by_urn = {r.urn: r for r in plan.resources}
    seen, frontier = set(), [first.urn]
    while frontier:
        urn = frontier.pop()
        if urn in seen or urn not in by_urn:
            continue
        seen.add(urn)
        deps = engine_dependencies(by_urn[urn])
        if then.urn in deps:
            return True
        frontier.extend(deps)
    return False


def one(plan: Plan, type_: str) -> Resource:
    found = plan.by_type(type_)
    assert len(found) == 1, f"expected exactly one {type_}, found {names(found)}"
    return found[0]


def release(plan: Plan, chart: str) -> Resource:
    found = [r for r in plan.by_type(RELEASE) if r.plain.get("chart") == chart]
    assert len(found) == 1, f"expected exactly one Helm release of chart {chart}, found {names(found)}"
    return found[0]


def api_group(resource: Resource) -> str:
    # kubernetes:<group>/<version>:<Kind>
    return resource.type.split(":")[1].rsplit("/", 1)[0] if resource.type.startswith("kubernetes:") else ""


def mentions(value, needle: str) -> bool:
    if isinstance(value, dict):
        return any(mentions(v, needle) for v in value.values())
    if isinstance(value, list):
        return any(mentions(v, needle) for v in value)
    return value == needle


def names(resources: Iterable[Resource]) -> list:
    return sorted(r.name for r in resources)


def test_destroy_order_is_one_way(stack_plan):
    """The relation is an order, not "everything before everything": the VPC never goes first."""
    cluster, vpc = one(stack_plan, CLUSTER), one(stack_plan, VPC)
    assert not destroyed_before(stack_plan, vpc, cluster)
    assert not destroyed_before(stack_plan, one(stack_plan, NFS), one(stack_plan, PV))


def test_cluster_goes_before_its_vpc(stack_plan):
    assert destroyed_before(stack_plan, one(stack_plan, CLUSTER), one(stack_plan, VPC))


def test_node_pools_go_before_the_cluster(stack_plan):
    cluster = one(stack_plan, CLUSTER)
    pools = stack_plan.by_type(NODE_POOL)
    assert pools and [p.name for p in pools if not destroyed_before(stack_plan, p, cluster)] == []


def test_every_kubernetes_object_goes_before_the_cluster(stack_plan):
    cluster = one(stack_plan, CLUSTER)
    objects = [r for r in stack_plan.resources if r.custom and r.type.startswith("kubernetes:")]
    assert objects and names(r for r in objects if not destroyed_before(stack_plan, r, cluster)) == []


def test_gateway_goes_before_the_cluster_so_cilium_releases_its_load_balancer(stack_plan):
    """Cilium deletes the Gateway's LoadBalancer Service (and DO the load balancer) only while the
    cluster exists; a load balancer left behind in the VPC would block deleting the VPC."""
    gateway = one(stack_plan, GATEWAY)
    assert destroyed_before(stack_plan, gateway, one(stack_plan, CLUSTER))
    assert destroyed_before(stack_plan, gateway, one(stack_plan, VPC))


def test_routes_go_before_external_dns_so_it_removes_the_dns_record(stack_plan):
    """external-dns (policy sync) deletes the stack hostname's record from the pre-existing domain when
    the HTTPRoutes disappear, but only if it is still running then."""
    routes = stack_plan.by_type(HTTP_ROUTE)
    assert routes, "no HTTPRoute registered"
    external_dns = release(stack_plan, "external-dns")
    assert names(r for r in routes if not destroyed_before(stack_plan, r, external_dns)) == []


def test_custom_resources_go_before_the_releases_that_define_and_reconcile_them(stack_plan):
    """Removing a CRD or its operator first would strand the custom resource's finalizers."""
    custom = [r for r in stack_plan.resources if api_group(r) in CRD_CHARTS]
    assert DGD in {r.type for r in custom}, "the DynamoGraphDeployment is not registered"
    stranded = [(r.name, chart) for r in custom for chart in sorted(CRD_CHARTS[api_group(r)])
                if not destroyed_before(stack_plan, r, release(stack_plan, chart))]
    assert stranded == []


def test_dynamo_graph_goes_before_gpu_pool_and_model_pipeline(stack_plan):
    dgd = one(stack_plan, DGD)
    gpu_pools = [p for p in stack_plan.by_type(NODE_POOL) if "gpu" in str(p.plain.get("size", ""))]
    # The model pipeline's Jobs; the verification Job checks the graph, so it goes first instead.
    jobs = [j for j in stack_plan.by_type(JOB) if j.plain["metadata"]["labels"].get("app.kubernetes.io/component") == "model-pipeline"]
    assert gpu_pools and jobs
    assert names(t for t in gpu_pools + jobs if not destroyed_before(stack_plan, dgd, t)) == []
    verification = stack_plan.get(JOB, "verification-job")
    assert destroyed_before(stack_plan, verification, dgd)


def test_nfs_share_outlives_everything_that_mounts_it(stack_plan):
    nfs = one(stack_plan, NFS)
    claim = one(stack_plan, PVC).plain["metadata"]["name"]
    mounts = [r for r in stack_plan.resources if r.type in (PV, PVC) or
              (r.custom and r.type != PVC and mentions(r.plain, claim))]
    assert {PV, PVC, JOB, DGD} <= {r.type for r in mounts}, "expected the PV, PVC, pipeline Jobs and DGD"
    assert names(r for r in mounts if not destroyed_before(stack_plan, r, nfs)) == []


def test_pre_existing_resources_are_looked_up_never_managed(stack_plan):
    config = stack_config(stack_plan.stack)
    managed = {r.type for r in stack_plan.resources}
    assert managed.isdisjoint(PRE_EXISTING_TYPES), "a pre-existing resource would be deleted by destroy"
    looked_up = {(i["token"].rsplit(":", 1)[1], i["args"].get("name")) for i in stack_plan.invokes}
    assert {("getSpacesBucket", config["gtc-demo:spaces"]["bucket"]),
            ("getDomain", config["gtc-demo:domain"])} <= looked_up  # the registry: checked at `up` (infra.py)


def test_nothing_managed_lives_inside_the_model_cache_bucket(stack_plan):
    """Objects Pulumi created in the bucket would be deleted by destroy; the model cache is written by
    the pipeline Job at run time, outside Pulumi's state."""
    bucket = stack_config(stack_plan.stack)["gtc-demo:spaces"]["bucket"]
    inside = [r.name for r in stack_plan.resources if r.type.startswith("digitalocean:index/spacesBucket")
              and r.plain.get("bucket") == bucket]
    assert inside == []
