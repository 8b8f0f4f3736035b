"""Every replica layout the README predicts for is rehearsed from its own measured shard (issue 31, item 2):
4 x 70B TP=2 and 8 x 8B TP=1 from h100-layouts.json, H200 scaled by the measured TP=4 ratios and said so,
each replica's KV cache sized by the config check's memory budget, and one mocker worker per replica."""

from __future__ import annotations

import asyncio
import hashlib
import json
import statistics
from pathlib import Path

import numpy as np
import pytest

from rehearsal import calibration
from rehearsal.settings import MockerTiming
from serving import models

MEASURED = json.loads((calibration.DATA_DIR / calibration.LAYOUTS_FILE).read_text())


def _row(model: str, tp: int) -> dict:
    [row] = [r for r in MEASURED["layouts"] if r["model"] == model and r["tp"] == tp]
    return row


def test_the_vendored_layout_table_is_the_shared_measurement_unchanged():
    """The copy is byte-identical to ../shared/calibration/h100-layouts.json: its sha256 is recorded beside it."""
    digest = hashlib.sha256((calibration.DATA_DIR / calibration.LAYOUTS_FILE).read_bytes()).hexdigest()
    assert f"sha256 {digest}" in (calibration.DATA_DIR / "README.md").read_text()
    assert MEASURED["gpu"] == "NVIDIA H100 80GB HBM3"


@pytest.mark.parametrize("layout, model, tp, replicas", [
    ("70b-tp4", "Llama-3.1-70B", 4, 2), ("70b-tp2", "Llama-3.1-70B", 2, 4), ("8b-tp1", "Llama-3.1-8B", 1, 8)])
def test_each_layout_fills_the_node_and_names_its_measured_shard(layout, model, tp, replicas):
    spec = calibration.LAYOUTS[layout]
    assert (spec.measured, spec.tensor_parallel, spec.replicas) == (model, tp, replicas)
    assert spec.replicas * spec.tensor_parallel == calibration.GPUS_PER_NODE
    assert models.card(spec.model) is not None  # its KV shape and weights come from the catalog
    assert MockerTiming(layout=layout).replicas == replicas


@pytest.mark.parametrize("layout, model, tp", [("70b-tp2", "Llama-3.1-70B", 2), ("8b-tp1", "Llama-3.1-8B", 1)])
def test_h100_tables_are_the_measured_shard(layout, model, tp):
    row, cal = _row(model, tp), calibration.load("h100", layout)
    allreduce = row.get("allreduce_estimate_ms_at_350GBps", {})
    for tokens, ms in row["prefill_ms"].items():
        if allreduce and tokens not in allreduce:
            continue  # between two all-reduce estimates: interpolated
        expected = ms + allreduce.get(tokens, 0.0)
        assert cal.prefill_ms(int(tokens)) == pytest.approx(expected, rel=1e-6)
    for key, ms in row["decode_step_ms"].items():
        b, ctx = key.split("_")
        assert cal.decode_ms(int(b[1:]), int(ctx[3:])) == pytest.approx(ms, rel=1e-6)
    # A cached follow-up costs the layout's measured hit: its 4096+128 hit over TP=4's, applied to TP=4's hit table.
    tp4 = calibration.load("h100")
    scale = row["prefix_hit"]["4096+128"]["hit_ms"] / _row("Llama-3.1-70B", 4)["prefix_hit"]["4096+128"]["hit_ms"]
    assert cal.hit_ms(128) == pytest.approx(tp4.hit_ms(128) * scale, rel=1e-6)
    assert "measured" in cal.note and "scaled" not in cal.note


def test_a_tp2_replica_re_prefills_slower_and_an_8b_replica_faster_than_the_booths():
    """The README's reading: a ~7k-token re-prefill costs ~0.55 s at TP=2 (compute), ~0.13 s on the 8B."""
    tp4, tp2, small = (calibration.load("h100", key) for key in ("70b-tp4", "70b-tp2", "8b-tp1"))
    assert tp2.prefill_ms(7424) > 1.5 * tp4.prefill_ms(7424) > 3 * small.prefill_ms(7424)
    assert 0.5 < tp2.prefill_ms(7424) / 1000 < 0.7


@pytest.mark.parametrize("layout", ["70b-tp2", "8b-tp1"])
def test_h200_tables_are_scaled_by_the_measured_tp4_ratios_and_say_so(layout):
    h100, h200 = calibration.load("h100", layout), calibration.load("h200", layout)
    b100, b200 = calibration.load("h100"), calibration.load("h200")
    assert "scaled, not measured" in h200.note and "H200" in h200.gpu
    for tokens in (1024, 4096, 8192):
        ratio = b200.prefill_compute[tokens] / b100.prefill_compute[tokens]
        assert h200.prefill_compute[tokens] == pytest.approx(h100.prefill_compute[tokens] * ratio, rel=1e-6)
    for key in h100.decode:
        assert h200.decode[key] == pytest.approx(h100.decode[key] * b200.decode[key] / b100.decode[key], rel=1e-6)
    assert h200.decode_ms(1, 4096) < h100.decode_ms(1, 4096)  # decode is bandwidth-bound: H200 is faster


