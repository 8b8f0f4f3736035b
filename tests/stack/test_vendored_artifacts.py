"""The vendored chart archives and CRDs are the ones vendor/README.md records, one per pinned chart, and
`make vendor-charts` re-pulls exactly the pinned versions."""

import hashlib
import re
import tarfile

import pytest
import yaml

from components.charts import CHARTS, REPO_ROOT, ChartPin, release_source
from tools import vendor_charts

VENDOR = REPO_ROOT / "vendor"
README = (VENDOR / "README.md").read_text()


def recorded_hashes() -> dict[str, str]:
    """file name -> sha256, from the tables in vendor/README.md."""
    return {m.group(1): m.group(2) for m in re.finditer(r"^\| (\S+\.(?:tgz|yaml\.gz)) \|.*\| ([0-9a-f]{64}) \|$",
                                                        README, re.MULTILINE)}


def test_every_vendored_file_is_recorded_with_its_hash():
    files = sorted(p for p in VENDOR.rglob("*") if p.suffix in (".tgz", ".gz"))
    recorded = recorded_hashes()
    assert sorted(p.name for p in files) == sorted(recorded)
    for path in files:
        assert hashlib.sha256(path.read_bytes()).hexdigest() == recorded[path.name], path.name


@pytest.mark.parametrize("release", sorted(CHARTS))
def test_each_pinned_chart_has_its_archive(release):
    pin = CHARTS[release]
    with tarfile.open(pin.vendored_path) as archive:
        chart = yaml.safe_load(archive.extractfile(f"{pin.chart}/Chart.yaml"))
    assert chart["name"] == pin.chart
    assert chart["version"].lstrip("v") == (pin.vendored_version or pin.version).lstrip("v")


def test_only_dynamo_platform_stands_in_for_its_pin_and_the_readme_says_so():
    stand_ins = {name for name, pin in CHARTS.items() if not pin.vendored_is_exact}
    assert stand_ins == {"dynamo-platform"}
    assert "**dynamo-platform is not the pinned release.**" in README


def test_the_refresh_command_pulls_exactly_the_pins():
    commands = vendor_charts.pull_commands("helm", REPO_ROOT / "x")
    assert sorted((c[2], c[4], c[6]) for c in commands) == sorted(
        (pin.chart, pin.repo, pin.version) for pin in CHARTS.values())
    assert all(c[1] == "pull" for c in commands)


def test_the_refresh_dry_run_fetches_nothing(capsys):
    before = {p: p.stat().st_mtime for p in VENDOR.rglob("*.*")}
    assert vendor_charts.main(["--helm", "helm", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "helm pull dynamo-platform --repo https://helm.ngc.nvidia.com/nvidia/ai-dynamo --version 1.6.1" in out
    assert {p: p.stat().st_mtime for p in VENDOR.rglob("*.*")} == before


def test_release_source_switches_between_repository_and_archive():
    assert release_source("cert-manager", "repository") == {
        "chart": "cert-manager", "version": "v1.19.1", "repository_opts": {"repo": "https://charts.jetstack.io"}}
    assert release_source("dynamo-platform", "vendored") == {"chart": "./vendor/charts/dynamo-platform-1.5.0.tgz"}


def test_an_inexact_vendored_version_is_refused():
    with pytest.raises(ValueError, match="vendored_version must be an exact version"):
        ChartPin("x", "https://example.invalid", "1.0.0", vendored_version="1.x")
