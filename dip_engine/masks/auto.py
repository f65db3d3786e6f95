"""The automatic mask: detector flags and gaps, beamstop and arm (or a GISAXS
beamstop rod), zero-count shadows, outliers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .beamstop import DEFAULT_CONTRAST, shadow_mask
from .detectors import detectors_for_shape, flag_mask, gap_mask, pyfai_detector_mask
from .grazing import horizon_mask, rod_mask, window_shadow, zero_count_shadow
from .outliers import DEFAULT_SIGMA, outlier_mask
from .shapes import combine

if TYPE_CHECKING:
    from ..symmetry import Symmetry


def auto_mask_parts(image: np.ndarray, sigma: float = DEFAULT_SIGMA, contrast: float = DEFAULT_CONTRAST,
                    detector: str | None = None) -> tuple[dict[str, np.ndarray], "Symmetry", str | None]:
    """The parts of :func:`auto_mask`, each a (H, W) bool array.

    ``detector``: pyFAI's name of the frame's detector (from its geometry);
    its own gap and dead-module mask is then used instead of the shape's guess.

    Returns
    -------
    parts : dict
        ``flags``, ``gaps``, ``beamstop_and_arm`` (on a grazing-incidence frame,
        the beamstop rod), ``horizon`` (what lies beyond a grazing-incidence
        frame's sample horizon; empty on other frames), ``shadows`` (zero-count
        flight-tube and window shadows), ``outliers``.
    symmetry : dip_engine.symmetry.Symmetry
        The frame's measured symmetry (its ``center`` is the beam centre).
    detector : str or None
        The detector given, else the family named by the frame shape when
        exactly one fits.
    """
    from ..geometry import estimate_center
    from ..symmetry import detect_symmetry

    image = np.asarray(image)
    flags = flag_mask(image)
    gaps, detector = _gaps(image.shape, detector)
    valid = ~(flags | gaps)
    # the shadows are dark, and on the mirror axes: measure the symmetry without them
    shadow = shadow_mask(image, valid, estimate_center(image, valid), contrast=contrast)
    symmetry = detect_symmetry(image, valid & ~shadow)
    horizon = np.zeros(image.shape, bool)
    grazing = _upright_axis(symmetry)
    if grazing is not None:  # no rings to compare a shadow with: the rod by its shape
        shadow = rod_mask(image, valid, symmetry.center[1])
        symmetry = detect_symmetry(image, valid & ~shadow)
        axis = _upright_axis(symmetry)
        horizon = horizon_mask(image, valid & ~shadow, grazing if axis is None else axis, symmetry.center)
    center = symmetry.center
    shadows = zero_count_shadow(image, valid & ~shadow)
    if grazing is not None:  # a round window's edge there, not the edge of a sharp ring
        shadows |= window_shadow(image, valid & ~shadow & ~horizon)
    outliers = outlier_mask(image, valid & ~shadow & ~shadows & ~horizon, sigma=sigma, center=center)
    parts = {"flags": flags, "gaps": gaps, "beamstop_and_arm": shadow, "horizon": horizon, "shadows": shadows,
             "outliers": outliers}
    return parts, symmetry, detector


def _gaps(shape: tuple[int, int], detector: str | None) -> tuple[np.ndarray, str | None]:
    """(gap mask, detector name): pyFAI's mask of the named detector, else the module
    tiling of the one family the shape fits, else no gaps."""
    if detector:
        return pyfai_detector_mask(detector, shape), detector
    fits = detectors_for_shape(shape)
    if len(fits) != 1:
        return np.zeros(shape, bool), None
    return gap_mask(shape, fits[0]), fits[0]


def _upright_axis(symmetry) -> float | None:
    """The angle (degrees) of a grazing-incidence frame's (near) vertical mirror axis, None
    when the frame is not one (isotropic, a point mirror, or no such axis)."""
    holding = symmetry.holding()
    if symmetry.isotropic or any(op.kind == "point" for op in holding):
        return None
    return next((op.angle_deg for op in holding if op.kind == "mirror" and abs(op.angle_deg) > 45), None)


def auto_mask(image: np.ndarray, sigma: float = DEFAULT_SIGMA, contrast: float = DEFAULT_CONTRAST,
              detector: str | None = None) -> tuple[np.ndarray, dict]:
    """Everything a beamline frame usually needs masked, found without clicks.

    Detector flags, module gaps (of ``detector``, pyFAI's name, or when the
    shape names the detector), the
    beamstop and its arm (:func:`shadow_mask` around the beam centre found
    by symmetry; on a grazing-incidence frame the rod on its specular column,
    :func:`rod_mask`, and what lies beyond its sample horizon,
    :func:`horizon_mask`), zero-count shadows (:func:`zero_count_shadow`) and
    outlier pixels (:func:`outlier_mask`).

    Returns
    -------
    mask : (H, W) bool ndarray
    params : dict
        What was chosen (detector, beam centre, the measured symmetry, sigma,
        contrast) and how many pixels each part masked, so a user can review
        and tweak it.
    """
    parts, params = auto_mask_report(image, sigma, contrast, detector)
    return combine(np.shape(image), *parts.values()), params


def auto_mask_report(image: np.ndarray, sigma: float = DEFAULT_SIGMA, contrast: float = DEFAULT_CONTRAST,
                     detector: str | None = None) -> tuple[dict[str, np.ndarray], dict]:
    """(parts, params) of :func:`auto_mask`: its parts one by one (:func:`auto_mask_parts`),
    so that each can be healed or excluded on its own, and its parameters."""
    parts, symmetry, detector = auto_mask_parts(image, sigma, contrast, detector)
    params = {
        "detector": detector,
        "center": [round(symmetry.center[0], 2), round(symmetry.center[1], 2)],
        "symmetry": symmetry.to_dict(),
        "sigma": sigma,
        "contrast": contrast,
        "pixels": {name: int(part.sum()) for name, part in parts.items()},
    }
    return parts, params
