"""Calibrated uncertainty and excluded regions: sigma that covers like a normal distribution,
and no-data areas left out rather than invented."""

import numpy as np
import pytest

from dip_engine import HealConfig
from dip_engine.masks import outside_mask
from dip_engine.symmetry import Operation, Symmetry
from dip_engine.uncertainty import (WITHIN_1, WITHIN_2, Measured, calibrate, disagreement,
                                    exact_poisson_log_variance, local_variogram, poisson_log_variance,
                                    reach_variance, scatter_noise)


def test_the_calibration_finds_the_scale_of_errors_whose_spread_it_knows_up_to_a_factor():
    rng = np.random.default_rng(0)
    n = 20000
    model = rng.uniform(0.001, 0.01, n)  # variances the fit believes, 9 times too small
    noise = np.full(n, 1e-4)
    errors = rng.normal(0, np.sqrt(9 * model + noise))
    groups = np.arange(n) // 50
    cal = calibrate(Measured(errors, errors, rng.random(n)), model, noise, groups)
    assert cal.scale == pytest.approx(9, rel=0.25)
    assert abs(cal.coverage_1 - WITHIN_1) < 0.02 and abs(cal.coverage_2 - WITHIN_2) < 0.02
    sigma = cal.sigma(model, noise)
    assert abs(np.mean(np.abs(errors) <= sigma) - WITHIN_1) < 0.02


def test_a_value_that_is_not_a_count_is_within_k_sigma_exactly_when_its_error_is():
    values = np.array([0.0, 9.0, 99.0, 999.0])
    measured = Measured.of(values, np.full(4, 2.0), counts=False)
    sigma = np.full(4, 0.5)
    assert measured.within(sigma, 1).tolist() == [False, False, True, False]  # errors -2, -1, 0, 1
    assert measured.within(sigma, 2).tolist() == [False, True, True, True]
    assert Measured.of(values, np.full(4, 1.2), counts=False).within(sigma, 2).tolist() == [False, True, True, False]


