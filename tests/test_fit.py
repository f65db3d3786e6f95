"""The DIP fit: heals towards the truth, keeps valid pixels, behaves as configured."""

import json

import numpy as np
import pytest

from dip_engine import HealConfig
from dip_engine.fit import heal, missing_pixels
from dip_engine.intensity import output_dtype

QUICK = dict(iterations=150, max_side=128, channels=(8, 16, 32), input_depth=8)


def _log_rmse(a, b):
    return float(np.sqrt(np.mean((np.log10(1 + a) - np.log10(1 + b)) ** 2)))


@pytest.mark.parametrize("prior", ["symmetry", "none"])
def test_healed_rings_are_closer_to_truth_than_constant_fill(rings, prior):
    truth, flagged, mask = rings
    result = heal(flagged, mask, HealConfig.from_preset("fast", **dict(QUICK, iterations=300, prior=prior)))
    m = result.missing
    constant = np.full(m.sum(), truth[~m].mean())
    dip_err = _log_rmse(result.healed[m], truth[m])
    const_err = _log_rmse(constant, truth[m])
    assert dip_err < 0.5 * const_err, (dip_err, const_err)


def test_valid_pixels_are_kept_exactly(rings):
    _, flagged, mask = rings
    result = heal(flagged, mask, HealConfig.from_preset("fast", **dict(QUICK, iterations=20)))
    valid = ~result.missing
    assert np.array_equal(result.healed[valid], flagged[valid])
    assert (result.healed[result.missing] >= 0).all()
    assert result.healed.dtype == np.float32
    assert (result.uncertainty[valid] == 0).all()
    assert (result.uncertainty[result.missing] > 0).any()


def test_detector_flags_are_healed_without_a_mask(rings):
    _, flagged, _ = rings
    result = heal(flagged, None, HealConfig.from_preset("fast", **dict(QUICK, iterations=5)))
    assert np.array_equal(result.missing, flagged < 0)
    assert (result.healed >= 0).all()


def test_same_seed_same_result_on_cpu(rings):
    _, flagged, mask = rings
    cfg = HealConfig.from_preset("fast", **dict(QUICK, iterations=15, device="cpu", seed=3))
    a, b = heal(flagged, mask, cfg), heal(flagged, mask, cfg)
    c = heal(flagged, mask, HealConfig.from_dict({**cfg.to_dict(), "seed": 4}))
    assert np.array_equal(a.healed, b.healed) and np.array_equal(a.network, b.network)
    assert not np.array_equal(a.network, c.network)  # the network's own fill (a blend may take a fill alone)


def test_param_noise_really_perturbs_the_weights(rings):
    _, flagged, mask = rings
    base = dict(QUICK, iterations=10, reg_noise_std=0.0)
    plain = heal(flagged, mask, HealConfig.from_preset("fast", **base)).network
    noisy = heal(flagged, mask, HealConfig.from_preset("fast", **base, param_noise=True)).network
    assert not np.array_equal(plain, noisy)  # the network's own fill (a blend may take a fill alone)


def test_should_stop_ends_the_fit_early(rings):
    _, flagged, mask = rings
    calls = []
    result = heal(flagged, mask, HealConfig.from_preset("fast", **QUICK),
                  progress=calls.append, should_stop=lambda: len(calls) >= 2)
    assert result.stopped
    # asked to stop after the second report (step 20): the next step is the last
    assert result.iterations_run == 21
    assert calls[-1].preview().shape == flagged.shape


def test_large_counts_are_written_as_float64():
    assert output_dtype(np.array([1, 2**24], np.int64)) == np.float32
    assert output_dtype(np.array([1, 2**24 + 1], np.int64)) == np.float64
    assert output_dtype(np.array([0.1, 8.0625])) == np.float64


@pytest.mark.parametrize("mask_kind, message", [
    ("all", "every pixel is masked"),
    ("none", "nothing to heal"),
    ("shape", "same shape"),
])
def test_bad_masks_are_refused_with_a_sentence(rings, mask_kind, message):
    truth, _, _ = rings
    mask = {"all": np.ones(truth.shape), "none": np.zeros(truth.shape),
            "shape": np.zeros((5, 5))}[mask_kind]
    with pytest.raises(ValueError, match=message):
        heal(truth, mask, HealConfig.from_preset("fast", **QUICK))


