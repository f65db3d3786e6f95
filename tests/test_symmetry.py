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


# --- symmetry detection, the symmetry fill, hold-out copies of the frame's gaps ---

from dip_engine.baselines import FILLS, fill_symmetry  # noqa: E402
from dip_engine.evaluate import gap_copies, holdout_pixels  # noqa: E402
from dip_engine.symmetry import Operation, Symmetry, detect_symmetry, group, partners  # noqa: E402
from dip_engine.synthetic import fibre_pattern  # noqa: E402


def _kinds(symmetry):
    return sorted((op.kind, None if op.angle_deg is None else round(op.angle_deg)) for op in symmetry.holding())


def test_a_tilted_fibre_has_the_point_mirror_and_two_perpendicular_axes():
    center = (83.2, 70.5)
    flagged, mask = occlude(fibre_pattern((160, 150), center=center, tilt_deg=8.0, seed=1), center=center)
    found = detect_symmetry(flagged, ~mask)
    assert not found.isotropic
    assert _kinds(found) == [("mirror", -82), ("mirror", 8), ("point", None)]
    assert np.hypot(found.center[0] - center[0], found.center[1] - center[1]) < 2


def test_rings_are_isotropic():
    flagged, mask = occlude(ring_pattern((128, 128), seed=1))
    found = detect_symmetry(flagged, ~mask)
    assert found.isotropic and len(found.holding()) == 3
    assert np.hypot(found.center[0] - 128 * 0.55, found.center[1] - 128 * 0.48) < 1


def test_a_grazing_frame_has_only_the_left_right_mirror():
    """Upper half of an upright fibre (nothing below the horizon), a bright direct beam."""
    frame = fibre_pattern((160, 150), center=(83.0, 70.5), tilt_deg=0.0, seed=2).astype(float)
    frame[84:] = np.random.default_rng(3).poisson(1.0, frame[84:].shape)
    found = detect_symmetry(frame, np.ones(frame.shape, bool))
    assert _kinds(found) == [("mirror", 90)]
    assert abs(found.center[1] - 70.5) < 1


def test_operations_map_points_as_drawn_and_compose():
    center = (10.0, 20.0)
    rows, cols = np.array([10.0, 5.0]), np.array([25.0, 20.0])
    equator = Operation("mirror", 0.0, 1, True)  # horizontal axis: flips rows
    from dip_engine.symmetry import transform

    r, c = transform(rows, cols, center, equator)
    assert np.allclose(r, [10, 15]) and np.allclose(c, [25, 20])
    assert [op.kind for op in group((Operation("point", None, 1, True), equator))] == ["point", "mirror", "mirror"]
    assert [op.angle_deg for op in group((equator, Operation("mirror", 90.0, 1, True)))][1:] == [0.0, 90.0]
    values = np.arange(12.0).reshape(3, 4)
    images, ok = partners(values, np.ones((3, 4), bool), (1.0, 1.5), [Operation("point", None, 1, True)])
    assert images[0, 0, 0] == values[2, 3] and ok.all()


def test_symmetry_round_trips_and_bad_overrides_are_refused():
    s = Symmetry((5.0, 6.0), (Operation("mirror", 100.0, 0.9, True),), False, 0.5)
    back = Symmetry.from_dict(s.to_dict())
    assert back.operations[0].angle_deg == -80.0 and back.center == (5.0, 6.0)
    for bad, message in [({"center": [1, 2]}, "list of 'operations'"),
                         ({"center": [1, 2], "operations": [{"kind": "spin"}]}, "'point' or 'mirror'"),
                         ({"center": [1, 2], "operations": [{"kind": "mirror", "angle_deg": "nan"}]}, "finite")]:
        with pytest.raises(ValueError, match=message):
            Symmetry.from_dict(bad)
    with pytest.raises(ValueError, match="far outside"):
        Symmetry.from_dict({"center": [1e6, 2], "operations": []}, (100, 100))


def test_symmetry_fill_beats_the_ring_fills_on_a_fibre():
    center = (83.2, 70.5)
    truth = fibre_pattern((160, 150), center=center, seed=4)
    flagged, mask = occlude(truth, center=center)
    hole = np.zeros_like(mask)
    hole[40:52, 95:110] = True  # a gap over a layer line, its partners measured
    missing = mask | hole
    symmetry = detect_symmetry(flagged, ~missing)
    healed = fill_symmetry(flagged, missing, symmetry)
    valid = ~missing
    assert np.array_equal(healed[valid], flagged[valid])
    error = log_rmse(healed[hole], truth[hole])
    for name in ("polar", "polar_smooth", "biharmonic"):
        assert error < 0.8 * log_rmse(FILLS[name](flagged, missing, symmetry)[hole], truth[hole]), name


def test_gap_copies_are_shaped_like_the_frames_own_gaps():
    missing = np.zeros((200, 200), bool)
    missing[60:68, :] = True  # a gap row across the frame
    missing[120:130, 140:150] = True  # a beamstop
    hidden = gap_copies(missing, seed=0, fraction=0.05)
    assert not (hidden & missing).any()
    assert 0.04 < hidden.sum() / (~missing).sum() < 0.07
    from scipy import ndimage

    boxes = ndimage.find_objects(ndimage.label(hidden)[0])
    heights = sorted({b[0].stop - b[0].start for b in boxes})
    widths = [b[1].stop - b[1].start for b in boxes]
    # segments of the gap row (8 rows high, cut at a quarter of the frame) and beamstops (10 x 10),
    # touching copies aside
    assert max(heights) <= 20 and 8 in heights, heights
    assert max(widths) <= 100 and 49 in widths, widths
    assert not gap_copies(np.zeros((50, 50), bool)).any()  # no region to copy
    mixed = holdout_pixels(np.zeros((50, 50), bool), seed=0, fraction=0.05)
    assert mixed.sum() > 0  # generic shapes stand in


def test_exact_poisson_floor_matches_simulated_noise_at_a_few_counts():
    from dip_engine.evaluate import local_means, poisson_floor_exact

    rng = np.random.default_rng(0)
    for lam in (0.5, 2.0, 30.0, 500.0):
        simulated = np.log10(1 + rng.poisson(lam, 100_000)).std()
        assert poisson_floor_exact(np.full(50, lam)) == pytest.approx(simulated, rel=0.02)
    # the delta method is 16 % low at 2 counts a pixel
    assert poisson_floor(rng.poisson(2.0, 100_000)) < 0.88 * poisson_floor_exact(np.full(5, 2.0))
    frame = rng.poisson(7.0, (40, 40))
    measured = np.ones(frame.shape, bool)
    pixels = np.zeros(frame.shape, bool)
    pixels[10:30, 10:30] = True
    assert local_means(frame, measured, pixels).mean() == pytest.approx(7.0, rel=0.03)
