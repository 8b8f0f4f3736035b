"""Render every Helm release a stack declares, as `helm template` would install it, into a directory:
what the PR preview comment diffs between the base branch and the PR.

    python -m tools.render_charts --stack prod --out rendered/prod

The values are exactly the program's: the program runs under Pulumi's mock runtime (tests/stack/plan.py,
no cloud, no credentials) and each release's `values` input is taken from it. Charts come from the
vendored archives (`components/charts.py`). Per release it writes `<release>.values.yaml` and
`<release>.yaml` (objects sorted by kind, namespace and name, so a diff shows changes, not reordering).
Pulumi secrets in values are written as `<secret>`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Optional

import yaml

from components.charts import CHARTS, REPO_ROOT
from tools.helm import API_VERSIONS, template

RELEASE = "kubernetes:helm.sh/v3:Release"


def kube_version(stack: str) -> str:
    """The cluster's Kubernetes version for rendering: the stack's minor (`1.33.` -> `1.33.0`)."""
    return _plan_module().stack_config(stack)["gtc-demo:cluster"]["kubernetesVersionPrefix"] + "0"


def _plan_module():
    sys.path.insert(0, str(REPO_ROOT / "tests" / "stack"))
    import plan  # noqa: PLC0415 - the mock-runtime harness lives with the tests
    return plan


def _masked(value: Any, plan_module) -> Any:
    if plan_module.is_secret(value):
        return "<secret>"
    if isinstance(value, dict):
        return {k: _masked(v, plan_module) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v, plan_module) for v in value]
    return value


def _sort_key(obj: dict[str, Any]) -> tuple[str, str, str]:
    meta = obj.get("metadata") or {}
    return (str(obj.get("kind")), str(meta.get("namespace", "")), str(meta.get("name", "")))


def render_plan(plan, out: Path) -> list[str]:
    """Write each release of an evaluated plan into `out`; returns the release names."""
    plan_module = _plan_module()
    out.mkdir(parents=True, exist_ok=True)
    names = []
    for resource in sorted(plan.by_type(RELEASE), key=lambda r: r.name):
        inputs = _masked(resource.inputs, plan_module)
        name, values = inputs["name"], inputs.get("values") or {}
        objects = template(CHARTS[name].vendored_path, name, inputs["namespace"], values, kube_version(plan.stack),
                           API_VERSIONS)
        (out / f"{name}.values.yaml").write_text(yaml.safe_dump(values, sort_keys=True))
        (out / f"{name}.yaml").write_text(yaml.safe_dump_all(sorted(objects, key=_sort_key), sort_keys=True))
        names.append(name)
    return names


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", required=True, choices=["dev", "prod"])
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args(argv)
    plan = _plan_module().evaluate(args.stack)
    for name in render_plan(plan, args.out):
        print(f"rendered {args.stack}/{name} ({CHARTS[name].vendored_file})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
