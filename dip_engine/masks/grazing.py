"""Masks of grazing-incidence (GISAXS) frames, and zero-count shadows of any frame.

A GISAXS frame has no rings to compare a shadow with: its beamstop is a rod
hanging along the specular column, its intensity falls by decades across the
sample horizon, and lit Bragg rods and spots sit right beside the rod. The
rod is found by its shape (:func:`rod_mask`): a straight band on the mirror
axis, darker than both its sides, over a long run of rows. Flight-tube and
window shadows are found by what they are (:func:`zero_count_shadow`):
regions touching the frame's border where most pixels count nothing.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage import filters

#: A rod pixel is this many times darker than the frame beside the rod, on both sides.
ROD_CONTRAST = 3.0
#: Shortest rod, as a share of the frame's extent along the axis.
ROD_MIN_LENGTH = 0.05
#: Half-width (pixels) of the strip searched across the axis; the rod's sides are read
#: between half of it and all of it.
ROD_REACH = 60
#: Share of zero-count pixels (21 x 21 window) that seeds a shadow, and that it grows through.
ZERO_SEED, ZERO_GROW = 0.5, 0.3
#: A shadow's edge is sharp: the frame just outside it is this many times brighter than just inside.
SHADOW_EDGE = 3.0


def rod_mask(image: np.ndarray, valid: np.ndarray, axis_col: float, margin: int = 2) -> np.ndarray:
    """The beamstop rod of a GISAXS frame: a straight dark band on its vertical mirror axis.

    For each row, the median-filtered log counts within 3 pixels of the axis
    are compared with those between ``ROD_REACH / 2`` and ``ROD_REACH``
    pixels on each side; rows where the axis is ``ROD_CONTRAST`` times darker
    than both sides are rod rows (invalid rows, such as module gaps, neither
    end nor start a run). On each run of at least ``ROD_MIN_LENGTH`` of the
    frame's height, the rod's edges are where each row turns dark going out
    from the axis, and the rod is drawn as the band between their medians
    (a rod is straight), grown by ``margin``; a run that ends within
    ``ROD_REACH`` rows of the frame's edge is drawn to the edge (the rod is
    held from there). Lit rods and spots beside it are brighter than the
    rod's threshold and stay unmasked.

    Parameters
    ----------
    image : (H, W) ndarray in counts
    valid : (H, W) bool ndarray
    axis_col : float
        Column of the specular mirror axis (:func:`dip_engine.symmetry.detect_symmetry`).
    margin : int

    Returns
    -------
    mask : (H, W) bool ndarray, empty when no rod is found
    """
    h, w = image.shape
    mask = np.zeros((h, w), bool)
    c = int(round(axis_col))
    if not 0 <= c < w:
        return mask
    lo, hi = max(0, c - ROD_REACH), min(w, c + ROD_REACH + 1)
    y = np.log1p(np.clip(np.where(valid, image, 0), 0, None))[:, lo:hi].astype(np.float32)
    y = ndimage.median_filter(y, size=3, mode="nearest")
    v = valid[:, lo:hi]
    offset = np.arange(lo, hi) - c
    dark_rows, edges = _rod_rows(y, v, offset)
    for start, stop in _runs(dark_rows, ~v[:, np.abs(offset) <= 3].any(axis=1), int(ROD_MIN_LENGTH * h)):
        left, right = np.nanmedian(edges[start:stop], axis=0)
        if start <= ROD_REACH:
            start = 0
        if stop >= h - ROD_REACH:
            stop = h
        mask[start:stop, max(0, int(c + left) - margin): min(w, int(c + right) + 1 + margin)] = True
    return mask


def _rod_rows(y: np.ndarray, v: np.ndarray, offset: np.ndarray):
    """(rows where the axis is darker than both sides, (H, 2) left/right edge offsets of
    the dark run around the axis, NaN where the row is not dark)."""
    def side_level(sel):
        vals = np.where(v & sel, y, np.nan)
        with np.errstate(all="ignore"):
            return np.nanmedian(vals, axis=1) if sel.any() else np.full(len(y), np.nan)

    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        core = side_level(np.abs(offset) <= 3)
        left = side_level((offset <= -ROD_REACH // 2))
        right = side_level((offset >= ROD_REACH // 2))
    drop = np.log(ROD_CONTRAST)
    dark = (core < left - drop) & (core < right - drop)
    edges = np.full((len(y), 2), np.nan)
    for r in np.flatnonzero(dark):
        threshold = (core[r] + min(left[r], right[r])) / 2
        lit = ~(y[r] < threshold) & v[r]
        centre = int(np.argmin(np.abs(offset)))
        out_left = np.flatnonzero(lit[:centre])
        out_right = np.flatnonzero(lit[centre:])
        edges[r, 0] = offset[out_left[-1] + 1] if out_left.size else offset[0]
        edges[r, 1] = offset[centre + out_right[0] - 1] if out_right.size else offset[-1]
    return dark, edges


def _runs(rows: np.ndarray, unseen: np.ndarray, min_length: int, bridge: int = ROD_REACH):
    """(start, stop) of runs of True in ``rows`` of at least ``min_length`` rows; rows in
    ``unseen`` (no valid pixel on the axis) and breaks of up to ``bridge`` rows (the
    direct beam's glare around the rod) continue a run."""
    dark = np.asarray(rows, bool) | np.asarray(unseen, bool)
    dark = ndimage.binary_closing(np.pad(dark, bridge), np.ones(bridge))[bridge:-bridge] if bridge else dark
    labels, _ = ndimage.label(dark)
    out = []
    for box in ndimage.find_objects(labels):
        found = np.flatnonzero(rows[box[0]])
        if found.size >= min_length:
            out.append((box[0].start + found[0], box[0].start + found[-1] + 1))
    return out


def zero_count_shadow(image: np.ndarray, valid: np.ndarray, window: int = 21) -> np.ndarray:
    """Flight-tube and window shadows: regions touching the border where most pixels
    count 0, behind a sharp edge.

    The share of zero-count valid pixels in a ``window`` x ``window`` box is
    computed for each pixel; regions of at least ``ZERO_SEED`` grown through
    pixels of at least ``ZERO_GROW`` (hysteresis) that touch the frame's border
    (across invalid pixels) are candidates. A candidate is a shadow when the
    mean counts in an 8-pixel band outside it are ``SHADOW_EDGE`` times those
    in the band inside: a frame that just fades out (below a GISAXS horizon,
    at the far corners of a weak frame) has few counts too, but no edge.

    Returns
    -------
    mask : (H, W) bool ndarray
    """
    counts = np.asarray(image, np.float64)
    share_valid = ndimage.uniform_filter(valid.astype(np.float64), window)
    zeros = ndimage.uniform_filter((valid & (counts == 0)).astype(np.float64), window)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(share_valid > 0.2, zeros / share_valid, 0.0)
    dark = filters.apply_hysteresis_threshold(share, ZERO_GROW, ZERO_SEED) & valid
    labels, _ = ndimage.label(dark | ~valid)
    border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    candidates, n = ndimage.label(np.isin(labels, border[border > 0]) & dark)
    shadow = np.zeros(counts.shape, bool)
    for i, box in enumerate(ndimage.find_objects(candidates), start=1):
        grown = tuple(slice(max(0, b.start - 9), b.stop + 9) for b in box)
        region = candidates[grown] == i
        inside = region & ~ndimage.binary_erosion(region, iterations=8) & valid[grown]
        outside = ndimage.binary_dilation(region, iterations=8) & ~region & valid[grown]
        if inside.any() and outside.any() and \
                counts[grown][outside].mean() >= SHADOW_EDGE * max(counts[grown][inside].mean(), 0.05):
            shadow[grown] |= region
    return shadow
