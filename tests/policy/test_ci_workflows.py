"""The two GitHub workflows, read as a reviewer would: triggers, stacks, policy pack, PR comment, secrets."""
import re

import pytest
import yaml

from policy_harness import REPO
from gtc_policy.rules.secrets import credential_found

WORKFLOWS = REPO / ".github" / "workflows"
SECRET_ENV = {"PULUMI_CONFIG_PASSPHRASE", "DIGITALOCEAN_TOKEN", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
              "SPACES_ACCESS_KEY_ID", "SPACES_SECRET_ACCESS_KEY"}
STATE_URL = re.compile(r"^s3://\$\{\{ vars\.\w+ \}\}\?endpoint=\$\{\{ vars\.\w+ \}\}\.digitaloceanspaces\.com"
                       r"&region=us-east-1&s3ForcePathStyle=true$")
EXPRESSION = re.compile(r"\$\{\{\s*([^}]*?)\s*\}\}")


def load(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def triggers(workflow: dict) -> dict:
    return workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on:` key as True


def steps_of(job: dict) -> list:
    return job.get("steps", [])


def pulumi_step(job: dict) -> dict:
    [step] = [s for s in steps_of(job) if str(s.get("uses", "")).startswith("pulumi/actions@")]
    return step


@pytest.fixture(scope="module")
def preview():
    return load("preview.yml")


@pytest.fixture(scope="module")
def deploy():
    return load("deploy.yml")


def test_preview_runs_on_pull_requests_only(preview):
    assert set(triggers(preview)) == {"pull_request"}


def test_preview_covers_both_stacks_after_the_tests(preview):
    job = preview["jobs"]["preview"]
    assert job["strategy"]["matrix"]["stack"] == ["dev", "prod"]
    assert job["needs"] == "test"
    assert any(s.get("run") == "make test" for s in steps_of(preview["jobs"]["test"]))


def test_preview_step_diffs_enforces_the_pack_and_posts_only_the_filtered_summary(preview):
    job = preview["jobs"]["preview"]
    step = pulumi_step(job)
    assert re.fullmatch(r"pulumi/actions@[0-9a-f]{40}", step["uses"]), "pin the action to a commit SHA (issue 16)"
    assert set(step["with"]) == {"pulumi-version"}, "install only: the job runs the CLI itself, and never comments"
    runs = "\n".join(s.get("run", "") for s in steps_of(job))
    assert re.search(r"pulumi preview --stack \$\{\{ matrix\.stack \}\} --diff --policy-pack policy .*--json", runs)
    assert "python -m tools.preview_comment" in runs and "--config" in runs
    assert STATE_URL.match(job["env"]["STATE_URL"]), job["env"]["STATE_URL"]
    assert steps_of(job)[-1]["run"] == "exit ${{ steps.preview.outputs.exit-code }}", "a mandatory violation fails the job"
    # The PR sees only what the filter wrote, posted by a job that runs no PR code and holds no secret.
    comment = preview["jobs"]["preview-comment"]
    assert comment["permissions"] == {"pull-requests": "write"}
    assert not any("checkout" in str(s.get("uses", "")) for s in steps_of(comment))
    assert "secrets." not in yaml.safe_dump(comment)
    assert "preview-comment-" in yaml.safe_dump(comment) and "gh pr comment" in yaml.safe_dump(comment)


def test_deploy_is_started_by_hand_for_a_chosen_stack(deploy):
    assert set(triggers(deploy)) == {"workflow_dispatch"}
    stack = triggers(deploy)["workflow_dispatch"]["inputs"]["stack"]
    assert (stack["type"], stack["options"], stack["required"]) == ("choice", ["dev", "prod"], True)


def test_deploy_runs_up_with_the_pack_in_the_stacks_protected_environment(deploy):
    job = deploy["jobs"]["up"]
    assert job["needs"] == "test" and job["environment"] == "${{ inputs.stack }}"
    assert "refs/heads/main" in job["if"]
    w = pulumi_step(job)["with"]
    assert (w["command"], w["policyPacks"], w["stack-name"]) == ("up", "policy", "${{ inputs.stack }}")
    assert STATE_URL.match(w["cloud-url"])


@pytest.mark.parametrize("name, job", [("preview.yml", "preview"), ("deploy.yml", "up")])
def test_cli_version_matches_the_sdk_pin(name, job):
    [sdk_pin] = re.findall(r"^pulumi==(\S+)$", (REPO / "requirements.txt").read_text(), flags=re.M)
    assert str(pulumi_step(load(name)["jobs"][job])["with"]["pulumi-version"]) == sdk_pin


@pytest.mark.parametrize("name, job", [("preview.yml", "preview"), ("deploy.yml", "up")])
def test_credentials_come_from_repository_secrets(name, job):
    env = load(name)["jobs"][job]["env"]
    assert SECRET_ENV <= set(env)
    for key in SECRET_ENV:
        assert re.fullmatch(r"\$\{\{ secrets\.[A-Z_]+ \}\}", env[key]), f"{key} must come from secrets"


@pytest.mark.parametrize("name", ["preview.yml", "deploy.yml"])
def test_no_secret_literals_and_every_action_pinned(name):
    text = (WORKFLOWS / name).read_text()
    assert credential_found(text) == ("", ""), "a credential literal is in the workflow"
    for expression in EXPRESSION.findall(text):
        assert re.match(r"(secrets|vars|matrix|inputs|github|steps|runner|needs)\.|hashFiles\(", expression), expression
    for uses in re.findall(r"uses:\s*(\S+)", text):
        assert re.search(r"@[0-9a-f]{40}$", uses), f"{uses} is not pinned to a commit SHA (a tag can move)"
    # Sensitive-looking env keys hold expressions, not values.
    for job in load(name)["jobs"].values():
        for key, value in (job.get("env") or {}).items():
            if re.search(r"TOKEN|SECRET|PASSPHRASE|KEY", key):
                assert str(value).startswith("${{ secrets."), key


def test_ci_builds_the_loadgen_image_the_way_pulumi_up_does(preview, deploy):
    """The PR builds (no push) with the program's context, Dockerfile and platform; the deploy's `pulumi up`
    builds through the program itself, on a BuildKit builder, refreshing the registry credentials."""
    import shlex
    import sys
    sys.path.insert(0, str(REPO))
    from components.config import LoadgenImage
    from components.loadgen_image import BUILD_CONTEXT, BUILD_DOCKERFILE

    steps = steps_of(preview["jobs"]["loadgen-image"])
    [run] = [s["run"] for s in steps if "run" in s]
    assert shlex.split(run) == ["docker", "buildx", "build", "--platform", LoadgenImage().platform,
                                "--file", BUILD_DOCKERFILE, BUILD_CONTEXT]
    assert any(str(s.get("uses", "")).startswith("docker/setup-buildx-action@") for s in steps)
    up = deploy["jobs"]["up"]
    uses = [str(s.get("uses", "")) for s in steps_of(up)]
    assert any(u.startswith("docker/setup-buildx-action@") for u in uses)
    assert uses.index(next(u for u in uses if u.startswith("docker/setup-buildx"))) < uses.index(
        next(u for u in uses if u.startswith("pulumi/actions")))
    assert pulumi_step(up)["with"]["refresh"] is True


def test_previews_run_in_preview_environments_never_in_the_deploy_ones(preview, deploy):
    """Branch code runs in `pulumi preview`: each leg runs in `<stack>-preview`, whose secrets can only read
    (issue 22); the read/write secrets live in `dev`/`prod`, which only deploy.yml uses. Never for forks."""
    job = preview["jobs"]["preview"]
    assert job["environment"] == "${{ matrix.stack }}-preview"
    assert deploy["jobs"]["up"]["environment"] == "${{ inputs.stack }}"
    assert "head.repo.full_name == github.repository" in job["if"]


@pytest.mark.parametrize("name", ["preview.yml", "deploy.yml"])
def test_secrets_reach_only_jobs_with_an_environment(name):
    """A secret used by a job without an environment would come from the repository level, shared by every
    stack and every pull request. Only the GitHub-issued GITHUB_TOKEN is exempt."""
    for job_name, job in load(name)["jobs"].items():
        used = {m for m in re.findall(r"secrets\.(\w+)", yaml.safe_dump(job)) if m != "GITHUB_TOKEN"}
        assert not used or job.get("environment"), f"{name} {job_name} uses {sorted(used)} without an environment"


@pytest.mark.parametrize("name, job", [("preview.yml", "preview"), ("deploy.yml", "up")])
def test_state_and_model_cache_have_separate_keys(name, job):
    """The state bucket's key (read-only for previews, readwrite for deploys) is not the model-cache key."""
    env = load(name)["jobs"][job]["env"]
    assert env["AWS_ACCESS_KEY_ID"] == "${{ secrets.STATE_ACCESS_KEY_ID }}"
    assert env["AWS_SECRET_ACCESS_KEY"] == "${{ secrets.STATE_SECRET_ACCESS_KEY }}"
    assert env["SPACES_ACCESS_KEY_ID"] == "${{ secrets.SPACES_ACCESS_KEY_ID }}"


def test_the_docs_say_which_environment_holds_which_credential():
    security = (REPO / "docs" / "security.md").read_text()
    operations = (REPO / "docs" / "operations.md").read_text()
    for text in (security, operations):
        for needed in ("dev-preview", "prod-preview", "`kubernetes:read`", "`domain:read`", "required reviewers"):
            assert needed in text, needed
    assert "no repository-level secrets" in operations
    for row in ("| `dev-preview` |", "| `prod-preview` |", "| `dev` |", "| `prod` |"):
        assert row in operations, row
    preview_rows = [line for line in operations.splitlines() if line.startswith(("| `dev-preview`", "| `prod-preview`"))]
    assert all("readwrite" not in row and "full access" not in row for row in preview_rows), preview_rows
    # Issue 27: a reviewer on every environment (previews run branch code; deploys can write), deploys from main.
    rows = [line for line in operations.splitlines() if re.match(r"\| `(dev|prod)(-preview)?` \| (preview|deploy)\.yml", line)]
    assert len(rows) == 4 and all("required reviewers" in row for row in rows), rows
    assert all("`main`" in row for row in rows if row.startswith(("| `dev` ", "| `prod` ")))
    assert "### PR previews: a reviewer first, then a filtered comment" in security
    assert "### Credentials by environment" in security and "| `dev-preview`, `prod-preview` |" in security


def test_prod_deploy_refuses_images_without_digest(deploy):
    w = pulumi_step(deploy["jobs"]["up"])["with"]
    assert w["policyPackConfigs"] == "${{ inputs.stack == 'prod' && 'policy/enforce-digests.json' || '' }}"
    assert (REPO / "policy" / "enforce-digests.json").is_file()


@pytest.mark.parametrize("workflow,job", [("preview.yml", "preview"), ("deploy.yml", "up")])
def test_pulumi_legs_give_the_provider_every_credential_a_preview_needs(workflow, job):
    """The provider reads its Spaces keys from SPACES_ACCESS_KEY_ID / SPACES_SECRET_ACCESS_KEY (or its own
    config), not AWS_*: with only AWS_* the bucket look-up stops every preview and deploy."""
    from components.config import ACCOUNT_CREDENTIALS
    env = load(workflow)["jobs"][job]["env"]
    for variable in [names[0] for names in ACCOUNT_CREDENTIALS.values()]:
        assert EXPRESSION.fullmatch(env.get(variable, "")), f"{workflow} {job}: {variable} is not set from a secret"


# -- least privilege (issue 27) -------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["preview.yml", "deploy.yml"])
def test_every_job_names_its_permissions_and_jobs_running_code_cannot_write(name):
    workflow = load(name)
    assert workflow["permissions"] in ({}, {"contents": "read"}), "no workflow-wide write permission"
    for job_name, job in workflow["jobs"].items():
        permissions = job.get("permissions", workflow["permissions"])
        checks_out = any("actions/checkout@" in str(s.get("uses", "")) for s in steps_of(job))
        if checks_out:
            assert permissions == {"contents": "read"}, f"{name} {job_name} runs repository code with {permissions}"
        assert all(v in ("read", "none") for k, v in permissions.items() if k != "pull-requests"), (job_name, permissions)
        if permissions.get("pull-requests") == "write":
            assert not checks_out, f"{name} {job_name} can write to the PR and runs PR code"


@pytest.mark.parametrize("name", ["preview.yml", "deploy.yml"])
def test_no_checkout_keeps_the_token_in_the_git_config(name):
    for job_name, job in load(name)["jobs"].items():
        for step in steps_of(job):
            if "actions/checkout@" in str(step.get("uses", "")):
                assert step.get("with", {}).get("persist-credentials") is False, f"{name} {job_name}"


def test_previews_and_deploys_never_share_a_concurrency_group(preview, deploy):
    """GitHub keeps one pending job per group: a preview sharing the deploy's group could cancel a queued deploy."""
    preview_group = preview["jobs"]["preview"]["concurrency"]["group"]
    deploy_group = deploy["jobs"]["up"]["concurrency"]["group"]
    assert preview_group.startswith("pulumi-preview-") and deploy_group.startswith("pulumi-deploy-")
    assert "pull_request.number" in preview_group, "one group per PR: another PR's push cannot cancel it"
    assert deploy["jobs"]["up"]["concurrency"]["cancel-in-progress"] is False
    for job in preview["jobs"].values():
        assert "pulumi-deploy" not in yaml.safe_dump(job.get("concurrency", {}))


def test_no_comment_is_attempted_on_fork_pull_requests(preview):
    for job_name, job in preview["jobs"].items():
        if "gh pr comment" in yaml.safe_dump(job):
            assert "head.repo.full_name == github.repository" in job["if"], job_name


def test_every_environment_that_can_write_is_deployed_from_main_only(deploy):
    assert deploy["jobs"]["up"]["if"].startswith("github.ref == 'refs/heads/main'")


def test_the_deploy_gives_doctl_its_token_and_a_verified_binary(deploy):
    job = deploy["jobs"]["up"]
    assert job["env"]["DIGITALOCEAN_ACCESS_TOKEN"] == job["env"]["DIGITALOCEAN_TOKEN"]
    runs = [s.get("run", "") for s in steps_of(job)]
    assert any(re.search(r"go install github\.com/digitalocean/doctl/cmd/doctl@v\d+\.\d+\.\d+\b", r) for r in runs)


def test_make_locks_installs_uv_from_a_hash():
    makefile = (REPO / "Makefile").read_text()
    [install] = [line for line in makefile.splitlines() if "gtc-demo-uv/bin/pip install" in line]
    assert "--require-hashes -r tools/uv-requirements.lock" in install
    lock = (REPO / "tools" / "uv-requirements.lock").read_text()
    assert re.search(r"^uv==\d+\.\d+\.\d+ \\$", lock, flags=re.M) and len(re.findall(r"--hash=sha256:[0-9a-f]{64}", lock)) >= 1


def test_the_pr_workflow_caches_the_tool_builds_by_their_inputs(preview):
    """Issue 30: the ~40 CPU-minute Go build is restored from the cache keyed by what it is built from."""
    [cache] = [s for s in steps_of(preview["jobs"]["test"]) if str(s.get("uses", "")).startswith("actions/cache@")]
    assert re.fullmatch(r"actions/cache@[0-9a-f]{40}", cache["uses"])
    assert "~/.cache/gtc-demo/tools" in cache["with"]["path"]
    for source in ("localcluster/modules/**", "localcluster/tools.py", "vendor/go-src/**"):
        assert source in cache["with"]["key"], source
    names = [s.get("uses", s.get("run", "")) for s in steps_of(preview["jobs"]["test"])]
    assert names.index(cache["uses"]) < names.index("make test")


@pytest.mark.parametrize("name, job", [("preview.yml", "preview"), ("deploy.yml", "up")])
def test_the_pack_has_helm_to_render_the_charts_before_it_runs(name, job):
    """Issue 29: the pack renders every Helm release; without helm it refuses the release, so the preview and
    the deploy install the hash-checked helm before the step that runs the pack."""
    steps = steps_of(load(name)["jobs"][job])
    helm = next(i for i, s in enumerate(steps) if "tools/get-helm.sh" in s.get("run", ""))
    pack = next(i for i, s in enumerate(steps) if "--policy-pack policy" in s.get("run", "")
                or str(s.get("uses", "")).startswith("pulumi/actions@") and (s.get("with") or {}).get("policyPacks"))
    assert helm < pack
