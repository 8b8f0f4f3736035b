"""The command lines the DGD gives its containers parse with the pinned ai-dynamo's own argument parsers
(`dynamo.trtllm`, `dynamo.frontend`, `dynamo.mocker`, installed from PyPI at 1.6.1), with no deprecation
warning and with the values the program meant.

Each parse runs in a subprocess (dynamo_cli.py) with only the env the DGD gives that container, and the
files its ConfigMap volumes would mount (the KV frontend's router policy) written where the args and env
point. `tensorrt_llm` is stubbed (parser_stubs/): the worker's parser reads four defaults from it.
"""

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from dgd_view import components, main_container
from plan import evaluate, stack_config

HERE = Path(__file__).parent
MODULE = {"dynamo.trtllm": "trtllm", "dynamo.frontend": "frontend", "dynamo.mocker": "mocker"}
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"


def parse(module: str, args: list[str], env: dict[str, str] | None = None) -> dict:
    """What the real parser of `python -m <module>` makes of `args` under `env`."""
    proc_env = {k: v for k, v in os.environ.items() if not k.startswith("DYN_")}
    proc_env["PYTHONPATH"] = str(HERE / "parser_stubs")
    proc = subprocess.run([sys.executable, str(HERE / "dynamo_cli.py")], cwd=HERE, env=proc_env, timeout=120,
                          input=json.dumps({"module": module, "args": args, "env": env or {}}),
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout)
    result["stderr"] = proc.stderr
    return result


def command_line(component: dict, plan=None, files_dir: Path | None = None) -> tuple[str, list[str], dict[str, str]]:
    """(parser, args, plain env) the operator starts the component's main container with.

    A frontend without a command runs the image's default, `python3 -m dynamo.frontend` with no arguments.
    With `plan` and `files_dir`, the container's ConfigMap mounts are written under `files_dir` and the
    paths in args and env that point into them are rewritten to there.
    """
    container = main_container(component)
    command = container.get("command") or ["python3", "-m", "dynamo.frontend"]
    assert command[:2] == ["python3", "-m"] and command[2] in MODULE, command
    env = {e["name"]: e["value"] for e in container.get("env", []) if "value" in e}
    args = list(container.get("args", []))
    if plan is not None:
        mounts = _mount_config_maps(plan, component, files_dir)
        for mount_path, local in mounts.items():
            env = {k: v.replace(mount_path, local) for k, v in env.items()}
            args = [a.replace(mount_path, local) for a in args]
    return MODULE[command[2]], args, env


def _mount_config_maps(plan, component: dict, files_dir: Path) -> dict[str, str]:
    """Write each ConfigMap volume of the main container under files_dir; mount path -> local directory."""
    volumes = {v["name"]: v["configMap"]["name"] for v in component["podTemplate"]["spec"].get("volumes", [])
               if "configMap" in v}
    by_name = {r.plain["metadata"].get("name"): r.plain for r in plan.by_type(CONFIG_MAP)}
    mounts = {}
    for mount in main_container(component).get("volumeMounts", []):
        if mount["name"] in volumes and volumes[mount["name"]] in by_name:
            local = files_dir / f"{component['name']}-{mount['name']}"
            local.mkdir(parents=True, exist_ok=True)
            for key, text in by_name[volumes[mount["name"]]].get("data", {}).items():
                (local / key).write_text(text)
            mounts[mount["mountPath"]] = str(local)
    return mounts


def problems(result: dict) -> list[str]:
    found = [f"exit {result['exit']}: {result['stderr'][-600:]}"] if result["exit"] is not None else []
    found += [f"error: {e}" for e in result["errors"]]
    found += [f"warning: {w}" for w in result["warnings"]]
    return found


@pytest.fixture(scope="module")
def parsed(dev_plan, prod_plan, mocker_plan, tmp_path_factory):
    """Every component's command line of both stacks and the mocker variant, parsed once."""
    out = {}
    for label, plan in (("dev", dev_plan), ("prod", prod_plan), ("mocker", mocker_plan)):
        files = tmp_path_factory.mktemp(f"mounts-{label}")
        for name, component in components(plan).items():
            module, args, env = command_line(component, plan, files)
            out[(label, name)] = (module, args, env, parse(module, args, env))
    return out


@pytest.mark.parametrize("label", ["dev", "prod", "mocker"])
@pytest.mark.parametrize("name", ["Frontend", "FrontendRoundRobin", "TrtllmWorker"])
def test_every_command_line_parses_without_deprecations(parsed, label, name):
    module, args, env, result = parsed[(label, name)]
    assert problems(result) == [], f"{label} {name}: python -m dynamo.{module} {' '.join(args)} (env {env})"


