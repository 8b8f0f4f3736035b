"""Dev cannot touch prod: a production stack refuses to share a name that another stack's credentials reach.

Dev's DNS token, Spaces keys and registry credentials come from dev's own DigitalOcean team
(docs/operations.md, "Separate teams"). That only separates the stacks if prod never points at what dev
owns: the same model-cache bucket (dev's read-write key could plant weights prod serves), the same DNS
zone or a zone holding prod's hostname (dev's DNS token could redirect the booth), the same container
registry (dev could push over prod's image tag). The other stacks' `Pulumi.<stack>.yaml` files sit beside
prod's in the project, so `pulumi preview -s prod` checks their effective values (defaults included)
before any resource exists.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

import yaml

PROJECT_DIR = Path(__file__).resolve().parents[1]


def _in_zone(name: str, zone: str) -> bool:
    name, zone = name.lower().strip("."), zone.lower().strip(".")
    return name == zone or name.endswith("." + zone)


def shared_names(mine, other) -> list[tuple[str, str, str]]:
    """(key, value, why) for every name of `mine` that `other`'s credentials can write."""
    found = []
    if mine.spaces.bucket == other.spaces.bucket:
        found.append(("spaces.bucket", mine.spaces.bucket,
                      "its model-cache keys can write the weights this stack's download Job reads"))
    if _in_zone(mine.domain, other.domain):
        found.append(("domain", mine.domain, f"its DNS token edits zone {other.domain!r}, which holds this stack's zone"))
    elif _in_zone(mine.hostname, other.domain):
        found.append(("hostname", mine.hostname, f"the name lies in its DNS zone {other.domain!r}"))
    if mine.container_registry == other.container_registry:
        found.append(("containerRegistry", mine.container_registry, "its registry credentials can push over this stack's images"))
    return found


def other_stack_files(stack: str, project_dir: Path = PROJECT_DIR) -> dict[str, dict]:
    """The raw `gtc-demo:` config of every other stack file in the project (key prefix stripped)."""
    found = {}
    for path in sorted(project_dir.glob("Pulumi.*.yaml")):
        name = path.name[len("Pulumi."):-len(".yaml")]
        if name == stack:
            continue
        values = (yaml.safe_load(path.read_text()) or {}).get("config") or {}
        found[name] = {key.split(":", 1)[1]: value for key, value in values.items()
                       if isinstance(key, str) and key.startswith("gtc-demo:")}
    return found


def check_isolation(stack: str, mine, parse: Callable[[dict, Optional[str]], object],
                    others: Optional[dict[str, dict]] = None) -> list[str]:
    """Error lines (key, value, allowed) for each name `stack` shares with a non-local stack's files."""
    errors = []
    for name, raw in (other_stack_files(stack) if others is None else others).items():
        try:
            other = parse(raw, None)
        except Exception as exc:  # another stack's bad file is that stack's error, not this one's
            errors.append(f"  Pulumi.{name}.yaml does not parse, so this stack cannot prove it shares nothing with it: "
                          f"{str(exc).splitlines()[-1].strip()}")
            continue
        if other.cluster_source.is_local:  # a local control plane holds no DigitalOcean credential
            continue
        for key, value, why in shared_names(mine, other):
            errors.append(f"  gtc-demo:{key}={value!r} is within reach of stack {name!r}'s credentials ({why}); allowed: a name of "
                          f"this stack's own DigitalOcean team that no other stack's config names")
    return errors
