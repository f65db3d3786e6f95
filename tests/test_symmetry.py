"""Beam centre, classical fills and the self-validation score."""

import numpy as np
import pytest

from dip_engine.baselines import fill_biharmonic, fill_constant, fill_mirror, fill_polar, fill_polar_smooth
from dip_engine.evaluate import log_rmse, occlusions, poisson_floor, self_validate
from dip_engine.geometry import estimate_center, mirror_image, polar_model, radial_model
from dip_engine.synthetic import occlude, ring_pattern


@pytest.mark.parametrize("center", [(40.0, 50.0), (47.5, 33.5), (60.3, 41.7)])
def test_center_is_found_by_symmetry(center):
    truth = ring_pattern((96, 96), center=center, poisson=False)
    flagged, mask = occlude(truth, center=center)
    found = estimate_center(flagged, ~mask)
    assert np.hypot(found[0] - center[0], found[1] - center[1]) < 0.35, found


def test_center_needs_valid_pixels():
    with pytest.raises(ValueError, match="too few valid pixels"):
        estimate_center(np.ones((8, 8)), np.zeros((8, 8), bool))


def test_mirror_image_reads_the_point_mirror():
    values = np.arange(25.0).reshape(5, 5)
    valid = np.ones((5, 5), bool)
    valid[0, 0] = False
    mirrored, ok = mirror_image(values, valid, (2.0, 2.0))
    assert mirrored[1, 3] == values[3, 1]
    assert not ok[4, 4] and ok[0, 0] and mirrored[0, 0] == values[4, 4]


def test_models_are_smooth_and_follow_the_rings():
    truth = ring_pattern((96, 96), poisson=False)
    y = np.log1p(truth)
    valid = np.ones(truth.shape, bool)
    c = (96 * 0.55, 96 * 0.48)
    assert np.abs(radial_model(y, valid, c) - y).mean() < 0.05
    assert np.abs(polar_model(y, valid, c) - y).mean() < 0.05


@pytest.fixture
def counts_and_mask():
    truth = ring_pattern((96, 96), seed=3)
    flagged, mask = occlude(truth)
    return truth, flagged, mask


def test_symmetric_fills_beat_constant_and_keep_valid_pixels(counts_and_mask):
    truth, flagged, mask = counts_and_mask
    c = estimate_center(flagged, ~mask)
    errors = {}
    for name, healed in [("constant", fill_constant(flagged, mask)),
                         ("biharmonic", fill_biharmonic(flagged, mask)),
                         ("polar", fill_polar(flagged, mask, c)),
                         ("polar_smooth", fill_polar_smooth(flagged, mask, c)),
                         ("mirror", fill_mirror(flagged, mask, c))]:
        assert np.array_equal(healed[~mask], flagged[~mask]), name
        errors[name] = log_rmse(healed[mask], truth[mask])
    assert errors["polar"] < 0.5 * errors["constant"], errors
    assert errors["polar_smooth"] < 0.5 * errors["constant"], errors
    assert errors["mirror"] < 0.5 * errors["constant"], errors
    assert errors["biharmonic"] < errors["constant"], errors


def test_occlusions_hide_valid_pixels_only():
    valid = np.ones((120, 100), bool)
    valid[:, :10] = False
    hidden = occlusions(valid, seed=1, fraction=0.05)
    assert not (hidden & ~valid).any()
    assert 0.04 < hidden.sum() / valid.sum() < 0.12
    assert np.array_equal(hidden, occlusions(valid, seed=1, fraction=0.05))


def test_poisson_floor_matches_simulated_noise():
    rng = np.random.default_rng(0)
    mean = np.full(200000, 50.0)
    noisy = rng.poisson(mean)
    simulated = log_rmse(noisy, mean)
    assert abs(poisson_floor(mean) - simulated) < 0.05 * simulated


def test_self_validation_ranks_a_good_fill_above_a_bad_one(counts_and_mask):
    truth, flagged, mask = counts_and_mask
    c = estimate_center(flagged, ~mask)
    good = self_validate(flagged, mask, lambda i, m: fill_polar(i, m, c), center=c)
    bad = self_validate(flagged, mask, fill_constant, center=c)
    assert good["rmse"] < bad["rmse"] and good["pixels"] == bad["pixels"] > 0
    assert good["poisson_floor"] > 0


def test_profiles_of_a_healed_frame_follow_the_original(counts_and_mask):
    from dip_engine.evaluate import profiles

    truth, flagged, mask = counts_and_mask
    c = estimate_center(flagged, ~mask)
    curves = profiles(flagged, fill_polar(flagged, mask, c), mask, c)
    orig = np.array([np.nan if v is None else v for v in curves["methods"]["original"]["I_r"]])
    healed = np.array([np.nan if v is None else v for v in curves["methods"]["healed"]["I_r"]])
    ok = np.isfinite(orig) & (np.array(curves["radius"]) > 8)
    assert np.nanmax(np.abs(np.log(healed[ok] / orig[ok]))) < 0.3
    assert len(curves["chi"]) == len(curves["methods"]["mirror"]["I_chi"]) == 180


def test_mirror_check_measures_the_distance_to_friedel_pairs():
    from dip_engine.baselines import fill_mirror
    from dip_engine.evaluate import mirror_check
    from dip_engine.synthetic import ring_pattern

    center = (40.0, 38.0)
    image = ring_pattern((80, 80), center=center, poisson=False)
    missing = np.zeros(image.shape, bool)
    missing[20:26, 30:50] = True  # its mirror (rows 54-60) is measured
    exact = mirror_check(image, fill_mirror(image, missing, center), missing, center)
    assert exact["pixels"] == missing.sum() and exact["rms"] < 1e-6
    flat = mirror_check(image, np.where(missing, 1.0, image), missing, center)
    assert flat["rms"] > 0.5
    assert mirror_check(image, image, np.ones(image.shape, bool), center) is None