@pytest.mark.parametrize("label", ["dev", "prod"])
def test_the_worker_gets_the_model_tp_and_event_publishing_meant(parsed, label):
    _, _, _, result = parsed[(label, "TrtllmWorker")]
    config = result["config"]
    assert config["model"] == "/models/nvidia/Llama-3.1-70B-Instruct-FP8"
    assert config["served_model_name"] == "nvidia/Llama-3.1-70B-Instruct-FP8"
    assert config["tensor_parallel_size"] == 4
    assert (config["max_batch_size"], config["max_num_tokens"]) == (16, 8192)
    assert config["free_gpu_memory_fraction"] == 0.85
    # /engine-config/engine.yaml, written from the engine ConfigMap the volume mounts:
    assert config["extra_engine_args"].endswith("TrtllmWorker-engine-config/engine.yaml")
    assert "tensor_parallel_size: 4" in Path(config["extra_engine_args"]).read_text()
    # KV events feed the KV router: without them it routes blind.
    assert config["publish_kv_events"] is True and config["publish_metrics"] is True


@pytest.mark.parametrize("label", ["dev", "prod", "mocker"])
def test_the_frontends_route_as_meant(parsed, label):
    kv, baseline = parsed[(label, "Frontend")][3]["config"], parsed[(label, "FrontendRoundRobin")][3]["config"]
    assert kv["router_mode"] == "kv" and baseline["router_mode"] == "round-robin"
    # The booth tuning is in the policy file (applied by the Rust router: test_contract_router_policy.py).
    policy = yaml.safe_load(Path(kv["router_policy_config"]).read_text())
    assert policy["worker_selection"]["instances"][0]["parameters"] == {
        "prefill_load_scale": 4.0, "router_temperature": 0.0}
    assert baseline["router_policy_config"] is None


@pytest.mark.parametrize("method,model", [("eagle3", "yuhuili/EAGLE3-LLaMA3.3-Instruct-70B"),
                                          ("draft-target", "meta-llama/Llama-3.1-8B-Instruct")])
def test_the_mocker_stacks_speculative_decoding_flags_parse(method, model):
    """Speculative phases add mocker flags (rehearsal/speculative.py); the GPU worker's line does not change."""
    settings = copy.deepcopy(stack_config("dev")["gtc-demo:model"])
    if method == "eagle3":
        settings["name"] = "nvidia/Llama-3.3-70B-Instruct-FP8"
    settings["speculative"] = {"method": method, "model": model, "maxDraftLen": 3}
    plan = evaluate("dev", overrides={"gtc-demo:model": settings, "gtc-demo:workerBackend": "mocker"},
                    secrets={"gtc-demo:hfToken": None})
    module, args, env = command_line(components(plan)["TrtllmWorker"])
    assert module == "mocker" and "--ais-nextn" in args
    result = parse(module, args, env)
    assert problems(result) == [], args
    assert result["config"]["model_name"] == settings["name"]


# -- the checks can fail ---------------------------------------------------------------------------


def test_a_deprecated_worker_flag_is_reported():
    result = parse("trtllm", ["--model-path", "/models/m", "--publish-events-and-metrics"])
    assert any("--publish-events-and-metrics is deprecated" in p for p in problems(result)), problems(result)


def test_an_unknown_worker_flag_is_reported():
    result = parse("trtllm", ["--model", "/models/m", "--trust-remote-code-typo"])
    assert problems(result) and result["exit"] == 1


def test_an_unknown_frontend_flag_is_reported():
    result = parse("frontend", ["--router-mode", "kv", "--no-such-flag"])
    assert result["exit"] == 1 and "Unknown arguments specified: ['--no-such-flag']" in result["stderr"]


def test_the_old_router_tuning_variables_are_reported_as_deprecated():
    """What the KV frontend used before: ai-dynamo 1.6.1 deprecates them (removed in 1.7)."""
    result = parse("frontend", [], {"DYN_ROUTER_MODE": "kv", "DYN_ROUTER_PREFILL_LOAD_SCALE": "4.0",
                                    "DYN_ROUTER_TEMPERATURE": "0.0"})
    found = problems(result)
    assert any("DYN_ROUTER_PREFILL_LOAD_SCALE is deprecated and will be removed in v1.7" in p for p in found), found
    assert any("DYN_ROUTER_TEMPERATURE is deprecated" in p for p in found), found


def test_a_deprecated_frontend_env_var_is_reported():
    result = parse("frontend", [], {"DYN_ROUTER_MODE": "kv", "DYN_ROUTER_LOAD_AWARE": "true"})
    assert any("DYN_ROUTER_LOAD_AWARE is deprecated" in p for p in problems(result)), problems(result)
