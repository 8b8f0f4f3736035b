"""Refresh vendor/ from upstream: `helm pull` every chart components/charts.py pins, at its pinned
version, and download the CRDs vendor/crds holds from their release URLs.

    python -m tools.vendor_charts [--helm PATH] [--dry-run] [--charts-only]

Needs the chart repositories (and GitHub for the CRDs); the tests never run it. After a pull, a chart
whose pin names an older `vendored_version` (dynamo-platform: the offline source is 1.5.0 from Dynamo
main) is reported: drop that `vendored_version` so the program and the tests use the pulled release,
then record the new archive in vendor/README.md.
"""

from __future__ import annotations

import argparse
import gzip
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

from components.charts import CHARTS, REPO_ROOT, VENDOR_DIR

CRD_DIR = REPO_ROOT / "vendor" / "crds"
# vendor/crds file -> where its release publishes it. The DGD CRD is not in any chart (the operator
# applies it from its image), so it comes from the Dynamo source at the pinned release's tag.
CRDS = {
    "nvidia.com_dynamographdeployments.yaml.gz":
        f"https://raw.githubusercontent.com/ai-dynamo/dynamo/v{CHARTS['dynamo-platform'].version}"
        "/deploy/operator/config/crd/bases/nvidia.com_dynamographdeployments.yaml",
    "gateway-api-v1.2.1-standard-crds.yaml.gz":
        "https://github.com/kubernetes-sigs/gateway-api/releases/download/v1.2.1/standard-install.yaml",
}


def default_helm() -> str:
    from tools.helm import helm_binary
    return str(helm_binary())


def pull_commands(helm: str, dest: Path) -> list[list[str]]:
    """One `helm pull` per pinned chart, into `dest` as <chart>-<version>.tgz."""
    return [[helm, "pull", pin.chart, "--repo", pin.repo, "--version", pin.version, "--destination", str(dest)]
            for pin in CHARTS.values()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--helm", default=None, help="helm binary (default: the one `make setup` installs)")
    parser.add_argument("--dry-run", action="store_true", help="print what would be fetched, fetch nothing")
    parser.add_argument("--charts-only", action="store_true", help="skip the CRD downloads")
    args = parser.parse_args(argv)
    helm = args.helm or default_helm()
    dest = REPO_ROOT / VENDOR_DIR

    with tempfile.TemporaryDirectory() as tmp:
        for command in pull_commands(helm, Path(tmp)):
            print(" ".join(command))
            if not args.dry_run:
                subprocess.run(command, check=True, timeout=300)
        if not args.dry_run:
            for archive in Path(tmp).glob("*.tgz"):
                shutil.copy2(archive, dest / archive.name)
        if not args.charts_only:
            for name, url in CRDS.items():
                print(f"GET {url} -> vendor/crds/{name}")
                if not args.dry_run:
                    with urllib.request.urlopen(url, timeout=120) as response:  # noqa: S310 - fixed https URLs
                        (CRD_DIR / name).write_bytes(gzip.compress(response.read(), mtime=0))

    stale = [pin for pin in CHARTS.values() if not pin.vendored_is_exact]
    for pin in stale:
        print(f"note: {pin.chart} pins {pin.version} but the program and tests use the vendored "
              f"{pin.vendored_version}; drop vendored_version in components/charts.py to use the pulled "
              f"{pin.chart}-{pin.version}.tgz", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
