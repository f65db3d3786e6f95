"""Automatic masks on every frame of ../shared/data, against hand-drawn references.

Prints, per frame: time, fraction masked, share of the detector's flagged
pixels covered, and for frames with a reference in reference_masks/ the IoU
of the beamstop + arm part and the share of the frame masked as beamstop or
arm that the reference leaves valid.

The IoU is taken outside the module-gap template and outside flagged pixels
that are not beamstop or arm (those are the flags' business); flagged
pixels inside the reference count as found, since the auto mask covers them.

Goal (issue 4): 100 % of flags, IoU >= 0.9, over-masking <= 0.5 %.

    python benchmarks/masks.py [--contrast 1.4] [--plot DIR]

``--plot DIR`` also draws each frame next to its auto mask (beamstop and arm
or rod red, zero-count shadows blue, beyond a GISAXS sample horizon green,
gaps and flags grey) as DIR/<frame>.png.
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
    ap.add_argument("--plot", type=Path, help="folder for a PNG of each frame beside its auto mask")
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
        if args.plot:
            plot(frame.data, parts, args.plot / f"{Path(path.name).stem}.png")


def plot(image: np.ndarray, parts: dict, out: Path) -> None:
    """The frame (log scale) beside it with its auto mask's parts drawn over it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = np.log10(1 + np.clip(np.nan_to_num(np.asarray(image, np.float64)), 0, None))
    colours = {"horizon": (0.2, 0.75, 0.3), "flags": (0.5, 0.5, 0.5), "gaps": (0.5, 0.5, 0.5), "beamstop_and_arm": (0.9, 0.1, 0.1),
               "shadows": (0.1, 0.3, 0.9), "outliers": (1.0, 0.8, 0.0)}
    overlay = np.zeros(image.shape + (4,))
    for name, colour in colours.items():
        overlay[parts[name]] = (*colour, 0.75)
    fig, axes = plt.subplots(1, 2, figsize=(12, 6.5))
    for ax, title in zip(axes, ("frame", "auto mask")):
        ax.imshow(shown, cmap="magma", interpolation="nearest")
        ax.set_title(f"{out.stem}: {title}")
    axes[1].imshow(overlay, interpolation="nearest")
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(out, dpi=60)
    plt.close(fig)


if __name__ == "__main__":
    main()
