"""Classical fills of missing pixels, the yardsticks DIP must beat.

Every fill works on log(1 + I), returns the healed frame in counts with
valid pixels exact (:func:`dip_engine.intensity.paste`), and takes the
frame, the missing pixels and, where symmetry is used, the beam centre or
the frame's measured :class:`~dip_engine.symmetry.Symmetry`.
"""

from __future__ import annotations

import numpy as np

from . import forksafe
from .geometry import mirror_image, polar_coordinates, polar_model, radial_profile
from .intensity import log_counts, paste
from .symmetry import Symmetry, fill_unreached, fold


def fill_constant(image: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """Fill with the mean log intensity of the valid pixels."""
    y = log_counts(image, ~missing)
    return paste(image, missing, np.full(y.shape, np.expm1(y[~missing].mean())))


def fill_biharmonic(image: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """scikit-image's biharmonic inpainting of the log image.

    References
    ----------
    .. [1] S.B. Damelin, N.S. Hoang, "On Surface Completion and Image
           Inpainting by Biharmonic Functions", 2018.
    """
    from skimage.restoration import inpaint_biharmonic

    y = log_counts(image, ~missing)
    filled = inpaint_biharmonic(y, missing, split_into_regions=True)
    return paste(image, missing, np.expm1(filled))


def polar_log_fill(y: np.ndarray, valid: np.ndarray, center) -> np.ndarray:
    """Azimuthal interpolation of log intensities around the beam centre.

    Each missing pixel takes the value interpolated along its 1-pixel ring
    (periodic in azimuth) between the ring's valid pixels; rings with no
    valid pixel take the ring means of the nearest rings, interpolated in
    radius.

    Parameters
    ----------
    y : (H, W) ndarray
        Log intensities (read on valid pixels).
    valid : (H, W) bool ndarray
    center : (row, col)

    Returns
    -------
    filled : (H, W) ndarray, equal to ``y`` on valid pixels
    """
    r, phi = polar_coordinates(y.shape, center)
    ring = np.rint(r).astype(np.int64).ravel()
    phi = phi.ravel()
    flat_valid = valid.ravel()
    flat_y = y.ravel()
    out = flat_y.copy()
    order = np.lexsort((phi, ring))
    bounds = np.searchsorted(ring[order], np.arange(ring.max() + 2))
    empty_rings = []
    for k in np.unique(ring[~flat_valid]):
        idx = order[bounds[k]: bounds[k + 1]]
        ok = flat_valid[idx]
        if ok.sum() >= 2:
            out[idx[~ok]] = np.interp(phi[idx[~ok]], phi[idx[ok]], flat_y[idx[ok]], period=2 * np.pi)
        elif ok.any():
            out[idx[~ok]] = flat_y[idx[ok]][0]
        else:
            empty_rings.append(idx)
    if empty_rings:
        radius, ring_mean = radial_profile(y, valid, center)
        have = np.isfinite(ring_mean)
        for idx in empty_rings:
            out[idx] = np.interp(ring[idx], radius[have], ring_mean[have])
    return out.reshape(y.shape)


def fill_polar(image: np.ndarray, missing: np.ndarray, center) -> np.ndarray:
    """Azimuthal interpolation around the beam centre (see :func:`polar_log_fill`)."""
    valid = ~missing
    return paste(image, missing, np.expm1(polar_log_fill(log_counts(image, valid), valid, center)))


def fill_polar_smooth(image: np.ndarray, missing: np.ndarray, center, window_deg: float = 20.0) -> np.ndarray:
    """Smoothed polar interpolation: the frame's cake (0.5-pixel rings x 1° sectors of
    log counts), averaged over ``window_deg`` of azimuth, read back at each missing
    pixel (:func:`dip_engine.geometry.polar_model`).

    Like azimuthal-integration inpainting (pyFAI's), it averages many pixels
    per cell, so it beats :func:`fill_polar` on noisy frames, and loses to
    it where the frame is smooth and sharply anisotropic.
    """
    valid = ~missing
    model = polar_model(log_counts(image, valid), valid, center, window_deg=window_deg)
    return paste(image, missing, np.expm1(model))


def fill_mirror(image: np.ndarray, missing: np.ndarray, center) -> np.ndarray:
    """Point-mirror (Friedel) symmetry through the beam centre.

    A missing pixel takes the bilinearly interpolated value at its mirror
    2c - x when that is valid, else the polar fill.

    References
    ----------
    .. [1] J. Liu et al., "Deep learning to heal scattering images" /
           symmetry-based healing of X-ray scattering images, IUCrJ 2017.
    """
    valid = ~missing
    y = log_counts(image, valid)
    mirrored, available = mirror_image(y, valid, center)
    filled = np.where(available, mirrored, polar_log_fill(y, valid, center))
    return paste(image, missing, np.expm1(filled))


def fill_symmetry(image: np.ndarray, missing: np.ndarray, symmetry: Symmetry) -> np.ndarray:
    """Symmetry fill: each missing pixel takes the noise-weighted mean of its valid
    partners under the frame's holding operations (:func:`dip_engine.symmetry.fold`).

    The point mirror and two perpendicular axes generalise MuscleX's quadrant
    folding to a tilted fibre; a GISAXS frame folds about its specular column
    only. Missing pixels with no measured partner are filled from around them
    (:func:`dip_engine.symmetry.fill_unreached`).

    References
    ----------
    .. [1] MuscleX, "Quadrant Folding", Illinois Institute of Technology BioCAT.
    """
    valid = ~missing
    y = log_counts(image, valid)
    mean, found = fold(y, valid, symmetry)
    filled = fill_unreached(np.where(valid, y, mean), missing & ~found)
    return paste(image, missing, np.expm1(filled))


def fill_pyfai(image: np.ndarray, missing: np.ndarray, center) -> np.ndarray:
    """pyFAI's inpainting (``AzimuthalIntegrator.inpainting``): the field's standard peer.

    The frame is integrated to a 1024 x 512 cake around the beam centre (flat
    detector, pixel geometry only, which is all the cake needs), the missing
    cells are interpolated, and the cake is read back at the missing pixels.
    It runs through :func:`dip_engine.forksafe.call` (pyFAI hangs in a forked job).
    """
    restored = forksafe.call(_pyfai_inpainting, image, missing, tuple(float(c) for c in center))
    return paste(image, missing, restored)


def _pyfai_inpainting(image: np.ndarray, missing: np.ndarray, center: tuple[float, float]) -> np.ndarray:
    """(H, W) float64 counts: pyFAI's inpainted frame (see :func:`fill_pyfai`)."""
    import logging

    from pyFAI.detectors import Detector
    from pyFAI.integrator.azimuthal import AzimuthalIntegrator

    pixel = 1e-4  # metres; any size gives the same cake in pixel units
    ai = AzimuthalIntegrator(dist=0.1, poni1=(center[0] + 0.5) * pixel, poni2=(center[1] + 0.5) * pixel,
                             detector=Detector(pixel, pixel, max_shape=missing.shape))
    data = np.where(missing, 0.0, np.clip(np.asarray(image, np.float64), 0, None)).astype(np.float32)
    quiet = logging.getLogger("pyFAI")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        restored = ai.inpainting(data, missing.astype(np.int8), unit="r_mm")
    finally:
        quiet.setLevel(level)
    return np.asarray(restored, np.float64)


#: The classical fills by name, each called as ``fill(image, missing, symmetry)`` with the
#: frame's :class:`~dip_engine.symmetry.Symmetry` (biharmonic ignores it; the ring fills
#: read its centre).
FILLS = {
    "polar": lambda image, missing, symmetry: fill_polar(image, missing, symmetry.center),
    "polar_smooth": lambda image, missing, symmetry: fill_polar_smooth(image, missing, symmetry.center),
    "mirror": lambda image, missing, symmetry: fill_mirror(image, missing, symmetry.center),
    "symmetry": fill_symmetry,
    "pyfai": lambda image, missing, symmetry: fill_pyfai(image, missing, symmetry.center),
    "biharmonic": lambda image, missing, symmetry: fill_biharmonic(image, missing),
}
