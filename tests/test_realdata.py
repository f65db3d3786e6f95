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
