"""Hot and dead pixels and zingers: counts far from their ring's neighbours.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from .rings import _ring_index


#: Outlier threshold (Poisson sigmas): high enough to keep the bright grains
#: of spotty powder rings, which are data; hot pixels and zingers exceed it.
DEFAULT_SIGMA = 30.0


def outlier_mask(
    image: np.ndarray,
    valid: np.ndarray,
    sigma: float = DEFAULT_SIGMA,
    center: tuple[float, float] | None = None,
) -> np.ndarray:
    """Hot pixels, zingers and dead pixels: isolated departures from the neighbours.

    A pixel is an outlier when it departs from the median of its 8
    neighbours by more than ``sigma`` Poisson standard deviations,
    sqrt(median + 1), and at most two of its neighbours do too (an edge of
    a sharp ring is a run of such pixels, a hot pixel or zinger is not).
    With a beam centre, bright outliers that share their ring (within a
    pixel of radius) with two or more others are kept as data: they are the
    grains of a spotty powder ring, not detector faults.

    Returns
    -------
    mask : (H, W) bool ndarray
    """
    img = np.where(valid, np.nan_to_num(np.asarray(image, np.float64)), 0.0)
    # invalid neighbours take the mean of the valid pixels around them, so
    # the edge of a shadow or gap does not make its neighbours look odd
    weight = ndimage.uniform_filter(valid.astype(np.float64), 5)
    local = ndimage.uniform_filter(img, 5) / np.maximum(weight, 1e-9)
    fallback = np.median(img[valid]) if valid.any() else 0.0
    filled = np.where(valid, img, np.where(weight > 1e-9, local, fallback))
    ring = np.ones((3, 3), bool)
    ring[1, 1] = False
    med = ndimage.median_filter(filled, footprint=ring, mode="nearest")
    with np.errstate(invalid="ignore"):
        z = np.abs(filled - med) / np.sqrt(np.clip(med, 0, None) + 1)
    odd = valid & (z > sigma)
    crowd = ndimage.convolve(odd.astype(np.int32), np.ones((3, 3), np.int32), mode="constant")
    odd &= crowd <= 3
    if center is not None and odd.any():
        ring = _ring_index(image.shape, center)
        bright = odd & (filled > med)
        per_ring = np.bincount(ring[bright], minlength=ring.max() + 3)
        near = per_ring + np.roll(per_ring, 1) + np.roll(per_ring, -1)
        odd &= ~(bright & (near[ring] >= 3))
    return odd
