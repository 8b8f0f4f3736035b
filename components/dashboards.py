"""Grafana dashboards as ConfigMaps the kube-prometheus-stack sidecar imports (label grafana_dashboard: "1").

The dashboard JSON lives in manifests/dashboards/ (edit it there, or export from Grafana); every
metric a panel queries is listed in manifests/metrics.yaml, which a test checks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from components.platform import MONITORING_NS, Platform
from components.k8s_common import PART_OF

DASHBOARDS_DIR = Path(__file__).resolve().parents[1] / "manifests" / "dashboards"
SIDECAR_LABEL = {"grafana_dashboard": "1"}


def dashboard_files() -> dict[str, str]:
    """File stem -> JSON text, validated as JSON so a broken file fails at preview, not in Grafana."""
    files = {}
    for path in sorted(DASHBOARDS_DIR.glob("*.json")):
        text = path.read_text()
        json.loads(text)
        files[path.stem] = text
    return files


@dataclass
class DashboardsArgs:
    platform: Platform


class Dashboards(pulumi.ComponentResource):
    """One ConfigMap per dashboard JSON file, in the monitoring namespace."""

    def __init__(self, name: str, args: DashboardsArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("gtc-demo:dashboards:Dashboards", name, None, opts)
        platform = args.platform
        self.config_maps = {
            stem: k8s.core.v1.ConfigMap(
                f"{name}-{stem}",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=f"grafana-dashboard-{stem}",
                    namespace=platform.namespaces[MONITORING_NS].metadata.name,
                    labels={**SIDECAR_LABEL, **PART_OF},
                ),
                data={f"{stem}.json": text},
                # The sidecar comes with the chart; without it the ConfigMaps would just sit there.
                opts=pulumi.ResourceOptions(parent=self, depends_on=[platform.releases["kube-prometheus-stack"]]),
            )
            for stem, text in dashboard_files().items()
        }
        self.register_outputs({"dashboards": sorted(self.config_maps)})
