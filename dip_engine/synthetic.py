"""Synthetic scattering frames with a known truth, for tests and demos."""

from __future__ import annotations

import numpy as np


def ring_pattern(
    shape: tuple[int, int] = (96, 96),
    center: tuple[float, float] | None = None,
    ring_period: float = 12.0,
    peak_counts: float = 5000.0,
    seed: int = 0,
    poisson: bool = True,
) -> np.ndarray:
    """A SAXS-like frame: power-law decay with concentric rings, in counts.

    Parameters
    ----------
    shape : (H, W)
    center : (row, col), optional
        Beam centre; defaults to slightly off the middle.
    ring_period : float
        Pixels between rings.
    peak_counts : float
        Counts near the centre.
    seed : int
        Seed of the Poisson noise.
    poisson : bool
        Draw counts from a Poisson law (int32 frame) or return the mean (float64).

    Returns
    -------
    frame : (H, W) int32 or float64 ndarray, non-negative
    """
    h, w = shape
    cy, cx = center if center is not None else (h * 0.55, w * 0.48)
    yy, xx = np.mgrid[:h, :w]
    r = np.hypot(yy - cy, xx - cx)
    decay = peak_counts / (1 + (r / 6.0) ** 2)
    rings = 1 + 0.8 * np.cos(2 * np.pi * r / ring_period) ** 2
    mean = decay * rings + 2.0
    if not poisson:
        return mean
    return np.random.default_rng(seed).poisson(mean).astype(np.int32)


def occlude(frame: np.ndarray, center: tuple[float, float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Add a beamstop disc, a holder arm and a Pilatus-like gap row.

    The gap row and a few dead pixels are flagged in the data (-1, -2), as a
    Pilatus writes them; beamstop and arm are real low counts that only a
    mask marks.

    Returns
    -------
    flagged : (H, W) int32 ndarray
        The frame as a detector would write it.
    mask : (H, W) bool ndarray
        Every pixel without valid data (beamstop, arm, gap, dead).
    """
    h, w = frame.shape
    cy, cx = center if center is not None else (h * 0.55, w * 0.48)
    yy, xx = np.mgrid[:h, :w]
    stop = np.hypot(yy - cy, xx - cx) < max(3, h // 16)
    arm = (np.abs(xx - cx) < max(1, w // 40)) & (yy > cy)
    gap = np.zeros(frame.shape, bool)
    gap[h // 4 : h // 4 + max(2, h // 24), :] = True
    dead = np.zeros(frame.shape, bool)
    dead[np.random.default_rng(1).integers(0, h, 5), np.random.default_rng(2).integers(0, w, 5)] = True
    flagged = np.asarray(frame, np.int32).copy()
    flagged[stop | arm] = np.minimum(flagged[stop | arm], 3)
    flagged[gap] = -1
    flagged[dead & ~gap] = -2
    return flagged, stop | arm | gap | dead


def fibre_pattern(
    shape: tuple[int, int] = (128, 128),
    center: tuple[float, float] | None = None,
    tilt_deg: float = 8.0,
    peak_counts: float = 2000.0,
    seed: int = 0,
    poisson: bool = True,
) -> np.ndarray:
    """An oriented-fibre frame: an equatorial streak, layer lines and off-axis spots.

    Its symmetry is the point mirror and two perpendicular mirror axes: the
    equator at ``tilt_deg`` from the column axis (counter-clockwise as drawn)
    and the meridian at ``tilt_deg + 90``; no rotation maps it onto itself.

    Returns
    -------
    frame : (H, W) int32 (Poisson counts) or float64 (the mean) ndarray
    """
    h, w = shape
    cy, cx = center if center is not None else (h * 0.52, w * 0.47)
    yy, xx = np.mgrid[:h, :w].astype(np.float64)
    t = np.deg2rad(tilt_deg)
    along = (yy - cy) * -np.sin(t) + (xx - cx) * np.cos(t)  # along the equator
    across = -(yy - cy) * np.cos(t) - (xx - cx) * np.sin(t)  # along the meridian
    side = min(h, w)
    r = np.hypot(along, across)
    mean = peak_counts / (1 + (r / (0.05 * side)) ** 2)
    mean = mean + 0.6 * peak_counts * np.exp(-(across / (0.02 * side)) ** 2) / (1 + np.abs(along) / (0.1 * side))
    for k in (1, 2):  # layer lines above and below the equator
        mean = mean + 0.2 * peak_counts / k * np.exp(-((np.abs(across) - k * 0.18 * side) / (0.012 * side)) ** 2) \
            * np.exp(-(along / (0.25 * side)) ** 2)
    spots = np.exp(-((np.abs(along) - 0.22 * side) ** 2 + (np.abs(across) - 0.18 * side) ** 2) / (0.015 * side) ** 2)
    mean = mean + 0.5 * peak_counts * spots + 2.0
    if not poisson:
        return mean
    return np.random.default_rng(seed).poisson(mean).astype(np.int32)
