"""Rings around the beam centre: ring statistics, and ring ranges in pixels or,
from a pyFAI geometry, in q or 2-theta.
"""

from __future__ import annotations


import numpy as np

from .shapes import finite_number


def _ring_index(shape: tuple[int, int], center: tuple[float, float]) -> np.ndarray:
    """(H, W) int64: each pixel's distance from the beam centre, rounded to whole pixels."""
    from ..geometry import polar_coordinates

    return np.rint(polar_coordinates(shape, center)[0]).astype(np.int64)


def _ring_levels(ring: np.ndarray, values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Median of ``values`` over the valid pixels of each integer ring (1-D, by ring index).

    Medians come from at most ~1 M valid pixels (a regular subsample); rings
    with no valid pixel take the level interpolated from their neighbours.
    """
    sample = np.flatnonzero(valid)
    sample = sample[:: max(1, sample.size // 1_000_000)]
    order = np.argsort(ring.ravel()[sample], kind="stable")
    rings_v = ring.ravel()[sample][order]
    vals = values.ravel()[sample][order]
    bounds = np.searchsorted(rings_v, np.arange(ring.max() + 2))
    medians = np.full(ring.max() + 1, np.nan)
    for k in np.flatnonzero(bounds[1:] > bounds[:-1]):
        medians[k] = np.median(vals[bounds[k]: bounds[k + 1]])
    have = np.isfinite(medians)
    if not have.any():
        return np.zeros(ring.max() + 1)
    return np.interp(np.arange(ring.max() + 1), np.flatnonzero(have), medians[have])




def annulus_mask(shape: tuple[int, int], center: tuple[float, float], r_min: float, r_max: float) -> np.ndarray:
    """Pixels whose distance from the beam centre is in [r_min, r_max] (pixels)."""
    from ..geometry import polar_coordinates

    check_range(r_min, r_max, "px")
    r, _ = polar_coordinates(shape, center)
    return (r >= r_min) & (r <= r_max)


def check_range(low: float, high: float, unit: str) -> None:
    """ValueError unless [low, high] is a ring range: finite numbers, 0 <= low < high."""
    if not (finite_number(low) and finite_number(high) and 0 <= low < high):
        raise ValueError(f"ring range {low!r} to {high!r} {unit} must be two finite numbers "
                         "with 0 <= low < high")


#: Units of :func:`ring_range_mask` besides pixels, as pyFAI names them.
RING_UNITS = ("q_nm^-1", "q_A^-1", "2th_deg")


def ring_range_mask(shape: tuple[int, int], geometry: dict, low: float, high: float,
                    unit: str = "q_nm^-1") -> np.ndarray:
    """Pixels whose scattering vector (or angle) lies in [low, high], from a pyFAI geometry.

    Parameters
    ----------
    shape : (H, W)
    geometry : :func:`dip_engine.azimuthal.load_geometry` of the frame
    low, high : range in ``unit``
    unit : one of :data:`RING_UNITS` (pyFAI's names)

    Returns
    -------
    mask : (H, W) bool ndarray

    Raises
    ------
    ValueError
        For an unknown unit or a range that is not one.
    """
    from ..azimuthal import ring_mask

    if unit not in RING_UNITS:
        raise ValueError(f"unknown unit {unit!r}; use px or one of {', '.join(RING_UNITS)}")
    check_range(low, high, unit)
    return ring_mask(geometry, shape, low, high, unit)
