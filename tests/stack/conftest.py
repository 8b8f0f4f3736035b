"""Fixtures: the real program evaluated once per stack (and once with the mocker backend) per session."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the program's own `components`

from plan import Plan, evaluate  # noqa: E402


@pytest.fixture(scope="session")
def dev_plan() -> Plan:
    return evaluate("dev")


@pytest.fixture(scope="session")
def prod_plan() -> Plan:
    return evaluate("prod")


@pytest.fixture(scope="session")
def dev_preview_plan() -> Plan:
    """The dev stack as `pulumi preview` of a fresh stack sees it (unknown outputs stay unknown)."""
    return evaluate("dev", preview=True)


@pytest.fixture(scope="session")
def mocker_plan() -> Plan:
    """The dev stack switched to Dynamo's mocker engine: same graph, no GPUs, no model download."""
    return evaluate("dev", overrides={"gtc-demo:workerBackend": "mocker"}, secrets={"gtc-demo:hfToken": None})


@pytest.fixture(scope="session")
def vendored_plan() -> Plan:
    """The prod stack installing every chart from the archives in vendor/charts."""
    return evaluate("prod", overrides={"gtc-demo:charts": {"source": "vendored"}})


@pytest.fixture(params=["dev", "prod"])
def stack_plan(request, dev_plan, prod_plan) -> Plan:
    """Each real stack in turn."""
    return {"dev": dev_plan, "prod": prod_plan}[request.param]
