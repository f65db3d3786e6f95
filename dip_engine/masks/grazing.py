"""Masks of grazing-incidence (GISAXS) frames, and zero-count shadows of any frame.

A GISAXS frame has no rings to compare a shadow with: its beamstop is a rod
hanging along the specular column, its intensity falls by decades across the
sample horizon, and lit Bragg rods and spots sit right beside the rod. The
rod is found by its shape (:func:`rod_mask`): a straight band on the mirror
axis, darker than both its sides, over a long run of rows. The sample horizon
(:func:`horizon_mask`) is where the frame's intensity, read along the mirror
axis, falls by decades for good: nothing the sample scatters lies beyond it.
Flight-tube and window shadows are found by what they are: regions touching
the frame's border where most pixels count nothing (:func:`zero_count_shadow`),
or far dimmer than the frame just inside a sharp edge (:func:`window_shadow`).
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
#: The horizon's fall: the steepest drop of the profile along the mirror axis, over
#: ``HORIZON_RUN`` valid rows either side, must reach this many decades (a factor 3).
HORIZON_DROP = 0.48
HORIZON_RUN = 12
#: Beyond the horizon the profile stays within this many decades of its level there.
HORIZON_MARGIN = 0.2
#: A window's shadow is at least this share of the frame, and its edge a step of this many
#: decades more than the frame changes along either side of it (:func:`_edge_contrast`;
#: measured: 0.90 at the round window of gisaxs_np_bcp; 1.25 between the sharp rings of a
#: silver behenate frame, which is why only grazing-incidence frames are searched).
WINDOW_EDGE, WINDOW_MIN_SHARE = 0.6, 0.05
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


def horizon_mask(image: np.ndarray, valid: np.ndarray, axis_deg: float, center) -> np.ndarray:
    """Everything beyond the sample horizon of a GISAXS frame: the side of the frame the
    sample itself hides (no physical data), across the whole frame.

    The frame is read along its mirror axis (the specular column): the mean
    log10(1 + I) of the valid pixels of each 1-pixel step along the axis
    (``valid`` should leave the rod out), steps with a tenth of the fullest
    step's pixels or fewer skipped (gap rows). From the brightest step (the
    Yoneda band), the profile falls slowly towards high exit angles and
    steeply at the horizon; the side with the steepest drop over
    ``HORIZON_RUN`` valid steps either side is the horizon's, and that drop
    must reach ``HORIZON_DROP`` decades. The level beyond is the median of
    the profile from the drop to the border; the horizon follows the last
    step (smoothed over 5) still ``HORIZON_MARGIN`` above it, so that the
    weak scattering between the horizon and the Yoneda band (exit angles
    below the critical angle) stays data.

    Parameters
    ----------
    image : (H, W) ndarray in counts
    valid : (H, W) bool ndarray
    axis_deg : float
        The mirror axis's angle from the column axis (near +-90: upright).
    center : (row, col)
        A point on the axis.

    Returns
    -------
    mask : (H, W) bool ndarray, empty when no horizon is found
    """
    valid = np.asarray(valid, bool)
    t = np.deg2rad(axis_deg)
    rows, cols = np.indices(np.shape(image), dtype=np.float64)
    along = (rows - center[0]) * -np.sin(t) + (cols - center[1]) * np.cos(t)
    step = np.rint(along - along.min()).astype(np.int64)
    y = np.log10(1 + np.clip(np.asarray(image, np.float64), 0, None))
    n = np.bincount(step[valid], minlength=step.max() + 1)
    seen = np.flatnonzero(n > 0.1 * n.max())
    if seen.size < 4 * HORIZON_RUN:
        return np.zeros(np.shape(image), bool)
    profile = np.bincount(step[valid], weights=y[valid], minlength=n.size)[seen] / n[seen]
    edge = _horizon_edge(ndimage.median_filter(profile, size=5, mode="nearest"))
    if edge is None:
        return np.zeros(np.shape(image), bool)
    index, side = edge
    return step > seen[index] if side > 0 else step < seen[index]


def _horizon_edge(profile: np.ndarray):
    """(index of the last bright step, +1 or -1: the side beyond it) of a profile along the
    mirror axis (see :func:`horizon_mask`), or None when it has no horizon."""
    k = HORIZON_RUN
    peak = int(np.argmax(profile))
    csum = np.concatenate([[0.0], np.cumsum(profile)])
    i = np.arange(k, len(profile) - k + 1)
    drop = (csum[i] - csum[i - k] - (csum[i + k] - csum[i])) / k  # before step i minus from step i on
    best = None
    for side, where in ((+1, i > peak), (-1, i <= peak)):
        if where.any():
            j = np.flatnonzero(where)[np.argmax(side * drop[where])]
            if best is None or side * drop[j] > best[1] * best[2]:
                best = (i[j], drop[j], side)
    if best is None or best[1] * best[2] < HORIZON_DROP:
        return None
    start, _, side = best
    beyond = profile[start:] if side > 0 else profile[:start]
    dim = profile <= np.median(beyond) + HORIZON_MARGIN
    if side > 0:  # the first dim step from the drop on; the horizon follows the step before it
        return start + int(np.argmax(dim[start:])) - 1, side
    return start - 1 - int(np.argmax(dim[:start][::-1])) + 1, side


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


def window_shadow(image: np.ndarray, valid: np.ndarray, smooth: float = 4.0,
                  band: tuple[int, int] = (6, 20)) -> np.ndarray:
    """The shadow of a round window or flight-tube aperture: the dim side of a sharp edge,
    joined to the frame's border.

    The frame's log10(1 + I), smoothed over ``smooth`` pixels (valid pixels
    only), is split in two by Otsu's threshold; the dim pixels joined to the
    border (across invalid ones) form a candidate. It is a shadow when it is
    at least ``WINDOW_MIN_SHARE`` of the frame and the mean in a band
    ``band`` pixels outside it is ``WINDOW_EDGE`` decades above the mean in
    the same band inside it: a frame that fades out towards high angles, or
    around sharp rings, has no such step along the whole edge.

    Parameters
    ----------
    image : (H, W) ndarray in counts
    valid : (H, W) bool ndarray
    smooth : float, pixels
    band : (inner, outer) distances from the edge, pixels

    Returns
    -------
    mask : (H, W) bool ndarray
    """
    valid = np.asarray(valid, bool)
    shadow = np.zeros(valid.shape, bool)
    if valid.sum() < 100:
        return shadow
    y = np.where(valid, np.log10(1 + np.clip(np.nan_to_num(np.asarray(image, np.float64)), 0, None)), 0.0)
    weight = ndimage.gaussian_filter(valid.astype(np.float64), smooth)
    level = ndimage.gaussian_filter(y, smooth) / np.maximum(weight, 1e-12)
    if np.ptp(level[valid]) == 0:
        return shadow
    dim = (level < filters.threshold_otsu(level[valid])) & valid
    labels, _ = ndimage.label(dim | ~valid)
    border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    candidate = np.isin(labels, border[border > 0]) & dim
    if candidate.sum() < WINDOW_MIN_SHARE * valid.size:
        return shadow
    if _edge_contrast(y, valid, candidate, band) >= WINDOW_EDGE:
        shadow = candidate
    return shadow


def _edge_contrast(y: np.ndarray, valid: np.ndarray, region: np.ndarray, band: tuple[int, int],
                   tile: int = 32) -> float:
    """How sharp a region's edge is: the median over ``tile`` x ``tile`` tiles along it of
    the step of ``y`` across the edge less the change along each side.

    The step is (mean ``y`` in the band ``band`` pixels outside the region) -
    (mean in the band inside); the change along a side is the difference
    between that band and the next one, as wide again, further away. A
    shadow's edge is a step between two levels; a frame that falls steeply
    (a SAXS frame near its beam) changes as much along each side as across
    the edge. -inf without an edge.
    """
    inside = ndimage.distance_transform_edt(region)
    outside = ndimage.distance_transform_edt(~region)
    far = (band[1], 2 * band[1] - band[0])
    tiles = (np.arange(y.shape[0])[:, None] // tile) * (y.shape[1] // tile + 1) + np.arange(y.shape[1]) // tile
    n = tiles.max() + 1
    means, seen = [], np.ones(n, bool)
    for distance, (lo, hi) in ((inside, band), (outside, band), (inside, far), (outside, far)):
        ring = valid & (distance >= lo) & (distance <= hi)
        count = np.bincount(tiles[ring], minlength=n)
        seen &= count > 0
        means.append(np.bincount(tiles[ring], y[ring], minlength=n) / np.maximum(count, 1))
    if not seen.any():
        return -np.inf
    near_in, near_out, far_in, far_out = (m[seen] for m in means)
    return float(np.median(near_out - near_in - np.abs(far_out - near_out) - np.abs(near_in - far_in)))
