"""Masks of drawn shapes and simple rules: boxes, ellipses, polygons, thick lines,
sparse rows and columns; growing and uniting masks.

Each builder returns a (H, W) bool array, True = missing; coordinates are
(row, column) in pixels, row 0 at the top, as numpy and fabio index a frame.
"""

from __future__ import annotations

import math
from typing import Iterable, Sequence

import numpy as np
from scipy import ndimage
from skimage import draw, morphology


def box_mask(
    image: np.ndarray,
    box: Sequence[float],
    threshold: float | None = None,
) -> np.ndarray:
    """Pixels inside a rectangle, optionally only those below a threshold.

    The seed's beamstop rule: draw a box around the beamstop and mask the
    dark pixels in it.

    Parameters
    ----------
    image : (H, W) ndarray
        Frame in counts.
    box : (row0, row1, col0, col1)
        Rectangle in pixel coordinates (inclusive; any order, clipped).
    threshold : float, optional
        Mask only pixels with counts below it; None masks the whole box.

    Returns
    -------
    mask : (H, W) bool ndarray
    """
    h, w = np.shape(image)
    r0, r1 = sorted((box[0], box[1]))
    c0, c1 = sorted((box[2], box[3]))
    r0, r1 = max(0, int(np.floor(r0))), min(h - 1, int(np.ceil(r1)))
    c0, c1 = max(0, int(np.floor(c0))), min(w - 1, int(np.ceil(c1)))
    mask = np.zeros((h, w), bool)
    if r0 > r1 or c0 > c1:
        return mask
    inside = np.ones((r1 - r0 + 1, c1 - c0 + 1), bool)
    if threshold is not None:
        with np.errstate(invalid="ignore"):
            inside = np.asarray(image)[r0 : r1 + 1, c0 : c1 + 1] < threshold
    mask[r0 : r1 + 1, c0 : c1 + 1] = inside
    return mask


def ellipse_mask(shape: tuple[int, int], box: Sequence[float]) -> np.ndarray:
    """Pixels inside the ellipse inscribed in a (row0, row1, col0, col1) box."""
    r0, r1 = sorted((box[0], box[1]))
    c0, c1 = sorted((box[2], box[3]))
    rr, cc = draw.ellipse((r0 + r1) / 2, (c0 + c1) / 2, max((r1 - r0) / 2, 0.5),
                          max((c1 - c0) / 2, 0.5), shape=shape)
    mask = np.zeros(shape, bool)
    mask[rr, cc] = True
    return mask


def polygon_mask(shape: tuple[int, int], rows: Iterable[float], cols: Iterable[float]) -> np.ndarray:
    """Pixels inside a polygon given by its vertices' rows and columns."""
    rr, cc = draw.polygon(np.asarray(list(rows)), np.asarray(list(cols)), shape=shape)
    mask = np.zeros(shape, bool)
    mask[rr, cc] = True
    return mask


def thick_line_mask(shape: tuple[int, int], start: Sequence[float], end: Sequence[float],
                    width: float) -> np.ndarray:
    """Pixels within ``width / 2`` of the segment from ``start`` to ``end`` ((row, col) each).

    The beamstop holder seen as a thick line from the beamstop outwards.
    """
    (r0, c0), (r1, c1) = start, end
    half = max(width, 1.0) / 2
    mask = np.zeros(shape, bool)
    window = _clipped_box(shape, (min(r0, r1) - half, max(r0, r1) + half, min(c0, c1) - half, max(c0, c1) + half))
    if window is None:
        return mask
    rr, cc = np.ogrid[window]
    rr, cc = rr.astype(np.float64), cc.astype(np.float64)
    dr, dc = r1 - r0, c1 - c0
    length2 = dr * dr + dc * dc
    t = np.clip(((rr - r0) * dr + (cc - c0) * dc) / length2, 0, 1) if length2 > 0 else 0.0
    mask[window] = np.hypot(rr - (r0 + t * dr), cc - (c0 + t * dc)) <= half
    return mask


def _clipped_box(shape: tuple[int, int], box: Sequence[float]) -> tuple[slice, slice] | None:
    """The pixels of a (row0, row1, col0, col1) box (inclusive, fractional) inside the frame,
    as slices; None when it misses the frame."""
    r0, r1 = max(0, math.floor(box[0])), min(shape[0], math.ceil(box[1]) + 1)
    c0, c1 = max(0, math.floor(box[2])), min(shape[1], math.ceil(box[3]) + 1)
    return (slice(r0, r1), slice(c0, c1)) if r0 < r1 and c0 < c1 else None


def line_mask(image: np.ndarray, row_threshold: float = 0.0, col_threshold: float = 0.0) -> np.ndarray:
    """Whole rows and columns that hold too few valid, non-zero pixels.

    The seed's rule for module gaps: a row whose fraction of pixels with a
    positive value is below ``row_threshold`` is masked, likewise columns.

    Parameters
    ----------
    image : (H, W) ndarray
        Frame in counts.
    row_threshold, col_threshold : float in [0, 1]
        0 disables the rule for rows (columns).

    Returns
    -------
    mask : (H, W) bool ndarray
    """
    image = np.asarray(image)
    with np.errstate(invalid="ignore"):
        positive = np.isfinite(image) & (image > 0) if image.dtype.kind == "f" else image > 0
    if image.dtype.kind == "u":
        positive &= image != np.iinfo(image.dtype).max
    mask = np.zeros(image.shape, bool)
    if row_threshold > 0:
        mask[positive.mean(axis=1) < row_threshold, :] = True
    if col_threshold > 0:
        mask[:, positive.mean(axis=0) < col_threshold] = True
    return mask


def grow(mask: np.ndarray, pixels: int) -> np.ndarray:
    """Dilate (pixels > 0) or erode (pixels < 0) a mask by a disc of that radius."""
    if pixels == 0:
        return np.asarray(mask, bool)
    footprint = morphology.disk(abs(int(pixels)))
    if pixels > 0:
        return ndimage.binary_dilation(mask, structure=footprint)
    # outside the frame counts as masked, so edges do not erode inwards
    return ndimage.binary_erosion(mask, structure=footprint, border_value=1)


def combine(shape: tuple[int, int], *masks: np.ndarray | None) -> np.ndarray:
    """Union of masks (None entries are skipped); all False when none given."""
    out = np.zeros(shape, bool)
    for m in masks:
        if m is not None:
            out |= np.asarray(m, bool)
    return out


def summary(mask: np.ndarray) -> dict:
    """Fraction masked, pixel count and connected components of a mask."""
    from skimage import measure

    mask = np.asarray(mask, bool)
    _, n = measure.label(mask, return_num=True, connectivity=2)
    return {"fraction": float(mask.mean()), "pixels": int(mask.sum()), "components": int(n)}


def finite_number(value) -> bool:
    """Whether ``value`` is a finite real number (not a bool, not a string)."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool) \
        and bool(np.isfinite(value))
