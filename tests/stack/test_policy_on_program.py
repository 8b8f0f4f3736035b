"""The real program, as registered for dev and prod, passes the policy pack that guards `pulumi preview`.

Each registered custom resource goes through the pack's analyzer exactly as the engine would send it
(inputs with secret markers); the stack policy sees them all at once. A deliberately broken copy of a
real resource shows the check is live.
"""
import copy
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "policy"))

import policy_harness  # noqa: E402
from plan import Plan, evaluate, is_secret  # noqa: E402

SECRET = "kubernetes:core/v1:Secret"
# Types the pack inspects that the program must contain, so a pass is not a pass over nothing.
MUST_BE_INSPECTED = {
    "digitalocean:index/kubernetesCluster:KubernetesCluster",
    "kubernetes:helm.sh/v3:Release",
    SECRET,
}


def managed(plan: Plan):
    return [r for r in plan.resources if r.custom and not r.type.startswith("pulumi:providers:")]


def violations(plan: Plan):
    found = [(r.name, d) for r in managed(plan) for d in policy_harness.analyze(r.type, r.name, r.inputs, r.urn)]
    stack = policy_harness.analyze_stack([(r.type, r.name, r.inputs, r.urn) for r in managed(plan)])
    return found + [(d.urn, d) for d in stack]


def test_program_registers_what_the_pack_inspects(stack_plan):
    assert MUST_BE_INSPECTED <= {r.type for r in managed(stack_plan)}


DIGEST_POLICY = "images-pinned-by-digest"


def test_program_passes_every_policy(stack_plan):
    """Every policy passes, except the digest warning, which fires exactly once per tag-pinned container image
    while the stack says `images.pinning: tag` (issue 16: digests are recorded at release, docs/security.md)."""
    found = violations(stack_plan)
    assert [f"{name}: [{d.policy}] {d.message}" for name, d in found if d.policy != DIGEST_POLICY] == []
    warned = sorted(d.message.split('image "')[1].split('"')[0] for _, d in found if d.policy == DIGEST_POLICY)
    assert all(not d.mandatory for _, d in found if d.policy == DIGEST_POLICY)
    images = [c["image"] for r in managed(stack_plan) for c in _containers(r.plain)]
    assert warned == sorted(image for image in images if "@sha256:" not in image)


def _containers(props):
    spec = props.get("spec") or {}
    pods = [spec.get("template", {}).get("spec", {})] + [c["podTemplate"]["spec"] for c in spec.get("components", [])]
    return [c for pod in pods for c in pod.get("containers", [])]


def test_program_passes_during_preview_with_unknown_outputs(dev_preview_plan):
    """What the PR check runs: `pulumi preview`, where outputs of resources not yet created are unknown."""
    mandatory = [f"{name}: [{d.policy}] {d.message}" for name, d in violations(dev_preview_plan)
                 if d.mandatory]
    assert mandatory == []


def test_a_real_secret_turned_plaintext_is_caught(dev_plan):
    """Negative control on real program output: drop the secret marker from one real Secret's data."""
    secret = next(r for r in managed(dev_plan) if r.type == SECRET and is_secret(r.inputs.get("stringData")))
    inputs = copy.deepcopy(secret.inputs)
    inputs["stringData"] = inputs["stringData"]["value"]
    found = policy_harness.analyze(secret.type, secret.name, inputs, secret.urn)
    assert {d.policy for d in found} == {"secret-data-from-pulumi-secrets"}
    assert sorted(d.message.split('stringData["')[1].split('"')[0] for d in found) == sorted(inputs["stringData"])


def test_every_accepted_chart_finding_is_still_found(dev_plan, prod_plan):
    """policy/chart-baseline.json excuses only what the charts still render with the program's values: an
    entry no longer found (a chart upgrade, a changed value) must go, so the list never outlives its reason."""
    from gtc_policy import pack
    from gtc_policy.charts import render
    from gtc_policy.rules import charts
    found = {}
    for plan in (dev_plan, prod_plan):
        for release in plan.by_type(charts.RELEASE_TYPES[0]):
            inputs = release.plain
            objects = render(inputs["chart"], inputs.get("version"), inputs["name"], inputs["namespace"],
                             inputs.get("values") or {}, plan.stack)
            for rule, message in charts.findings(objects, pack.RENDERED_RULES):
                found.setdefault(inputs["name"], {}).setdefault(rule, set()).add(message)
    accepted = charts.baseline()
    stale = [f"{release} [{rule}] {message}" for release, rules in accepted.items() for rule, messages in rules.items()
             for message in messages if message not in found.get(release, {}).get(rule, set())]
    assert stale == []
    assert sum(len(m) for rules in accepted.values() for m in rules.values()) > 0  # the charts do need some


