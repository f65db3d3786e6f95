"""Masks of missing pixels: every builder returns a bool array, True = missing.

Each builder is a pure function of the frame (or its shape) and its
parameters, so the page, the CLI and the tests make the same pixels.
Coordinates are (row, column) in pixels, row 0 at the top, as numpy and
fabio index a frame.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from scipy import ndimage, stats
from skimage import draw, morphology


#: Outlier threshold (Poisson sigmas): high enough to keep the bright grains
#: of spotty powder rings, which are data; hot pixels and zingers exceed it.
DEFAULT_SIGMA = 30.0
#: How many times darker than its ring a beamstop/arm shadow pixel is: low
#: enough for the half-transparent arm of a Pilatus 1M (1.7x darker), high
#: enough that ring-median noise does not reach it.
DEFAULT_CONTRAST = 1.4


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


def thick_line_mask(shape: tuple[int, int], start: Sequence[float], end: Sequence[float],
                    width: float) -> np.ndarray:
    """Pixels within ``width / 2`` of the segment from ``start`` to ``end`` ((row, col) each).

    The beamstop holder seen as a thick line from the beamstop outwards.
    """
    (r0, c0), (r1, c1) = start, end
    half = max(width, 1.0) / 2
    mask = np.zeros(shape, bool)
    window = _clipped_box(shape, (min(r0, r1) - half, max(r0, r1) + half, min(c0, c1) - half, max(c0, c1) + half))
    if window is None:
        return mask
    rr, cc = np.ogrid[window]
    rr, cc = rr.astype(np.float64), cc.astype(np.float64)
    dr, dc = r1 - r0, c1 - c0
    length2 = dr * dr + dc * dc
    t = np.clip(((rr - r0) * dr + (cc - c0) * dc) / length2, 0, 1) if length2 > 0 else 0.0
    mask[window] = np.hypot(rr - (r0 + t * dr), cc - (c0 + t * dc)) <= half
    return mask


def _clipped_box(shape: tuple[int, int], box: Sequence[float]) -> tuple[slice, slice] | None:
    """The pixels of a (row0, row1, col0, col1) box (inclusive, fractional) inside the frame,
    as slices; None when it misses the frame."""
    r0, r1 = max(0, math.floor(box[0])), min(shape[0], math.ceil(box[1]) + 1)
    c0, c1 = max(0, math.floor(box[2])), min(shape[1], math.ceil(box[3]) + 1)
    return (slice(r0, r1), slice(c0, c1)) if r0 < r1 and c0 < c1 else None


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
    auto : bool
        Include :func:`auto_mask` (gaps, beamstop and arm, outliers).
    sigma, contrast : float
        :func:`auto_mask` parameters.
    boxes : list of [row0, row1, col0, col1]
        Rectangles (e.g. drawn on the beamstop).
    box_threshold : float or None
        Inside boxes, mask only pixels below this many counts (the seed's
        beamstop rule); None masks whole boxes.
    ellipses : list of [row0, row1, col0, col1]
        Bounding boxes of ellipses (drawn circles).
    polygons : list of [[rows...], [cols...]]
        Closed polygons (e.g. the beamstop holder).
    lines : list of [row0, col0, row1, col1]
        Segments masked :attr:`line_width` pixels wide (the holder arm).
    line_width : float
        Width of the ``lines`` in pixels.
    row_threshold, col_threshold : float
        :func:`line_mask` thresholds (0 = off).
    grow : int
        Pixels to dilate (> 0) or erode (< 0) the union by.
    invert : bool
        Mask what the rest leaves valid (detector flags stay masked).
    use_flags : bool
        Include :func:`flag_mask` of the frame.
    """

    auto: bool = False
    sigma: float = DEFAULT_SIGMA
    contrast: float = DEFAULT_CONTRAST
    boxes: list = field(default_factory=list)
    box_threshold: float | None = None
    ellipses: list = field(default_factory=list)
    polygons: list = field(default_factory=list)
    lines: list = field(default_factory=list)
    line_width: float = 8.0
    row_threshold: float = 0.0
    col_threshold: float = 0.0
    grow: int = 0
    invert: bool = False
    use_flags: bool = True

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "MaskSpec":
        return cls(**d)

    def check(self, shape: tuple[int, int]) -> "MaskSpec":
        """The spec itself if every value is in its range for a frame of ``shape``.

        The page's controls are checked on the server: a request can carry
        any value, and some (a large ``grow``, a huge drawn ellipse) would
        cost gigabytes. Within these ranges a mask costs a bounded amount
        of memory and time per pixel of the frame.

        Raises
        ------
        ValueError
            One sentence naming the first value out of range.
        """
        for name, (low, high) in CONTROL_RANGES.items():
            value = getattr(self, name)
            if name == "box_threshold" and value is None:
                continue
            if not _number(value) or not low <= value <= high:
                raise ValueError(f"mask setting {name} = {value!r} is outside its range {low:g} to {high:g}")
        if not float(self.grow).is_integer():
            raise ValueError(f"mask setting grow = {self.grow!r} must be a whole number of pixels")
        _check_shapes(self, shape)
        return self


