"""tools/preview_comment.py: what a branch's preview can get onto the PR (issue 27).

The preview job holds the stack's passphrase, so a branch program can read every config secret and print
it. The PR comment is built from the JSON digest's structure only; these tests plant each secret the way
a program could spell it and check that none survives, while a reviewer still sees what changes."""
import base64
import json
import secrets as pysecrets

import pytest

from policy_harness import REPO  # noqa: F401  (puts the repository on sys.path)
from tools.preview_comment import job_secrets, main, redact, render, spellings

DNS_TOKEN = "dop_v1_" + pysecrets.token_hex(32)
GRADIENT = pysecrets.token_urlsafe(30)
CONFIG = {"gtc-demo:dnsToken": {"value": DNS_TOKEN, "secret": True},
          "gtc-demo:gradientApiKey": {"value": GRADIENT, "secret": True},
          "gtc-demo:region": {"value": "atl1", "secret": False}}


def step(op: str, kind: str, name: str) -> dict:
    return {"op": op, "urn": f"urn:pulumi:prod::gtc-demo::gtc-demo:infra:Infrastructure${kind}::{name}"}


def comment(steps: list[dict], diagnostics: list[dict] | None = None, exit_code: int = 0) -> str:
    preview = {"config": {k: v["value"] for k, v in CONFIG.items()}, "steps": steps, "diagnostics": diagnostics or []}
    return render("prod", preview, exit_code, job_secrets(CONFIG, []))


def test_a_plain_preview_reads_as_a_reviewer_needs_it():
    text = comment([step("create", "digitalocean:index/vpc:Vpc", "infra-vpc"),
                    step("update", "kubernetes:core/v1:ConfigMap", "inference-router-policy"),
                    step("same", "kubernetes:core/v1:Namespace", "platform-ns")],
                   [{"urn": "urn:pulumi:prod::gtc-demo::kubernetes:batch/v1:Job::model-upload",
                     "message": "gtc-demo-guardrails@v1.0.0 [advisory]  images-pinned-by-digest  Job has no digest",
                     "severity": "warning"}])
    assert "`pulumi preview -s prod`: passed" in text
    assert "| create | digitalocean:index/vpc:Vpc | infra-vpc |" in text
    assert "| update | kubernetes:core/v1:ConfigMap | inference-router-policy |" in text
    assert "platform-ns" not in text and "| same | 1 |" in text  # unchanged resources are only counted
    assert "images-pinned-by-digest" in text and "| model-upload |" in text
    assert "failed (exit 255)" in comment([], exit_code=255)


@pytest.mark.parametrize("spelling", [
    lambda s: s,
    lambda s: s[::-1],
    lambda s: base64.b64encode(s.encode()).decode(),
    lambda s: base64.urlsafe_b64encode(s.encode()).decode().rstrip("="),
    lambda s: s.encode().hex(),
    lambda s: s[:20] + "-x-" + s[20:],            # split in two with a separator
], ids=["plain", "reversed", "base64", "base64url", "hex", "split"])
@pytest.mark.parametrize("secret", [DNS_TOKEN, GRADIENT], ids=["dns-token", "gradient-key"])
def test_a_secret_in_a_resource_name_does_not_reach_the_pr(secret, spelling):
    planted = spelling(secret)
    text = comment([step("create", "random:index/randomId:RandomId", planted)])
    assert secret not in text and planted not in text
    for fragment in (secret[:12], secret[-12:], planted[:12], planted[-12:]):
        assert fragment not in text, fragment


def test_a_secret_in_a_policy_message_is_removed_and_program_output_never_copied():
    text = comment([], [{"message": f"gtc-demo-guardrails@v1.0.0 [mandatory]  x  value {DNS_TOKEN} leaked",
                         "severity": "error"},
                        {"message": f"print: {base64.b64encode(GRADIENT.encode()).decode()}", "severity": "info"},
                        {"message": "an innocent line the program printed", "severity": "info"}])
    assert DNS_TOKEN not in text and "[redacted]" in text
    assert "print:" not in text and "innocent" not in text, "program messages are counted, never copied"
    assert "2 info message(s)" in text


def test_a_token_the_job_does_not_know_is_removed_by_its_shape():
    """A secret from the state (a generated password, a Spaces key) is not in the config the filter reads."""
    unknown = pysecrets.token_urlsafe(24).replace("-", "a").replace("_", "b") + "7"
    assert redact(f"name-{unknown}", set()) == "name-[redacted]"
    assert redact("inference-router-policy-3f2a9c1b", set()) == "inference-router-policy-3f2a9c1b"


def test_the_environment_secrets_and_the_config_are_both_read(tmp_path, monkeypatch):
    monkeypatch.setenv("DIGITALOCEAN_TOKEN", "dop_v1_" + "e" * 64)
    needles = job_secrets(CONFIG, ["DIGITALOCEAN_TOKEN"])
    assert ("dop_v1_" + "e" * 64)[:12] in needles and DNS_TOKEN[-12:] in needles
    assert "atl1" not in needles, "plain config is not a secret"
    preview = tmp_path / "preview.json"
    preview.write_text(json.dumps({"steps": [step("create", "x:y:Z", "dop_v1_" + "e" * 64)]}))
    config = tmp_path / "config.json"
    config.write_text(json.dumps(CONFIG))
    out = tmp_path / "comment.md"
    assert main(["--stack", "prod", "--preview", str(preview), "--exit-code", "0", "--config", str(config),
                 "--secret-env", "DIGITALOCEAN_TOKEN", "--out", str(out)]) == 0
    assert "e" * 20 not in out.read_text()


def test_a_digest_that_is_not_json_still_gives_a_comment(tmp_path):
    preview = tmp_path / "preview.json"
    preview.write_text("error: the program crashed before the engine printed its digest " + DNS_TOKEN)
    out = tmp_path / "comment.md"
    assert main(["--stack", "dev", "--preview", str(preview), "--exit-code", "1", "--out", str(out)]) == 0
    assert "failed (exit 1)" in out.read_text() and DNS_TOKEN not in out.read_text()


def test_spellings_cover_every_window():
    assert all(len(s) >= 6 for s in spellings("short-secret"))
    assert "abcdefghijkl" in spellings("abcdefghijklmnop")
