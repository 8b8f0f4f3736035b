"""The PR preview shows what a change does inside the Helm releases: tools.render_charts renders each
release with the program's values, tools.rendered_diff turns base vs PR into the comment the workflow posts."""

import pytest
import yaml

from plan import evaluate
from components.charts import REPO_ROOT
from tools import rendered_diff
from tools.render_charts import render_plan

WORKFLOW = REPO_ROOT / ".github" / "workflows" / "preview.yml"


@pytest.fixture(scope="module")
def base_render(tmp_path_factory, dev_plan):
    out = tmp_path_factory.mktemp("rendered") / "base"
    assert render_plan(dev_plan, out) == [
        "cert-manager", "dcgm-exporter", "dynamo-platform", "external-dns", "kube-prometheus-stack"]
    return out


def test_a_values_change_shows_as_a_rendered_object_diff(tmp_path, base_render):
    renamed = evaluate("dev", overrides={"gtc-demo:hostname": "booth.dev.digitalocean.solutions"})
    render_plan(renamed, tmp_path / "pr")
    diffs = rendered_diff.release_diffs(base_render, tmp_path / "pr")
    # Grafana's root_url moves: the values and the rendered grafana.ini both show it, nothing else does.
    assert set(diffs) == {"kube-prometheus-stack.values.yaml", "kube-prometheus-stack.yaml"}
    rendered = diffs["kube-prometheus-stack.yaml"]
    assert "+    root_url = https://booth.dev.digitalocean.solutions/grafana" in rendered
    assert "+        checksum/config: " in rendered  # and the Grafana Deployment rolls
    text = rendered_diff.comment("dev", diffs)
    assert "| `kube-prometheus-stack.yaml` |" in text and "```diff" in text


def test_an_unchanged_program_renders_byte_for_byte_the_same(tmp_path, dev_plan, base_render):
    render_plan(dev_plan, tmp_path / "again")
    assert rendered_diff.release_diffs(base_render, tmp_path / "again") == {}
    assert "No rendered object changes" in rendered_diff.comment("dev", {})


def test_a_long_diff_is_cut_below_githubs_comment_limit():
    text = rendered_diff.comment("prod", {"x.yaml": "--- a\n+++ b\n" + "+line\n" * 50000}, limit=60000)
    assert len(text) < 65536 and "(cut; the full diff is the workflow's artifact)" in text


def test_the_preview_workflow_posts_the_rendered_diff_for_both_stacks():
    job = yaml.safe_load(WORKFLOW.read_text())["jobs"]["rendered-diff"]
    assert job["strategy"]["matrix"]["stack"] == ["dev", "prod"]
    runs = "\n".join(step.get("run", "") for step in job["steps"])
    assert "tools/get-helm.sh" in runs
    assert runs.count("-m tools.render_charts --stack ${{ matrix.stack }}") == 2  # the PR and the base branch
    assert "github.event.pull_request.base.sha" in runs
    assert "-m tools.rendered_diff" in runs
    # Posted by a job of its own that runs no PR code and may write to the PR (issue 27), never on forks.
    poster = yaml.safe_load(WORKFLOW.read_text())["jobs"]["rendered-diff-comment"]
    assert poster["needs"] == "rendered-diff" and poster["permissions"] == {"pull-requests": "write"}
    assert 'gh pr comment "${{ github.event.pull_request.number }}"' in "\n".join(s.get("run", "") for s in poster["steps"])
