"""Mask builders make the pixels they promise."""

import numpy as np
import pytest

from dip_engine.masks import (MaskSpec, box_mask, build_mask, ellipse_mask, flag_mask, grow,
                              line_mask, polygon_mask, summary)


def test_flags_per_dtype():
    assert flag_mask(np.array([[-2, -1, 0, 5]], np.int32)).tolist() == [[True, True, False, False]]
    u = np.array([[0, 7, 2**32 - 1]], np.uint32)
    assert flag_mask(u).tolist() == [[False, False, True]]
    f = np.array([[np.nan, np.inf, -0.5, 1.0]])
    assert flag_mask(f).tolist() == [[True, True, True, False]]


def test_box_with_threshold_masks_only_dark_pixels():
    img = np.full((10, 10), 100)
    img[4:6, 4:6] = 1
    m = box_mask(img, (2, 7, 2, 7), threshold=10)
    assert m.sum() == 4 and m[4:6, 4:6].all()
    assert box_mask(img, (7, 2, 2, 7)).sum() == 36  # corners in any order, inclusive
    assert box_mask(img, (-5, 100, -5, 1)).sum() == 20  # clipped to the frame


def test_line_rule_masks_mostly_empty_rows_and_columns():
    img = np.ones((6, 8))
    img[2, :7] = 0
    img[:, 5] = -1
    m = line_mask(img, row_threshold=0.5, col_threshold=0.5)
    assert m[2].all() and m[:, 5].all()
    assert m.sum() == 8 + 6 - 1


def test_shapes_and_grow():
    e = ellipse_mask((21, 21), (5, 15, 5, 15))
    assert e[10, 10] and not e[0, 0] and 60 < e.sum() < 100
    p = polygon_mask((10, 10), [0, 0, 9], [0, 9, 0])
    assert p[1, 1] and not p[9, 9]
    g = grow(np.pad([[True]], 5), 2)
    assert g.sum() == 13
    assert grow(g, -2).sum() == 1


def test_build_mask_unions_every_part():
    img = np.full((20, 20), 50, np.int32)
    img[0, 0] = -1
    spec = MaskSpec(boxes=[[5, 6, 5, 6]], polygons=[[[10, 10, 12], [10, 12, 10]]])
    base = np.zeros((20, 20), bool)
    base[19, 19] = True
    m = build_mask(img, spec, base)
    assert m[0, 0] and m[5, 5] and m[6, 6] and m[10, 10] and m[19, 19]
    assert summary(m)["components"] == 4
    assert MaskSpec.from_dict(spec.to_dict()) == spec
    assert not build_mask(img, MaskSpec(use_flags=False))[0, 0]


def test_gap_templates_follow_the_module_tables():
    from dip_engine.masks import detectors_for_shape, gap_mask

    assert detectors_for_shape((619, 487)) == ["Pilatus"]       # Pilatus 300K
    assert detectors_for_shape((1043, 981)) == ["Pilatus"]      # Pilatus 1M
    assert detectors_for_shape((3262, 3108)) == ["Eiger2"]      # Eiger2 9M
    g = gap_mask((619, 487))
    assert g[195:212].all() and g[407:424].all() and not g[194].any() and not g[212].any()
    assert g.sum() == 2 * 17 * 487
    g = gap_mask((1043, 981))
    assert g[:, 487:494].all() and not g[0, 486] and not g[0, 494]
    assert not gap_mask((195, 487)).any()
    with pytest.raises(ValueError, match="cannot tell the detector"):
        gap_mask((100, 100))
    with pytest.raises(ValueError, match="not a tiling"):
        gap_mask((619, 487), "Eiger")


@pytest.mark.parametrize("family, shape, name", [("Pilatus", (619, 487), "pilatus300k"),
                                                 ("Pilatus", (1043, 981), "pilatus1m"),
                                                 ("Eiger2", (3262, 3108), "eiger29m")])
