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