#: Range of each mask control (inclusive); the page's sliders show the same ranges.
CONTROL_RANGES: dict[str, tuple[float, float]] = {
    "sigma": (5.0, 100.0),
    "contrast": (1.1, 5.0),
    "line_width": (1.0, 60.0),
    "row_threshold": (0.0, 1.0),
    "col_threshold": (0.0, 1.0),
    "grow": (-3, 10),
    "box_threshold": (0.0, 1e300),
}
#: Most drawn shapes in one mask, and most vertices of all its closed paths.
MAX_SHAPES = 500
MAX_VERTICES = 20_000
#: Most pixel steps the drawn shapes of one mask may cost (:func:`_shape_work`): a few seconds.
MAX_SHAPE_WORK = 250e6


def _number(value) -> bool:
    """Whether ``value`` is a finite real number (not a bool, not a string)."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool) \
        and bool(np.isfinite(value))


def _check_shapes(spec: MaskSpec, shape: tuple[int, int]) -> None:
    """ValueError unless the drawn shapes are few and lie within one frame size of the frame."""
    h, w = shape
    groups = {"box": spec.boxes, "circle": spec.ellipses, "line": spec.lines}
    if sum(map(len, groups.values())) + len(spec.polygons) > MAX_SHAPES:
        raise ValueError(f"the mask has more than {MAX_SHAPES} drawn shapes")
    if sum(len(p[0]) if p else 0 for p in spec.polygons) > MAX_VERTICES:
        raise ValueError(f"the drawn paths have more than {MAX_VERTICES} vertices in all")
    work = _shape_work(spec, shape)
    if work > MAX_SHAPE_WORK:
        raise ValueError(f"the drawn shapes would take too long to draw ({work / 1e6:.0f} million pixel "
                         f"steps, at most {MAX_SHAPE_WORK / 1e6:.0f}); draw fewer, smaller or simpler shapes")
    rows_first = {"box": (0, 1), "circle": (0, 1), "line": (0, 2)}  # indices that are rows
    for kind, items in groups.items():
        for item in items:
            if len(item) != 4:
                raise ValueError(f"a drawn {kind} needs 4 coordinates, got {len(item)}")
            for k, v in enumerate(item):
                _check_coordinate(v, h if k in rows_first[kind] else w, kind)
    for polygon in spec.polygons:
        if len(polygon) != 2 or len(polygon[0]) != len(polygon[1]):
            raise ValueError("a drawn path needs as many rows as columns")
        for v in polygon[0]:
            _check_coordinate(v, h, "path")
        for v in polygon[1]:
            _check_coordinate(v, w, "path")


def _shape_work(spec: MaskSpec, shape: tuple[int, int]) -> float:
    """Pixel steps that drawing the spec's shapes costs: the pixels of each shape's box
    inside the frame, times its vertices for a closed path (a point-in-polygon test
    per pixel and edge). About 50 million steps take a second on one core."""
    def area(r0, r1, c0, c1, pad=0.0):
        window = _clipped_box(shape, (min(r0, r1) - pad, max(r0, r1) + pad, min(c0, c1) - pad, max(c0, c1) + pad))
        return 0 if window is None else (window[0].stop - window[0].start) * (window[1].stop - window[1].start)

    try:
        work = sum(area(*b) for b in spec.boxes + spec.ellipses)
        work += sum(area(r0, r1, c0, c1, spec.line_width / 2) for r0, c0, r1, c1 in spec.lines)
        work += sum(area(min(p[0]), max(p[0]), min(p[1]), max(p[1])) * len(p[0]) for p in spec.polygons if p[0])
    except (IndexError, TypeError, ValueError):
        return 0.0  # malformed shapes: the checks below name what is wrong
    return float(work)


def _check_coordinate(value, side: int, kind: str) -> None:
    """ValueError unless a drawn coordinate is a number within one ``side`` of the frame."""
    if not _number(value) or not -side <= value <= 2 * side:
        raise ValueError(f"a drawn {kind} has a coordinate ({value!r}) far outside the frame")


def build_mask(
    image: np.ndarray,
    spec: MaskSpec,
    base: np.ndarray | None = None,
    auto: np.ndarray | None = None,
) -> np.ndarray:
    """The mask a :class:`MaskSpec` describes on a frame.

    Parameters
    ----------
    image : (H, W) ndarray
        Frame in counts.
    spec : MaskSpec
    base : (H, W) bool ndarray, optional
        A mask that came with the frame or from a mask file.
    auto : (H, W) bool ndarray, optional
        :func:`auto_mask` of this frame with the spec's parameters, when
        the caller has it already (it costs up to a second on 1 MP).

    Returns
    -------
    mask : (H, W) bool ndarray, True = missing
    """
    shape = np.shape(image)
    mask = combine(shape, base)
    for part in _spec_parts(image, spec, auto):  # one part at a time: 500 shapes never sit in memory at once
        mask |= part
    mask = grow(mask, spec.grow)
    if spec.invert:
        mask = ~mask
    return mask | flag_mask(image) if spec.use_flags else mask


def _spec_parts(image: np.ndarray, spec: MaskSpec, auto: np.ndarray | None):
    """The masks a spec's parts make, one (H, W) bool array at a time."""
    shape = np.shape(image)
    if spec.auto:
        yield auto if auto is not None else auto_mask(image, spec.sigma, spec.contrast)[0]
    for b in spec.boxes:
        yield box_mask(image, b, spec.box_threshold)
    for b in spec.ellipses:
        yield ellipse_mask(shape, b)
    for rows, cols in spec.polygons:
        yield polygon_mask(shape, rows, cols)
    for r0, c0, r1, c1 in spec.lines:
        yield thick_line_mask(shape, (r0, c0), (r1, c1), spec.line_width)
    if spec.row_threshold or spec.col_threshold:
        yield line_mask(image, spec.row_threshold, spec.col_threshold)


