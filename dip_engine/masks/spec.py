"""The mask as data: :class:`MaskSpec` (drawn shapes and control values), its
checks against the controls' ranges, and :func:`build_mask`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from .auto import auto_mask, auto_mask_report
from .beamstop import DEFAULT_CONTRAST
from .detectors import flag_mask
from .outliers import DEFAULT_SIGMA
from .outside import outside_mask
from .rings import RING_UNITS, check_range, ring_range_mask
from .shapes import (_clipped_box, box_mask, combine, ellipse_mask, finite_number, grow, line_mask,
                     polygon_mask, thick_line_mask)


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
    geometry : dict or None
        The frame's pyFAI geometry (:func:`dip_engine.azimuthal.load_geometry`):
        a named detector's own gap mask is used by the auto mask, and
        ``rings`` are in its units.
    rings : list of [low, high]
        Ring ranges to mask, in ``ring_unit`` (e.g. a Kapton or ice ring).
    ring_unit : str
        One of :data:`~dip_engine.masks.RING_UNITS`.
    exclude : list of str
        The parts (keys of :data:`EXCLUDABLE`: the area outside the window,
        any part of the auto mask, the drawn shapes, the mask file, the ring
        ranges) that hold no physical data:
        they are left out of the fit and stay flagged in every output (NaN
        in float files, -1 in integer ones, 2 in the mask file) instead of
        being healed.
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
    geometry: dict | None = None
    rings: list = field(default_factory=list)
    ring_unit: str = "q_nm^-1"
    exclude: list = field(default_factory=list)

    @property
    def detector(self) -> str | None:
        """pyFAI's name of the geometry's detector, None for none or a generic one."""
        name = (self.geometry or {}).get("detector")
        return name if name and name != "Detector" else None

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
            if not finite_number(value) or not low <= value <= high:
                raise ValueError(f"mask setting {name} = {value!r} is outside its range {low:g} to {high:g}")
        if not float(self.grow).is_integer():
            raise ValueError(f"mask setting grow = {self.grow!r} must be a whole number of pixels")
        _check_shapes(self, shape)
        self._check_rings(shape)
        return self

    def _check_rings(self, shape: tuple[int, int]) -> None:
        """ValueError unless the geometry fits the frame and the rings are ranges in its units."""
        from ..azimuthal import load_geometry

        if self.geometry is not None:
            load_geometry(self.geometry, shape)
        if not isinstance(self.rings, list) or len(self.rings) > MAX_RINGS:
            raise ValueError(f"the mask has more than {MAX_RINGS} ring ranges")
        if self.rings and self.geometry is None:
            raise ValueError("ring ranges in q or 2θ need the frame's geometry (a PONI file)")
        if not isinstance(self.exclude, list) or not set(self.exclude) <= set(EXCLUDABLE):
            raise ValueError(f"the excluded parts must be among {', '.join(EXCLUDABLE)}")
        if self.ring_unit not in RING_UNITS:
            raise ValueError(f"ring unit must be one of {', '.join(RING_UNITS)}")
        for ring in self.rings:
            if not isinstance(ring, (list, tuple)) or len(ring) != 2:
                raise ValueError("a ring range needs two numbers, low and high")
            check_range(*ring, self.ring_unit)


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
#: The parts of the auto mask (keys of :func:`auto_mask_parts`) that may be excluded, as the page names them.
AUTO_EXCLUDABLE = {
    "horizon": "below the sample horizon (grazing incidence; proposed)",
    "shadows": "shadows joined to the border (flight tube, window; proposed)",
    "beamstop_and_arm": "beamstop and arm (or rod)",
    "gaps": "module gaps",
    "flags": "pixels the detector flags",
    "outliers": "hot and dead pixels",
}
#: The parts of a mask that may be excluded (no physical data) instead of healed, as the page names them.
EXCLUDABLE = {
    "outside": "outside the detector window (large masked regions joined to the border; proposed)",
    **AUTO_EXCLUDABLE,
    "drawn": "drawn shapes",
    "file": "the mask file",
    "rings": "ring ranges",
}
#: What is excluded unless the user says otherwise: the parts that hold no physical data.
DEFAULT_EXCLUDE = ("outside", "horizon", "shadows")
#: Most ring ranges in one mask.
MAX_RINGS = 20
MAX_VERTICES = 20_000
#: Most pixel steps the drawn shapes of one mask may cost (:func:`_shape_work`): a few seconds.
MAX_SHAPE_WORK = 250e6


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
    if not finite_number(value) or not -side <= value <= 2 * side:
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


def build_exclusion(image: np.ndarray, spec: MaskSpec, mask: np.ndarray,
                    base: np.ndarray | None = None, auto_parts: dict | None = None) -> np.ndarray:
    """The pixels of ``mask`` (:func:`build_mask` of ``spec``) that the spec excludes: no
    physical data, not to be healed (see :attr:`MaskSpec.exclude`).

    ``base``: the frame's own mask and the user's mask file (the 'file' part).
    ``auto_parts``: the auto mask's parts (:func:`auto_mask_report`), when the
    caller has them; else they are found again if the spec excludes one.
    """
    shape = np.shape(image)
    excluded = np.zeros(shape, bool)
    if "outside" in spec.exclude:
        excluded |= outside_mask(mask)
    if spec.auto and set(spec.exclude) & set(AUTO_EXCLUDABLE):
        if auto_parts is None:
            auto_parts = auto_mask_report(image, spec.sigma, spec.contrast, spec.detector)[0]
        for name in set(spec.exclude) & set(AUTO_EXCLUDABLE):
            excluded |= auto_parts[name]
    if "file" in spec.exclude and base is not None:
        excluded |= np.asarray(base, bool)
    if "drawn" in spec.exclude:
        for part in _drawn_parts(image, spec):
            excluded |= part
    if "rings" in spec.exclude:
        for low, high in spec.rings:
            excluded |= ring_range_mask(shape, spec.geometry, low, high, spec.ring_unit)
    return excluded & mask


def _spec_parts(image: np.ndarray, spec: MaskSpec, auto: np.ndarray | None):
    """The masks a spec's parts make, one (H, W) bool array at a time."""
    if spec.auto:
        yield auto if auto is not None else auto_mask(image, spec.sigma, spec.contrast, spec.detector)[0]
    yield from _drawn_parts(image, spec)
    if spec.row_threshold or spec.col_threshold:
        yield line_mask(image, spec.row_threshold, spec.col_threshold)
    for low, high in spec.rings:
        yield ring_range_mask(np.shape(image), spec.geometry, low, high, spec.ring_unit)


def _drawn_parts(image: np.ndarray, spec: MaskSpec):
    """The masks of the spec's drawn shapes, one at a time."""
    shape = np.shape(image)
    for b in spec.boxes:
        yield box_mask(image, b, spec.box_threshold)
    for b in spec.ellipses:
        yield ellipse_mask(shape, b)
    for rows, cols in spec.polygons:
        yield polygon_mask(shape, rows, cols)
    for r0, c0, r1, c1 in spec.lines:
        yield thick_line_mask(shape, (r0, c0), (r1, c1), spec.line_width)