def test_pyfai_detectors_and_the_module_table_give_the_same_gaps(family, shape, name):
    """Where pyFAI is installed its detector definitions make the gap mask; the table is the
    fallback, and both must agree."""
    pytest.importorskip("pyFAI")
    from dip_engine.masks.detectors import DETECTORS, _pyfai_name, pyfai_gap_mask

    assert _pyfai_name(DETECTORS[family], shape) == name
    from_pyfai = pyfai_gap_mask(DETECTORS[family], shape)
    assert from_pyfai is not None and from_pyfai.any()
    assert np.array_equal(from_pyfai, DETECTORS[family].gap_mask(shape))


def test_a_detector_named_by_the_geometry_gives_the_auto_masks_gaps():
    """With a geometry naming pyFAI's detector, its own mask (gaps, dead modules) is used,
    whatever the frame's shape would suggest; a detector of another size is refused."""
    from dip_engine.masks import auto_mask
    from dip_engine.masks.detectors import pyfai_detector_mask
    from dip_engine.synthetic import ring_pattern

    frame = np.random.default_rng(0).poisson(ring_pattern((516, 516), seed=1) * 5 + 1).astype(np.int32)
    assert not auto_mask(frame)[1]["pixels"]["gaps"]  # no family of the table has this size
    gaps = pyfai_detector_mask("Maxipix2x2", frame.shape)
    mask, params = auto_mask(frame, detector="Maxipix2x2")
    assert params["detector"] == "Maxipix2x2" and params["pixels"]["gaps"] == gaps.sum() > 4000
    assert np.array_equal(mask & gaps, gaps)
    with pytest.raises(ValueError, match="is 1043 x 981 pixels"):
        auto_mask(frame, detector="Pilatus1M")


def test_auto_mask_finds_beamstop_arm_and_hot_pixels():
    from dip_engine.masks import auto_mask
    from dip_engine.synthetic import occlude, ring_pattern

    truth = ring_pattern((128, 128), seed=2)
    flagged, truth_mask = occlude(truth)
    flagged[10, 100] = 50000  # a hot pixel
    mask, params = auto_mask(flagged)
    shadow = truth_mask & (flagged >= 0)  # beamstop and arm, real low counts
    assert mask[shadow].mean() > 0.95
    assert mask[flagged < 0].all()
    assert mask[10, 100]
    # beyond the true occlusion, only the penumbra margin (2 px) and the hot pixel
    far = mask & ~grow(truth_mask, 3)
    assert far.sum() <= 5, far.sum()
    assert abs(params["center"][0] - 128 * 0.55) < 1 and params["pixels"]["outliers"] >= 1


def test_auto_mask_finds_a_half_transparent_arm():
    """A thin arm passes part of the beam: 1.7x darker than its ring, not black."""
    from dip_engine.masks import auto_mask_parts
    from dip_engine.synthetic import ring_pattern

    mean = ring_pattern((160, 160), center=(80, 80), peak_counts=20000, poisson=False)
    yy, xx = np.mgrid[:160, :160]
    stop = np.hypot(yy - 80, xx - 80) < 8
    arm = (np.abs(yy - 80 - 0.3 * (xx - 80)) < 5) & (xx > 80)
    mean = np.where(stop, 2.0, np.where(arm, mean / 1.7, mean))
    frame = np.random.default_rng(0).poisson(mean).astype(np.int32)
    parts, _, _ = auto_mask_parts(frame)
    found = parts["beamstop_and_arm"]
    truth = stop | arm
    iou = _iou(found, truth)
    assert iou > 0.85, iou
    # no dark ring edges or noise chained to it
    assert (found & ~grow(truth, 2)).sum() < 20


def test_outliers_ignore_sharp_rings():
    from dip_engine.masks import outlier_mask

    img = np.full((40, 40), 20.0)
    img[:, 20:23] = 2000  # a sharp ring, three pixels wide
    img[5, 5] = 3000
    m = outlier_mask(img, np.ones(img.shape, bool))
    assert m[5, 5] and not m[:, 19:24].any()


