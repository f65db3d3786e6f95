"""A straight holder arm redrawn as a band whose edges the counts place.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage, stats


#: A pixel that loses at least this share of its counts to a straight arm's
#: shadow is masked: for an opaque arm, a pixel a quarter or more covered.
PARTIAL_SHADOW = 0.25
#: Largest rms departure (pixels) of a detected arm edge's course from a
#: straight line for the arm to be redrawn as a straight band (:func:`_bend`).
STRAIGHT_RMS = 1.0
_SUBSAMPLES = 4  # points per pixel side for area coverage
#: Length (pixels along the arm) of the stretches that each give one point of an edge.
EDGE_STRETCH = 32


def _along_across(rows: np.ndarray, cols: np.ndarray, center: tuple[float, float],
                  axis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates along a unit ``axis`` (row, col) from ``center``, and across it (pixels)."""
    dr, dc = rows - center[0], cols - center[1]
    return dr * axis[0] + dc * axis[1], dc * axis[0] - dr * axis[1]


def _subsample(rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N,) pixel centres -> (N, S, S) points spread evenly over each pixel's area."""
    offset = (np.arange(_SUBSAMPLES) + 0.5) / _SUBSAMPLES - 0.5
    return rows[:, None, None] + offset[None, :, None], cols[:, None, None] + offset[None, None, :]


