"""docs/operations.md shows what a violation looks like; those texts must be what the pack prints."""
import re

import pytest

from policy_harness import DEPLOYMENT, REPO, SECRET, analyze, container, deployment

DOC = REPO / "docs" / "operations.md"
LOADGEN_LATEST = "registry.digitalocean.com/do-solutions-sfo3/gtc-demo-loadgen:latest"

SAMPLES = {
    "pinned-images": (DEPLOYMENT, "loadgen", deployment(container("loadgen", LOADGEN_LATEST))),
    "secret-data-from-pulumi-secrets": (SECRET, "hf-token", {"stringData": {"HF_TOKEN": "hf_x"}}),
}


def fenced_blocks(text: str) -> list:
    return [block.strip() for block in re.findall(r"^```[a-z]*\n(.*?)^```", text, flags=re.S | re.M)]


@pytest.mark.parametrize("policy", sorted(SAMPLES))
def test_documented_violation_text_is_what_the_pack_reports(policy):
    resource_type, name, props = SAMPLES[policy]
    [reported] = [d.message for d in analyze(resource_type, name, props) if d.policy == policy]
    assert reported in fenced_blocks(DOC.read_text())
