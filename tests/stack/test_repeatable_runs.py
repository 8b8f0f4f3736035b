"""Two evaluations with the same config register byte-identical inputs, so a second `pulumi up` is a no-op.

The session's evaluation of each stack ran with Python's randomised string hashing; the second runs in
a fresh process with hashing fixed (PYTHONHASHSEED=0) and at least a second later. So a timestamp, an
unseeded random value or an order taken from a set would show up as a difference.
"""
import json
import time

from plan import Plan, evaluate

RANDOM_PREFIX = "random:index/"


def canonical(plan: Plan) -> dict:
    """URN -> what the engine diffs, serialised deterministically. Registration order is not compared
    (the SDK registers concurrently) and dependency lists are sets to the engine."""
    return {r.urn: json.dumps({"type": r.type, "name": r.name, "urn": r.urn, "parent": r.parent,
                        "provider": r.provider, "inputs": r.inputs,
                        "dependencies": sorted(r.dependencies),
                        "property_dependencies": {k: sorted(v) for k, v in r.property_dependencies.items()},
                        "options": r.options}, sort_keys=True)
            for r in plan.resources}


def test_two_runs_register_identical_inputs(stack_plan, monkeypatch):
    first = stack_plan
    time.sleep(1.1)
    monkeypatch.setenv("PYTHONHASHSEED", "0")
    second = evaluate(first.stack)
    assert len(first.resources) > 10
    before, after = canonical(first), canonical(second)
    assert before.keys() == after.keys()
    assert [urn for urn in before if before[urn] != after[urn]] == []
    assert json.dumps(first.outputs, sort_keys=True) == json.dumps(second.outputs, sort_keys=True)


def test_generated_values_come_from_pulumi_random(dev_plan):
    """Every generated value is a pulumi-random resource (kept in state, stable across runs) that some
    resource consumes through an input, e.g. the Grafana admin password."""
    generators = [r for r in dev_plan.resources if r.type.startswith(RANDOM_PREFIX)]
    assert generators, "no pulumi-random resource registered"
    consumers = {g.name: sorted(r.name for r in dev_plan.resources
                                if any(g.urn in urns for urns in r.property_dependencies.values()))
                 for g in generators}
    assert all(consumers.values()), consumers
    grafana = next(r for r in dev_plan.by_type("kubernetes:core/v1:Secret")
                   if r.plain["metadata"]["name"] == "grafana-admin")
    assert any(g.name in consumers and grafana.name in consumers[g.name] for g in generators)
