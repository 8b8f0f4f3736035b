"""Find the helm binary `make setup` installs, and render a chart archive with real `helm template`."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Optional

import yaml

HELM_MAJOR = "4"
# API groups the cluster serves when a release installs: kube-prometheus-stack's CRDs come first (the
# other releases that make monitors depend on it), cert-manager's with its release, Gateway API from Cilium.
# The rendered diff (tools/render_charts.py) and the policy pack's chart rule render with the same.
API_VERSIONS = ("monitoring.coreos.com/v1", "cert-manager.io/v1", "gateway.networking.k8s.io/v1")
TOOLS_DIR = Path(os.environ.get("GTC_DEMO_TOOLS", Path.home() / ".cache" / "gtc-demo" / "bin"))


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """Safe YAML that reads `=` (YAML 1.1's value tag, an enum member in the Prometheus CRDs) as a string."""


_Loader.add_constructor("tag:yaml.org,2002:value", yaml.SafeLoader.construct_yaml_str)


def load_all(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.load_all(text, Loader=_Loader) if doc]


class HelmError(RuntimeError):
    """helm is missing, or `helm template` refused the chart with these values (its message included)."""


def helm_binary() -> Path:
    """helm from the tools cache, else a helm on PATH of the right major version."""
    candidates = [TOOLS_DIR / "helm"]
    on_path = shutil.which("helm")
    if on_path:
        candidates.append(Path(on_path))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK) and _major(candidate) == HELM_MAJOR:
            return candidate
    raise HelmError(f"no helm v{HELM_MAJOR} in {TOOLS_DIR} or on PATH; run `make setup` (tools/get-helm.sh)")


def _major(helm: Path) -> Optional[str]:
    try:
        out = subprocess.run([str(helm), "version", "--short"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.strip().lstrip("v").split(".", 1)[0] or None


def template(chart: Path, release: str, namespace: str, values: dict[str, Any], kube_version: str,
             api_versions: tuple[str, ...] = (), timeout: float = 120) -> list[dict[str, Any]]:
    """Every object `helm template` renders (CRDs included) for `values`, as dicts; raises HelmError."""
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as handle:
        yaml.safe_dump(values, handle)
        values_file = handle.name
    command = [str(helm_binary()), "template", release, str(chart), "--namespace", namespace,
               "--values", values_file, "--kube-version", kube_version, "--include-crds"]
    for api_version in api_versions:
        command += ["--api-versions", api_version]
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    finally:
        os.unlink(values_file)
    if proc.returncode != 0:
        raise HelmError(f"helm template {release} ({chart.name}) failed:\n{proc.stderr.strip()}")
    return load_all(proc.stdout)