def test_config_round_trips_through_json():
    cfg = HealConfig.from_preset("quality", lr=0.005, param_noise=True)
    again = HealConfig.from_json(cfg.to_json())
    assert again == cfg
    assert json.loads(cfg.to_json())["channels"] == list(cfg.channels)


@pytest.mark.parametrize("bad", [dict(iterations=0), dict(lr=-1), dict(device="tpu"),
                                 dict(input_type="zeros"), dict(max_side=4)])
def test_invalid_config_is_refused(bad):
    with pytest.raises(ValueError, match="invalid heal config"):
        HealConfig.from_preset("fast", **bad)


def test_missing_pixels_combines_flags_and_mask():
    img = np.array([[1, -1], [np.nan, 4]], float)
    m = missing_pixels(img, np.array([[0, 0], [0, 1]]))
    assert m.tolist() == [[False, True], [True, True]]


def test_es_wmv_picks_the_quietest_window_and_stops_after_its_patience(rings):
    """ES-WMV (Wang et al. 2021): pick the iterate where the windowed output variance
    is lowest, stop when no new minimum came for P steps."""
    import torch

    from dip_engine.fit import _WindowVariance

    wv = _WindowVariance(3)
    assert wv.push(torch.tensor([1.0])) is None and wv.push(torch.tensor([2.0])) is None
    assert wv.push(torch.tensor([3.0])) == pytest.approx(2 / 3)
    assert wv.push(torch.tensor([3.0])) == pytest.approx(2 / 9)  # window 2, 3, 3

    truth, flagged, mask = rings
    config = HealConfig(**{**QUICK, "iterations": 400}, stopping="wmv", wmv_window=20, wmv_patience=40)
    result = heal(flagged, mask, config)
    assert result.best_iteration >= 20
    assert result.early_stopped and result.iterations_run <= result.best_iteration + 40
    assert result.score is not None  # the hold-out score of the ES-WMV pick, for comparison
    assert _log_rmse(result.healed[mask], truth[mask]) < _log_rmse(np.full(mask.sum(), np.median(truth)),
                                                                   truth[mask])


def test_blend_weights_recover_a_known_mixture():
    from dip_engine.blend import cross_fitted_rmse, weights

    rng = np.random.default_rng(0)
    preds = rng.normal(size=(500, 3))
    truth = preds @ np.array([0.6, 0.3, 0.1])
    assert np.allclose(weights(preds, truth), [0.6, 0.3, 0.1], atol=1e-6)
    assert cross_fitted_rmse(preds, truth, np.arange(500) % 7) < 1e-6
    assert weights(np.zeros((4, 2)), np.zeros(4)).tolist() == [0.5, 0.5]


def test_blended_heal_keeps_valid_pixels_and_leans_on_the_fill_that_works(rings):
    """An anisotropic pattern that the radial prior does not explain and a fit stopped
    after a few steps: the classical fills are the better healers, and the blend leans on them."""
    from dip_engine.synthetic import occlude, ring_pattern

    yy, xx = np.mgrid[:96, :96]
    phi = np.arctan2(yy - 96 * 0.55, xx - 96 * 0.48)
    truth = ring_pattern((96, 96), poisson=False) * (0.2 + np.cos(3 * phi) ** 2)
    flagged, mask = occlude(np.rint(truth))
    result = heal(flagged, mask, HealConfig(**{**QUICK, "iterations": 5}))
    w = result.blend["weights"]
    assert set(w) == {"dip", "polar", "polar_smooth", "mirror", "symmetry", "pyfai", "biharmonic"}
    assert sum(w.values()) == pytest.approx(1)
    assert w["dip"] < 0.5
    # cross-fitted, so honest, and never worse than the best single healer on those pixels
    assert result.score <= min(result.blend["dip_score"], *result.blend["fill_scores"].values()) + 1e-12
    valid = ~mask & (flagged >= 0)
    assert np.array_equal(result.healed[valid], flagged[valid])
    # the blend scored the fills on the fit's held-out pixels: the job reuses those scores
    from dip_engine.evaluate import classical_scores

    fresh = classical_scores(flagged, result.missing, result.hidden, result.symmetry)
    reused = classical_scores(flagged, result.missing, result.hidden, result.symmetry,
                              known=result.blend["fill_scores"])
    assert reused == pytest.approx(fresh, rel=1e-9)
    # and it keeps the fills it blended: the job's profiles need not run them again
    from dip_engine.evaluate import profiles

    args = (flagged, result.healed, result.missing, result.center)
    fills = {k: v for k, v in result.fills.items() if k != "symmetry"}  # run alone, the profiles have no symmetry
    assert profiles(*args, fills=fills) == profiles(*args)
    plain = heal(flagged, mask, HealConfig(**{**QUICK, "iterations": 5}, blend=False))
    assert plain.blend is None
    # held-out copies of the gaps rank the healers; near the beamstop (the missing pixels here) the
    # ranking may differ a little: the blend stays within 10 % of the fit alone on the truth
    assert _log_rmse(result.healed[mask], truth[mask]) <= 1.1 * _log_rmse(plain.healed[mask], truth[mask])