# -- detector module gaps ------------------------------------------------------

#: Module geometry (pixels): module rows, module columns, gap rows between
#: modules stacked vertically, gap columns between modules side by side.
DETECTOR_MODULES: dict[str, tuple[int, int, int, int]] = {
    "Pilatus": (195, 487, 17, 7),
    "Eiger": (514, 1030, 37, 10),
    "Eiger2": (512, 1028, 38, 12),
    "Pilatus4": (255, 513, 20, 7),
}


def _module_count(size: int, module: int, gap: int) -> int | None:
    n, rest = divmod(size + gap, module + gap)
    return n if rest == 0 and n >= 1 else None


def detectors_for_shape(shape: tuple[int, int]) -> list[str]:
    """Detector families whose module tiling gives exactly this frame shape."""
    return [name for name, (mh, mw, gr, gc) in DETECTOR_MODULES.items()
            if _module_count(shape[0], mh, gr) and _module_count(shape[1], mw, gc)]


def gap_mask(shape: tuple[int, int], detector: str | None = None) -> np.ndarray:
    """The gaps between detector modules for a frame of this shape.

    Parameters
    ----------
    shape : (H, W)
    detector : str, optional
        A key of :data:`DETECTOR_MODULES`; by default chosen from the shape
        when exactly one family fits.

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
    if detector not in DETECTOR_MODULES:
        raise ValueError(f"unknown detector {detector!r}; use one of {', '.join(DETECTOR_MODULES)}")
    mh, mw, gr, gc = DETECTOR_MODULES[detector]
    if not (_module_count(shape[0], mh, gr) and _module_count(shape[1], mw, gc)):
        raise ValueError(f"a {shape[0]}x{shape[1]} frame is not a tiling of {detector} modules")
    mask = np.zeros(shape, bool)
    for start in range(mh, shape[0], mh + gr):
        mask[start: start + gr, :] = True
    for start in range(mw, shape[1], mw + gc):
        mask[:, start: start + gc] = True
    return mask


# -- automatic masks -------------------------------------------------------------

def outlier_mask(
    image: np.ndarray,
    valid: np.ndarray,
    sigma: float = DEFAULT_SIGMA,
    center: tuple[float, float] | None = None,
) -> np.ndarray:
    """Hot pixels, zingers and dead pixels: isolated departures from the neighbours.

    A pixel is an outlier when it departs from the median of its 8
    neighbours by more than ``sigma`` Poisson standard deviations,
    sqrt(median + 1), and at most two of its neighbours do too (an edge of
    a sharp ring is a run of such pixels, a hot pixel or zinger is not).
    With a beam centre, bright outliers that share their ring (within a
    pixel of radius) with two or more others are kept as data: they are the
    grains of a spotty powder ring, not detector faults.

    Returns
    -------
    mask : (H, W) bool ndarray
    """
    img = np.where(valid, np.nan_to_num(np.asarray(image, np.float64)), 0.0)
    # invalid neighbours take the mean of the valid pixels around them, so
    # the edge of a shadow or gap does not make its neighbours look odd
    weight = ndimage.uniform_filter(valid.astype(np.float64), 5)
    local = ndimage.uniform_filter(img, 5) / np.maximum(weight, 1e-9)
    fallback = np.median(img[valid]) if valid.any() else 0.0
    filled = np.where(valid, img, np.where(weight > 1e-9, local, fallback))
    ring = np.ones((3, 3), bool)
    ring[1, 1] = False
    med = ndimage.median_filter(filled, footprint=ring, mode="nearest")
    with np.errstate(invalid="ignore"):
        z = np.abs(filled - med) / np.sqrt(np.clip(med, 0, None) + 1)
    odd = valid & (z > sigma)
    crowd = ndimage.convolve(odd.astype(np.int32), np.ones((3, 3), np.int32), mode="constant")
    odd &= crowd <= 3
    if center is not None and odd.any():
        ring = _ring_index(image.shape, center)
        bright = odd & (filled > med)
        per_ring = np.bincount(ring[bright], minlength=ring.max() + 3)
        near = per_ring + np.roll(per_ring, 1) + np.roll(per_ring, -1)
        odd &= ~(bright & (near[ring] >= 3))
    return odd


def _ring_index(shape: tuple[int, int], center: tuple[float, float]) -> np.ndarray:
    """(H, W) int64: each pixel's distance from the beam centre, rounded to whole pixels."""
    from .geometry import polar_coordinates

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


