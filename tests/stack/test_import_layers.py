"""Who may import whom (issue 21): the serving facts live in serving/, below both the cloud program and the
rehearsal, so components/ and rehearsal/ never import each other in a cycle."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def imported_packages(folder: str) -> dict[str, set[str]]:
    """module file -> the top-level-qualified modules it imports (absolute imports, lazy ones included)."""
    found: dict[str, set[str]] = {}
    for path in sorted((REPO / folder).rglob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module)
        found[str(path.relative_to(REPO))] = names
    return found


def test_the_rehearsal_imports_nothing_from_the_cloud_program():
    offenders = {f: sorted(n for n in names if n.split(".")[0] == "components")
                 for f, names in imported_packages("rehearsal").items()}
    assert not {f: n for f, n in offenders.items() if n}


def test_the_cloud_program_imports_only_the_rehearsals_mocker_model():
    """components/ runs the mocker on the local stack, modelled as the rehearsal models it (rehearsal.speculative,
    which imports nothing of ours); everything else it shares with the rehearsal comes from serving/."""
    for module, names in imported_packages("components").items():
        from_rehearsal = {n for n in names if n.split(".")[0] == "rehearsal"}
        assert from_rehearsal <= {"rehearsal.speculative"}, (module, from_rehearsal)
    speculative = imported_packages("rehearsal")["rehearsal/speculative.py"]
    assert not {n for n in speculative if n.split(".")[0] in ("components", "rehearsal", "serving")}


@pytest.mark.parametrize("package", ["serving"])
def test_serving_facts_sit_below_both(package):
    for module, names in imported_packages(package).items():
        assert not {n for n in names if n.split(".")[0] in ("components", "rehearsal", "loadgen")}, module


def test_both_sides_read_the_same_router_policy_and_limits():
    from components import dgd
    from rehearsal import settings
    from serving import engine, router

    assert dgd.router_policy is router.router_policy and settings.router_policy is router.router_policy
    assert dgd.FRONTEND_MIGRATION_LIMIT == settings.MIGRATION_LIMIT == engine.MIGRATION_LIMIT
    assert settings.engine_limit_args is engine.engine_limit_args
