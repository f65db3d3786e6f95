"""Masks of missing pixels: every builder returns a bool array, True = missing.

Each builder is a pure function of the frame (or its shape) and its
parameters, so the page, the CLI and the tests make the same pixels.
Coordinates are (row, column) in pixels, row 0 at the top, as numpy and
fabio index a frame.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Iterable, Sequence

import numpy as np
from scipy import ndimage
from skimage import draw, morphology


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


def box_mask(
    image: np.ndarray,
    box: Sequence[float],
    threshold: float | None = None,
) -> np.ndarray:
    """Pixels inside a rectangle, optionally only those below a threshold.

    The seed's beamstop rule: draw a box around the beamstop and mask the
    dark pixels in it.

    Parameters
    ----------
    image : (H, W) ndarray
        Frame in counts.
    box : (row0, row1, col0, col1)
        Rectangle in pixel coordinates (inclusive; any order, clipped).
    threshold : float, optional
        Mask only pixels with counts below it; None masks the whole box.

    Returns
    -------
    mask : (H, W) bool ndarray
    """
    h, w = np.shape(image)
    r0, r1 = sorted((box[0], box[1]))
    c0, c1 = sorted((box[2], box[3]))
    r0, r1 = max(0, int(np.floor(r0))), min(h - 1, int(np.ceil(r1)))
    c0, c1 = max(0, int(np.floor(c0))), min(w - 1, int(np.ceil(c1)))
    mask = np.zeros((h, w), bool)
    if r0 > r1 or c0 > c1:
        return mask
    inside = np.ones((r1 - r0 + 1, c1 - c0 + 1), bool)
    if threshold is not None:
        with np.errstate(invalid="ignore"):
            inside = np.asarray(image)[r0 : r1 + 1, c0 : c1 + 1] < threshold
    mask[r0 : r1 + 1, c0 : c1 + 1] = inside
    return mask


def ellipse_mask(shape: tuple[int, int], box: Sequence[float]) -> np.ndarray:
    """Pixels inside the ellipse inscribed in a (row0, row1, col0, col1) box."""
    r0, r1 = sorted((box[0], box[1]))
    c0, c1 = sorted((box[2], box[3]))
    rr, cc = draw.ellipse((r0 + r1) / 2, (c0 + c1) / 2, max((r1 - r0) / 2, 0.5),
                          max((c1 - c0) / 2, 0.5), shape=shape)
    mask = np.zeros(shape, bool)
    mask[rr, cc] = True
    return mask


def polygon_mask(shape: tuple[int, int], rows: Iterable[float], cols: Iterable[float]) -> np.ndarray:
    """Pixels inside a polygon given by its vertices' rows and columns."""
    rr, cc = draw.polygon(np.asarray(list(rows)), np.asarray(list(cols)), shape=shape)
    mask = np.zeros(shape, bool)
    mask[rr, cc] = True
    return mask


def line_mask(image: np.ndarray, row_threshold: float = 0.0, col_threshold: float = 0.0) -> np.ndarray:
    """Whole rows and columns that hold too few valid, non-zero pixels.

    The seed's rule for module gaps: a row whose fraction of pixels with a
    positive value is below ``row_threshold`` is masked, likewise columns.

    Parameters
    ----------
    image : (H, W) ndarray
        Frame in counts.
    row_threshold, col_threshold : float in [0, 1]
        0 disables the rule for rows (columns).

    Returns
    -------
    mask : (H, W) bool ndarray
    """
    image = np.asarray(image)
    with np.errstate(invalid="ignore"):
        positive = np.isfinite(image) & (image > 0) if image.dtype.kind == "f" else image > 0
    if image.dtype.kind == "u":
        positive &= image != np.iinfo(image.dtype).max
    mask = np.zeros(image.shape, bool)
    if row_threshold > 0:
        mask[positive.mean(axis=1) < row_threshold, :] = True
    if col_threshold > 0:
        mask[:, positive.mean(axis=0) < col_threshold] = True
    return mask


def grow(mask: np.ndarray, pixels: int) -> np.ndarray:
    """Dilate (pixels > 0) or erode (pixels < 0) a mask by a disc of that radius."""
    if pixels == 0:
        return np.asarray(mask, bool)
    footprint = morphology.disk(abs(int(pixels)))
    if pixels > 0:
        return ndimage.binary_dilation(mask, structure=footprint)
    # outside the frame counts as masked, so edges do not erode inwards
    return ndimage.binary_erosion(mask, structure=footprint, border_value=1)


def combine(shape: tuple[int, int], *masks: np.ndarray | None) -> np.ndarray:
    """Union of masks (None entries are skipped); all False when none given."""
    out = np.zeros(shape, bool)
    for m in masks:
        if m is not None:
            out |= np.asarray(m, bool)
    return out


def summary(mask: np.ndarray) -> dict:
    """Fraction masked, pixel count and connected components of a mask."""
    from skimage import measure

    mask = np.asarray(mask, bool)
    _, n = measure.label(mask, return_num=True, connectivity=2)
    return {"fraction": float(mask.mean()), "pixels": int(mask.sum()), "components": int(n)}


@dataclass
class MaskSpec:
    """Everything the scientist chose to mask, as JSON-compatible data.

    Attributes
    ----------
    boxes : list of [row0, row1, col0, col1]
        Rectangles (e.g. drawn on the beamstop).
    box_threshold : float or None
        Inside boxes, mask only pixels below this many counts (the seed's
        beamstop rule); None masks whole boxes.
    ellipses : list of [row0, row1, col0, col1]
        Bounding boxes of ellipses (drawn circles).
    polygons : list of [[rows...], [cols...]]
        Closed polygons (e.g. the beamstop holder).
    row_threshold, col_threshold : float
        :func:`line_mask` thresholds (0 = off).
    grow : int
        Pixels to dilate (> 0) or erode (< 0) the union by.
    use_flags : bool
        Include :func:`flag_mask` of the frame.
    """

    boxes: list = field(default_factory=list)
    box_threshold: float | None = None
    ellipses: list = field(default_factory=list)
    polygons: list = field(default_factory=list)
    row_threshold: float = 0.0
    col_threshold: float = 0.0
    grow: int = 0
    use_flags: bool = True

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "MaskSpec":
        return cls(**d)


def build_mask(image: np.ndarray, spec: MaskSpec, base: np.ndarray | None = None) -> np.ndarray:
    """The mask a :class:`MaskSpec` describes on a frame.

    Parameters
    ----------
    image : (H, W) ndarray
        Frame in counts.
    spec : MaskSpec
    base : (H, W) bool ndarray, optional
        A mask that came with the frame or from a mask file.

    Returns
    -------
    mask : (H, W) bool ndarray, True = missing
    """
    shape = np.shape(image)
    parts = [base]
    if spec.use_flags:
        parts.append(flag_mask(image))
    parts += [box_mask(image, b, spec.box_threshold) for b in spec.boxes]
    parts += [ellipse_mask(shape, b) for b in spec.ellipses]
    parts += [polygon_mask(shape, rows, cols) for rows, cols in spec.polygons]
    if spec.row_threshold or spec.col_threshold:
        parts.append(line_mask(image, spec.row_threshold, spec.col_threshold))
    return grow(combine(shape, *parts), spec.grow)