def test_sparse_counts_are_judged_as_cells_so_that_their_true_spread_covers_like_a_normal():
    """A frame of 0 and 1 counts: with each pixel's true mean and variance of log10(1 + N),
    counts judged as points are all within 1 sigma or all outside, whatever the scale;
    judged as cells they cover 68 % and about 95 %, as the calibration reports."""
    rng = np.random.default_rng(4)
    lam = rng.uniform(0.01, 0.3, 20000)
    counts = rng.poisson(lam)
    k = np.arange(40)
    pmf = np.exp(-lam[:, None]) * lam[:, None] ** k / np.cumprod(np.r_[1, k[1:]])[None, :]
    predicted = pmf @ np.log10(1 + k)
    noise = exact_poisson_log_variance(lam)
    sigma = np.sqrt(noise)
    pointwise = np.abs(np.log10(1 + counts) - predicted) <= sigma
    assert pointwise.mean() > 0.85  # every zero count within 1 sigma, every one-count pixel outside
    measured = Measured.of(counts, predicted, counts=True)
    assert abs(measured.within(sigma, 1).mean() - WITHIN_1) < 0.03
    assert 0.9 < measured.within(sigma, 2).mean() < 0.98
    cal = calibrate(measured, np.full(lam.size, 1e-6), noise, np.arange(lam.size) // 50)
    assert abs(cal.coverage_1 - WITHIN_1) < 0.03 and 0.9 < cal.coverage_2 < 0.98


def test_poisson_variance_of_log_counts_is_exact_at_low_counts_and_the_delta_method_above():
    rng = np.random.default_rng(1)
    for mean in (0.5, 2.0, 30.0, 5000.0):
        draws = np.log10(1 + rng.poisson(mean, 400000))
        assert poisson_log_variance(np.array([mean]))[0] == pytest.approx(draws.var(), rel=0.03)


def test_disagreement_is_the_weighted_spread_of_the_healers_about_their_blend():
    logs = np.array([[1.0, 1.0, 1.0], [1.0, 2.0, 3.0]])
    assert disagreement(logs, np.array([1.0, 0.0, 0.0]))[0] == 0
    spread = disagreement(logs, np.array([1.0, 0.0, 0.0]))[1]  # one healer chosen: the others still count
    assert spread == pytest.approx(0.5 * 0 + 0.5 / 3 * (0 + 1 + 4))


def test_scatter_noise_measures_white_noise():
    rng = np.random.default_rng(2)
    image = 10 ** (2 + rng.normal(0, 0.05, (200, 200))) - 1
    assert scatter_noise(image, np.ones(image.shape, bool)) == pytest.approx(0.05, rel=0.05)


def test_the_variogram_of_white_noise_is_flat_and_all_nugget():
    rng = np.random.default_rng(6)
    image = 10 ** (2 + rng.normal(0, 0.05, (200, 200))) - 1
    known = np.ones(image.shape, bool)
    lags, values = local_variogram(image, known, known)
    assert lags[0] == 1 and values.shape == (lags.size, known.sum())
    assert np.allclose(np.median(values, axis=1), 2 * 0.05 ** 2, rtol=0.05)  # every lag, every neighbourhood
    assert np.allclose(values, 2 * 0.05 ** 2, rtol=0.3)
    missing = np.zeros(image.shape, bool)
    missing[50:110, 50:110] = True
    assert reach_variance(image, ~missing, missing, None).max() < 0.1 * 0.05 ** 2  # noise is not structure


def test_what_nothing_measured_tells_grows_into_a_gap_that_no_partner_reaches():
    """A smooth random field (no symmetry): a pixel 20 px into a hole is known only as well as
    pixels 20 px apart agree; with a mirror partner measured, or a ring, nothing is added."""
    from scipy import ndimage

    rng = np.random.default_rng(7)
    field = ndimage.gaussian_filter(rng.normal(size=(200, 200)), 8)
    image = 10 ** (2 + 0.3 * field / field.std()) - 1
    missing = np.zeros(image.shape, bool)
    missing[20:61, 20:61] = True
    reach = reach_variance(image, ~missing, missing, None)
    distance = ndimage.distance_transform_edt(missing)[missing]
    y = np.log10(1 + image)
    apart = np.mean(np.concatenate([(y[:, 16:] - y[:, :-16]).ravel(), (y[16:] - y[:-16]).ravel()]) ** 2)
    assert reach[distance >= 16].mean() > 10 * reach[distance <= 1].mean()
    assert reach[distance == 16].mean() == pytest.approx(apart, rel=0.35)
    mirror = Symmetry((100.0, 100.0), (Operation("mirror", 0.0, 0.9, True),), False, 0.5)
    assert not reach_variance(image, ~missing, missing, mirror).any()  # the partner square is measured
    rings = Symmetry((100.0, 100.0), (), True, 0.9)
    assert not reach_variance(image, ~missing, missing, rings).any()


def test_a_hole_in_rough_structure_is_less_certain_than_one_in_flat_background():
    """The reach variance reads the variogram near each hole: the same hole in the rough half
    of a frame gets the rough half's variogram, in the flat half the flat half's."""
    from scipy import ndimage

    rng = np.random.default_rng(8)
    field = ndimage.gaussian_filter(rng.normal(size=(200, 400)), 6)
    y = 2 + np.where(np.arange(400) < 200, 0.01, 0.3) * field / field.std()
    image = 10 ** y - 1
    missing = np.zeros(image.shape, bool)
    missing[80:101, 80:101] = True  # flat half
    missing[80:101, 280:301] = True  # rough half
    reach = reach_variance(image, ~missing, missing, None)
    cols = np.nonzero(missing)[1]
    flat, rough = reach[cols < 200], reach[cols >= 200]
    assert rough.mean() > 100 * flat.mean()
    half = (y[:, 200:][:, 8:] - y[:, 200:][:, :-8]) ** 2  # the rough half, pixels 8 apart
    deep = ndimage.distance_transform_edt(missing)[missing][cols >= 200] == 8
    assert rough[deep].mean() == pytest.approx(half.mean(), rel=0.35)


def test_outside_a_round_window_is_excluded_and_gaps_and_arms_are_not():
    rows, cols = np.mgrid[:300, :300]
    missing = np.hypot(rows - 150, cols - 150) > 140  # outside a round window
    missing[100:117] = True  # a module gap across the frame
    missing[148:154, 150:] = True  # an arm to the border
    outside = outside_mask(missing)
    corner = np.hypot(rows - 150, cols - 150) > 160
    assert outside[corner].all()
    assert not outside[100:117, 100:200].any() and not outside[148:154, 160:270].any()


def test_a_heal_with_excluded_pixels_leaves_them_nan_and_calibrates_the_rest():
    from dip_engine.pipeline import run_heal
    from dip_engine.synthetic import occlude, ring_pattern

    truth = ring_pattern((128, 128), seed=5) * 40
    frame, _ = occlude(np.random.default_rng(3).poisson(truth).astype(np.int32))
    excluded = np.zeros(frame.shape, bool)
    excluded[:20, :20] = True
    outcome = run_heal(frame, excluded, HealConfig.from_preset("fast", iterations=30), excluded=excluded)
    result = outcome.result
    assert np.isnan(result.healed[excluded]).all()
    healed = result.missing & ~excluded
    assert np.isfinite(result.healed[healed]).all() and (result.uncertainty[healed] > 0).all()
    assert (result.uncertainty[excluded] == 0).all() and (result.uncertainty[~result.missing] == 0).all()
    assert result.calibration["pixels"] > 100 and 0.4 < result.calibration["coverage_1"] < 0.9
    share = outcome.profiles["healed_share"]["I_r"]
    assert max(v for v in share if v is not None) <= 1
    report = outcome.report()
    assert report["pixels_excluded"] == excluded.sum() and report["calibration"] == result.calibration


def test_a_heal_fits_only_the_box_of_the_pixels_not_excluded():
    """Below a horizon (the lower 60 % here) nothing is healed: the fit runs on the rest and
    its result is the whole frame's, with its centre, fills and network in the whole frame."""
    from dip_engine.fit import heal
    from dip_engine.synthetic import occlude, ring_pattern

    truth = ring_pattern((160, 128), seed=6) * 40
    frame, mask = occlude(np.random.default_rng(4).poisson(truth).astype(np.int32))
    excluded = np.zeros(frame.shape, bool)
    excluded[64:] = True
    config = HealConfig.from_preset("fast", iterations=20, center=[60.0, 64.0])
    previews = []
    result = heal(frame, mask | excluded, config, excluded=excluded,
                  progress=lambda p: previews.append(p.preview()) if p.iteration == p.iterations else None)
    assert result.working_shape[0] < result.working_shape[1]  # the 80 x 128 box, not the frame
    shown = previews[-1]  # the running view shows the whole frame, the excluded part blank
    assert shown.shape == frame.shape and np.isnan(shown[80:]).all() and np.isfinite(shown[:64]).all()
    assert result.healed.shape == frame.shape and np.isnan(result.healed[excluded]).all()
    valid = ~result.missing
    assert np.array_equal(result.healed[valid], frame[valid])
    healed = result.missing & ~excluded
    assert healed.any() and np.isfinite(result.healed[healed]).all()
    assert result.center == pytest.approx((60.0, 64.0)) and tuple(result.config.center) == (60.0, 64.0)
    assert result.network.size == result.missing.sum() and np.isnan(result.network[excluded[result.missing]]).all()
    for values in result.fills.values():
        assert np.isfinite(values[healed[result.missing]]).all()
    assert result.hidden.shape == frame.shape and not (result.hidden & result.missing).any()