def _rendered_violations(release, change):
    inputs = copy.deepcopy(release.inputs)
    change(inputs["values"])
    return [d.message.split("\n", 1)[1] for d in policy_harness.analyze(release.type, release.name, inputs, release.urn)
            if d.policy == "helm-releases-rendered" and d.mandatory]


def _kps(plan):
    return next(r for r in plan.by_type("kubernetes:helm.sh/v3:Release") if r.inputs["name"] == "kube-prometheus-stack")


def test_chart_values_that_open_the_node_are_refused_before_up(prod_plan):
    """Issue 29: what the outside audit set through chart values, on prod's real kube-prometheus-stack values."""
    release = _kps(prod_plan)
    assert _rendered_violations(release, lambda v: None) == []
    cases: dict = {
        "grafana NodePort": (lambda v: v["grafana"].setdefault("service", {}).update(type="NodePort"),
                             'Service "monitoring/kube-prometheus-stack-grafana": type NodePort opens a port on every node'),
        "prometheus NodePort": (lambda v: v["prometheus"].setdefault("service", {}).update(type="NodePort"),
                                'Service "monitoring/kube-prometheus-stack-prometheus": type NodePort'),
        "prometheus hostNetwork": (lambda v: v["prometheus"]["prometheusSpec"].update(hostNetwork=True),
                                   'Prometheus "monitoring/kube-prometheus-stack-prometheus": hostNetwork: true'),
        "kube-state-metrics hostNetwork": (lambda v: v.setdefault("kube-state-metrics", {}).update(hostNetwork=True),
                                           'Deployment "monitoring/kube-prometheus-stack-kube-state-metrics": hostNetwork: true'),
        "grafana extraObjects": (lambda v: v["grafana"].update(extraObjects=[{
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "grafana-helper"},
            "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {"metadata": {"labels": {"a": "b"}}, "spec": {
                "hostNetwork": True, "containers": [{"name": "h", "image": "busybox:1.36"}]}}}}]),
            'Deployment "monitoring/grafana-helper": hostNetwork: true'),
        "grafana LoadBalancer": (lambda v: v["grafana"].setdefault("service", {}).update(type="LoadBalancer"),
                                 'Service "monitoring/kube-prometheus-stack-grafana": type LoadBalancer'),
        "kube-state-metrics reads Secrets": (lambda v: v["kube-state-metrics"]["collectors"].append("secrets"),
                                             "kube-prometheus-stack-kube-state-metrics\": rules[22] reads or writes Secrets"),
    }
    for what, (change, expected) in cases.items():
        found = _rendered_violations(release, change)
        assert any(expected in m for m in found), (what, found)
        assert all(m.startswith(f'Release "{release.name}" renders ') for m in found), found


def test_a_release_the_pack_cannot_render_is_refused(dev_plan):
    release = _kps(dev_plan)
    inputs = copy.deepcopy(release.inputs)
    inputs["version"], inputs["chart"] = "99.0.0", "kube-prometheus-stack"
    found = [d.message for d in policy_harness.analyze(release.type, release.name, inputs, release.urn)
             if d.policy == "helm-releases-rendered"]
    assert len(found) == 1 and "cannot render what it installs" in found[0] and "99.0.0" in found[0]


def test_values_that_are_one_pulumi_secret_are_never_rendered_in_the_clear(dev_plan, tmp_path, monkeypatch):
    """A release whose whole values tree is a Pulumi secret renders as a placeholder (so helm refuses it and the
    release is refused as unrenderable): the pack never writes a secret's values into its render cache."""
    import gtc_policy.charts as charts_module
    monkeypatch.setattr(charts_module, "CACHE", tmp_path)
    release = _kps(dev_plan)
    inputs = copy.deepcopy(release.inputs)
    inputs["values"] = policy_harness.secret(release.plain["values"])
    found = [d.message for d in policy_harness.analyze(release.type, release.name, inputs, release.urn)
             if d.policy == "helm-releases-rendered"]
    assert len(found) == 1 and "cannot render what it installs" in found[0], found
    assert list(tmp_path.iterdir()) == []
