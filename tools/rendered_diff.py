"""The PR comment that shows what a change does to the cluster's Helm-managed objects: the unified diff
of `tools.render_charts` output between the base branch and the PR, per release.

    python -m tools.rendered_diff --stack prod --base DIR --head DIR --out comment.md

`pulumi preview` shows a helm.v3.Release as one resource whose `values` changed (or whose chart version
did); this comment shows the objects that change inside it. The diff is cut at --limit characters
(GitHub caps a comment at 65,536); the workflow uploads the full diff as an artifact.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path
from typing import Optional

MARKER = "<!-- gtc-demo rendered-charts {stack} -->"


def release_diffs(base: Path, head: Path) -> dict[str, str]:
    """file name -> unified diff, for every rendered file that differs (added and removed files included)."""
    names = sorted({p.name for p in base.glob("*.yaml")} | {p.name for p in head.glob("*.yaml")})
    diffs = {}
    for name in names:
        old = (base / name).read_text().splitlines(keepends=True) if (base / name).exists() else []
        new = (head / name).read_text().splitlines(keepends=True) if (head / name).exists() else []
        text = "".join(difflib.unified_diff(old, new, f"base/{name}", f"pr/{name}", n=3))
        if text:
            diffs[name] = text
    return diffs


def comment(stack: str, diffs: dict[str, str], limit: int = 60000) -> str:
    """Markdown: a table of changed files with added/removed line counts, then the diff (cut at `limit`)."""
    lines = [MARKER.format(stack=stack), f"### Rendered Helm releases, stack `{stack}`", ""]
    if not diffs:
        lines.append("No rendered object changes: every release renders the same objects as on the base branch.")
        return "\n".join(lines) + "\n"
    lines += ["| file | + | - |", "|---|---|---|"]
    for name, text in diffs.items():
        body = text.splitlines()[2:]
        added = sum(1 for line in body if line.startswith("+"))
        removed = sum(1 for line in body if line.startswith("-"))
        lines.append(f"| `{name}` | {added} | {removed} |")
    full = "".join(diffs.values())
    shown = full if len(full) <= limit else full[:limit] + "\n... (cut; the full diff is the workflow's artifact)\n"
    lines += ["", "<details><summary>diff</summary>", "", "```diff", shown.rstrip("\n"), "```", "", "</details>"]
    return "\n".join(lines) + "\n"


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", required=True)
    parser.add_argument("--base", required=True, type=Path)
    parser.add_argument("--head", required=True, type=Path)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--full-diff", type=Path, help="also write the whole diff here")
    parser.add_argument("--limit", type=int, default=60000)
    args = parser.parse_args(argv)
    diffs = release_diffs(args.base, args.head)
    args.out.write_text(comment(args.stack, diffs, args.limit))
    if args.full_diff:
        args.full_diff.write_text("".join(diffs.values()))
    print(f"{args.stack}: {len(diffs)} rendered file(s) differ")
    return 0


if __name__ == "__main__":
    sys.exit(main())