def _robust_line(t: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Line ``s = p[0] * t + p[1]`` through points with outliers; (p, bool array of the points kept).

    A Theil-Sen line (median of pairwise slopes: a bent stretch of up to a
    quarter of the points does not tilt it), then least squares on the
    points within 3 robust sigmas (1 px at least), twice.
    """
    slope, intercept, *_ = stats.theilslopes(s, t)
    p = np.array([slope, intercept])
    for _ in range(2):
        residual = s - np.polyval(p, t)
        spread = 1.4826 * np.median(np.abs(residual - np.median(residual)))
        keep = np.abs(residual) < max(1.0, 3 * spread)
        p = np.polyfit(t[keep], s[keep], 1) if keep.sum() >= 2 else p
    return p, keep


def _bend(t: np.ndarray, s: np.ndarray, line: np.ndarray) -> float:
    """How far (rms, pixels) the course of points ``s(t)`` departs from ``line``.

    The course is the running median over 15 points, so a ragged edge
    (counting noise, notches where bright rings cross) is straight while a
    bend or kink is not.
    """
    course = ndimage.median_filter(s - np.polyval(line, t), size=15, mode="nearest")
    return float(np.sqrt(np.mean(course ** 2)))


def _edge_shift(edge: np.ndarray, inward: int, points: tuple[np.ndarray, np.ndarray],
                counts: np.ndarray, expected: np.ndarray) -> tuple[float, float] | None:
    """Sub-pixel shift of a fitted edge line that best explains the counts of the pixels it crosses.

    Each pixel's counts are modelled as ``expected * (k + g * depth - c *
    covered)``: ``covered`` is the share of its area on the shadow side of
    the shifted line, ``depth`` its centre's distance into the shadow, ``g``
    lets the level change across the edge (the direct-beam halo falls
    steeply), ``c / k`` is the arm's absorption; ``k, g, c`` are fitted by
    weighted least squares. The shift in [-1.5, 1.5] px with the least
    chi-square wins.

    Parameters
    ----------
    edge : line ``across = edge[0] * along + edge[1]`` (:func:`_robust_line`)
    inward : +1 when the shadow lies at larger ``across``, else -1
    points : (N, S, S) along and across coordinates of each pixel's area samples
    counts, expected : (N,) counts and ring level of the pixels

    Returns
    -------
    (shift, absorption), or None when the best shift is a bound (the line does not fit)
    """
    along, across = points
    depth = (across - np.polyval(edge, along)) * inward
    centre_depth = depth.mean(axis=(1, 2))
    level = np.maximum(expected, 0.5)
    weight = 1 / np.sqrt(level + 1)
    shifts = np.arange(-1.5, 1.501, 0.05)
    chi2, fits = np.empty(shifts.size), []
    for i, shift in enumerate(shifts):
        covered = (depth >= shift).mean(axis=(1, 2))
        design = np.stack([level, level * centre_depth, -level * covered], axis=1) * weight[:, None]
        fit, *_ = np.linalg.lstsq(design, counts * weight, rcond=None)
        chi2[i] = np.sum((design @ fit - counts * weight) ** 2)
        fits.append(fit)
    best = int(np.argmin(chi2))
    if best in (0, shifts.size - 1):
        return None
    scale, _, loss = fits[best]
    absorption = float(np.clip(loss / scale, 0, 1)) if scale > 0 else 0.0
    return float(shifts[best]), absorption


def _counted_edge(line: np.ndarray, inward: int, points: tuple[np.ndarray, np.ndarray], along: np.ndarray,
                  usable: np.ndarray, counts: np.ndarray, expected: np.ndarray) -> tuple[np.ndarray, float] | None:
    """An arm edge placed by the counts: :func:`_edge_shift` on stretches of ``EDGE_STRETCH`` px.

    Each stretch along the arm gives one sub-pixel point of the edge; the
    line through them (:func:`_robust_line`) is returned, or the detected
    ``line`` shifted when only one stretch fits, with the median absorption
    of the stretches. None when no stretch fits.

    Parameters
    ----------
    line : detected edge, ``across = line[0] * along + line[1]``
    inward : +1 when the shadow lies at larger ``across``, else -1
    points : (N, S, S) along and across coordinates of each pixel's area samples
    along : (N,) pixel centres' coordinate along the arm
    usable : (N,) bool, valid pixels of the straight stretch of the arm
    counts, expected : (N,) counts and ring level of the pixels
    """
    if not usable.any():
        return None
    ends = along[usable].min(), along[usable].max()
    bounds = np.linspace(*ends, max(1, round((ends[1] - ends[0]) / EDGE_STRETCH)) + 1)
    middles, edges, absorptions = [], [], []
    for a, b in zip(bounds[:-1], bounds[1:]):
        pick = usable & (along >= a) & (along <= b)
        found = _edge_shift(line, inward, (points[0][pick], points[1][pick]), counts[pick], expected[pick])
        if found is not None:
            middles.append((a + b) / 2)
            edges.append(np.polyval(line, (a + b) / 2) + inward * found[0])
            absorptions.append(found[1])
    if not edges:
        return None
    if len(edges) == 1:
        return line + [0, edges[0] - np.polyval(line, middles[0])], absorptions[0]
    return _robust_line(np.array(middles), np.array(edges))[0], float(np.median(absorptions))


def _arm_branch(shadow: np.ndarray, valid: np.ndarray, center: tuple[float, float],
                distance: np.ndarray) -> tuple[np.ndarray, float]:
    """The largest dark region outside the beamstop disc, and the disc's radius (pixels).

    The radius is the distance from the centre to the nearest valid pixel
    outside the shadow; ``distance`` is each pixel's from the centre.
    """
    inside = ndimage.distance_transform_edt(shadow | ~valid)
    cy, cx = (int(np.clip(round(c), 0, n - 1)) for c, n in zip(center, shadow.shape))
    radius = float(inside[cy, cx])
    labels, n = ndimage.label(shadow & (distance > radius + 3))
    if n == 0:
        return np.zeros(shadow.shape, bool), radius
    return labels == 1 + np.argmax(np.bincount(labels.ravel())[1:]), radius


def _seen_edges(arm: np.ndarray, valid: np.ndarray, center: tuple[float, float],
                axis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The detected arm's two edges, one point per pixel step along ``axis``.

    Returns
    -------
    low, high : (n, 2) ndarrays
        (step's middle along the axis, edge's position across it) for the
        edge at lower and at higher ``across``, without the steps where
        the edge borders invalid pixels (a module gap, the frame's border):
        there the arm's edge is not seen.
    """
    rows, cols = np.nonzero(arm)
    along, across = _along_across(rows, cols, center, axis)
    order = np.argsort(along, kind="stable")
    rows, cols, along, across = rows[order], cols[order], along[order], across[order]
    steps, first = np.unique(np.floor(along).astype(np.int64), return_index=True)
    normal = np.array([-axis[1], axis[0]])  # a unit step towards larger ``across``
    padded = np.pad(valid, 1)
    edges = []
    for reduce, sign in ((np.minimum, -1), (np.maximum, 1)):
        extreme = reduce.reduceat(across, first)
        at = first + np.array([np.flatnonzero(across[a:b] == e)[0] for a, b, e in
                               zip(first, np.append(first[1:], across.size), extreme)])
        beyond = padded[np.rint(rows[at] + sign * normal[0]).astype(int) + 1,
                        np.rint(cols[at] + sign * normal[1]).astype(int) + 1]
        edges.append(np.stack([steps + 0.5, extreme + sign * 0.5], axis=1)[beyond])
    return edges[0], edges[1]


