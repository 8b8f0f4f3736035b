"""bench.predict's queueing model (issue 21): at no load it is the light-load floor; load adds a wait that is
larger for round-robin (its re-prefills are more prefill work) and grows without bound as a replica saturates."""

from __future__ import annotations

import math

import pytest

from bench.predict import predict, predict_loaded
from rehearsal.calibration import load

SHAPE = dict(opening=7000, answer=256, question=40, turns=(2, 4), overhead_ms=10.0)


@pytest.mark.parametrize("gpu", ["h100", "h200"])
def test_without_load_the_model_is_the_floor(gpu):
    cal = load(gpu)
    floor, idle = predict(cal, **SHAPE), predict_loaded(cal, 1e-9, **SHAPE)
    for k in (1, 2, 3, 4):
        assert idle["kv"]["ttft"][k] == pytest.approx(floor["kv"][k], rel=1e-6)
        assert idle["rr"]["ttft"][k] == pytest.approx(floor["rr"][k], rel=1e-6)


def test_load_adds_more_wait_to_round_robin_and_saturates_it_first():
    cal = load("h100")
    light, busy = predict_loaded(cal, 1.5, **SHAPE), predict_loaded(cal, 6.0, **SHAPE)
    for p in (light, busy):
        assert 0 < p["kv"]["rho"] < p["rr"]["rho"] < 1 and 0 < p["kv"]["wait"] < p["rr"]["wait"]
    assert busy["rr"]["wait"] > 5 * light["rr"]["wait"]
    saturated = predict_loaded(cal, 12.0, **SHAPE)
    assert saturated["rr"]["rho"] >= 1 and math.isinf(saturated["rr"]["wait"]) and saturated["kv"]["rho"] < 1
