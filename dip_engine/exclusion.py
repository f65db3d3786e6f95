"""Pixels with no physical data (outside the window, below a GISAXS horizon): left out of
the heal, NaN in its result.

Excluded regions can be most of a frame (the part of `gisaxs_GISAXS_12` below its
sample horizon is 41 % of it). Filling them would cost the fit and the classical
fills time for pixels that are thrown away, so a heal works on the smallest
box holding every pixel that is not excluded (:func:`crop_box`), and its
result is put back into the whole frame (:func:`uncrop`) with the excluded
pixels NaN (:func:`exclude`).
"""

from __future__ import annotations

import dataclasses

import numpy as np

#: Pixels of context kept around the box of the pixels that are not excluded.
CROP_MARGIN = 16
#: A box this share of the frame or more is not worth cropping to.
CROP_WORTH = 0.9


def crop_box(excluded: np.ndarray | None, shape: tuple[int, int], min_side: int) -> tuple[slice, slice] | None:
    """The box (row slice, column slice) of the pixels not ``excluded``, grown by
    ``CROP_MARGIN``; None when nothing is excluded, the box is nearly the whole frame,
    or a side would be shorter than ``min_side``."""
    if excluded is None or not np.any(excluded):
        return None
    keep = ~np.asarray(excluded, bool)
    if not keep.any():
        return None
    rows, cols = np.flatnonzero(keep.any(axis=1)), np.flatnonzero(keep.any(axis=0))
    r0, r1 = max(0, rows[0] - CROP_MARGIN), min(shape[0], rows[-1] + 1 + CROP_MARGIN)
    c0, c1 = max(0, cols[0] - CROP_MARGIN), min(shape[1], cols[-1] + 1 + CROP_MARGIN)
    if (r1 - r0) * (c1 - c0) >= CROP_WORTH * shape[0] * shape[1] or min(r1 - r0, c1 - c0) < min_side:
        return None
    return slice(r0, r1), slice(c0, c1)


def shifted(config, box: tuple[slice, slice]):
    """The config with its beam centre and symmetry centre in the box's pixels."""
    dr, dc = box[0].start, box[1].start
    center = None if config.center is None else [config.center[0] - dr, config.center[1] - dc]
    symmetry = config.symmetry
    if symmetry and symmetry.get("center") is not None:
        symmetry = {**symmetry, "center": [symmetry["center"][0] - dr, symmetry["center"][1] - dc]}
    return dataclasses.replace(config, center=center, symmetry=symmetry)


def whole_progress(progress, box: tuple[slice, slice], shape: tuple[int, int]):
    """``progress`` for a fit of the frame cropped to ``box``: each
    :class:`~dip_engine.config.FitProgress` it receives previews the whole frame
    (``shape``), NaN outside the box (excluded: never shown as healed); None stays None."""
    if progress is None:
        return None

    def whole(p):
        def preview():
            return in_whole(p.preview(), box, shape, np.nan, np.float64)

        return progress(dataclasses.replace(p, preview=preview if p.preview is not None else None))

    return whole


def in_whole(part: np.ndarray, box: tuple[slice, slice], shape: tuple[int, int], fill, dtype) -> np.ndarray:
    """A (``shape``) array of ``dtype`` holding ``part`` in ``box`` and ``fill`` elsewhere."""
    out = np.full(shape, fill, dtype)
    out[box] = part
    return out


def uncrop(result, box: tuple[slice, slice], image: np.ndarray, missing: np.ndarray, config):
    """A :class:`~dip_engine.fit.HealResult` of the frame cropped to ``box``, as one of the
    whole frame: its frames pasted into the whole (the pixels outside the box, all
    missing, keep the frame's values until :func:`exclude`), its per-pixel values at the
    missing pixels put in the whole frame's order (NaN outside the box), its centres
    moved back, and ``config`` (the whole frame's) restored."""
    def at_missing(values):
        if values is None:
            return None
        out = np.full(np.shape(image), np.nan)
        out[box][result.missing] = values
        return out[missing]

    healed = np.array(image, dtype=np.promote_types(result.healed.dtype, np.float32))
    healed[box] = result.healed
    dr, dc = box[0].start, box[1].start
    center = None if result.center is None else (result.center[0] + dr, result.center[1] + dc)
    symmetry = result.symmetry
    if symmetry is not None:
        symmetry = dataclasses.replace(symmetry, center=(symmetry.center[0] + dr, symmetry.center[1] + dc))
    fills = None if result.fills is None else {name: at_missing(v) for name, v in result.fills.items()}
    shape = np.shape(image)
    return dataclasses.replace(
        result, healed=healed, missing=missing, hidden=in_whole(result.hidden, box, shape, False, bool),
        uncertainty=in_whole(result.uncertainty, box, shape, 0, np.float32), center=center, symmetry=symmetry,
        config=config, fills=fills, network=at_missing(result.network), expected=at_missing(result.expected))


def exclude(result, excluded: np.ndarray | None):
    """The result with its ``excluded`` pixels NaN in the healed frame, the network's and
    the fills' values and the expected counts, and 0 in the uncertainty (and recorded in
    ``result.excluded``); unchanged without any."""
    if excluded is None or not np.any(excluded):
        return result
    excluded = np.asarray(excluded, bool) & result.missing
    healed = np.asarray(result.healed).astype(np.promote_types(result.healed.dtype, np.float32))
    healed[excluded] = np.nan
    uncertainty = np.where(excluded, 0, result.uncertainty).astype(np.float32)
    gone = excluded[result.missing]

    def blank(values):
        return None if values is None else np.where(gone, np.nan, values)

    fills = None if result.fills is None else {name: blank(v) for name, v in result.fills.items()}
    return dataclasses.replace(result, healed=healed, uncertainty=uncertainty, excluded=excluded, fills=fills,
                               network=blank(result.network), expected=blank(result.expected))