def test_annulus():
    from dip_engine.masks import annulus_mask

    a = annulus_mask((21, 21), (10, 10), 3, 5)
    assert a[10, 14] and not a[10, 10] and not a[10, 17]


@pytest.mark.parametrize("suffix", [".npy", ".tif", ".edf", ".msk"])
def test_mask_files_cover_the_same_pixels_in_fabio(tmp_path, suffix):
    """A mask written here covers, read by fabio (as pyFAI/Dioptas read it), the same pixels."""
    import fabio

    from dip_engine.io import read_mask, write_mask

    mask = np.zeros((7, 9), bool)
    mask[0, 1] = mask[5, 8] = True
    mask[2, :3] = True
    path = write_mask(tmp_path / f"m{suffix}", mask)
    back = np.load(path) if suffix == ".npy" else fabio.open(str(path)).data
    assert np.array_equal(back != 0, mask)
    assert np.array_equal(read_mask(path, mask.shape), mask)


def test_grains_of_a_spotty_ring_are_data_not_outliers():
    from dip_engine.masks import outlier_mask

    img = np.full((101, 101), 100.0)
    angles = np.linspace(0, 2 * np.pi, 12, endpoint=False)
    for a in angles:  # bright grains on a ring of radius 30 around (50, 50)
        img[int(round(50 + 30 * np.sin(a))), int(round(50 + 30 * np.cos(a)))] = 5000
    img[10, 90] = 5000  # a hot pixel off the ring (radius ~57)
    valid = np.ones(img.shape, bool)
    m = outlier_mask(img, valid, center=(50, 50))
    assert m[10, 90] and m.sum() == 1
    assert outlier_mask(img, valid).sum() == 13  # without a centre every spot is odd


def test_thick_line_for_the_holder_arm():
    from dip_engine.masks import thick_line_mask

    m = thick_line_mask((50, 50), (25, 25), (25, 45), width=6)
    assert m[25, 25:46].all() and m[22, 30] and not m[21, 30] and not m[25, 49]
    spec = MaskSpec(lines=[[10, 5, 10, 40]], line_width=3, use_flags=False)
    built = build_mask(np.ones((20, 50)), spec)
    assert built[9:12, 5:41].all()
    assert not built[8].any() and not built[12].any() and not built[:, :4].any() and not built[:, 42:].any()


PONI = """poni_version: 2
Detector: Pilatus1M
Distance: 0.2
Poni1: 0.0915
Poni2: 0.0840
Rot1: 0.0
Rot2: 0.0
Rot3: 0.0
Wavelength: 1.0e-10
"""


def test_ring_range_in_q_from_a_pyfai_geometry(tmp_path):
    """q = 4 pi sin(theta) / lambda from the PONI: a flat detector's ring is an annulus."""
    from dip_engine.azimuthal import load_geometry
    from dip_engine.masks import ring_range_mask

    shape = (1043, 981)
    poni = load_geometry(PONI, shape)
    ring = ring_range_mask(shape, poni, 10.0, 12.0, "q_nm^-1")
    # the beam hits row 0.0915 / 172e-6 - 0.5, column 0.0840 / 172e-6 - 0.5
    rows, cols = np.nonzero(ring)
    r_px = np.hypot(rows - (0.0915 / 172e-6 - 0.5), cols - (0.0840 / 172e-6 - 0.5))
    two_theta = np.arctan(r_px * 172e-6 / 0.2)
    q = 4 * np.pi * np.sin(two_theta / 2) / 0.1  # nm^-1, lambda = 0.1 nm
    assert ring.any() and q.min() >= 10.0 - 0.05 and q.max() <= 12.0 + 0.05
    with pytest.raises(ValueError, match="unknown unit"):
        ring_range_mask(shape, poni, 1, 2, "furlongs")
    with pytest.raises(ValueError, match="not a PONI file"):
        load_geometry("not a geometry", shape)


