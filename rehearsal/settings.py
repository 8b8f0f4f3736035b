"""The rehearsal's fixed choices: model name, ports, mocker timing, router settings.

Kept in one module so the launcher, the end-to-end test and the benchmark all
rehearse exactly the same stack, and so the README can point at one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from rehearsal.calibration import BOOTH_LAYOUT, LAYOUTS, load as load_calibration

# Same served model name as the cloud stacks, so the load generator and any
# client config work unchanged against the rehearsal.
MODEL_NAME = "nvidia/Llama-3.1-70B-Instruct-FP8"
TOKENIZER_DIR = Path(__file__).parent / "tokenizer"
HOST = "127.0.0.1"

DEFAULT_UI_PORT = 3000
DEFAULT_KV_PORT = 8000
DEFAULT_RR_PORT = 8001
DEFAULT_WORKERS = 2  # the cloud stacks' replica count (2x TP=4 on one 8-GPU node)
# The engine limits and the migration limit live in serving.engine (the cloud program reads them too).
from serving.engine import MAX_BATCH_SIZE, MAX_NUM_TOKENS, MIGRATION_LIMIT, MOCKER_BLOCK_SIZE, engine_limit_args  # noqa: E402,F401
from serving.router import router_policy  # noqa: E402

# Dynamo without etcd or NATS: discovery through files in a temp dir, requests
# over TCP, KV events over ZMQ (through our loopback-only broker).
PLANE_ARGS = ("--discovery-backend", "file", "--request-plane", "tcp", "--event-plane", "zmq")

@dataclass(frozen=True)
class MockerTiming:
    """Mocker speed from measured GPU timings (rehearsal/calibration.py, README "Calibration").

    `calibration` names the measured table (h100 = the dev stack, h200 = prod) handed to the
    mocker as `--planner-profile-data`: an uncached prefill costs the measured compute plus the
    all-reduce estimate (4k tokens: 195 ms on H100), a cached follow-up only its new tokens
    (~16 ms for 128 tokens on a 4k context), a decode step 9-13 ms. The speed-up ratios stay 1.0
    (the table is already in real milliseconds); decode_speedup_ratio is the knob that models
    speculative decoding.
    """

    calibration: str = "h100"
    speedup_ratio: float = 1.0
    decode_speedup_ratio: float = 1.0
    engine_type: str = "trtllm"
    # The replica layout the table is measured for (rehearsal.calibration.LAYOUTS): 2 x 70B TP=4 is the booth's.
    layout: str = BOOTH_LAYOUT

    @property
    def replicas(self) -> int:
        """How many replicas this layout puts on the node's 8 GPUs (one mocker worker each)."""
        return LAYOUTS[self.layout].replicas

    def perf_data_name(self) -> str:
        return f"perf-{self.calibration}-{self.layout}.npz"

    def args(self, perf_data: Path) -> list[str]:
        """Mocker flags; `perf_data` is where the stack wrote `calibration.write_npz(self.calibration, ..., self.layout)`.

        Each replica's mock KV cache holds what the engine would give it on that GPU in that layout."""
        return [
            "--engine-type", self.engine_type,
            "--block-size", str(MOCKER_BLOCK_SIZE),
            "--num-gpu-blocks-override", str(load_calibration(self.calibration, self.layout).kv_blocks()),
            "--planner-profile-data", str(perf_data),
            "--speedup-ratio", str(self.speedup_ratio),
            "--decode-speedup-ratio", str(self.decode_speedup_ratio),
        ]


@dataclass(frozen=True)
class RouterSettings:
    """KV frontend router settings, handed to `python -m dynamo.frontend` the way the cloud stacks do.

    The cloud's KV frontend reads a `--router-policy-config` file built by serving.router.router_policy
    (ai-dynamo 1.6.1 deprecates the per-setting flags); the rehearsal writes the same document from
    the same function, so what it measures is what the cluster runs.
    """

    overlap_score_credit: float | None = None
    prefill_load_scale: float | None = None
    temperature: float | None = None

    def policy(self) -> dict | None:
        """The policy document (None: Dynamo's defaults, no file)."""
        return router_policy(self)

    def args(self, work_dir: Path) -> list[str]:
        """Frontend flags; writes the policy file into `work_dir` when there is one."""
        policy = self.policy()
        if policy is None:
            return []
        path = Path(work_dir) / f"router-policy-{self.slug()}.yaml"
        path.write_text(yaml.safe_dump(policy, sort_keys=True))
        return ["--router-policy-config", str(path)]

    def parameters(self) -> dict[str, float]:
        """The cost-function parameters as the policy file names them (router_policy owns the names)."""
        policy = self.policy()
        return {} if policy is None else policy["worker_selection"]["instances"][0]["parameters"]

    def slug(self) -> str:
        return "-".join(f"{name}{value:g}" for name, value in self.parameters().items()) or "defaults"

    def label(self) -> str:
        return " ".join(f"{name}={value:g}" for name, value in self.parameters().items()) or "defaults"


# Dynamo 1.6.1's own defaults (overlap credit 1, prefill load scale 1, temperature
# 0): a worker's active decode blocks weigh as much as the prefill a cache miss
# costs, so under modest load turn 2 often goes to the emptier replica and misses.
DYNAMO_DEFAULTS = RouterSettings()
# Booth settings, chosen with `python -m bench.router_sweep candidates` (README):
# weigh the prefill a request would need on each worker 4x against decode load,
# so a conversation only leaves its replica under a real imbalance. Temperature 0
# (deterministic; 1.6.1's default) is pinned so an upgrade cannot randomize it.
BOOTH = RouterSettings(prefill_load_scale=4.0, temperature=0.0)
ROUTER_PRESETS = {"booth": BOOTH, "defaults": DYNAMO_DEFAULTS}
