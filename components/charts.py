"""The Helm charts this program installs: the one place that knows each release's chart, repository,
pinned version and vendored archive.

`gtc-demo:charts.source` picks where `pulumi up` installs from: `repository` (the chart repository at
the pinned version, the default for dev/prod) or `vendored` (the archive under `vendor/charts/`, for
machines that cannot reach the repositories). The tests render every release from the vendored
archives with real `helm template`; `make vendor-charts` refreshes them with `helm pull` at the pins.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Optional

REPO_ROOT = Path(__file__).resolve().parents[1]
VENDOR_DIR = "vendor/charts"

ChartSource = Literal["repository", "vendored"]
# An exact version (no ranges, no `latest`): a re-run must not upgrade anything by itself.
EXACT_VERSION = re.compile(r"^v?\d+\.\d+\.\d+([-+][0-9A-Za-z.\-+]+)?$")


@dataclass(frozen=True)
class ChartPin:
    """One chart at one exact version, and the archive that stands in for it offline."""

    chart: str
    repo: str
    version: str
    # The vendored archive's version when it differs from the pin (the newest source reachable
    # offline); None means vendor/charts/<chart>-<version>.tgz is the pinned release itself.
    vendored_version: Optional[str] = None

    def __post_init__(self) -> None:
        for what, value in (("version", self.version), ("vendored_version", self.vendored_version)):
            if value is not None and not EXACT_VERSION.match(value):
                raise ValueError(f"chart {self.chart}: {what} must be an exact version such as 1.2.3 "
                                 f"(no ranges, no 'latest'), got {value!r}")

    @property
    def vendored_file(self) -> str:
        """Path of the vendored archive, relative to the project root (what `pulumi up` runs in)."""
        return f"{VENDOR_DIR}/{self.chart}-{self.vendored_version or self.version}.tgz"

    @property
    def vendored_path(self) -> Path:
        return REPO_ROOT / self.vendored_file

    @property
    def vendored_is_exact(self) -> bool:
        return self.vendored_version in (None, self.version)


# Release name -> chart. No `dynamo-crds`: that chart was removed from Dynamo in Feb 2026; the
# operator in `dynamo-platform` applies its own CRDs (`dynamo-operator.upgradeCRD`).
CHARTS: dict[str, ChartPin] = {
    "dynamo-platform": ChartPin(
        "dynamo-platform", "https://helm.ngc.nvidia.com/nvidia/ai-dynamo", "1.6.1",
        # Dynamo main of 2026-08-21 (chart version 1.5.0): the newest Dynamo chart source reachable
        # offline. `make vendor-charts` replaces it with the 1.6.1 release where the repository is reachable.
        vendored_version="1.5.0"),
    "kube-prometheus-stack": ChartPin(
        "kube-prometheus-stack", "https://prometheus-community.github.io/helm-charts", "79.5.0"),
    "dcgm-exporter": ChartPin("dcgm-exporter", "https://nvidia.github.io/dcgm-exporter/helm-charts", "4.6.0"),
    "cert-manager": ChartPin("cert-manager", "https://charts.jetstack.io", "v1.19.1"),
    "external-dns": ChartPin("external-dns", "https://kubernetes-sigs.github.io/external-dns", "1.19.0"),
}


def release_source(release: str, source: ChartSource) -> dict[str, object]:
    """`chart`/`version`/`repository_opts` arguments of a helm.v3.Release for `release` from `source`."""
    pin = CHARTS[release]
    if source == "vendored":
        # A local archive carries its own version; the path is relative so state is the same on every machine.
        return {"chart": f"./{pin.vendored_file}"}
    return {"chart": pin.chart, "version": pin.version, "repository_opts": {"repo": pin.repo}}
