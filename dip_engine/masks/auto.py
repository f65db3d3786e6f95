"""The automatic mask: detector flags and gaps, beamstop and arm, outliers.
"""

from __future__ import annotations

import numpy as np

from .beamstop import DEFAULT_CONTRAST, shadow_mask
from .detectors import detectors_for_shape, flag_mask, gap_mask
from .outliers import DEFAULT_SIGMA, outlier_mask
from .shapes import combine


def auto_mask_parts(image: np.ndarray, sigma: float = DEFAULT_SIGMA,
                    contrast: float = DEFAULT_CONTRAST) -> tuple[dict[str, np.ndarray], tuple[float, float], str | None]:
    """The parts of :func:`auto_mask`, each a (H, W) bool array.

    Returns
    -------
    parts : dict
        ``flags``, ``gaps``, ``beamstop_and_arm``, ``outliers``.
    center : (row, col)
        Beam centre found by point symmetry.
    detector : str or None
        Detector family named by the frame shape, when exactly one fits.
    """
    from ..geometry import estimate_center

    image = np.asarray(image)
    flags = flag_mask(image)
    fits = detectors_for_shape(image.shape)
    detector = fits[0] if len(fits) == 1 else None
    gaps = gap_mask(image.shape, detector) if detector else np.zeros(image.shape, bool)
    valid = ~(flags | gaps)
    center = estimate_center(image, valid)
    shadow = shadow_mask(image, valid, center, contrast=contrast)
    outliers = outlier_mask(image, valid & ~shadow, sigma=sigma, center=center)
    parts = {"flags": flags, "gaps": gaps, "beamstop_and_arm": shadow, "outliers": outliers}
    return parts, center, detector


def auto_mask(image: np.ndarray, sigma: float = DEFAULT_SIGMA, contrast: float = DEFAULT_CONTRAST) -> tuple[np.ndarray, dict]:
    """Everything a beamline frame usually needs masked, found without clicks.

    Detector flags, module gaps (when the shape names the detector), the
    beamstop and its arm (:func:`shadow_mask` around the beam centre found
    by symmetry) and outlier pixels (:func:`outlier_mask`).

    Returns
    -------
    mask : (H, W) bool ndarray
    params : dict
        What was chosen (detector, beam centre, sigma, contrast) and how many
        pixels each part masked, so a user can review and tweak it.
    """
    parts, center, detector = auto_mask_parts(image, sigma, contrast)
    params = {
        "detector": detector,
        "center": [round(center[0], 2), round(center[1], 2)],
        "sigma": sigma,
        "contrast": contrast,
        "pixels": {name: int(part.sum()) for name, part in parts.items()},
    }
    return combine(np.shape(image), *parts.values()), params
