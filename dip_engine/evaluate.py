"""Score a healer without ground truth: hide known pixels, heal, compare.

The hidden pixels are shaped like real occlusions (beamstop-sized discs,
arm-like thick lines, gap-like rows and columns), placed on valid pixels
away from the existing mask. The score is the RMSE of log10(1 + I) on them.
Automatic masks are scored against hand-drawn references
(:func:`shadow_agreement`).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from skimage import draw

from .intensity import log10_counts, whole_counts


def log_rmse(predicted: np.ndarray, truth: np.ndarray) -> float:
    """RMSE of log10(1 + I) between two sets of counts."""
    return float(np.sqrt(np.mean((log10_counts(predicted) - log10_counts(truth)) ** 2)))


def poisson_floor(counts: np.ndarray) -> float:
    """RMSE in log10(1 + I) that Poisson noise alone gives a perfect estimate.

    sqrt(mean(I / ((1 + I) ln 10)^2)): the delta-method std of log10(1 + N)
    for N ~ Poisson(I), averaged over the pixels. Meaningful for raw counts.
    """
    c = np.clip(np.asarray(counts, np.float64), 0, None)
    return float(np.sqrt(np.mean(c / ((1 + c) * np.log(10)) ** 2)))


def poisson_floor_exact(means: np.ndarray) -> float:
    """RMSE in log10(1 + I) that Poisson noise alone gives a perfect estimate, from the
    pixels' mean counts.

    The variance of log10(1 + N) for N ~ Poisson(mean), summed exactly over N
    (the delta method of :func:`poisson_floor` underestimates it at a few
    counts: 0.184 instead of 0.221 at a mean of 2), averaged over the pixels.
    Means above 200 counts take the delta method, exact there to 0.1 %.
    """
    from .uncertainty import exact_poisson_log_variance

    var = exact_poisson_log_variance(np.asarray(means, np.float64).ravel())
    return float(np.sqrt(var.mean())) if var.size else 0.0


def local_means(image: np.ndarray, measured: np.ndarray, pixels: np.ndarray, size: int = 5) -> np.ndarray:
    """Mean counts around each of ``pixels`` (its ``size`` x ``size`` neighbours that were
    measured, itself left out): the Poisson mean :func:`poisson_floor_exact` needs."""
    from scipy import ndimage

    counts = np.where(measured, np.clip(np.asarray(image, np.float64), 0, None), 0.0)
    m = measured.astype(np.float64)
    sums = ndimage.uniform_filter(counts, size) * size * size - counts
    n = ndimage.uniform_filter(m, size) * size * size - m
    return (sums / np.maximum(n, 1))[pixels]


def occlusions(
    valid: np.ndarray,
    seed: int = 0,
    fraction: float = 0.04,
    center: tuple[float, float] | None = None,
    max_tries: int = 200,
) -> np.ndarray:
    """Known pixels to hide, shaped like real occlusions.

    Discs (radius ~ 2.5 % of the frame), thick line segments (width ~ 1 %,
    length ~ 20 %, random angle) and short gap-like row/column bands (height
    ~ 1.5 %) are drawn at random places until about ``fraction`` of the
    valid pixels is covered; only valid pixels are returned. With a beam
    centre, places closer to it than 5 % of the frame are avoided, since the
    real beamstop already sits there.

    Parameters
    ----------
    valid : (H, W) bool ndarray
    seed : int
    fraction : float
        Target share of valid pixels to hide.
    center : (row, col), optional

    Returns
    -------
    hidden : (H, W) bool ndarray, a subset of ``valid``
    """
    valid = np.asarray(valid, bool)
    h, w = valid.shape
    side = min(h, w)
    rng = np.random.default_rng(seed)
    hidden = np.zeros_like(valid)
    target = fraction * valid.sum()
    rows, cols = np.nonzero(valid)
    for i in range(max_tries):
        if hidden.sum() >= target:
            break
        k = rng.integers(len(rows))
        r0, c0 = rows[k], cols[k]
        if center is not None and np.hypot(r0 - center[0], c0 - center[1]) < 0.05 * side:
            continue
        shape = np.zeros_like(valid)
        kind = i % 3
        if kind == 0:
            rr, cc = draw.disk((r0, c0), max(2.0, 0.025 * side), shape=valid.shape)
            shape[rr, cc] = True
        elif kind == 1:
            angle = rng.uniform(0, np.pi)
            half = 0.1 * side
            r1, c1 = r0 + half * np.sin(angle), c0 + half * np.cos(angle)
            r2, c2 = r0 - half * np.sin(angle), c0 - half * np.cos(angle)
            width = max(1.0, 0.01 * side)
            dr, dc = width * np.cos(angle), -width * np.sin(angle)
            rr, cc = draw.polygon([r1 + dr, r2 + dr, r2 - dr, r1 - dr],
                                  [c1 + dc, c2 + dc, c2 - dc, c1 - dc], shape=valid.shape)
            shape[rr, cc] = True
        else:
            band = max(2, int(0.015 * side))
            length = int(0.3 * side)
            if rng.random() < 0.5:
                shape[r0: r0 + band, max(0, c0 - length // 2): c0 + length // 2] = True
            else:
                shape[max(0, r0 - length // 2): r0 + length // 2, c0: c0 + band] = True
        hidden |= shape & valid
    return hidden


def gap_copies(
    missing: np.ndarray,
    seed: int = 0,
    fraction: float = 0.04,
    min_size: int = 20,
    max_tries: int = 400,
    shapes: np.ndarray | None = None,
) -> np.ndarray:
    """Known pixels to hide, shaped like the frame's own missing regions.

    Each try takes one of the frame's missing regions (its module gaps, beamstop
    and arm: connected regions of at least ``min_size`` pixels, cut at a grid of
    a quarter of the frame so that a grid of module gaps gives gap segments), flips it
    left-right and/or up-down at random, and moves it to a random place; its
    pixels that land on valid, not yet hidden pixels are kept when they are at
    least half of it. Tries go on until about ``fraction`` of the valid pixels
    is hidden; regions larger than half of that are not copied. The real gaps are what healing must fill, so these
    copies rank healers the way the real gaps do; small generic shapes
    (:func:`occlusions`) rank them by small-hole interpolation.

    Parameters
    ----------
    missing : (H, W) bool ndarray
        The frame's missing pixels.
    seed : int
    fraction : float
        Target share of valid pixels to hide.
    min_size : int
        Smallest region copied (pixels); single dead pixels are not shapes.
    shapes : (H, W) bool ndarray, optional
        The missing pixels whose regions are copied (default: all of
        ``missing``; the regions to heal, without the excluded ones).

    Returns
    -------
    hidden : (H, W) bool ndarray, a subset of ``~missing``; all False when the
    frame has no region of ``min_size`` pixels.
    """
    missing = np.asarray(missing, bool)
    valid = ~missing
    hidden = np.zeros_like(missing)
    target = fraction * valid.sum()
    regions = _regions(missing if shapes is None else np.asarray(shapes, bool), min_size, target / 2)
    if not regions:
        return hidden
    rng = np.random.default_rng(seed)
    h, w = missing.shape
    for _ in range(max_tries):
        if hidden.sum() >= target:
            break
        shape = regions[rng.integers(len(regions))]
        if rng.random() < 0.5:
            shape = shape[:, ::-1]
        if rng.random() < 0.5:
            shape = shape[::-1]
        rh, rw = shape.shape
        r0, c0 = rng.integers(h - rh + 1), rng.integers(w - rw + 1)
        window = np.s_[r0: r0 + rh, c0: c0 + rw]
        landed = shape & valid[window] & ~hidden[window]
        if landed.sum() >= 0.5 * shape.sum():
            hidden[window] |= landed
    return hidden


def _regions(missing: np.ndarray, min_size: int, max_size: float) -> list[np.ndarray]:
    """The missing regions to copy, each a bool array over its bounding box: connected
    regions of ``min_size`` to ``max_size`` pixels once the mask is cut at a grid of a
    quarter of the frame (a grid of module gaps becomes gap segments)."""
    from scipy import ndimage

    pieces = missing.copy()
    tile = max(32, min(missing.shape) // 4)
    pieces[::tile, :] = False
    pieces[:, ::tile] = False
    labels, n = ndimage.label(pieces)
    sizes = np.bincount(labels.ravel(), minlength=n + 1)
    return [labels[box] == i for i, box in enumerate(ndimage.find_objects(labels), start=1)
            if min_size <= sizes[i] <= max_size]


#: Share of the fit's held-out pixels that copy the frame's own regions to heal; generic
#: shapes make up the rest, so that the blend weights do not hang on a few copied shapes.
COPIES_SHARE = 0.6


def holdout_pixels(missing: np.ndarray, seed: int, fraction: float, center=None,
                   shapes: np.ndarray | None = None) -> np.ndarray:
    """The fit's held-out pixels: copies of the frame's own missing regions
    (:func:`gap_copies`; of ``shapes`` only when given: the regions to heal, not
    the excluded ones), completed with generic occlusion shapes
    (:func:`occlusions`) where the copies fall short of ``fraction``.

    Returns
    -------
    hidden : (H, W) bool ndarray, a subset of ``~missing``
    """
    valid = ~np.asarray(missing, bool)
    hidden = gap_copies(missing, seed=seed, fraction=COPIES_SHARE * fraction, shapes=shapes)
    short = fraction - hidden.sum() / max(valid.sum(), 1)
    if short > 0.1 * fraction:
        hidden |= occlusions(valid & ~hidden, seed=seed, fraction=short * valid.sum() / max((valid & ~hidden).sum(), 1),
                             center=center)
    return hidden


def self_validate(
    image: np.ndarray,
    missing: np.ndarray,
    healer: Callable[[np.ndarray, np.ndarray], np.ndarray],
    seed: int = 0,
    center: tuple[float, float] | None = None,
    fraction: float = 0.04,
) -> dict:
    """Hide known pixels, heal with ``healer(image, missing | hidden)``, score them.

    Returns
    -------
    scores : dict
        ``rmse`` (log10(1 + I) on the hidden pixels), ``poisson_floor`` of
        the same pixels, ``pixels`` (how many were hidden).
    """
    hidden = occlusions(~missing, seed=seed, fraction=fraction, center=center)
    healed = healer(image, missing | hidden)
    truth = np.asarray(image, np.float64)[hidden]
    return {
        "rmse": log_rmse(healed[hidden], truth),
        "poisson_floor": poisson_floor(truth),
        "pixels": int(hidden.sum()),
    }


def classical_scores(
    image: np.ndarray,
    missing: np.ndarray,
    hidden: np.ndarray,
    symmetry,
    known: dict[str, float] | None = None,
) -> dict[str, float]:
    """Scores of the classical fills on the same held-out pixels as a fit.

    Parameters
    ----------
    image : (H, W) ndarray
        Frame in counts.
    missing : (H, W) bool ndarray
        Pixels without data.
    hidden : (H, W) bool ndarray
        Held-out valid pixels (``HealResult.hidden``).
    symmetry : dip_engine.symmetry.Symmetry or None
        The frame's symmetry (``HealResult.symmetry``); without one only
        biharmonic is scored.
    known : dict, optional
        Scores already measured on these pixels (``HealResult.blend["fill_scores"]``):
        those fills are not run again.

    Returns
    -------
    scores : dict
        RMSE of log10(1 + I) per fill of :data:`dip_engine.baselines.FILLS`
        (biharmonic only, without a symmetry), and
        'poisson_floor' of the held-out pixels when they hold integer counts.
    """
    from .baselines import FILLS

    if not hidden.any():
        return {}
    truth = np.asarray(image, np.float64)[hidden]
    fills = {name: fill for name, fill in FILLS.items() if symmetry is not None or name == "biharmonic"}
    known = known or {}
    scores = {name: known[name] if name in known else log_rmse(fill(image, missing | hidden, symmetry)[hidden], truth)
              for name, fill in fills.items()}
    if whole_counts(truth):  # the floor is meaningful for raw counts only
        scores["poisson_floor"] = poisson_floor(truth)
    return scores


def profiles(
    image: np.ndarray,
    healed: np.ndarray,
    missing: np.ndarray,
    center: tuple[float, float],
    fills: dict | None = None,
    excluded: np.ndarray | None = None,
) -> dict:
    """Azimuthally averaged I(r) and I(chi) of the original, the healed frame and the classical fills.

    The original is averaged over its valid pixels only; healed frames over
    every pixel. I(chi) is taken over the annulus between the 25th and 75th
    percentile of the missing pixels' radii (where healing matters most).

    Parameters
    ----------
    image, healed : (H, W) ndarray
        Frame and healed frame in counts.
    missing : (H, W) bool ndarray
    center : (row, col)
    fills : dict, optional
        Each fill of :data:`dip_engine.baselines.FILLS` at the missing pixels,
        (m,) counts (a blended result's ``fills``); run here when not given.
    excluded : (H, W) bool ndarray, optional
        Pixels with no physical data, left out of every profile.

    Returns
    -------
    profiles : dict
        ``radius`` (pixels), ``chi`` (degrees), ``chi_range`` ([r_min, r_max]),
        and per method ('original', 'healed', then each fill by name) the
        lists ``I_r`` and ``I_chi`` (NaN -> None), JSON-compatible;
        ``healed_share``: the share (0-1) of each bin's pixels that were healed,
        as ``I_r`` and ``I_chi``.
    """
    from .baselines import FILLS
    from .geometry import azimuthal_profile, polar_coordinates, radial_profile
    from .symmetry import Symmetry

    if fills is None:
        point = Symmetry(tuple(center), (), isotropic=True)  # the ring fills read the centre only
        fills = {name: fill(image, missing, point)[missing] for name, fill in FILLS.items() if name != "symmetry"}
    everywhere = np.ones(missing.shape, bool) if excluded is None else ~np.asarray(excluded, bool)
    polar = polar_coordinates(missing.shape, center)
    lo, hi = np.percentile(polar[0][missing], [25, 75]) if missing.any() else (0.0, float(polar[0].max()))
    out = {"chi_range": [float(lo), float(hi)], "methods": {}}
    for name, (values, valid) in _profiled_frames(image, healed, missing, fills, everywhere).items():
        radius, i_r = radial_profile(values, valid, center, polar=polar)
        chi, i_chi = azimuthal_profile(values, valid, center, lo, hi, polar=polar)
        out["radius"], out["chi"] = radius.tolist(), chi.tolist()
        out["methods"][name] = {"I_r": _clean(i_r), "I_chi": _clean(i_chi)}
    share = (missing & everywhere).astype(np.float64)  # the mean of 0/1 over each bin: the share healed
    out["healed_share"] = {"I_r": _clean(radial_profile(share, everywhere, center, polar=polar)[1]),
                           "I_chi": _clean(azimuthal_profile(share, everywhere, center, lo, hi, polar=polar)[1])}
    return out


def _clean(values) -> list:
    """A profile as a JSON list, None for NaN."""
    return [None if not np.isfinite(v) else float(v) for v in values]


def _profiled_frames(image, healed, missing, fills: dict, everywhere) -> dict:
    """name -> (frame in counts, pixels to average) for :func:`profiles`: the original over
    its valid pixels, the healed frame and each fill over ``everywhere``."""
    counts = np.asarray(image, np.float64)
    frames = {"original": (counts, ~missing), "healed": (np.asarray(healed, np.float64), everywhere)}
    for name, values in fills.items():
        frame = counts.copy()
        frame[missing] = values
        frames[name] = (frame, everywhere)
    return frames


def mirror_check(image: np.ndarray, healed: np.ndarray, missing: np.ndarray,
                 center: tuple[float, float]) -> dict | None:
    """An empirical check of the healed pixels against Friedel's law.

    Where a healed pixel's point mirror through the beam centre was measured,
    |log10(1 + healed) - log10(1 + mirror)| says how far the healing is from
    what symmetry predicts, next to the uncertainty map's own estimate.

    Returns
    -------
    check : dict or None
        ``pixels`` (healed pixels with a measured mirror) and ``rms`` of the
        difference in log10(1 + I); None when no healed pixel has one.
    """
    from .geometry import mirror_image
    from .intensity import log_counts

    valid = ~missing
    mirrored, available = mirror_image(log_counts(image, valid), valid, center)
    pairs = missing & available
    if not pairs.any():
        return None
    own = np.log1p(np.clip(np.asarray(healed, np.float64)[pairs], 0, None))
    diff = (own - mirrored[pairs]) / np.log(10)
    return {"pixels": int(pairs.sum()), "rms": float(np.sqrt(np.mean(diff ** 2)))}


def shadow_agreement(parts: dict[str, np.ndarray], reference: np.ndarray) -> tuple[float, float]:
    """How well an automatic beamstop + arm mask matches a hand-drawn one.

    Parameters
    ----------
    parts : dict of (H, W) bool arrays
        :func:`dip_engine.masks.auto_mask_parts`: ``flags``, ``gaps``, ``beamstop_and_arm``.
    reference : (H, W) bool ndarray
        The beamstop and arm drawn by hand.

    Returns
    -------
    iou : float
        Intersection over union, taken outside the module gaps and outside
        flagged pixels that are not in the reference (those are the flags'
        business); flagged pixels inside it count as found.
    over : float
        Fraction of the frame masked as beamstop or arm that the reference
        leaves valid.
    """
    flags, gaps, shadow = parts["flags"], parts["gaps"], parts["beamstop_and_arm"]
    domain = ~gaps & ~(flags & ~reference)
    found = (shadow | flags) & domain
    ref = reference & domain
    iou = (found & ref).sum() / max((found | ref).sum(), 1)
    over = (shadow & ~reference & ~flags & ~gaps).sum() / reference.size
    return float(iou), float(over)
