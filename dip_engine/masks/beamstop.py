"""The beamstop and its holder: pixels much darker than their ring around the
beam centre (:func:`shadow_mask`), the arm redrawn straight where it runs
straight (:mod:`.arm`).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage, stats
from skimage import morphology

from .arm import straight_arm
from .rings import _ring_index, _ring_levels
from .shapes import grow


#: How many times darker than its ring a beamstop/arm shadow pixel is: low
#: enough for the half-transparent arm of a Pilatus 1M (1.7x darker), high
#: enough that ring-median noise does not reach it.
DEFAULT_CONTRAST = 1.4



def ring_contrast(image: np.ndarray, valid: np.ndarray, center: tuple[float, float],
                  size: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """How much darker or brighter each pixel is than its ring: log(I / ring level).

    The frame is taken as log(1 + counts), invalid pixels take their ring's
    level, and a ``size`` x ``size`` median filter removes counting noise
    without blurring a shadow's edge. A ring's level is the median of the
    filtered frame over the ring, so the filter's rounding of sharp rings
    cancels out (:func:`_beamstop_level` for the rings inside the
    beamstop). The same comparison of each pixel on its own (its counts
    against its ring's median counts) comes with it, from the same rings.

    Parameters
    ----------
    image : (H, W) ndarray in counts
    valid : (H, W) bool ndarray, pixels with data
    center : (row, col) beam centre in pixels

    Returns
    -------
    filtered, own : (H, W) float32 ndarrays, natural log of the ratio (0 = as
        bright as the ring), of the median-filtered frame and of each pixel alone
    """
    if not valid.any():
        return np.zeros(image.shape, np.float32), np.zeros(image.shape, np.float32)
    y = np.log1p(np.clip(np.nan_to_num(np.asarray(image, np.float64)), 0, None)).astype(np.float32)
    ring = _ring_index(image.shape, center)
    raw = _ring_levels(ring, y, valid)
    filled = np.where(valid, y, raw[ring].astype(np.float32))
    smooth = ndimage.median_filter(filled, size=size, mode="nearest")
    filtered = smooth - _beamstop_level(_ring_levels(ring, smooth, valid))[ring]
    own = filled - _beamstop_level(raw)[ring]
    return filtered.astype(np.float32), own.astype(np.float32)


def _beamstop_level(level: np.ndarray) -> np.ndarray:
    """Ring levels with the rings inside the beamstop set to the level just outside it.

    Inside the beamstop every ring is dark all round, so its own median is no
    reference; up to the brightest ring within as many pixels again outside
    the beamstop's edge (where the profile first rises steeply), expect that
    ring's level.
    """
    rise = np.flatnonzero(level > level[0] + np.log(3.0))
    if rise.size:
        edge = rise[0]
        peak = edge + int(np.argmax(level[edge: 2 * edge + 3]))
        level = level.copy()
        level[:peak] = level[peak]
    return level




def shadow_mask(
    image: np.ndarray,
    valid: np.ndarray,
    center: tuple[float, float],
    contrast: float = DEFAULT_CONTRAST,
    margin: int = 0,
    bridge: int = 25,
) -> np.ndarray:
    """The beamstop and its holder arm: the dark region attached to the beam centre.

    Pixels more than ``contrast`` times darker than their ring
    (:func:`ring_contrast`) are dark. The dark region connected to the
    centre is the shadow of the beamstop and of the arm that holds it,
    opaque or semi-transparent (a thin arm passes half the beam). Invalid
    pixels within ``bridge`` pixels of a dark one connect it, so a module
    gap that cuts the arm (or runs through the beamstop) does not split the
    shadow, while a long gap does not chain unrelated dark spots to it.

    Parameters
    ----------
    image : (H, W) ndarray
        Frame in counts.
    valid : (H, W) bool ndarray
        Pixels with data (flags and gaps excluded).
    center : (row, col)
        Beam centre (:func:`dip_engine.geometry.estimate_center`).
    contrast : float
        How much darker than its ring a shadowed pixel is (> 1).
    margin : int
        Pixels added around the shadow.
    bridge : int
        Largest distance (pixels) across invalid pixels that still connects.

    Returns
    -------
    mask : (H, W) bool ndarray (empty when no dark region touches the centre)
    """
    if contrast <= 1:
        raise ValueError(f"contrast must be above 1 (times darker), got {contrast}")
    filtered, own = ring_contrast(image, valid, center)
    dark = valid & (filtered < -np.log(contrast))
    dark = ndimage.binary_opening(dark, structure=morphology.disk(1))
    near_dark = ndimage.distance_transform_edt(~dark) <= bridge if dark.any() else dark
    labels, _ = ndimage.label(dark | (~valid & near_dark))
    cr, cc = int(round(center[0])), int(round(center[1]))
    near = labels[max(0, cr - 3): cr + 4, max(0, cc - 3): cc + 4]
    ids = np.unique(near[near > 0])
    if ids.size == 0:
        return np.zeros(image.shape, bool)
    # a bright ring crossing a semi-transparent arm notches it: close the notches
    shadow = np.isin(labels, ids)
    shadow = ndimage.binary_fill_holes(ndimage.binary_closing(shadow, morphology.disk(2))) & valid
    # the filter window lets a shadow reach up to size // 2 pixels past its
    # edge at low counts, and rounds off a one-pixel penumbra at high counts:
    # peel edge pixels that are not dark on their own, or whose few counts
    # are not unlikely (Poisson p >= 5 %) in their ring; then take in
    # neighbours that are significantly dark on their own (3 Poisson sigmas)
    counts = np.clip(np.nan_to_num(np.asarray(image, np.float64)), 0, None)
    expected = (counts + 1) * np.exp(-own) - 1
    lit = own >= -np.log(contrast)
    doubtful = lit | (stats.poisson.cdf(counts, np.maximum(expected, 0)) >= 0.05)
    for _ in range(2):
        shadow &= ~(doubtful & (shadow & ~ndimage.binary_erosion(shadow)))
    significant = ~lit & valid & (expected - counts > 3 * np.sqrt(expected + 1))
    shadow |= ndimage.binary_dilation(shadow) & significant
    return grow(straight_arm(shadow, counts, expected, center, valid), margin)