def _shadowed_frame(arm_rows, transmission=0.0, seed=0):
    """A low-count ring frame (about 10-60 counts/px) with an opaque beamstop and an arm.

    ``arm_rows(col)`` gives the arm's centre line (rows, sub-pixel); the arm
    is 6.2 px high and runs left from the beamstop. Returns the frame and the
    pixels at least a quarter shadowed, from 10 x 10 samples per pixel.
    """
    from dip_engine.synthetic import ring_pattern

    n, sub = 200, 10
    mean = ring_pattern((n, n), center=(100, 100), peak_counts=400, poisson=False)
    fine = (np.arange(n * sub) + 0.5) / sub - 0.5
    rows, cols = np.meshgrid(fine, fine, indexing="ij")
    stop = np.hypot(rows - 100, cols - 100) < 7.3
    arm = (np.abs(rows - arm_rows(cols)) < 3.1) & (cols < 100) & (cols > 8)
    shadowed = (stop | arm).reshape(n, sub, n, sub).mean(axis=(1, 3))
    mean = mean * (1 - (1 - transmission) * shadowed)
    frame = np.random.default_rng(seed).poisson(mean).astype(np.int32)
    return frame, shadowed >= 0.25


def _iou(a, b):
    return (a & b).sum() / (a | b).sum()


def test_a_straight_arm_gets_straight_sub_pixel_edges(monkeypatch):
    """At ~20 counts/px pixel-by-pixel edges are ragged; the fitted band finds the partly shadowed pixels."""
    from dip_engine import masks

    frame, truth = _shadowed_frame(lambda col: 100.4 + 0.23 * (100 - col))
    straight = masks.auto_mask_parts(frame)[0]["beamstop_and_arm"]
    monkeypatch.setattr(masks.arm, "STRAIGHT_RMS", 0.0)  # every arm counts as bent: left as detected
    ragged = masks.auto_mask_parts(frame)[0]["beamstop_and_arm"]
    assert _iou(straight, truth) > 0.95, _iou(straight, truth)
    assert _iou(straight, truth) > _iou(ragged, truth) + 0.04, (_iou(straight, truth), _iou(ragged, truth))


def test_a_bent_arm_is_left_as_detected(monkeypatch):
    from dip_engine import masks

    frame, truth = _shadowed_frame(lambda col: 100.4 + np.where(col > 55, 0.05 * (100 - col), 2.25 + 0.6 * (55 - col)))
    found = masks.auto_mask_parts(frame)[0]["beamstop_and_arm"]
    monkeypatch.setattr(masks.arm, "STRAIGHT_RMS", 0.0)
    assert (masks.auto_mask_parts(frame)[0]["beamstop_and_arm"] == found).all()
    assert _iou(found, truth) > 0.8


def test_a_straight_arm_with_a_bent_neck_is_straightened_past_the_neck(monkeypatch):
    """As on the Pilatus 1M holder: the arm bends near the beamstop, then runs straight."""
    from dip_engine import masks

    frame, truth = _shadowed_frame(lambda col: 100.4 + 0.23 * (100 - col) + np.where(col > 80, 0.6 * (col - 80), 0))
    straight = masks.auto_mask_parts(frame)[0]["beamstop_and_arm"]
    monkeypatch.setattr(masks.arm, "STRAIGHT_RMS", 0.0)
    ragged = masks.auto_mask_parts(frame)[0]["beamstop_and_arm"]
    assert _iou(straight, truth) > _iou(ragged, truth) + 0.02, (_iou(straight, truth), _iou(ragged, truth))
    neck = truth.copy()
    neck[:, :80] = False
    assert straight[neck].mean() > 0.95


