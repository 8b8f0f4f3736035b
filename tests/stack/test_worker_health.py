"""Self-healing workers: probes on Dynamo's system port, the canary health check, and frontends that
migrate a request off a worker that is gone (checked against the installed ai-dynamo 1.6.1)."""

from __future__ import annotations

import sys

import pytest

from components.dgd import FRONTEND_MIGRATION_LIMIT, SYSTEM_PORT, WORKER
from dgd_view import components, env, main_container
from rehearsal.settings import MIGRATION_LIMIT


def worker(plan):
    return main_container(components(plan)[WORKER])


@pytest.fixture(params=["dev", "prod", "mocker"])
def any_plan(request, dev_plan, prod_plan, mocker_plan):
    return {"dev": dev_plan, "prod": prod_plan, "mocker": mocker_plan}[request.param]


def test_worker_probes_hit_the_system_server(any_plan):
    main = worker(any_plan)
    probes = {kind: main[kind] for kind in ("startupProbe", "livenessProbe", "readinessProbe")}
    assert {kind: (p["httpGet"]["path"], p["httpGet"]["port"]) for kind, p in probes.items()} == {
        "startupProbe": ("/live", SYSTEM_PORT), "livenessProbe": ("/live", SYSTEM_PORT),
        "readinessProbe": ("/health", SYSTEM_PORT)}
    live = probes["livenessProbe"]
    assert live["periodSeconds"] * live["failureThreshold"] <= 60  # a dead engine is restarted within a minute


def test_startup_allows_the_whole_model_load(stack_plan):
    from plan import stack_config

    ready_minutes = stack_config(stack_plan.stack)["gtc-demo:model"]["readyTimeoutMinutes"]
    startup = worker(stack_plan)["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= ready_minutes * 60


def test_worker_env_turns_on_the_system_server_and_the_canary(any_plan):
    values = env(components(any_plan)[WORKER])
    assert values["DYN_SYSTEM_PORT"] == str(SYSTEM_PORT)
    assert values["DYN_SYSTEM_ENABLED"] == "true" and values["DYN_HEALTH_CHECK_ENABLED"] == "true"
    assert values["DYN_SYSTEM_USE_ENDPOINT_HEALTH_STATUS"] == '["generate"]'


def test_the_installed_runtime_reads_these_variables():
    """The names are the runtime's own (its compiled config reader), not guesses."""
    import dynamo

    core = (__import__("pathlib").Path(dynamo.__path__[0]) / "_core.abi3.so").read_bytes()
    for name in (b"DYN_SYSTEM_PORT", b"DYN_SYSTEM_ENABLED", b"DYN_SYSTEM_USE_ENDPOINT_HEALTH_STATUS",
                 b"DYN_HEALTH_CHECK_", b"/health", b"/live"):
        assert name in core, name


def test_frontends_migrate_requests_off_a_gone_worker(any_plan, monkeypatch):
    assert FRONTEND_MIGRATION_LIMIT == MIGRATION_LIMIT  # the cluster behaves like the rehearsal
    for name, component in components(any_plan).items():
        if component["type"] == "frontend":
            assert env(component)["DYN_MIGRATION_LIMIT"] == str(FRONTEND_MIGRATION_LIMIT), name
    # Dynamo 1.6.1's own frontend parser reads the variable.
    from dynamo.frontend.main import parse_args

    monkeypatch.setenv("DYN_MIGRATION_LIMIT", str(FRONTEND_MIGRATION_LIMIT))
    monkeypatch.setattr(sys, "argv", ["dynamo.frontend"])
    config = parse_args()[0]
    assert config.migration_limit == FRONTEND_MIGRATION_LIMIT