@pytest.mark.parametrize("gpu", ["h100", "h200"])
@pytest.mark.parametrize("layout", sorted(calibration.LAYOUTS))
def test_kv_capacity_is_the_config_checks_memory_budget(gpu, layout):
    """A replica holds what TensorRT-LLM would give its cache: (GPU - weights/TP - reserve) x fraction x TP."""
    cal = calibration.load(gpu, layout)
    card = models.card(cal.layout.model)
    tp = cal.layout.tensor_parallel
    per_gpu_gib = (models.GPU_MEMORY_GIB[cal.slug] - card.weights_gib / tp - models.RUNTIME_RESERVE_GIB) * 0.85
    tokens = per_gpu_gib * tp * models.GIB / card.kv_bytes_per_token("fp8")
    assert cal.kv_blocks() == int(tokens // 32)
    # Every layout passes the config check: a full batch of the longest prompts fits (16 x 8192 tokens).
    assert cal.kv_blocks() * 32 >= 16 * 8192


def test_kv_capacity_orders_as_memory_does():
    blocks = {key: calibration.load("h100", key).kv_blocks() for key in calibration.LAYOUTS}
    assert blocks["70b-tp2"] < blocks["8b-tp1"] < blocks["70b-tp4"]  # TP=2 holds 34 GiB of weights per GPU
    assert calibration.load("h200", "70b-tp2").kv_blocks() > 2 * blocks["70b-tp2"]


@pytest.mark.parametrize("layout", sorted(calibration.LAYOUTS))
def test_the_mocker_gets_the_layouts_table_and_capacity(tmp_path, layout):
    timing = MockerTiming(layout=layout)
    path = calibration.write_npz("h100", tmp_path / timing.perf_data_name(), layout)
    table = np.load(path)
    cal = calibration.load("h100", layout)
    assert list(table["prefill_ttft_ms"]) == pytest.approx([ms for _, ms in cal.prefill_table()])
    args = timing.args(path)
    assert args[args.index("--num-gpu-blocks-override") + 1] == str(cal.kv_blocks())
    assert args[args.index("--block-size") + 1] == "32"
    assert args[args.index("--planner-profile-data") + 1] == str(path)


def test_the_launcher_starts_one_worker_per_replica_and_refuses_untimed_combinations():
    from rehearsal.cli import build_parser, config_from_args

    config = config_from_args(build_parser().parse_args(["--layout", "8b-tp1", "--calibration", "h200"]))
    assert config.workers == 8 and config.timing.layout == "8b-tp1" and config.timing.calibration == "h200"
    assert config_from_args(build_parser().parse_args([])).workers == 2
    with pytest.raises(ValueError, match="--spec eagle3 is timed for --layout 70b-tp4 only"):
        config_from_args(build_parser().parse_args(["--layout", "70b-tp2", "--spec", "eagle3"]))
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--layout", "70b-tp8"])


@pytest.mark.e2e
@pytest.mark.parametrize("layout", ["70b-tp2", "8b-tp1"])
def test_a_rehearsed_layout_prefills_as_its_table_says(tmp_path, layout):
    """The real mocker, timed for the layout: an opening costs its table's full prefill, a KV-routed follow-up a hit."""
    from bench.conversation_driver import Workload, drive
    from rehearsal.ports import pick_free
    from rehearsal.stack import Stack, StackConfig

    timing = MockerTiming(layout=layout)
    kv_port, rr_port = pick_free(2)
    config = StackConfig(kv_port=kv_port, rr_port=rr_port, ui_port=None, timing=timing, workers=timing.replicas)
    workload = Workload(conversations=3, turns=2, opening_tokens=7000, rps=4.0, max_concurrency=1,
                        think_ms=(100, 200), max_tokens=4, timeout_s=30.0)
    with Stack(config, work_dir=tmp_path) as stack:
        stack.wait_ready(timeout_s=120)
        records = asyncio.run(drive(config.kv_url, "kv", workload))
    assert not [r.error for r in records if r.error]
    cal = calibration.load("h100", layout)
    opening = statistics.median(r.ttft_ms for r in records if r.turn == 1)
    followup = statistics.median(r.ttft_ms for r in records if r.turn == 2)
    table = cal.prefill_ms(statistics.median(r.prompt_tokens for r in records if r.turn == 1))
    assert table * 0.9 <= opening <= table * 1.3 + 80, (opening, table)
    assert followup < opening / 3, (followup, opening)


@pytest.mark.parametrize("make_args, workers, layout", [([], 2, "70b-tp4"), (["LAYOUT=70b-tp2"], 4, "70b-tp2"),
                                                         (["LAYOUT=8b-tp1", "CALIBRATION=h200"], 8, "8b-tp1"),
                                                         (["WORKERS=3"], 3, "70b-tp4")])
def test_make_demo_passes_the_layout_to_the_launcher(make_args, workers, layout):
    """What a presenter types (`make demo LAYOUT=70b-tp2`) reaches the launcher as one worker per replica."""
    import shlex
    import subprocess

    from rehearsal.cli import build_parser, config_from_args

    repo = Path(__file__).resolve().parents[2]
    dry = subprocess.run(["make", "-s", "-n", "-C", str(repo), "demo", "STAMP=", *make_args], capture_output=True,
                         text=True, timeout=30, check=True).stdout
    argv = shlex.split(dry.replace("\\\n", " "))
    config = config_from_args(build_parser().parse_args(argv[argv.index("rehearsal") + 1:]))
    assert (config.workers, config.timing.layout) == (workers, layout)
