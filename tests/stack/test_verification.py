"""The verification Job: the last step of `pulumi up`, after the graph and the Gateway, checking what a visitor uses."""

from __future__ import annotations

import json

import pytest

from plan import evaluate, stack_config

JOB, DGD = "kubernetes:batch/v1:Job", "kubernetes:nvidia.com/v1alpha1:DynamoGraphDeployment"
GATEWAY, ROUTE = "kubernetes:gateway.networking.k8s.io/v1:Gateway", "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute"
DEPLOYMENT, CONFIG_MAP = "kubernetes:apps/v1:Deployment", "kubernetes:core/v1:ConfigMap"
ROLE = "kubernetes:rbac.authorization.k8s.io/v1:Role"


def dgd(plan):
    [graph] = [r for r in plan.resources if r.type.endswith(":DynamoGraphDeployment")]
    return graph


def job(plan):
    return plan.get(JOB, "verification-job")


def command(plan) -> list[str]:
    return job(plan).plain["spec"]["template"]["spec"]["containers"][0]["command"]


def flag(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


def test_runs_after_the_graph_is_ready_and_the_gateway_is_programmed(stack_plan):
    verify = job(stack_plan)
    graph = dgd(stack_plan)
    assert graph.plain["metadata"]["annotations"]["pulumi.com/waitFor"] == "condition=Ready"
    gateway = stack_plan.get(GATEWAY)
    assert gateway.plain["metadata"]["annotations"]["pulumi.com/waitFor"] == "condition=Programmed"
    for target in (graph, gateway, stack_plan.get(ROUTE, "gateway-route-loadgen"),
                   stack_plan.get(DEPLOYMENT, "loadgen-deployment")):
        assert stack_plan.depends_on(verify, target), target.name


def test_checks_both_frontends_and_the_public_https_hostname(stack_plan):
    args = command(stack_plan)
    assert args[:4] == ["python", "-m", "loadgen", "check"]
    assert flag(args, "--frontend-url") == stack_plan.outputs["frontendUrl"]
    assert flag(args, "--baseline-url") == stack_plan.outputs["baselineFrontendUrl"]
    hostname = stack_plan.outputs["hostname"]
    assert flag(args, "--public-url") == f"https://{hostname}/"
    assert flag(args, "--summary-file") == "/dev/termination-log"  # what `pulumi up` prints when the Job fails
    staging = stack_config(stack_plan.stack)["gtc-demo:letsEncrypt"]["staging"]
    assert ("--public-insecure" in args) == staging  # only where the certificate comes from the staging CA


def test_the_loadgen_check_parser_accepts_the_jobs_command_line(stack_plan):
    from loadgen.cli import build_parser

    parsed = build_parser().parse_args(command(stack_plan)[3:])
    assert parsed.command == "check" and parsed.public_url.startswith("https://")
    assert parsed.report_configmap == "dynamo-workload/gtc-demo-verification"


def test_runs_the_load_generator_image_as_a_restricted_non_root_pod(stack_plan):
    pod = job(stack_plan).plain["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert container["image"] == stack_plan.outputs["loadgenImage"]
    assert pod["restartPolicy"] == "Never" and pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["terminationMessagePolicy"] == "FallbackToLogsOnError"


def test_its_service_account_can_only_patch_its_report(stack_plan):
    [rule] = stack_plan.get(ROLE, "verification-role").plain["rules"]
    assert rule == {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["gtc-demo-verification"],
                    "verbs": ["get", "patch"]}
    assert job(stack_plan).plain["spec"]["template"]["spec"]["serviceAccountName"] == "verification"


def test_verdict_and_numbers_are_stack_outputs_read_back_after_the_job(stack_plan):
    [read] = [r for r in stack_plan.reads if r["name"] == "verification-result"]
    assert read["type"] == CONFIG_MAP and read["id"] == "dynamo-workload/gtc-demo-verification"
    assert job(stack_plan).urn in read["dependencies"]
    out = stack_plan.outputs["verification"]
    assert out["verdict"] == "pass" and out["failures"] == []
    assert out["kvTurn2CachedFraction"] > 0.9 and len(out["ttftMsByTurn"]["kv"]) == 3
    assert stack_plan.outputs["verificationJob"] == job(stack_plan).plain["metadata"]["name"]


def test_preview_does_not_read_a_report_the_job_has_not_written(dev_preview_plan):
    preview = dev_preview_plan
    assert not [r for r in preview.reads if r["name"] == "verification-result"]
    assert preview.outputs["verification"] == {"verdict": "known after `pulumi up`"}


def test_the_job_is_named_by_content_so_a_config_change_runs_it_again(dev_plan):
    name = job(dev_plan).plain["metadata"]["name"]
    assert name.startswith("verify-") and len(name) == len("verify-") + 10
    assert job(evaluate("dev")).plain["metadata"]["name"] == name  # same config: same Job, no re-run
    model = dict(stack_config("dev")["gtc-demo:model"]) | {"name": "meta-llama/Llama-3.3-70B-Instruct"}
    assert job(evaluate("dev", overrides={"gtc-demo:model": model})).plain["metadata"]["name"] != name
    options = job(dev_plan).options
    assert options["deleteBeforeReplace"] is True
    assert job(dev_plan).plain["metadata"]["annotations"]["pulumi.com/replaceUnready"] == "true"


@pytest.mark.parametrize("key", ["rerunVerification"])
def test_rerun_is_one_command_naming_the_job(dev_plan, key):
    assert dev_plan.outputs["operatorCommands"][key] == f"pulumi up -s dev --replace '{job(dev_plan).urn}'"


def test_report_outputs_from_a_failed_check():
    from components.verification import report_outputs

    failed = {"verdict": "fail", "routers": {}, "public": None,
              "failures": [{"check": "UI and API answer through the public URL", "detail": "ConnectError", "look_at": "x"}]}
    out = report_outputs({"report.json": json.dumps(failed)})
    assert out["verdict"] == "fail" and out["failures"] == ["UI and API answer through the public URL: ConnectError"]
    assert report_outputs({}) == {"verdict": "not run"}


def test_a_stack_can_skip_it_only_with_a_reason():
    skipped = evaluate("dev", overrides={"gtc-demo:verification": {"run": False, "reason": "offline stand-in graph"}})
    assert skipped.find(JOB, "verification-job") is None and skipped.find(ROLE, "verification-role") is None
    assert skipped.outputs["verification"] == {"verdict": "skipped: offline stand-in graph"}
    assert "rerunVerification" not in skipped.outputs["operatorCommands"]
    from plan import PlanError
    with pytest.raises(PlanError) as error:
        evaluate("dev", overrides={"gtc-demo:verification": {"run": False}})
    assert "verification.run=false needs verification.reason" in error.value.message
