"""The inputs the program set for each resource, kept for the stack policies.

Stack policies are handed each resource's outputs. On a preview of a fresh stack those are unknown for
every Kubernetes resource (the cluster, and so the provider's kubeconfig, does not exist yet), so a stack
rule reading outputs sees `""` where the program wrote `monitoring`. The engine shows every resource to
the resource policies first (Analyze, with the inputs the program set), then calls the stack policies
(AnalyzeStack) in the same analyzer process, on preview and on `up` alike. So the resource policies
remember what they were shown, and the stack rules decide on that: what the program set, known at preview.
"""
from typing import Any, Dict, Mapping

_INPUTS: Dict[str, Mapping[str, Any]] = {}


def remember(urn: str, props: Mapping[str, Any]) -> None:
    _INPUTS[urn] = props


def inputs_or_outputs(urn: str, outputs: Mapping[str, Any]) -> Mapping[str, Any]:
    """The inputs seen for `urn`, else the outputs (a resource no resource policy was shown)."""
    return _INPUTS.get(urn, outputs)


def forget_all() -> None:
    """For tests that run several previews in one process."""
    _INPUTS.clear()
