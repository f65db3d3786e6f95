"""Masks of missing pixels: every builder returns a (H, W) bool array, True = missing.

Each builder is a pure function of the frame (or its shape) and its
parameters, so the page, the CLI and the tests make the same pixels.
Coordinates are (row, column) in pixels, row 0 at the top, as numpy and
fabio index a frame. One concept per module:

- :mod:`.shapes`: drawn shapes (box, ellipse, polygon, thick line), sparse
  rows and columns, grow, combine, summary;
- :mod:`.spec`: :class:`MaskSpec`, the mask as data, its range checks, and
  :func:`build_mask`;
- :mod:`.detectors`: detector flags and module gaps (a registry of detector
  families, pyFAI's definitions where pyFAI is installed);
- :mod:`.outliers`: hot and dead pixels, zingers;
- :mod:`.beamstop`: beamstop and arm shadows; :mod:`.arm`: a straight arm
  redrawn as a band;
- :mod:`.rings`: ring statistics and ring ranges (pixels, or q / 2-theta
  from a PONI geometry);
- :mod:`.grazing`: the GISAXS beamstop rod, zero-count shadows;
- :mod:`.outside`: regions with no physical data (outside the window), to
  exclude rather than heal;
- :mod:`.auto`: the automatic mask.
"""

from .auto import auto_mask, auto_mask_parts, auto_mask_report
from .beamstop import DEFAULT_CONTRAST, ring_contrast, shadow_mask
from .detectors import DETECTORS, Detector, detectors_for_shape, flag_mask, gap_mask
from .outliers import DEFAULT_SIGMA, outlier_mask
from .rings import RING_UNITS, annulus_mask, check_range, ring_range_mask
from .shapes import box_mask, combine, ellipse_mask, grow, line_mask, polygon_mask, summary, thick_line_mask
from .arm import straight_arm
from .outside import outside_mask
from .spec import (AUTO_EXCLUDABLE, CONTROL_RANGES, DEFAULT_EXCLUDE, EXCLUDABLE, MAX_SHAPE_WORK, MAX_SHAPES,
                   MAX_VERTICES, MaskSpec, build_exclusion, build_mask)

__all__ = [
    "AUTO_EXCLUDABLE", "CONTROL_RANGES", "DEFAULT_CONTRAST", "DEFAULT_EXCLUDE", "DEFAULT_SIGMA", "DETECTORS",
    "Detector", "EXCLUDABLE", "MAX_SHAPES",
    "MAX_SHAPE_WORK", "MAX_VERTICES", "MaskSpec", "RING_UNITS", "annulus_mask", "auto_mask", "auto_mask_parts",
    "auto_mask_report",
    "box_mask", "build_exclusion", "build_mask", "check_range", "combine", "detectors_for_shape", "ellipse_mask", "flag_mask",
    "gap_mask", "grow", "line_mask", "outlier_mask", "outside_mask", "polygon_mask", "ring_contrast", "ring_range_mask",
    "shadow_mask", "straight_arm", "summary", "thick_line_mask",
]
