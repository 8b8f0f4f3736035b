"""What a branch can do in a PR preview, tried as the audit did: the real `pulumi preview` of dev and prod
runs a branch's own program (localcluster/e2e/branch/) with exactly what a `<stack>-preview` job holds.

Held by the job: the stack's config file (as the repository has it, plus its application secrets), its
passphrase, a read-scoped DigitalOcean token and read-only Spaces keys in the environment. Never held: the
deploy environment's account token and state write key (DEPLOY_ENV below), which the program no longer
needs anywhere. Checked by value:
- nothing the branch can read is a deploy credential; the account token it holds cannot write (the fake
  API, like the token's scopes, refuses the DNS record it tries to create);
- what reaches the PR (tools/preview_comment.py over the preview's JSON) holds none of the job's secrets
  in any spelling the branch used, though the raw output (the job's log) does: the filter is what stands
  between them, and the reviewer's approval of the job is what stands before both (docs/security.md).
"""

from __future__ import annotations

import base64
import json
import secrets as pysecrets
from pathlib import Path

import pytest

from localcluster.e2e.pulumi_cli import REPO, Workspace
from localcluster.e2e.summary import SUMMARY
from localcluster.e2e.test_cloud_previews import DOCUMENTATION_RANGE, PREVIEW_ENV, _workdir
from localcluster.fake_digitalocean import FakeDigitalOcean
from tools.preview_comment import WINDOW, main as render_comment

# The deploy environment's credentials: present in the test, never handed to a preview job.
DEPLOY_ENV = {"DIGITALOCEAN_TOKEN": "dop_v1_" + pysecrets.token_hex(32),
              "AWS_SECRET_ACCESS_KEY": pysecrets.token_urlsafe(30)}
APP_SECRETS = {"gtc-demo:hfToken": "hf_" + pysecrets.token_hex(16),
               "gtc-demo:gradientApiKey": pysecrets.token_urlsafe(24),
               "gtc-demo:dnsToken": "dop_v1_" + pysecrets.token_hex(32)}


def windows(value: str) -> set[str]:
    forms = {value, value[::-1], base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")}
    return {f[i:i + WINDOW] for f in forms for i in range(len(f) - WINDOW + 1)}


@pytest.fixture(scope="module")
def fake():
    with FakeDigitalOcean(token=PREVIEW_ENV["DIGITALOCEAN_TOKEN"], spaces_access_id=PREVIEW_ENV["SPACES_ACCESS_KEY_ID"],
                          domains=(), buckets={}) as api:
        yield api


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_a_branch_preview_holds_no_credential_that_writes_and_the_pr_sees_none(stack, fake, tmp_path):
    ws = Workspace.create(_workdir(f"branch-{stack}"), None, stack)
    main = ws.project / "__main__.py"
    main.unlink()
    main.symlink_to(REPO / "localcluster" / "e2e" / "branch" / "__main__.py")
    ws.run("stack", "init", "--secrets-provider", "passphrase")
    args = ["config", "set-all", "--path", "--plaintext", f"digitalocean:apiEndpoint={fake.api_endpoint}"]
    if stack == "prod":
        args += ["--plaintext", f"gtc-demo:cluster.controlPlaneAllowlist[0]={DOCUMENTATION_RANGE}"]
    for key, value in APP_SECRETS.items():
        args += ["--secret", f"{key}={value}"]
    ws.run(*args, log=False)
    dump = tmp_path / "dump.json"
    env = ws.env(**PREVIEW_ENV, BRANCH_DUMP=str(dump))
    for name in ("DIGITALOCEAN_ACCESS_TOKEN", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        env.pop(name, None)
    proc = ws.run("preview", "--json", "--policy-pack", "policy", env=env, log=False)
    raw = proc.stdout + proc.stderr
    read = json.loads(dump.read_text())

    # 1. Nothing it can read is a deploy credential, and the account token it holds cannot write.
    readable = json.dumps(read)
    for name, value in DEPLOY_ENV.items():
        assert value not in readable, f"the branch read the deploy's {name}"
    assert not any(key.startswith("digitalocean:") and key != "digitalocean:apiEndpoint" for key in read["config"]), \
        "no account credential in the stack's config"
    assert read["write_attempt"] == "refused 599", read["write_attempt"]
    assert fake.refused() and all(c.method == "POST" for c in fake.refused())

    # 2. The raw output (the job's log) has what the branch printed: this test can see a leak ...
    assert APP_SECRETS["gtc-demo:dnsToken"] in raw and PREVIEW_ENV["DIGITALOCEAN_TOKEN"] in raw

    # 3. ... and the PR comment has none of it, in any spelling the branch used.
    (tmp_path / "preview.json").write_text(proc.stdout)
    (tmp_path / "config.json").write_text(ws.run("config", "--show-secrets", "--json", log=False).stdout)
    out = tmp_path / "comment.md"
    with pytest.MonkeyPatch.context() as mp:
        for name, value in PREVIEW_ENV.items():
            mp.setenv(name, value)
        mp.setenv("PULUMI_CONFIG_PASSPHRASE", (ws.root / "passphrase").read_text())
        render_comment(["--stack", stack, "--preview", str(tmp_path / "preview.json"), "--exit-code", "0",
                        "--config", str(tmp_path / "config.json"), "--out", str(out),
                        *[a for name in [*PREVIEW_ENV, "PULUMI_CONFIG_PASSPHRASE"] for a in ("--secret-env", name)]])
    comment = out.read_text()
    leaked = sorted(name for name, value in {**APP_SECRETS, **PREVIEW_ENV}.items()
                    if any(w in comment for w in windows(value)))
    assert not leaked, f"reached the PR comment: {leaked}\n{comment}"
    assert "branch:leak:Plain" in comment and "[redacted]" in comment, comment  # the reviewer still sees the steps
    SUMMARY["notes"].append(f"{stack}: a branch preview with the preview job's credentials read "
                            f"{len(read['config'])} config values, wrote nothing (refused), leaked nothing to the comment")
