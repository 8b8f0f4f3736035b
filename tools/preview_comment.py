"""The PR comment of a `pulumi preview`, built from its `--json` output and nothing a branch chose to print.

A preview runs the branch's program with the stack's passphrase, so whatever the program can read it can
also print: into the log, into a resource's name, into an output, into a diagnostic. Posting the CLI's
text output on the PR would publish it. This comment instead keeps only the structure of the preview (one
row per step: operation, type, name; counts; the policy pack's findings) and passes every string through
`redact`, which removes each secret the job holds in the spellings a program can produce in one line
(as is, reversed, base64, base64url, hex, URL-quoted, and any 12 characters of one), and any long
high-entropy string. The program's own messages, the stack's config and every output are never copied.

It is a filter, not a guarantee: a determined branch could still spread a few bits over many resource
names. That is why a preview job only starts after a reviewer approved it (docs/security.md, "PR
previews"); the filter keeps an approved branch's accidents, and its plain attempts, off the PR.

    python -m tools.preview_comment --stack dev --preview preview.json --exit-code 0 \
        --config config.json --secret-env DIGITALOCEAN_TOKEN ... --out comment.md
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import os
import re
import sys
from collections import Counter
from pathlib import Path
from urllib.parse import quote

WINDOW = 12  # any run of this many characters of a secret counts as the secret
REDACTED = "[redacted]"
_NAME = re.compile(r"^[A-Za-z0-9:/._$-]{1,200}$")
_SEGMENT = re.compile(r"[A-Za-z0-9+/=]{20,}")


def spellings(secret: str) -> set[str]:
    """The one-line spellings of `secret` a program can print without thinking hard."""
    raw = secret.encode()
    forms = {secret, secret[::-1], raw.hex(), quote(secret, safe=""),
             base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()}
    forms |= {f.rstrip("=") for f in forms}
    found = set()
    for form in forms:
        if len(form) < WINDOW:
            found.add(form)
        else:
            found |= {form[i:i + WINDOW] for i in range(len(form) - WINDOW + 1)}
    return {f for f in found if len(f) >= 6}


def _entropy(text: str) -> float:
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def redact(text: str, needles: set[str]) -> str:
    """`text` with every needle and every long high-entropy run (a token's shape) replaced.

    Needles overlap (windows of one secret), so the covered characters are marked first and each covered
    run replaced whole: no fragment of a secret is left between two replacements."""
    covered = bytearray(len(text))
    for needle in needles:
        start = text.find(needle)
        while start != -1:
            covered[start:start + len(needle)] = b"\x01" * len(needle)
            start = text.find(needle, start + 1)
    if any(covered):
        out, i = [], 0
        while i < len(text):
            if covered[i]:
                while i < len(text) and covered[i]:
                    i += 1
                out.append(REDACTED)
            else:
                out.append(text[i])
                i += 1
        text = "".join(out)

    def high_entropy(match: re.Match) -> str:
        run = match.group(0)
        return REDACTED if any(c.isdigit() for c in run) and _entropy(run) >= 3.5 else run
    return _SEGMENT.sub(high_entropy, text)


def job_secrets(config: dict, env_names: list[str]) -> set[str]:
    """Every secret value the job holds: its environment's and the stack config's decrypted secrets."""
    values = [os.environ.get(name, "") for name in env_names]
    for entry in config.values():
        if isinstance(entry, dict) and entry.get("secret"):
            value = entry.get("value")
            values.append(value if isinstance(value, str) else json.dumps(value))
    needles: set[str] = set()
    for value in values:
        if value and len(value) >= 6:
            needles |= spellings(value)
    return needles


def _cell(text: str, needles: set[str]) -> str:
    return redact(str(text), needles).replace("|", "\\|").replace("\n", " ")[:300]


def render(stack: str, preview: dict, exit_code: int, needles: set[str]) -> str:
    """Markdown for the PR: result, counts, one row per changing step, the pack's findings."""
    steps = [s for s in preview.get("steps") or [] if s.get("op") not in ("same", "read")]
    counts = Counter(s.get("op", "?") for s in preview.get("steps") or [])
    lines = [f"### `pulumi preview -s {stack}`: {'passed' if exit_code == 0 else f'failed (exit {exit_code})'}", "",
             "Filtered for the PR (tools/preview_comment.py): no program output, config or outputs; secrets and "
             "token-shaped strings removed. The job's log has the whole preview, for this repository's members.", "",
             "| operation | count |", "| --- | --- |"]
    lines += [f"| {_cell(op, needles)} | {n} |" for op, n in sorted(counts.items())]
    lines += ["", f"<details><summary>{len(steps)} changes</summary>", "", "| operation | type | name |", "| --- | --- | --- |"]
    for step in steps:
        parts = str(step.get("urn", "")).split("::")
        kind, name = (parts[2].rsplit("$", 1)[-1], parts[3]) if len(parts) >= 4 else ("?", "?")
        name = name if _NAME.match(name) else "(name withheld: not a plain name)"
        lines.append(f"| {_cell(step.get('op'), needles)} | {_cell(kind, needles)} | {_cell(name, needles)} |")
    lines += ["", "</details>", ""]
    findings = [d for d in preview.get("diagnostics") or [] if _is_policy(d)]
    others = [d for d in preview.get("diagnostics") or [] if not _is_policy(d)]
    if findings:
        lines += ["| policy finding | resource |", "| --- | --- |"]
        for d in findings:
            resource = str(d.get("urn", "")).rsplit("::", 1)[-1]
            lines.append(f"| {_cell(d.get('message', ''), needles)} | {_cell(resource, needles)} |")
        lines.append("")
    if others:
        severities = Counter(str(d.get("severity", "info")) for d in others)
        lines.append("The program and the engine printed " + ", ".join(f"{n} {s}" for s, n in sorted(severities.items()))
                     + " message(s): not copied here (see the job's log).")
    return "\n".join(lines) + "\n"


def _is_policy(diagnostic: dict) -> bool:
    """Policy pack findings: the engine prefixes them with the pack's name and the enforcement level."""
    message = str(diagnostic.get("message", ""))
    return bool(re.search(r"\[(mandatory|advisory|disabled)\]", message)) or "policy" in str(diagnostic.get("prefix", "")).lower()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", required=True)
    parser.add_argument("--preview", required=True, type=Path, help="`pulumi preview --json` output")
    parser.add_argument("--exit-code", type=int, required=True)
    parser.add_argument("--config", type=Path, help="`pulumi config --show-secrets --json` (the secrets to remove)")
    parser.add_argument("--secret-env", action="append", default=[], help="an environment variable holding a secret")
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args(argv)
    try:
        preview = json.loads(args.preview.read_text() or "{}")
    except ValueError:
        preview = {}  # a program that failed before the engine printed its digest: counts stay empty
    config = json.loads(args.config.read_text()) if args.config else {}
    args.out.write_text(render(args.stack, preview, args.exit_code, job_secrets(config, args.secret_env)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