def ring_contrast(image: np.ndarray, valid: np.ndarray, center: tuple[float, float],
                  size: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """How much darker or brighter each pixel is than its ring: log(I / ring level).

    The frame is taken as log(1 + counts), invalid pixels take their ring's
    level, and a ``size`` x ``size`` median filter removes counting noise
    without blurring a shadow's edge. A ring's level is the median of the
    filtered frame over the ring, so the filter's rounding of sharp rings
    cancels out (:func:`_beamstop_level` for the rings inside the
    beamstop). The same comparison of each pixel on its own (its counts
    against its ring's median counts) comes with it, from the same rings.

    Parameters
    ----------
    image : (H, W) ndarray in counts
    valid : (H, W) bool ndarray, pixels with data
    center : (row, col) beam centre in pixels

    Returns
    -------
    filtered, own : (H, W) float32 ndarrays, natural log of the ratio (0 = as
        bright as the ring), of the median-filtered frame and of each pixel alone
    """
    if not valid.any():
        return np.zeros(image.shape, np.float32), np.zeros(image.shape, np.float32)
    y = np.log1p(np.clip(np.nan_to_num(np.asarray(image, np.float64)), 0, None)).astype(np.float32)
    ring = _ring_index(image.shape, center)
    raw = _ring_levels(ring, y, valid)
    filled = np.where(valid, y, raw[ring].astype(np.float32))
    smooth = ndimage.median_filter(filled, size=size, mode="nearest")
    filtered = smooth - _beamstop_level(_ring_levels(ring, smooth, valid))[ring]
    own = filled - _beamstop_level(raw)[ring]
    return filtered.astype(np.float32), own.astype(np.float32)


def _beamstop_level(level: np.ndarray) -> np.ndarray:
    """Ring levels with the rings inside the beamstop set to the level just outside it.

    Inside the beamstop every ring is dark all round, so its own median is no
    reference; up to the brightest ring within as many pixels again outside
    the beamstop's edge (where the profile first rises steeply), expect that
    ring's level.
    """
    rise = np.flatnonzero(level > level[0] + np.log(3.0))
    if rise.size:
        edge = rise[0]
        peak = edge + int(np.argmax(level[edge: 2 * edge + 3]))
        level = level.copy()
        level[:peak] = level[peak]
    return level


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


def shadow_mask(
    image: np.ndarray,
    valid: np.ndarray,
    center: tuple[float, float],
    contrast: float = DEFAULT_CONTRAST,
    margin: int = 0,
    bridge: int = 25,
) -> np.ndarray:
    """The beamstop and its holder arm: the dark region attached to the beam centre.

    Pixels more than ``contrast`` times darker than their ring
    (:func:`ring_contrast`) are dark. The dark region connected to the
    centre is the shadow of the beamstop and of the arm that holds it,
    opaque or semi-transparent (a thin arm passes half the beam). Invalid
    pixels within ``bridge`` pixels of a dark one connect it, so a module
    gap that cuts the arm (or runs through the beamstop) does not split the
    shadow, while a long gap does not chain unrelated dark spots to it.

    Parameters
    ----------
    image : (H, W) ndarray
        Frame in counts.
    valid : (H, W) bool ndarray
        Pixels with data (flags and gaps excluded).
    center : (row, col)
        Beam centre (:func:`dip_engine.geometry.estimate_center`).
    contrast : float
        How much darker than its ring a shadowed pixel is (> 1).
    margin : int
        Pixels added around the shadow.
    bridge : int
        Largest distance (pixels) across invalid pixels that still connects.

    Returns
    -------
    mask : (H, W) bool ndarray (empty when no dark region touches the centre)
    """
    if contrast <= 1:
        raise ValueError(f"contrast must be above 1 (times darker), got {contrast}")
    filtered, own = ring_contrast(image, valid, center)
    dark = valid & (filtered < -np.log(contrast))
    dark = ndimage.binary_opening(dark, structure=morphology.disk(1))
    near_dark = ndimage.distance_transform_edt(~dark) <= bridge if dark.any() else dark
    labels, _ = ndimage.label(dark | (~valid & near_dark))
    cr, cc = int(round(center[0])), int(round(center[1]))
    near = labels[max(0, cr - 3): cr + 4, max(0, cc - 3): cc + 4]
    ids = np.unique(near[near > 0])
    if ids.size == 0:
        return np.zeros(image.shape, bool)
    # a bright ring crossing a semi-transparent arm notches it: close the notches
    shadow = np.isin(labels, ids)
    shadow = ndimage.binary_fill_holes(ndimage.binary_closing(shadow, morphology.disk(2))) & valid
    # the filter window lets a shadow reach up to size // 2 pixels past its
    # edge at low counts, and rounds off a one-pixel penumbra at high counts:
    # peel edge pixels that are not dark on their own, or whose few counts
    # are not unlikely (Poisson p >= 5 %) in their ring; then take in
    # neighbours that are significantly dark on their own (3 Poisson sigmas)
    counts = np.clip(np.nan_to_num(np.asarray(image, np.float64)), 0, None)
    expected = (counts + 1) * np.exp(-own) - 1
    lit = own >= -np.log(contrast)
    doubtful = lit | (stats.poisson.cdf(counts, np.maximum(expected, 0)) >= 0.05)
    for _ in range(2):
        shadow &= ~(doubtful & (shadow & ~ndimage.binary_erosion(shadow)))
    significant = ~lit & valid & (expected - counts > 3 * np.sqrt(expected + 1))
    shadow |= ndimage.binary_dilation(shadow) & significant
    return grow(straight_arm(shadow, counts, expected, center, valid), margin)


def annulus_mask(shape: tuple[int, int], center: tuple[float, float], r_min: float, r_max: float) -> np.ndarray:
    """Pixels whose distance from the beam centre is in [r_min, r_max] (pixels)."""
    from .geometry import polar_coordinates

    check_range(r_min, r_max, "px")
    r, _ = polar_coordinates(shape, center)
    return (r >= r_min) & (r <= r_max)


def check_range(low: float, high: float, unit: str) -> None:
    """ValueError unless [low, high] is a ring range: finite numbers, 0 <= low < high."""
    if not (_number(low) and _number(high) and 0 <= low < high):
        raise ValueError(f"ring range {low!r} to {high!r} {unit} must be two finite numbers "
                         "with 0 <= low < high")


#: Units of :func:`ring_range_mask` besides pixels, as pyFAI names them.
RING_UNITS = ("q_nm^-1", "q_A^-1", "2th_deg", "2th_rad", "r_mm")


def ring_range_mask(shape: tuple[int, int], poni: str | Path, low: float, high: float,
                    unit: str = "q_nm^-1") -> np.ndarray:
    """Pixels whose scattering vector (or angle) lies in [low, high], from a pyFAI geometry.

    Parameters
    ----------
    shape : (H, W)
    poni : path of a pyFAI PONI file (distance, beam centre, tilts, wavelength, detector)
    low, high : range in ``unit``
    unit : one of :data:`RING_UNITS` (pyFAI's names)

    Returns
    -------
    mask : (H, W) bool ndarray

    Raises
    ------
    ValueError
        For an unknown unit, an unreadable PONI file, or pyFAI not installed.
    """
    if unit not in RING_UNITS:
        raise ValueError(f"unknown unit {unit!r}; use px or one of {', '.join(RING_UNITS)}")
    check_range(low, high, unit)
    try:
        import pyFAI
    except ImportError:
        raise ValueError("ring ranges in q or 2-theta need pyFAI: pip install pyFAI") from None
    try:  # pyFAI raises many kinds on a bad file, some only when the geometry is used
        values = pyFAI.load(str(poni)).array_from_unit(shape, "center", unit, scale=True)
    except Exception as exc:
        raise ValueError(f"{Path(poni).name}: not a usable PONI geometry ({type(exc).__name__})") from None
    return (values >= low) & (values <= high)


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
    from .geometry import estimate_center

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
