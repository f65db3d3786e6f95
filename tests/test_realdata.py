"""Real detector frames from ../shared/data (skipped when it is absent)."""

from pathlib import Path

import numpy as np
import pytest

from dip_engine import read_frame
from dip_engine.baselines import fill_biharmonic, fill_polar
from dip_engine.evaluate import self_validate, shadow_agreement
from dip_engine.masks import auto_mask, auto_mask_parts, flag_mask

pytestmark = pytest.mark.realdata


@pytest.mark.parametrize("name, center", [("saxslab_image.tiff", (359.0, 267.5)),
                                          ("CeO2_Pilatus1M.tif", (529.5, 488.5))])
def test_auto_mask_and_beam_centre_on_pilatus_frames(shared_data, name, center):
    image = read_frame(shared_data / name).data
    mask, params = auto_mask(image)
    assert params["detector"] == "Pilatus"
    assert np.hypot(params["center"][0] - center[0], params["center"][1] - center[1]) < 1.0
    assert mask[image < 0].all()
    assert params["pixels"]["beamstop_and_arm"] > 500
    r, c = (int(round(v)) for v in center)
    assert mask[r, c]  # the beamstop covers the beam centre
    assert mask.mean() < 0.12


def test_polar_fill_beats_biharmonic_on_powder_rings(shared_data):
    image = read_frame(shared_data / "CeO2_Pilatus1M.tif").data
    missing = flag_mask(image) | auto_mask(image)[0]
    center = tuple(auto_mask(image)[1]["center"])
    polar = self_validate(image, missing, lambda i, m: fill_polar(i, m, center), center=center)
    biharmonic = self_validate(image, missing, fill_biharmonic, center=center)
    assert polar["rmse"] < 0.8 * biharmonic["rmse"]


def test_eiger_hdf5_frames(shared_data):
    frame = read_frame(shared_data / "vac_007_data_000001.h5", frame=1)
    assert frame.data.shape == (3262, 3108) and frame.meta["frames"] == 2
    assert flag_mask(frame.data).sum() > 600_000  # 0xFFFFFFFF gaps and flagged pixels


REFERENCES = Path(__file__).resolve().parent.parent / "benchmarks" / "reference_masks"


@pytest.mark.parametrize("name", ["saxslab_image.tiff", "CeO2_Pilatus1M.tif"])
def test_auto_beamstop_and_arm_match_the_hand_drawn_reference(shared_data, name):
    """The opaque arm of the 300K and the half-transparent arm of the 1M are both found."""
    parts, _, _ = auto_mask_parts(read_frame(shared_data / name).data)
    iou, over = shadow_agreement(parts, np.load(REFERENCES / (Path(name).stem + ".npy")))
    assert iou > 0.85, iou
    assert over < 0.005, over


# what the data README says of each frame's symmetry: (frame, isotropic, holding operations
# as (kind, axis angle rounded to 5 degrees), centre or None where it gives none)
SYMMETRIES = [
    ("saxslab_image.tiff", True, None, None),
    ("CeO2_Pilatus1M.tif", True, None, (529.5, 488.5)),
    ("liu2017_example_1.npz", False, {("point", None), ("mirror", 10), ("mirror", -80)}, (388.0, 258.0)),
    ("muscle_P40_1_3_00000.tif", False, {("point", None), ("mirror", 0), ("mirror", 90)}, None),
    ("muscle_Prep24-1-1Rex.tif", False, {("point", None), ("mirror", 0), ("mirror", 90)}, None),
    ("gisaxs_GISAXS_12.tif", False, {("mirror", 90)}, (686.0, 590.0)),
    ("gisaxs_np_bcp.tif", False, {("mirror", 90)}, None),
]


@pytest.mark.parametrize("name, isotropic, holding, center", SYMMETRIES)
def test_symmetry_detection_names_the_frames_operations(shared_data, name, isotropic, holding, center):
    _, params = auto_mask(read_frame(shared_data / name).data)
    found = params["symmetry"]
    assert found["isotropic"] == isotropic
    if holding is not None:
        named = {(op["kind"], None if op["kind"] == "point" else int(5 * round(op["angle_deg"] / 5)) % 180 or 0)
                 for op in found["operations"] if op["holds"]}
        assert named == {(k, None if a is None else a % 180) for k, a in holding}
    if center is not None:
        assert np.hypot(found["center"][0] - center[0], found["center"][1] - center[1]) <= 2.0


@pytest.mark.parametrize("name, first_row", [
    # GISAXS_12: beam row 686, specular spot row 556: the horizon half-way, in the module gap
    # 619-635; np_bcp: the Yoneda band's spots at row 930, the flat dim level from row 955
    ("gisaxs_GISAXS_12.tif", (612, 637)),
    ("gisaxs_np_bcp.tif", (940, 960)),
])
def test_gisaxs_auto_mask_finds_the_sample_horizon(shared_data, name, first_row):
    image = read_frame(shared_data / name).data
    horizon = auto_mask_parts(image)[0]["horizon"]
    rows = np.flatnonzero(horizon.mean(axis=1) > 0.5)
    assert first_row[0] <= rows.min() <= first_row[1] and rows.max() == image.shape[0] - 1
    assert horizon[rows.min() + 3:].all() and not horizon[: first_row[0] - 3].any()


def test_np_bcp_auto_mask_covers_its_round_windows_shadow(shared_data):
    """Beyond the round window the frame counts 1-3 where it counts hundreds inside."""
    image = read_frame(shared_data / "gisaxs_np_bcp.tif").data
    parts = auto_mask_parts(image)[0]
    seen = (image >= 0) & ~parts["gaps"]
    assert parts["shadows"][:350][seen[:350]].mean() > 0.95  # above the window's arc
    assert not parts["shadows"][500:900, 300:650].any()  # inside it


@pytest.mark.parametrize("name, rod_cols, rod_rows, lit", [
    # the rod, and lit Bragg rods beside it (row, col) that must stay unmasked
    ("gisaxs_GISAXS_12.tif", (580, 600), (380, 825), [(500, 663), (500, 518), (560, 737)]),
    ("gisaxs_np_bcp.tif", (466, 490), (735, 1040), [(930, 445), (930, 508)]),
])
def test_gisaxs_auto_mask_covers_the_rod_not_the_lit_rods(shared_data, name, rod_cols, rod_rows, lit):
    image = read_frame(shared_data / name).data
    parts, symmetry, _ = auto_mask_parts(image)
    rod = parts["beamstop_and_arm"]
    box = rod[rod_rows[0]: rod_rows[1], rod_cols[0]: rod_cols[1]]
    valid_box = (image >= 0)[rod_rows[0]: rod_rows[1], rod_cols[0]: rod_cols[1]] & \
        ~parts["gaps"][rod_rows[0]: rod_rows[1], rod_cols[0]: rod_cols[1]]
    assert box[valid_box].mean() > 0.95
    assert rod.sum() < 2.0 * (rod_rows[1] - rod_rows[0]) * (rod_cols[1] - rod_cols[0])  # the rod, not the frame
    mask = np.zeros(image.shape, bool)
    for part in parts.values():
        mask |= part
    for r, c in lit:
        assert not mask[r - 2: r + 3, c - 2: c + 3].any(), (r, c)
