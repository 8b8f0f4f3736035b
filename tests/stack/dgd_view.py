"""Read the program's v1beta1 DynamoGraphDeployment the way the operator does: components by name,
each one's `main` container and its env. The shape itself is components/dgd.py's."""

from typing import Any

DGD = "kubernetes:nvidia.com/v1beta1:DynamoGraphDeployment"


def dgd(plan):
    return plan.get(DGD, "inference-dgd")


def components(plan) -> dict[str, dict[str, Any]]:
    """Components by name (names are unique in a DGD)."""
    return {c["name"]: c for c in dgd(plan).plain["spec"]["components"]}


def pod_spec(component: dict[str, Any]) -> dict[str, Any]:
    return component["podTemplate"]["spec"]


def main_container(component: dict[str, Any]) -> dict[str, Any]:
    [main] = [c for c in pod_spec(component)["containers"] if c["name"] == "main"]
    return main


def env(component: dict[str, Any]) -> dict[str, Any]:
    """Plain env values of the main container (valueFrom entries map to None)."""
    return {e["name"]: e.get("value") for e in main_container(component).get("env", [])}
