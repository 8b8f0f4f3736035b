"""The operator's commands (stack output `operatorCommands`): each one names real objects of the stack and
passes the real kubectl's argument parser (run against a kubeconfig whose server nothing listens on)."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from components.operator_commands import COMPONENT_TYPE_LABEL, DGD_LABEL, LOCAL_PORTS
from components.dgd import BASELINE_FRONTEND, KV_FRONTEND
from components.platform import WORKLOAD_NS

TOOLS_DIR = Path(os.environ.get("GTC_DEMO_TOOLS", Path.home() / ".cache" / "gtc-demo" / "bin"))
NEEDS = {"kubeconfig", "ui", "grafana", "frontendKv", "frontendRoundRobin", "check", "workerLogs", "workerPods",
         "restartFrontends", "verificationLogs", "rerunVerification"}


def kubectl_binary() -> str:
    for candidate in (TOOLS_DIR / "kubectl", shutil.which("kubectl")):
        if candidate and os.access(candidate, os.X_OK):
            return str(candidate)
    raise AssertionError(f"no kubectl in {TOOLS_DIR} or on PATH: run `make setup`")


@pytest.fixture(scope="module")
def dead_kubeconfig(tmp_path_factory) -> Path:
    """A kubeconfig for https://127.0.0.1:<a port nothing listens on>: kubectl parses, then cannot connect."""
    from rehearsal.ports import pick_free

    path = tmp_path_factory.mktemp("kube") / "config"
    server = f"https://127.0.0.1:{pick_free(1)[0]}"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "dead",
        "clusters": [{"name": "dead", "cluster": {"server": server, "insecure-skip-tls-verify": True}}],
        "users": [{"name": "dead", "user": {"token": "x"}}],
        "contexts": [{"name": "dead", "context": {"cluster": "dead", "user": "dead"}}],
    }))
    return path


def test_one_command_per_need(stack_plan):
    commands = stack_plan.outputs["operatorCommands"]
    assert set(commands) == NEEDS
    stack = stack_plan.stack
    # The file is private from its first byte (umask in a subshell, not a chmod after the write).
    assert commands["kubeconfig"] == (f"(umask 077 && mkdir -p ~/.kube && pulumi stack output kubeconfig --show-secrets "
                                      f"-s {stack} > ~/.kube/gtc-demo-{stack}.yaml)")
    for need in NEEDS - {"kubeconfig", "check", "rerunVerification", "restartFrontends"}:
        assert commands[need].startswith(f"kubectl --kubeconfig ~/.kube/gtc-demo-{stack}.yaml "), need
    assert commands["restartFrontends"].count(f"kubectl --kubeconfig ~/.kube/gtc-demo-{stack}.yaml ") == 3


def test_port_forwards_target_the_stacks_services(stack_plan):
    commands = stack_plan.outputs["operatorCommands"]
    loadgen = stack_plan.get("kubernetes:core/v1:Service", "loadgen-service").plain
    assert f"-n {loadgen['metadata']['namespace']} port-forward svc/{loadgen['metadata']['name']} 3000:80" in commands["ui"]
    for need, output in (("frontendKv", "frontendUrl"), ("frontendRoundRobin", "baselineFrontendUrl")):
        service = stack_plan.outputs[output].removeprefix("http://").split(".")[0]
        assert f"port-forward svc/{service} {LOCAL_PORTS[need]}:8000" in commands[need]
    assert "-n monitoring port-forward svc/kube-prometheus-stack-grafana 3001:80" in commands["grafana"]
    assert commands["check"].endswith("--frontend-url http://127.0.0.1:8000 --baseline-url http://127.0.0.1:8001")
    graph = [r for r in stack_plan.resources if r.type.endswith(":DynamoGraphDeployment")][0]
    assert f"-l {DGD_LABEL}={graph.plain['metadata']['name']},{COMPONENT_TYPE_LABEL}=worker" in commands["workerLogs"]
    labels = {c["name"]: c["podTemplate"]["metadata"]["labels"] for c in graph.plain["spec"]["components"]}
    for name in (KV_FRONTEND, BASELINE_FRONTEND):  # each frontend's own label, which no other component carries
        key, value = "gtc-demo/graph-component", name.lower()
        assert f"for c in frontend frontendroundrobin;" in commands["restartFrontends"]
        assert [n for n, l in labels.items() if l.get(key) == value] == [name]
    assert commands["verificationLogs"].endswith(f"logs job/{stack_plan.outputs['verificationJob']}")


def test_the_check_command_parses_with_the_load_generators_parser(dev_plan):
    from loadgen.cli import build_parser

    args = shlex.split(dev_plan.outputs["operatorCommands"]["check"])
    assert args[:3] == ["python", "-m", "loadgen"]
    assert build_parser().parse_args(args[3:]).baseline_url == "http://127.0.0.1:8001"


@pytest.mark.parametrize("need", sorted(NEEDS - {"kubeconfig", "check", "rerunVerification", "restartFrontends"}))
def test_kubectl_accepts_every_generated_command(dev_plan, dead_kubeconfig, need):
    args = shlex.split(dev_plan.outputs["operatorCommands"][need])
    assert args[:3] == ["kubectl", "--kubeconfig", "~/.kube/gtc-demo-dev.yaml"]
    run = [kubectl_binary(), "--kubeconfig", str(dead_kubeconfig), "--request-timeout=5s", *args[3:]]
    result = subprocess.run(run, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert result.returncode != 0  # nothing listens there
    assert "connection refused" in result.stderr, result.stderr  # parsed, tried to connect
    assert "unknown flag" not in result.stderr and "Usage" not in result.stderr


def test_restart_frontends_restarts_one_waits_for_it_then_the_other(dev_plan, dead_kubeconfig, tmp_path):
    """Issue 28: it deleted both frontends at once (both routers down). Run the real command against a fake
    kubectl that logs its calls: the second delete comes only after the first frontend's replacement is Ready,
    and a failed wait stops before the other router is touched. Each kubectl call also parses with kubectl."""
    import os
    import re

    command = dev_plan.outputs["operatorCommands"]["restartFrontends"]
    log, fake = tmp_path / "calls", tmp_path / "kubectl"
    fake.write_text("#!/bin/sh\n"
                    f'echo "$*" >> {log}\n'
                    'case "$*" in *" get pod "*) echo pod/x ;; esac\n'
                    'case "$*" in *" wait pod "*"component=$FAIL_WAIT_FOR "*) exit 1 ;; esac\n')
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}", "FAIL_WAIT_FOR": "none"}

    component = re.compile(r"component=(\S+)")

    def calls() -> list[str]:
        return [line.split()[4] + " " + component.search(line).group(1) for line in log.read_text().splitlines()]

    assert subprocess.run(["bash", "-c", command], env=env, timeout=30).returncode == 0
    assert calls() == ["delete frontend", "get frontend", "wait frontend",
                       "delete frontendroundrobin", "get frontendroundrobin", "wait frontendroundrobin"]
    lines = log.read_text().splitlines()
    log.unlink()
    env["FAIL_WAIT_FOR"] = "frontend"
    assert subprocess.run(["bash", "-c", command], env=env, timeout=30).returncode == 1
    assert calls() == ["delete frontend", "get frontend", "wait frontend"]  # the other router is untouched
    for line in lines[:3]:  # delete, get, wait: each parses and tries to connect
        args = shlex.split(line)
        run = [kubectl_binary(), "--kubeconfig", str(dead_kubeconfig), "--request-timeout=5s", *args[2:]]
        result = subprocess.run(run, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        assert "connection refused" in result.stderr and "unknown flag" not in result.stderr, (line, result.stderr)
