"""Rasterise the hand-drawn shapes of shapes.json into <stem>.npy reference masks.

Run once after editing shapes.json: ``python benchmarks/reference_masks/draw.py``.
For a file that carries its own mask (``within_file_mask``), the reference is
that mask inside the drawn shapes: the authors' pixels, the beamstop and arm
part picked by hand.
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


def reference(spec: dict) -> np.ndarray:
    """(H, W) bool: union of the spec's discs and polygons."""
    shape = tuple(spec["shape"])
    mask = np.zeros(shape, bool)
    for disc in spec["discs"]:
        mask |= thick_line_mask(shape, disc["center"], disc["center"], 2 * disc["radius"])
    for poly in spec["polygons"]:
        mask |= polygon_mask(shape, poly["rows"], poly["cols"])
    return mask


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
