#!/bin/sh
# Entry point of both model Jobs: install the hashed, pinned clients, then run one step of model_sync.py.
# --require-hashes: a package whose bytes differ from the lock (a compromised mirror, a re-uploaded file)
# is refused before it runs next to the Hugging Face token and the Spaces key.
set -eu
pip install --quiet --no-cache-dir --disable-pip-version-check --require-hashes --no-deps \
  --target /tmp/deps -r /scripts/requirements.lock
export PYTHONPATH=/tmp/deps
exec python /scripts/model_sync.py "$@"
