"""Regions with no physical data: what lies outside the detector's window or flight-tube
aperture, as opposed to gaps and shadows inside it that healing should fill.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

#: Half-width (pixels) a missing region must exceed to count as outside the window:
#: module gaps (up to 38 px wide) and beamstop arms are narrower.
MIN_HALF_WIDTH = 24.0


def outside_mask(missing: np.ndarray, min_half_width: float = MIN_HALF_WIDTH) -> np.ndarray:
    """The missing regions joined to the frame's border that are thick there: the area
    outside a round window or behind a flight tube's edge.

    A missing pixel deeper than ``min_half_width`` inside the missing region
    (the frame's border counts as missing beyond it) is a core pixel; cores
    touching the border, grown back by ``min_half_width`` within the missing
    pixels, are the outside. Gap rows and columns, arms and a beamstop bar
    running to the border are thinner, so they stay to be healed.

    Parameters
    ----------
    missing : (H, W) bool ndarray
    min_half_width : float, pixels

    Returns
    -------
    outside : (H, W) bool ndarray, a subset of ``missing``
    """
    missing = np.asarray(missing, bool)
    depth = ndimage.distance_transform_edt(np.pad(missing, 1, constant_values=True))[1:-1, 1:-1]
    core = depth > min_half_width
    labels, n = ndimage.label(core)
    if n == 0:
        return np.zeros(missing.shape, bool)
    edge = np.zeros(missing.shape, bool)
    edge[[0, -1], :] = edge[:, [0, -1]] = True
    touching = np.unique(labels[edge & core])
    seeds = np.isin(labels, touching[touching > 0])
    grown = (ndimage.distance_transform_edt(~seeds) <= min_half_width + 1) & missing
    labels, n = ndimage.label(grown)
    sizes = ndimage.sum(grown, labels, np.arange(1, n + 1))
    big = np.flatnonzero(sizes >= (2 * min_half_width) ** 2) + 1  # a speck where lines cross is not a region
    return np.isin(labels, big)
