"""What detectors say about their pixels: flagged values, and the gaps between
modules from each family's module tiling.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np


def flag_mask(image: np.ndarray) -> np.ndarray:
    """Pixels the detector flags as invalid.

    Negative values (Pilatus -1 gap, -2 dead), NaN/inf, and the all-ones
    value of unsigned integer frames (Eiger 0xFFFFFFFF, 0xFFFF) are flagged.

    Parameters
    ----------
    image : (H, W) ndarray

    Returns
    -------
    mask : (H, W) bool ndarray
    """
    image = np.asarray(image)
    if image.dtype.kind == "u":
        return image == np.iinfo(image.dtype).max
    if image.dtype.kind == "i":
        return image < 0
    with np.errstate(invalid="ignore"):
        return ~np.isfinite(image) | (image < 0)



@dataclass(frozen=True)
class Detector:
    """A detector family's module tiling, in pixels.

    Attributes
    ----------
    name : str
    module : (rows, cols)
        Size of one module.
    gap : (rows, cols)
        Gap rows between modules stacked vertically, gap columns between
        modules side by side.
    pyfai_prefix : str
        Start of pyFAI's names of this family's detectors (``Pilatus1M``,
        ``Eiger2_9M``), whose own definitions are used where pyFAI is installed.
    """

    name: str
    module: tuple[int, int]
    gap: tuple[int, int]
    pyfai_prefix: str

    def modules(self, shape: tuple[int, int]) -> tuple[int, int] | None:
        """(module rows, module columns) of a frame of ``shape``, or None if it is no tiling."""
        counts = [divmod(size + gap, module + gap) for size, module, gap in zip(shape, self.module, self.gap)]
        return tuple(n for n, _ in counts) if all(rest == 0 and n >= 1 for n, rest in counts) else None

    def gap_mask(self, shape: tuple[int, int]) -> np.ndarray:
        """The gaps between this family's modules in a frame of ``shape`` (which must tile)."""
        mask = np.zeros(shape, bool)
        (mh, mw), (gr, gc) = self.module, self.gap
        for start in range(mh, shape[0], mh + gr):
            mask[start: start + gr, :] = True
        for start in range(mw, shape[1], mw + gc):
            mask[:, start: start + gc] = True
        return mask


#: The detector families whose gaps the auto mask knows, by name.
DETECTORS: dict[str, Detector] = {d.name: d for d in (
    Detector("Pilatus", (195, 487), (17, 7), "pilatus"),
    Detector("Eiger", (514, 1030), (37, 10), "eiger"),
    Detector("Eiger2", (512, 1028), (38, 12), "eiger2"),
    Detector("Pilatus4", (255, 513), (20, 7), "pilatus4"),
)}


def detectors_for_shape(shape: tuple[int, int]) -> list[str]:
    """Detector families whose module tiling gives exactly this frame shape."""
    return [name for name, d in DETECTORS.items() if d.modules(shape)]


def gap_mask(shape: tuple[int, int], detector: str | None = None) -> np.ndarray:
    """The gaps between detector modules for a frame of this shape.

    Where pyFAI is installed, its definition of the detector of this family
    and shape gives the mask (:func:`pyfai_gap_mask`); else the family's
    module tiling does. Both agree on the Pilatus 300K, Pilatus 1M and
    Eiger2 9M (a test checks it).

    Parameters
    ----------
    shape : (H, W)
    detector : str, optional
        A key of :data:`DETECTORS`; by default chosen from the shape when
        exactly one family fits.

    Returns
    -------
    mask : (H, W) bool ndarray (all False for a single-module frame)

    Raises
    ------
    ValueError
        When the detector is unknown, does not fit the shape, or the shape
        fits several families and none was named.
    """
    if detector is None:
        fits = detectors_for_shape(shape)
        if len(fits) != 1:
            raise ValueError(
                f"cannot tell the detector from a {shape[0]}x{shape[1]} frame "
                f"({'fits ' + ', '.join(fits) if fits else 'no known module tiling'}); name it"
            )
        detector = fits[0]
    if detector not in DETECTORS:
        raise ValueError(f"unknown detector {detector!r}; use one of {', '.join(DETECTORS)}")
    family = DETECTORS[detector]
    if family.modules(shape) is None:
        raise ValueError(f"a {shape[0]}x{shape[1]} frame is not a tiling of {detector} modules")
    from_pyfai = pyfai_gap_mask(family, shape)
    return from_pyfai if from_pyfai is not None else family.gap_mask(shape)


def pyfai_detector_mask(name: str, shape: tuple[int, int]) -> np.ndarray:
    """The gaps and dead modules of pyFAI's detector ``name`` (``detector_factory``) on a
    frame of ``shape``; ValueError for an unknown name or another shape."""
    import pyFAI.detectors

    try:
        detector = pyFAI.detectors.detector_factory(name)
    except Exception:  # pyFAI raises RuntimeError or KeyError for an unknown name
        raise ValueError(f"pyFAI knows no detector {name!r}") from None
    if detector.max_shape is not None and tuple(detector.max_shape) != tuple(shape):
        raise ValueError(f"the detector {name} is {detector.max_shape[0]} x {detector.max_shape[1]} pixels, "
                         f"the frame {shape[0]} x {shape[1]}")
    mask = detector.calc_mask()
    return np.zeros(shape, bool) if mask is None else np.asarray(mask, bool)


def pyfai_gap_mask(family: Detector, shape: tuple[int, int]) -> np.ndarray | None:
    """The gap mask of pyFAI's detector of this family and shape; None without pyFAI or
    when pyFAI has no such detector."""
    name = _pyfai_name(family, tuple(shape))
    if name is None:
        return None
    import pyFAI

    mask = pyFAI.detector_factory(name).calc_mask()
    return np.zeros(shape, bool) if mask is None else mask.astype(bool)


@functools.lru_cache(maxsize=64)
def _pyfai_name(family: Detector, shape: tuple[int, int]) -> str | None:
    """pyFAI's name of the detector of ``family`` with exactly this frame shape, if any."""
    try:
        import pyFAI.detectors
    except ImportError:
        return None
    for name, cls in sorted(pyFAI.detectors.ALL_DETECTORS.items()):
        if not name.startswith(family.pyfai_prefix) or name[len(family.pyfai_prefix):][:1].isalpha():
            continue  # another family (eiger2 is not eiger, pilatus4 is not pilatus)
        if tuple(getattr(cls, "MAX_SHAPE", None) or ()) == shape and "cdte" not in name:
            return name
    return None
