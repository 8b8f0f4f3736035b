"""The DOKS version and every Helm chart version are exact, so a re-run cannot upgrade anything by itself."""
import re
from typing import List, Mapping

from ..props import as_str, child, subject

CLUSTER_TYPE = "digitalocean:index/kubernetesCluster:KubernetesCluster"
CHART_TYPES = ("kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart")

DOKS_EXACT_VERSION = re.compile(r"^\d+\.\d+\.\d+-do\.\d+$")          # e.g. 1.33.1-do.3
EXACT_SEMVER = re.compile(r"^v?\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$")


def _is_local_chart(chart: str) -> bool:
    return chart.startswith(("./", "../", "/"))


def _shown(version: str | None) -> str:
    return f'"{version}"' if version is not None else "unset"


def check_cluster(resource_type: str, name: str, props: Mapping) -> List[str]:
    if resource_type != CLUSTER_TYPE:
        return []
    version = as_str(child(props, "version"))
    if version is None or not DOKS_EXACT_VERSION.match(version):
        return [f"{subject(resource_type, name)}: version {_shown(version)} is not an exact DOKS version "
                '(like "1.33.1-do.3"); resolve the prefix with digitalocean.get_kubernetes_versions']
    return []


def check_charts(resource_type: str, name: str, props: Mapping) -> List[str]:
    if resource_type not in CHART_TYPES:
        return []
    chart = as_str(child(props, "chart")) or ""
    if _is_local_chart(chart):
        return []  # pinned by the commit that holds it
    version = as_str(child(props, "version"))
    if version is None or not EXACT_SEMVER.match(version):
        return [f'{subject(resource_type, name)}: chart "{chart}" version {_shown(version)} is not an exact '
                'version (like "1.16.2"); ranges and unset versions float to new releases']
    return []
