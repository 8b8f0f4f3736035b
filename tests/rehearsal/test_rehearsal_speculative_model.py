"""The rehearsal's speculative decoding model: the calibration formula, and flags the real 1.6.1 mocker accepts."""

import pytest
from dynamo.mocker.args import parse_args
from dynamo.mocker.config import build_mocker_engine_args

from rehearsal import calibration
from rehearsal.settings import PLANE_ARGS, TOKENIZER_DIR, MockerTiming
from rehearsal.speculative import SpecDecoding, acceptance_length, alpha_for_length


@pytest.mark.parametrize("method,expected", [
    # The calibration README's worked example at k=3 (EAGLE3 a=0.8, 8B draft a=0.7), batch 1 / 8 / 16.
    ("eagle3", (1.85, 1.94, 1.58)),
    ("draft-target", (1.11, 1.14, 0.98)),
])
def test_itl_speedup_reproduces_the_calibration_readme(method, expected):
    got = tuple(round(SpecDecoding(method, 3, batch).itl_speedup(), 2) for batch in ("b1", "b8", "b16"))
    assert got == expected


def test_acceptance_length_and_its_inverse():
    assert acceptance_length(0.8, 3) == pytest.approx(2.952)
    assert acceptance_length(0.0, 3) == 1.0
    for k in (1, 3, 5):
        for alpha in (0.2, 0.5, 0.9):
            assert alpha_for_length(acceptance_length(alpha, k), k) == pytest.approx(alpha, abs=1e-6)


def engine_args(spec: SpecDecoding, timing: MockerTiming, tmp_path) -> dict:
    """What the real mocker builds from the rehearsal's flags (its own validation included)."""
    perf = calibration.write_npz(timing.calibration, tmp_path / "perf.npz")
    argv = ["--model-path", str(TOKENIZER_DIR), *timing.args(perf), *spec.mocker_args(timing.decode_speedup_ratio),
            *PLANE_ARGS]
    return build_mocker_engine_args(parse_args(argv))["engine"]


def test_eagle3_flags_model_acceptance_in_the_real_mocker(tmp_path):
    timing = MockerTiming()
    spec = SpecDecoding("eagle3", 3)
    engine = engine_args(spec, timing, tmp_path)
    assert engine["decode_speedup_ratio"] == 1.0  # burst sampling replaces the faster clock
    assert engine["aic_nextn"] == 3
    rates = [float(r) for r in str(engine["aic_nextn_accept_rates"]).strip("[]").split(",")]
    assert len(rates) == 3 and len(set(rates)) == 1
    # Bursts of L_mock tokens per step at a step 1/r slower than the baseline's: ITL drops by S.
    assert acceptance_length(rates[0], 3) / timing.decode_speedup_ratio == pytest.approx(spec.itl_speedup(), rel=1e-3)


def test_none_leaves_the_mocker_as_it_was(tmp_path):
    assert SpecDecoding().mocker_args(1.1) == []
    # The measured timing table already runs in real milliseconds (issue 11), so the plain clock is 1.0.
    assert engine_args(SpecDecoding(), MockerTiming(), tmp_path)["decode_speedup_ratio"] == MockerTiming().decode_speedup_ratio == 1.0


def test_a_draft_slower_than_plain_decoding_only_slows_the_clock():
    args = SpecDecoding("draft-target", 3, "b16").mocker_args(1.0)
    assert args[0] == "--decode-speedup-ratio" and float(args[1]) == pytest.approx(0.98, abs=0.005)
    assert "--ais-nextn" not in args


@pytest.mark.parametrize("method,k", [("medusa", 3), ("eagle3", 0), ("eagle3", 9)])
def test_bad_settings_name_what_is_allowed(method, k):
    with pytest.raises(ValueError, match="allowed"):
        SpecDecoding(method, k)