def _straight_stretch(arm: np.ndarray, valid: np.ndarray, center: tuple[float, float],
                      radius: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float] | None:
    """Where the detected arm runs straight: its axis, edge lines and extent along the axis.

    Returns
    -------
    axis : unit (row, col) vector from the beam centre along the arm
    low, high : edge lines, ``across = line[0] * along + line[1]``
    start, end : the stretch along the axis where both edges are on their
        lines; into the beamstop disc when it reaches it, to the arm's end
        when it reaches that
    None when the arm is no elongated band or an edge bends (:func:`_bend`).
    """
    rows, cols = np.nonzero(arm)
    if rows.size < 30:
        return None
    spread, axes = np.linalg.eigh(np.cov(np.stack([rows - center[0], cols - center[1]])))
    if spread[1] < 10 * spread[0]:
        return None  # no arm, or a blob
    axis, along = axes[:, 1], _along_across(rows, cols, center, axes[:, 1])[0]
    if along.mean() < 0:  # point it from the centre out along the arm
        axis, along = -axis, -along
    seen = _seen_edges(arm, valid, center, axis)
    if min(len(edge) for edge in seen) < 10:
        return None
    fits = [_robust_line(edge[:, 0], edge[:, 1]) for edge in seen]
    if any(keep.mean() < 0.5 or _bend(*edge[keep].T, line) > STRAIGHT_RMS for edge, (line, keep) in zip(seen, fits)):
        return None
    kept = [edge[keep, 0] for edge, (_, keep) in zip(seen, fits)]
    first, last = max(k.min() for k in kept), min(k.max() for k in kept)
    start = radius / 2 if first <= along.min() + 3 else first - 0.5
    end = along.max() + 0.5 if last >= along.max() - 3 else last + 0.5
    return axis, fits[0][0], fits[1][0], start, end


def _straight_band(shadow: np.ndarray, counts: np.ndarray, expected: np.ndarray,
                   center: tuple[float, float], valid: np.ndarray) -> np.ndarray | None:
    """:func:`straight_arm` on a crop around the shadow; None when the arm has no straight stretch."""
    rr, cc = np.indices(shadow.shape)
    distance = np.hypot(rr - center[0], cc - center[1])
    arm, radius = _arm_branch(shadow, valid, center, distance)
    stretch = _straight_stretch(arm, valid, center, radius)
    if stretch is None:
        return None
    axis, low_line, high_line, start, end = stretch
    t, s = _along_across(rr, cc, center, axis)
    near = (t >= start - 1) & (t <= end + 1) & (s > np.polyval(low_line, t) - 4) & (s < np.polyval(high_line, t) + 4)
    points = _along_across(*_subsample(rr[near], cc[near]), center, axis)
    usable = valid[near] & (t[near] > radius + 3) & (t[near] >= start) & (t[near] <= end)
    placed = [_counted_edge(line, inward, points, t[near], usable, counts[near], expected[near])
              for line, inward in ((low_line, 1), (high_line, -1))]
    if any(edge is None for edge in placed):
        return None
    (low_line, low_absorbs), (high_line, high_absorbs) = placed
    needed = min(1.0, PARTIAL_SHADOW / max((low_absorbs + high_absorbs) / 2, 1e-3))  # share of area
    sub_t, sub_s = points
    covered = ((sub_t >= start) & (sub_t <= end) & (sub_s >= np.polyval(low_line, sub_t))
               & (sub_s <= np.polyval(high_line, sub_t))).mean(axis=(1, 2))
    band = np.zeros(shadow.shape, bool)
    band[near] = covered >= needed - 1e-9
    replaced = near & (t >= start) & (t <= end) & (distance > radius + 3)
    return (shadow & ~replaced) | (band & valid)


def straight_arm(shadow: np.ndarray, counts: np.ndarray, expected: np.ndarray,
                 center: tuple[float, float], valid: np.ndarray) -> np.ndarray:
    """The shadow with a straight holder arm redrawn as a band with sub-pixel edges.

    A holder is a straight rod or wire, so its shadow has straight edges,
    while pixel-by-pixel detection leaves them ragged where counts are low
    and misses pixels that an edge only partly covers. The arm (the largest
    dark region outside the beamstop disc) gets a straight line fitted to
    each of its two edges, where they border valid pixels. Along the
    stretch where both edges lie within :data:`STRAIGHT_RMS` of their lines
    (a bent neck at the beamstop stays out of it), each line moves to where
    the counts of the pixels it crosses put it (:func:`_edge_shift`), and
    every pixel that the band between the lines takes :data:`PARTIAL_SHADOW`
    or more of the counts from replaces the detected arm. An arm with no
    such stretch (bent along its length, or ragged) is left as found.

    Parameters
    ----------
    shadow : (H, W) bool ndarray, beamstop and arm found pixel by pixel
    counts, expected : (H, W) float ndarrays, counts and the ring's level at each pixel
    center : (row, col) beam centre, within a few pixels of ``shadow``
    valid : (H, W) bool ndarray, pixels with data

    Returns
    -------
    mask : (H, W) bool ndarray
    """
    rows, cols = np.nonzero(shadow)
    if rows.size == 0:
        return shadow
    crop = (slice(max(rows.min() - 5, 0), rows.max() + 6), slice(max(cols.min() - 5, 0), cols.max() + 6))
    origin = (center[0] - crop[0].start, center[1] - crop[1].start)
    band = _straight_band(shadow[crop], counts[crop], expected[crop], origin, valid[crop])
    if band is None:
        return shadow
    out = shadow.copy()
    out[crop] = band
    return out
