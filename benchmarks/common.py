"""Frames of ../shared/data for the benchmarks, with their masks."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dip_engine import read_frame  # noqa: E402
from dip_engine.masks import DEFAULT_EXCLUDE, MaskSpec, auto_mask_report, build_exclusion, flag_mask  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
REFERENCE_MASKS = Path(__file__).resolve().parent / "reference_masks"
#: Frames the quality and speed benchmarks run on, by file name.
FRAMES = ["saxslab_image.tiff", "CeO2_Pilatus1M.tif", "liu2017_example_1.npz"]
#: The oriented (fibre) and grazing-incidence frames: no rings.
ANISOTROPIC = ["muscle_P40_1_3_00000.tif", "muscle_Prep24-1-1Rex.tif", "gisaxs_GISAXS_12.tif", "gisaxs_np_bcp.tif"]
#: Every frame of ../shared/data (the quality benchmark's default).
FRAMES_ALL = FRAMES + ANISOTROPIC + ["GI2_A9_19_001_0000.tiff", "vac_007_data_000001.h5"]


def load(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(frame in counts, missing pixels, excluded pixels) of a shared frame.

    Missing = the detector's flags, the mask stored with the frame, the
    automatic mask (module gaps, beamstop and arm, hot pixels, a GISAXS
    frame's horizon and shadows), and the hand-drawn reference mask in
    reference_masks/ if present. Excluded = the missing pixels the page
    excludes by default (:data:`dip_engine.masks.DEFAULT_EXCLUDE`: outside
    the window, below a sample horizon, zero-count and window shadows), which
    a heal leaves NaN.
    """
    path = DATA / name
    if not path.is_file():
        raise SystemExit(f"{path} is absent: the benchmarks need ../shared/data")
    frame = read_frame(path)
    parts, _ = auto_mask_report(frame.data)
    missing = flag_mask(frame.data)
    for part in parts.values():
        missing |= part
    if frame.mask is not None:
        missing |= frame.mask
    ref = REFERENCE_MASKS / (Path(name).stem + ".npy")
    if ref.is_file():
        missing |= np.load(ref)
    spec = MaskSpec(auto=True, exclude=list(DEFAULT_EXCLUDE))
    return frame.data, missing, build_exclusion(frame.data, spec, missing, auto_parts=parts)
