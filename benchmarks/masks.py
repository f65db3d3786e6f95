"""Automatic masks on every frame of ../shared/data, against hand-drawn references.

Prints, per frame: time, fraction masked, share of the detector's flagged
pixels covered, and for frames with a reference in reference_masks/ the IoU
of the beamstop + arm part and the share of the frame masked as beamstop or
arm that the reference leaves valid.

The IoU is taken outside the module-gap template and outside flagged pixels
that are not beamstop or arm (those are the flags' business); flagged
pixels inside the reference count as found, since the auto mask covers them.

Goal (issue 4): 100 % of flags, IoU >= 0.9, over-masking <= 0.5 %.

    python benchmarks/masks.py [--contrast 1.4]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from common import DATA, REFERENCE_MASKS
from dip_engine import FrameError, read_frame
from dip_engine.evaluate import shadow_agreement
from dip_engine.masks import DEFAULT_CONTRAST, DEFAULT_SIGMA, auto_mask_parts, combine


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--contrast", type=float, default=DEFAULT_CONTRAST)
    ap.add_argument("--sigma", type=float, default=DEFAULT_SIGMA)
    args = ap.parse_args()
    print(f"contrast {args.contrast}, sigma {args.sigma}")
    print(f"{'frame':28s} {'time s':>7s} {'masked %':>9s} {'flags %':>8s} {'bs+arm IoU':>11s} {'over %':>7s}")
    for path in sorted(DATA.iterdir()):
        try:
            frame = read_frame(path)
        except FrameError:
            continue  # README, licence texts
        t0 = time.perf_counter()
        parts, _, _ = auto_mask_parts(frame.data, args.sigma, args.contrast)
        took = time.perf_counter() - t0
        mask = combine(frame.data.shape, *parts.values())
        flags = parts["flags"]
        covered = 100 * (mask & flags).sum() / max(flags.sum(), 1)
        ref_path = REFERENCE_MASKS / (Path(path.name).stem + ".npy")
        if ref_path.is_file():
            iou, over = shadow_agreement(parts, np.load(ref_path))
            tail = f"{iou:11.3f} {100 * over:7.2f}"
        else:
            tail = f"{'-':>11s} {'-':>7s}"
        print(f"{path.name:28s} {took:7.2f} {100 * mask.mean():9.2f} {covered:8.1f} {tail}")


if __name__ == "__main__":
    main()
