"""Rasterise the hand-drawn shapes of shapes.json into <stem>.npy reference masks.

Run once after editing shapes.json: ``python benchmarks/reference_masks/draw.py``.
For a file that carries its own mask (``within_file_mask``), the reference is
that mask inside the drawn shapes: the authors' pixels, the beamstop and arm
part picked by hand. A spec with ``min_coverage`` is rasterised by area: the
shapes are drawn on a grid of 8 x 8 points per pixel and a pixel is in when at
least that share of its points is.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

from dip_engine import read_frame  # noqa: E402
from dip_engine.masks import polygon_mask, thick_line_mask  # noqa: E402

DATA = HERE.parent.parent.parent / "shared" / "data"


SUBPIXELS = 8


def reference(spec: dict) -> np.ndarray:
    """(H, W) bool: union of the spec's discs and polygons.

    Without ``min_coverage`` a pixel is in when its centre is; with it, when
    at least that share of its area is (sampled on ``SUBPIXELS`` squared points).
    """
    n = SUBPIXELS if "min_coverage" in spec else 1
    height, width = spec["shape"]
    fine = (height * n, width * n)

    def to_fine(coords):
        """Pixel coordinates (centres at integers) -> indices of the fine grid."""
        return [(x + 0.5) * n - 0.5 for x in coords]

    mask = np.zeros(fine, bool)
    for disc in spec["discs"]:
        center = to_fine(disc["center"])
        mask |= thick_line_mask(fine, center, center, 2 * disc["radius"] * n)
    for poly in spec["polygons"]:
        mask |= polygon_mask(fine, to_fine(poly["rows"]), to_fine(poly["cols"]))
    coverage = mask.reshape(height, n, width, n).mean(axis=(1, 3))
    return coverage >= spec.get("min_coverage", 0.5)


def main() -> None:
    specs = {k: v for k, v in json.loads((HERE / "shapes.json").read_text()).items() if not k.startswith("_")}
    for name, spec in specs.items():
        mask = reference(spec)
        if spec.get("within_file_mask"):
            frame = read_frame(DATA / name)
            mask &= frame.mask if frame.mask is not None else ~np.isfinite(frame.data)
        np.save(HERE / (Path(name).stem + ".npy"), mask)
        print(f"{name}: {int(mask.sum())} pixels")


if __name__ == "__main__":
    main()
