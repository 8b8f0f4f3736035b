"""The shipped tokenizer and the flags the rehearsal passes to Dynamo."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from rehearsal.settings import BOOTH, DYNAMO_DEFAULTS, MODEL_NAME, TOKENIZER_DIR, MockerTiming, RouterSettings, engine_limit_args


def test_router_settings_reach_the_frontend_as_the_clouds_policy_file(tmp_path):
    """The rehearsal's KV frontend reads the document components.dgd builds for the cluster, not deprecated flags."""
    from components.dgd import ROUTER_POLICY_TYPE

    assert DYNAMO_DEFAULTS.args(tmp_path) == []
    flag, path = RouterSettings(overlap_score_credit=8, prefill_load_scale=4, temperature=0).args(tmp_path)
    assert flag == "--router-policy-config"
    policy = yaml.safe_load(Path(path).read_text())
    [instance] = policy["worker_selection"]["instances"]
    assert instance["type"] == ROUTER_POLICY_TYPE
    assert instance["parameters"] == {"overlap_score_credit": 8, "prefill_load_scale": 4, "router_temperature": 0}
    assert policy["worker_selection"]["aggregated"] == instance["name"]


def test_engine_limits_reach_the_mocker():
    assert engine_limit_args() == ["--max-num-seqs", "16", "--max-num-batched-tokens", "8192", "--enable-chunked-prefill"]
    assert engine_limit_args(8, 4096, False)[-1] == "--no-enable-chunked-prefill"


@pytest.mark.e2e
def test_every_flag_we_pass_exists_in_installed_dynamo(tmp_path):
    """Guards against typos and flags renamed in a Dynamo upgrade (argparse would exit at start-up)."""
    fe = subprocess.run([sys.executable, "-m", "dynamo.frontend", "--help"], capture_output=True, text=True,
                        timeout=120).stdout
    mocker = subprocess.run([sys.executable, "-m", "dynamo.mocker", "--help"], capture_output=True, text=True,
                            timeout=120).stdout
    for flag in RouterSettings(overlap_score_credit=1, prefill_load_scale=1, temperature=0).args(tmp_path)[::2]:
        assert flag in fe
    for flag in [*MockerTiming().args(Path("perf.npz"))[::2], *engine_limit_args()[::2], engine_limit_args()[-1], "--endpoint"]:
        assert flag in mocker
    assert "--namespace NAMESPACE" in fe  # per-router pools (bench.booth --pools per-router)
    assert BOOTH.args(tmp_path), "the booth must differ from Dynamo's defaults"


def test_tokenizer_dir_is_small_and_renders_llama3_multi_turn():
    from transformers import AutoTokenizer

    size = sum(p.stat().st_size for p in TOKENIZER_DIR.iterdir())
    assert size < 700_000
    tok = AutoTokenizer.from_pretrained(str(TOKENIZER_DIR))
    text = tok.apply_chat_template(
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
         {"role": "assistant", "content": "Hello."}, {"role": "user", "content": "Why?"}],
        tokenize=False, add_generation_prompt=True)
    assert text == ("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
                    "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
                    "<|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|>"
                    "<|start_header_id|>user<|end_header_id|>\n\nWhy?<|eot_id|>"
                    "<|start_header_id|>assistant<|end_header_id|>\n\n")
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert ids.count(tok.convert_tokens_to_ids("<|eot_id|>")) == 4  # special tokens stay single tokens
    config = json.loads((TOKENIZER_DIR / "config.json").read_text())
    assert config["_name_or_path"] == MODEL_NAME and config["num_hidden_layers"] == 80


def test_the_rehearsal_shares_its_replicas_between_both_frontends_like_the_cloud_dgd():
    from rehearsal.stack import StackConfig

    shared = StackConfig()
    assert shared.pools == "shared"
    assert shared.worker_namespaces() == [None, None]  # both frontends discover the same two workers
    assert shared.frontend_namespace_args("kv") == shared.frontend_namespace_args("round-robin") == []


def test_per_router_pools_give_each_frontend_its_own_replicas():
    """The bench's diagnostic: the same replica count behind each frontend, in separate Dynamo namespaces."""
    from rehearsal.stack import Stack, StackConfig

    config = StackConfig(pools="per-router")
    namespaces = config.worker_namespaces()
    assert len(namespaces) == 2 * config.workers
    kv_ns = config.frontend_namespace_args("kv")[1]
    rr_ns = config.frontend_namespace_args("round-robin")[1]
    assert kv_ns != rr_ns and namespaces.count(kv_ns) == namespaces.count(rr_ns) == config.workers
    stack = Stack(config)
    stack.perf_data = Path("perf.npz")
    argv = stack.worker_argv(kv_ns)
    assert argv[argv.index("--endpoint") + 1] == f"dyn://{kv_ns}.backend.generate"
    assert "--endpoint" not in stack.worker_argv(None)
    stack.close()