def test_cpu_fit_leaves_a_core_free_unless_told_otherwise(rings):
    import os

    import torch

    from dashboard.settings import Settings
    from dip_engine.fit import cpu_threads

    assert cpu_threads() == max(1, len(os.sched_getaffinity(0)) - 1)
    _, flagged, mask = rings
    before = torch.get_num_threads()
    try:
        heal(flagged, mask, HealConfig.from_preset("fast", **dict(QUICK, iterations=2, device="cpu")), threads=3)
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(before)
    assert Settings.from_env({"XRAY_HEAL_THREADS": "3"}).threads == 3
    assert Settings.from_env({}).threads is None
    with pytest.raises(SystemExit, match="XRAY_HEAL_THREADS must be a whole number"):
        Settings.from_env({"XRAY_HEAL_THREADS": "many"})

def test_blend_on_a_fibre_is_never_worse_than_the_best_single_healer():
    """A tilted fibre: the fit folds it by its measured symmetry, and its cross-fitted score on
    the held-out copies of its own gaps is at most the best single healer's there."""
    from dip_engine.synthetic import fibre_pattern, occlude

    center = (66.0, 60.0)
    truth = fibre_pattern((128, 120), center=center, tilt_deg=6.0, seed=5)
    flagged, mask = occlude(truth, center=center)
    result = heal(flagged, mask, HealConfig(**{**QUICK, "iterations": 60}))
    assert [op.kind for op in result.symmetry.holding()] == ["point", "mirror", "mirror"]
    singles = [result.blend["dip_score"], *result.blend["fill_scores"].values()]
    assert result.score <= min(singles) + 1e-12
    # the fit's hold-out is shaped like the frame's gaps: its gap row, beamstop and arm
    from scipy import ndimage

    heights = [b[0].stop - b[0].start for b in ndimage.find_objects(ndimage.label(result.hidden)[0])]
    assert 5 in heights or any(h >= 8 for h in heights)
    valid = ~mask & (flagged >= 0)
    assert np.array_equal(result.healed[valid], flagged[valid])
    assert _log_rmse(result.healed[mask], truth[mask]) < 0.25


def test_a_poisson_draw_fill_has_the_expected_mean_and_variance_and_keeps_valid_pixels():
    """pyFAI issue #557: a too-smooth fill biases photon statistics. The draw's mean and
    variance match the expected counts within sampling error; valid pixels are untouched;
    the same seed draws the same frame."""
    import dataclasses

    from dip_engine.fit import poisson_draw
    from dip_engine.synthetic import occlude, ring_pattern

    truth = ring_pattern((96, 96), seed=4) * 30
    frame, _ = occlude(np.random.default_rng(1).poisson(truth).astype(np.int32))
    config = HealConfig.from_preset("fast", iterations=20, fill="poisson", seed=3)
    result = heal(frame, None, config)
    missing = result.missing
    drawn, expected = np.asarray(result.healed, np.float64)[missing], result.expected
    assert np.array_equal(result.healed[~missing], frame[~missing])
    assert np.array_equal(drawn, np.round(drawn)) and expected.size == missing.sum() > 300
    n = expected.size
    assert abs((drawn - expected).sum()) < 4 * np.sqrt(expected.sum())  # mean: z < 4
    residual = (drawn - expected) ** 2 - expected  # E = 0 for a Poisson draw
    assert abs(residual.mean()) < 4 * residual.std() / np.sqrt(n)
    expected_frame = result.healed.copy()
    expected_frame[missing] = expected
    first = poisson_draw(dataclasses.replace(result, healed=expected_frame))
    second = poisson_draw(dataclasses.replace(result, healed=expected_frame.copy()))
    assert np.array_equal(first.healed, second.healed) and np.array_equal(first.healed, result.healed)
    with pytest.raises(ValueError, match="whole counts"):
        heal(frame + 0.5, None, config)
