#!/bin/sh
# Entry point of both model Jobs: install the pinned clients, then run one step of model_sync.py.
set -eu
pip install --quiet --no-cache-dir --disable-pip-version-check --target /tmp/deps \
  "huggingface_hub==${HUGGINGFACE_HUB_VERSION}" "boto3==${BOTO3_VERSION}"
export PYTHONPATH=/tmp/deps
exec python /scripts/model_sync.py "$@"