def _grazing_frame(horizon: int, seed: int = 0) -> np.ndarray:
    """A 200 x 160 GISAXS-like frame, upright: counts fall slowly above a Yoneda band at
    row ``horizon`` - 20, steeply to the horizon, and are a flat 3 counts beyond it."""
    rng = np.random.default_rng(seed)
    rows = np.arange(200)[:, None]
    yoneda = horizon - 20
    above = 2000 * np.exp(-np.clip(yoneda - rows, 0, None) / 60) * np.exp(-np.clip(rows - yoneda, 0, None) / 8)
    level = np.where(rows < horizon, above + 3, 3.0) * np.ones((1, 160))
    return rng.poisson(level).astype(np.int32)


@pytest.mark.parametrize("flip", [False, True])
def test_the_sample_horizon_is_where_the_frame_falls_for_good(flip):
    from dip_engine.masks.grazing import horizon_mask

    image = _grazing_frame(130)
    if flip:  # the beam at the top: the horizon's side is the other one
        image = image[::-1]
    found = horizon_mask(image, np.ones(image.shape, bool), -90.0, (100.0, 80.0))
    rows = np.flatnonzero(found.all(axis=1))
    assert found.sum() == rows.size * image.shape[1]  # whole rows
    first = 200 - 1 - rows.max() if flip else rows.min()
    assert abs(first - 130) <= 4 and rows.size >= 200 - 134
    # the weak scattering between the Yoneda band and the horizon stays data
    assert not found[(slice(200 - 125, 200 - 110) if flip else slice(110, 125))].any()


def test_a_frame_with_no_fall_has_no_horizon():
    from dip_engine.masks.grazing import horizon_mask

    rng = np.random.default_rng(1)
    image = rng.poisson(np.linspace(50, 500, 200)[:, None] * np.ones((1, 160)))
    assert not horizon_mask(image, np.ones(image.shape, bool), -90.0, (100.0, 80.0)).any()


def test_any_part_of_the_auto_mask_can_be_excluded():
    from dip_engine.masks import auto_mask_report, build_exclusion

    frame = _grazing_frame(130).astype(np.float64)
    frame[:, 70:78] = 0  # a rod
    parts = {name: np.zeros(frame.shape, bool) for name in ("flags", "gaps", "beamstop_and_arm", "horizon",
                                                            "shadows", "outliers")}
    parts["horizon"][140:] = True
    parts["gaps"][50:55] = True
    mask = parts["horizon"] | parts["gaps"]
    spec = MaskSpec(auto=True, exclude=["horizon"])
    assert (build_exclusion(frame, spec, mask, auto_parts=parts) == parts["horizon"]).all()
    spec = MaskSpec(auto=True, exclude=["gaps"])
    assert (build_exclusion(frame, spec, mask, auto_parts=parts) == parts["gaps"]).all()
    # without the parts at hand they are found again; with the auto mask off none is excluded
    found, _ = auto_mask_report(frame)
    assert (build_exclusion(frame, MaskSpec(auto=True, exclude=["horizon"]), mask | found["horizon"])
            == found["horizon"]).all()
    assert not build_exclusion(frame, MaskSpec(auto=False, exclude=["horizon"]), mask).any()
    with pytest.raises(ValueError, match="excluded parts"):
        MaskSpec(exclude=["sky"]).check(frame.shape)


def test_a_round_windows_shadow_is_found_and_a_smooth_fall_is_not():
    from dip_engine.masks.grazing import window_shadow

    rng = np.random.default_rng(2)
    rows, cols = np.indices((240, 240))
    r = np.hypot(rows - 200, cols - 120)
    window = r < 150  # the window's aperture, its centre near the bottom edge
    image = rng.poisson(np.where(window, 400.0 * np.exp(-r / 300), 1.5))
    found = window_shadow(image, np.ones(image.shape, bool))
    assert found[~window & (r > 160)].mean() > 0.95 and not found[window & (r < 140)].any()
    smooth = rng.poisson(5e4 / (1 + (np.hypot(rows - 120, cols - 120) / 10) ** 3))  # a SAXS-like fall
    assert not window_shadow(smooth, np.ones(smooth.shape, bool)).any()
