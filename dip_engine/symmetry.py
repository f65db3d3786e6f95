"""Which symmetry a frame has: its centre, and the operations that hold.

Frames are not all rings. A powder or solution frame is isotropic (any
rotation about the beam maps it onto itself); a fibre or oriented polymer
has the point mirror (Friedel) and two perpendicular mirror axes, the
equator and the meridian, often tilted by a few degrees; a grazing-incidence
(GISAXS) frame has only the left-right mirror about the specular column, and
nothing below the sample horizon. :func:`detect_symmetry` measures which of
these holds instead of assuming one; :func:`partners` maps every pixel to its
images under the operations that hold (what the symmetry fill and the fit's
supervision read).

Agreement of an operation T is the Pearson correlation of the block-averaged
log frame f with f∘T over the pixel pairs that are both valid. Correlation is
high for any operation on a frame dominated by its radial fall-off, so an
operation *holds* when it removes at least half of the mismatch that a
generic rotation about the same centre leaves,
1 - (1 - agreement) / (1 - rotation_agreement) >= 0.5; on an isotropic frame
(no mirror axis stands out from the others, or generic rotations agree to
0.99) every operation holds.

Angles are those of a mirror axis from the column axis, in degrees in
(-90, 90], counter-clockwise as the frame is drawn (row 0 at the top): 0 is a
horizontal axis (the equator of an upright fibre), 90 a vertical one (the
specular column of a GISAXS frame).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from scipy import fft, ndimage

from .geometry import block_log, estimate_center

#: Longest side (pixels) of the block-averaged frame the search runs on.
SEARCH_SIDE = 256
#: An operation holds when it removes at least this share of a generic rotation's mismatch.
HOLDS_SHARE = 0.5
#: A frame is anisotropic when its best mirror axis removes at least this share of a generic
#: rotation's mismatch (measured: 0.40 and 0.53 on the two powder frames, 0.79 to 0.99 on
#: fibres and GISAXS).
ANISOTROPY_SHARE = 0.65
#: Generic rotations agreeing this well make a frame isotropic whatever its mirrors do (the shares
#: of a mismatch that small are noise: 0.998 on the Pilatus 300K rings, 0.945 to 0.968 on fibres).
ISOTROPIC_ROTATION = 0.99
#: Rotations (degrees) whose mean agreement is the generic reference.
_GENERIC_ROTATIONS = (37.0, 71.0, 113.0, 151.0)
#: Least share of the valid pixels an operation's valid pairs must cover to be measured.
_MIN_PAIRS = 0.1


@dataclass(frozen=True)
class Operation:
    """One symmetry operation about the frame's centre.

    Attributes
    ----------
    kind : {'point', 'mirror'}
    angle_deg : float or None
        Mirror axis angle from the column axis (degrees, (-90, 90]); None for the point mirror.
    agreement : float
        Correlation (0-1) of the log frame with its image under the operation, on valid pairs.
    holds : bool
    """

    kind: str
    angle_deg: float | None
    agreement: float
    holds: bool

    def to_dict(self) -> dict:
        agreement = round(float(self.agreement), 4) if np.isfinite(self.agreement) else None
        d = {"kind": self.kind, "agreement": agreement, "holds": bool(self.holds)}
        if self.kind == "mirror":
            d["angle_deg"] = round(float(self.angle_deg), 2)
        return d


@dataclass(frozen=True)
class Symmetry:
    """The symmetry of one frame (:func:`detect_symmetry`), or the user's override of it.

    Attributes
    ----------
    center : (row, col)
        Beam centre in pixels: the point-mirror centre, or, without one, the direct beam on
        the mirror axis (the lower of the bright spots on it; the specular spot lies above).
    operations : tuple of Operation
        The point mirror and the two perpendicular mirror axes, each measured.
    isotropic : bool
        No mirror axis stands out: the ring (polar) model is the frame's prior.
    rotation_agreement : float
        Agreement of generic rotations about the centre (the reference of ``holds``).
    """

    center: tuple[float, float]
    operations: tuple[Operation, ...]
    isotropic: bool
    rotation_agreement: float = float("nan")

    def holding(self) -> tuple[Operation, ...]:
        """The operations that hold."""
        return tuple(op for op in self.operations if op.holds)

    def describe(self) -> str:
        """A short phrase for the page: 'isotropic', 'point + mirrors at -1.5° and 88.5°', ..."""
        if self.isotropic:
            return "isotropic (rings)"
        parts = [("point mirror" if op.kind == "point" else f"mirror at {op.angle_deg:.1f}°")
                 for op in self.holding()]
        return " + ".join(parts) if parts else "none"

    def to_dict(self) -> dict:
        return {"center": [round(float(c), 2) for c in self.center], "isotropic": self.isotropic,
                "rotation_agreement": round(float(self.rotation_agreement), 4)
                if np.isfinite(self.rotation_agreement) else None,
                "operations": [op.to_dict() for op in self.operations]}

    @classmethod
    def from_dict(cls, d: dict, shape: tuple[int, int] | None = None) -> "Symmetry":
        """A symmetry from its JSON form (a job's config or the user's override); one-sentence
        ValueError for anything malformed."""
        from .geometry import check_center

        try:
            center = check_center(d["center"], shape) if shape else tuple(float(c) for c in d["center"])
            ops = tuple(_operation(o) for o in d["operations"])
            isotropic = bool(d.get("isotropic", False))
        except (KeyError, TypeError, IndexError):
            raise ValueError("the symmetry must give 'center' (row, col) and a list of 'operations', each with "
                             "'kind' ('point' or 'mirror') and, for a mirror, 'angle_deg'") from None
        if len(ops) > 8:
            raise ValueError("the symmetry may list at most 8 operations")
        rotation = d.get("rotation_agreement")
        return cls(center, ops, isotropic, float("nan") if rotation is None else float(rotation))


def _operation(o: dict) -> Operation:
    kind = o["kind"]
    if kind not in ("point", "mirror"):
        raise ValueError(f"a symmetry operation is 'point' or 'mirror', not {kind!r}")
    angle = None
    if kind == "mirror":
        angle = float(o["angle_deg"])
        if not np.isfinite(angle):
            raise ValueError("a mirror axis angle must be a finite number of degrees")
        angle = _wrap_angle(angle)
    agreement = o.get("agreement")
    return Operation(kind, angle, float("nan") if agreement is None else float(agreement), bool(o.get("holds", True)))


def _wrap_angle(angle: float) -> float:
    """An axis angle in degrees folded into (-90, 90]."""
    a = (angle + 90.0) % 180.0 - 90.0
    return 90.0 if a == -90.0 else a


def transform(rows: np.ndarray, cols: np.ndarray, center, op: Operation):
    """(rows, cols) of points mapped by ``op`` about ``center`` (float arrays)."""
    dr, dc = rows - center[0], cols - center[1]
    if op.kind == "point":
        return center[0] - dr, center[1] - dc
    t = np.deg2rad(op.angle_deg)
    ur, uc = -np.sin(t), np.cos(t)  # the axis direction, row axis pointing down
    along = dr * ur + dc * uc
    return center[0] + 2 * along * ur - dr, center[1] + 2 * along * uc - dc


def group(ops: tuple[Operation, ...]) -> tuple[Operation, ...]:
    """The holding operations and what they compose to.

    Two perpendicular mirrors compose to the point mirror; the point mirror and
    one mirror give the perpendicular mirror. The result has each operation once.
    """
    mirrors = sorted({op.angle_deg for op in ops if op.kind == "mirror"})
    point = any(op.kind == "point" for op in ops)
    if point:
        mirrors = sorted(set(mirrors) | {_wrap_angle(a + 90) for a in mirrors})
    if len(mirrors) >= 2 and any(abs(abs(a - b) - 90) < 1e-6 for a in mirrors for b in mirrors):
        point = True
    out = [Operation("point", None, 1.0, True)] if point else []
    return tuple(out + [Operation("mirror", a, 1.0, True) for a in mirrors])


def partners(values: np.ndarray, valid: np.ndarray, center, ops) -> tuple[np.ndarray, np.ndarray]:
    """Each pixel's values at its images under ``ops``, and whether they were measured.

    Bilinear interpolation; an image counts as measured only when the four pixels
    it is read from are valid.

    Parameters
    ----------
    values : (H, W) ndarray
    valid : (H, W) bool ndarray
    center : (row, col)
    ops : sequence of Operation

    Returns
    -------
    images : (k, H, W) float64 ndarray
    available : (k, H, W) bool ndarray
    """
    rows, cols = np.indices(values.shape, dtype=np.float64)
    images, available = [], []
    for op in ops:
        image, measured = _read_at(values, valid, transform(rows, cols, center, op))
        images.append(image)
        available.append(measured)
    shape = (len(images),) + values.shape
    if not images:
        return np.zeros(shape), np.zeros(shape, bool)
    return np.array(images), np.array(available)


def _read_at(values: np.ndarray, valid: np.ndarray, coords) -> tuple[np.ndarray, np.ndarray]:
    """``values`` read bilinearly at (rows, cols) ``coords``, and where all four pixels read
    were valid."""
    coords = np.asarray(coords)
    image = ndimage.map_coordinates(np.where(valid, values, 0.0), coords, order=1, mode="constant", cval=0.0)
    support = ndimage.map_coordinates(valid.astype(np.float64), coords, order=1, mode="constant", cval=0.0)
    return image, support > 1 - 1e-9


def _inverse_log_variance(y: np.ndarray) -> np.ndarray:
    """1 / the Poisson variance of log(1 + N) at log(1 + I) = y: (1 + I)^2 / max(I, 1)."""
    counts = np.expm1(np.clip(y, 0, None))
    return (1 + counts) ** 2 / np.maximum(counts, 1)


def fold(y: np.ndarray, valid: np.ndarray, symmetry: "Symmetry", with_weight: bool = False):
    """Each pixel's noise-weighted mean over its valid symmetric partners, in log space.

    The partners are the images of the pixel under the operations that hold and
    what they compose to (:func:`dip_engine.symmetry.group`). A partner reading
    log(1 + I) has a Poisson variance of about max(I, 1) / (1 + I)^2 in log
    space; partners are weighted by its inverse.

    Parameters
    ----------
    y : (H, W) ndarray
        log(1 + I) (read on valid pixels).
    valid : (H, W) bool ndarray
    symmetry : Symmetry
        Its holding operations are used.

    Returns
    -------
    mean : (H, W) float64 ndarray
        The weighted mean where a partner was measured, else 0.
    found : (H, W) bool ndarray
        Where at least one partner was measured.
    weight : (H, W) float64 ndarray
        The partners' summed weight, with ``with_weight`` only.
    """
    images, available = partners(y, valid, symmetry.center, group(symmetry.holding()))
    weight = np.where(available, _inverse_log_variance(images), 0.0)
    total = weight.sum(axis=0)
    found = total > 0
    mean = np.where(found, (weight * images).sum(axis=0) / np.where(found, total, 1), 0.0)
    return (mean, found, total) if with_weight else (mean, found)


#: Widths (pixels) of the Gaussian a symmetric model is smoothed with; the held-out pixels pick one.
MODEL_SIGMAS = (1.0, 2.0, 3.0, 5.0)


def symmetric_model(y: np.ndarray, valid: np.ndarray, symmetry: "Symmetry",
                    sigmas=MODEL_SIGMAS, check: np.ndarray | None = None, truth: np.ndarray | None = None):
    """The part of a log frame its symmetry explains, everywhere.

    Each pixel takes the noise-weighted mean of itself (where valid) and its
    valid partners (:func:`fold`), smoothed by a Gaussian (normalised
    convolution); pixels whose orbit holds no valid pixel are filled from
    around them (:func:`fill_unreached`). The Gaussian's width is the one of
    ``sigmas`` that best predicts ``truth`` at the held-out ``check`` pixels
    (counting noise wants wide, sharp streaks narrow), judged where a partner
    was measured, else the first.

    Parameters
    ----------
    y : (H, W) ndarray
        log(1 + I), read on valid pixels.
    valid : (H, W) bool ndarray
    symmetry : Symmetry
    sigmas : sequence of float
    check : (H, W) bool ndarray, optional
        Held-out pixels (not in ``valid``) whose log intensities ``truth`` ((n,)) are known.

    Returns
    -------
    model : (H, W) float64 ndarray, in the units of ``y``
    sigma : float
        The width used.
    """
    mean, found, total = fold(y, valid, symmetry, with_weight=True)
    w_self = np.where(valid, _inverse_log_variance(y), 0.0)
    have = found | valid
    orbit = np.where(have, (total * mean + w_self * np.where(valid, y, 0)) / np.where(have, total + w_self, 1), 0)
    scored = None if check is None else found[check]  # judged where a partner was measured, for every width
    best = None
    for sigma in sigmas:
        weight = ndimage.gaussian_filter(have.astype(np.float64), sigma)
        with np.errstate(invalid="ignore", divide="ignore"):
            smooth = np.where(weight >= 0.05, ndimage.gaussian_filter(orbit, sigma) / weight, 0.0)
        error = 0.0 if check is None or not scored.any() else \
            float(np.mean((smooth[check][scored] - truth[scored]) ** 2))
        if best is None or error < best[0]:
            best = (error, sigma, smooth, weight < 0.05)
        if check is None:
            break
    _, sigma, smooth, unreached = best
    return fill_unreached(smooth, unreached), float(sigma)


def fill_unreached(values: np.ndarray, unreached: np.ndarray, sigma: float = 2.0) -> np.ndarray:
    """``values`` with the pixels no symmetric partner reaches filled from around them:
    biharmonic inpainting (scikit-image), region by region, of the values smoothed by a
    Gaussian of ``sigma`` pixels (normalised convolution), so that counting noise on a
    region's edge does not carry into it.

    A beamstop rod on a GISAXS specular axis, or a gap crossing a mirror axis, is its
    own mirror image; the smooth continuation of its surroundings is the best guess
    there (on the smooth inside of a GISAXS window it beat the ring fills eight-fold).
    """
    if not unreached.any():
        return values
    if unreached.all():
        return np.zeros_like(values)
    from skimage.restoration import inpaint_biharmonic

    known = (~unreached).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        smooth = ndimage.gaussian_filter(np.where(unreached, 0.0, values), sigma) / ndimage.gaussian_filter(known, sigma)
    edge = np.where(unreached | ~np.isfinite(smooth), 0.0, smooth)
    filled = inpaint_biharmonic(edge, unreached, split_into_regions=True)
    return np.where(unreached, filled, values)


#: Most valid pixels :func:`ring_center` looks at (a regular subsample beyond).
RING_CENTER_PIXELS = 300_000


def ring_center(image: np.ndarray, valid: np.ndarray, start: tuple[float, float]) -> tuple[float, float]:
    """The beam centre (row, col) of an isotropic frame that makes its rings sharpest.

    Minimises the scatter of log10(1 + I) within 1-pixel rings (Nelder-Mead
    from ``start``, to 0.05 px) over the valid pixels. On the bundled Liu et
    al. example it moves the point-mirror centre from 2.1 to 1.6 px of the
    authors' (388, 258). Falls back to ``start`` when the search leaves a
    3-pixel neighbourhood.
    """
    from scipy import optimize

    y = np.log10(1 + np.clip(np.nan_to_num(np.asarray(image, np.float64)), 0, None))
    idx = np.flatnonzero(valid)
    idx = idx[:: max(1, idx.size // RING_CENTER_PIXELS)]
    rows, cols = np.divmod(idx, y.shape[1])
    values = y.ravel()[idx]

    def scatter(c):
        ring = np.rint(np.hypot(rows - c[0], cols - c[1])).astype(np.int64)
        n, total = np.bincount(ring), np.bincount(ring, values)
        used = n > 0
        return float((np.bincount(ring, values * values)[used] - total[used] ** 2 / n[used]).sum())

    first = np.asarray(start, np.float64)
    found = optimize.minimize(scatter, first, method="Nelder-Mead",
                              options={"initial_simplex": first + [[0, 0], [1.5, 0], [0, 1.5]], "xatol": 0.05})
    if not found.success or np.hypot(*(found.x - first)) > 3:
        return tuple(float(c) for c in start)
    return float(found.x[0]), float(found.x[1])


def detect_symmetry(image: np.ndarray, valid: np.ndarray) -> Symmetry:
    """Measure the centre and the symmetry operations of a frame.

    Parameters
    ----------
    image : (H, W) ndarray
        Frame in counts.
    valid : (H, W) bool ndarray
        Pixels with data.

    Returns
    -------
    symmetry : Symmetry
        Its centre in full-frame pixels, the point mirror and the best pair of
        perpendicular mirror axes with their agreements, and whether the frame
        is isotropic.

    Raises
    ------
    ValueError
        When too few pixels are valid to measure anything.
    """
    valid = np.asarray(valid, bool)
    f, v, k = _block_log(image, valid)
    if v.sum() < 64:
        raise ValueError("too few valid pixels to measure the frame's symmetry")
    lines = _mirror_lines(f, v)
    axis = _refine_axis(f, v, max(lines, key=lambda t: t[1])[0])
    center = _to_small(estimate_center(image, valid), k)
    rotation = _rotation_agreement(f, v, center)
    isotropic = rotation >= ISOTROPIC_ROTATION or max(_share(c, rotation) for _, c, _ in lines) < ANISOTROPY_SHARE
    point = _agreement(f, v, center, Operation("point", None, 0, True))
    if not isotropic and _share(point, rotation) < HOLDS_SHARE:
        center = _to_small(_refine_beam(image, valid, _to_full(_beam_on_axis(f, v, axis[0], axis[1], center), k),
                                        axis[0], 4 * k), k)
        rotation = _rotation_agreement(f, v, center)
        point = _agreement(f, v, center, Operation("point", None, 0, True))
    ops = [Operation("point", None, point, isotropic or _share(point, rotation) >= HOLDS_SHARE)]
    for angle in (axis[0], axis[0] + 90):
        op = Operation("mirror", _wrap_angle(angle), 0, True)
        a = _agreement(f, v, center, op)
        ops.append(dataclasses.replace(op, agreement=a, holds=isotropic or _share(a, rotation) >= HOLDS_SHARE))
    full = _to_full(center, k)
    if ops[0].holds:  # Friedel pairs: the centre that makes the rings sharpest, finer than the mirror's
        full = ring_center(image, valid, full)
    return Symmetry(full, tuple(ops), bool(isotropic), float(rotation))


def _share(agreement: float, rotation: float) -> float:
    """Share of a generic rotation's mismatch an operation removes (-inf when unmeasured)."""
    if not np.isfinite(agreement):
        return -np.inf
    return 1 - (1 - agreement) / max(1 - rotation, 1e-6)


def _block_log(image, valid):
    """(block-averaged and smoothed log frame, blocks mostly valid, block size k) for the search."""
    k = max(1, int(np.ceil(max(image.shape) / SEARCH_SIDE)))
    mean, weight = block_log(image, valid, k)
    # a Gaussian of one block (normalised over valid pixels) keeps counting noise,
    # which every operation's pairs share alike, from hiding the structure
    smooth = ndimage.gaussian_filter(mean * weight, 1.0) / np.maximum(ndimage.gaussian_filter(weight, 1.0), 1e-12)
    return np.where(weight > 0, smooth, 0.0), weight > 0.5 * k * k, k


def _to_small(center, k: int):
    """Frame pixels -> block coordinates (blocks of k x k pixels)."""
    return (center[0] - (k - 1) / 2) / k, (center[1] - (k - 1) / 2) / k


def _to_full(center, k: int):
    """Block coordinates -> frame pixels."""
    return float(center[0] * k + (k - 1) / 2), float(center[1] * k + (k - 1) / 2)


def _agreement(f, v, center, op: Operation) -> float:
    """Correlation of f and f∘op over the valid pairs (NaN when they are too few)."""
    images, available = partners(f, v, center, [op])
    ok = v & available[0]
    if ok.sum() < max(_MIN_PAIRS * v.sum(), 16):
        return float("nan")
    a, b = f[ok], images[0][ok]
    if a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(np.clip(np.corrcoef(a, b)[0, 1], 0, 1))


def _rotation_agreement(f, v, center) -> float:
    """Mean agreement of generic rotations about ``center``."""
    rows, cols = np.indices(f.shape, dtype=np.float64)
    dr, dc = rows - center[0], cols - center[1]
    values = []
    for angle in np.deg2rad(_GENERIC_ROTATIONS):
        g, measured = _read_at(f, v, [center[0] + np.cos(angle) * dr - np.sin(angle) * dc,
                                      center[1] + np.sin(angle) * dr + np.cos(angle) * dc])
        ok = v & measured
        if ok.sum() >= 16 and f[ok].std() > 0 and g[ok].std() > 0:
            values.append(np.corrcoef(f[ok], g[ok])[0, 1])
    return float(np.mean(values)) if values else 0.0


def _mirror_lines(f, v, step_deg: float = 2.0):
    """For each axis angle on a grid: (angle, best agreement, (row, col) of a point on the
    best axis of that angle), found by rotating the axis upright and searching its column."""
    out = []
    for angle in np.arange(0.0, 180.0, step_deg):
        out.append(_best_line(f, v, angle))
    return out


def _best_line(f, v, angle: float):
    """(angle, agreement, point on the axis) of the best mirror axis at ``angle``."""
    turn = 90.0 - angle  # turns the axis upright (ndimage.rotate turns counter-clockwise as drawn)
    fr = ndimage.rotate(np.where(v, f, 0.0), turn, reshape=True, order=1, cval=0.0)
    vr = ndimage.rotate(v.astype(np.float64), turn, reshape=True, order=1, cval=0.0) > 1 - 1e-9
    score = _column_mirror_scores(np.where(vr, fr, 0.0), vr)
    m = int(np.argmax(score))
    if not np.isfinite(score[m]):
        return angle, float("nan"), (np.nan, np.nan)
    col = m / 2  # the axis column in the rotated frame
    # back to the frame: rotate the point (centre row, col) of the rotated frame
    cr, cc = (np.array(fr.shape) - 1) / 2
    t = np.deg2rad(turn)
    r0, c0 = (np.array(f.shape) - 1) / 2
    dr, dc = 0.0, col - cc
    # inverse of ndimage.rotate's mapping (row down, counter-clockwise on screen)
    point = (r0 + np.cos(t) * dr + np.sin(t) * dc, c0 - np.sin(t) * dr + np.cos(t) * dc)
    return angle, float(score[m]), point


def _column_mirror_scores(f, v):
    """Agreement of f(r, c) with f(r, m - c) for every m (sums over rows, FFT convolutions);
    (2W - 1,) with -inf where too few pairs overlap."""
    w = f.shape[1]
    n = 2 * w - 1
    nf = fft.next_fast_len(n, real=True)

    def conv(a, b):
        return fft.irfft(fft.rfft(a, nf, axis=1) * fft.rfft(b, nf, axis=1), nf, axis=1)[:, :n].sum(0)

    vv = v.astype(np.float64)
    vf = vv * f
    pairs, total, cross, energy = conv(vv, vv), conv(vf, vv), conv(vf, vf), conv(vf * f, vv)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_sq = total * total / pairs
        score = (cross - mean_sq) / (energy - mean_sq)
    score[~(pairs >= max(0.2 * vv.sum(), 16)) | ~np.isfinite(score)] = -np.inf
    return score


def _refine_axis(f, v, best: float, span: float = 2.0, step: float = 0.25):
    """(angle, point on the axis) of the best axis within ``span`` degrees of ``best``."""
    lines = [_best_line(f, v, a % 180) for a in np.arange(best - span, best + span + step / 2, step)]
    angle, _, point = max(lines, key=lambda t: t[1] if np.isfinite(t[1]) else -np.inf)
    return angle, point


def _beam_on_axis(f, v, angle: float, point, near):
    """Centre on a mirror axis without a point mirror (GISAXS): the direct beam.

    Of the bright spots on the axis (local maxima of the profile of the brightest
    block within 3 blocks of the axis, within a factor 4 of the brightest), the
    lowest on the frame: the specular spot lies above the direct beam. Falls back to the point of the axis nearest ``near``.
    """
    t = np.deg2rad(angle)
    ur, uc = -np.sin(t), np.cos(t)
    s = np.arange(-max(f.shape), max(f.shape) + 1, 0.5)
    rows, cols = point[0] + s * ur, point[1] + s * uc
    inside = (rows >= 0) & (rows <= f.shape[0] - 1) & (cols >= 0) & (cols <= f.shape[1] - 1)
    rows, cols, s = rows[inside], cols[inside], s[inside]
    # the beam may peek out beside a beamstop rod on the axis: take the brightest valid
    # block within 3 blocks across it
    bright = ndimage.maximum_filter(np.where(v, f, -np.inf), size=7)
    level = ndimage.map_coordinates(np.where(np.isfinite(bright), bright, -1e9), [rows, cols], order=0)
    level = np.where(level > -1e8, level, -np.inf)
    level = np.where(np.isfinite(level), level, -np.inf)
    if not np.isfinite(level).any():
        along = (near[0] - point[0]) * ur + (near[1] - point[1]) * uc
        return point[0] + along * ur, point[1] + along * uc
    peaks = (level >= np.roll(level, 1)) & (level >= np.roll(level, -1)) & (level >= level.max() - np.log(4))
    lowest = np.argmax(np.where(peaks, rows, -np.inf))
    return float(rows[lowest]), float(cols[lowest])


def _refine_beam(image, valid, center, angle: float, reach: int):
    """The beam along a mirror axis at full resolution, within ``reach`` pixels of ``center``.

    Each 1-pixel step along the axis gets the mean counts of the valid pixels
    within ``reach`` of the axis (the beam's halo on both sides of a rod); the
    beam is the counts-weighted centroid of the run of steps above half the
    brightest one (its full width at half maximum). A beam cut on one side
    (by the sample's edge) or with two bright rows keeps its middle, where the
    brightest step alone would pick one edge of its plateau.
    """
    t = np.deg2rad(angle)
    ur, uc = -np.sin(t), np.cos(t)
    r0, c0 = int(round(center[0])), int(round(center[1]))
    h, w = image.shape
    box = np.s_[min(h - 1, max(0, r0 - 2 * reach)): min(h, max(1, r0 + 2 * reach + 1)),
                min(w - 1, max(0, c0 - 2 * reach)): min(w, max(1, c0 + 2 * reach + 1))]
    rows, cols = np.mgrid[box]
    along = (rows - center[0]) * ur + (cols - center[1]) * uc
    across = -(rows - center[0]) * uc + (cols - center[1]) * ur
    use = valid[box] & (np.abs(along) <= reach) & (np.abs(across) <= reach)
    if use.sum() < 4:
        return center
    step = np.rint(along[use]).astype(np.int64) + reach
    counts = np.clip(np.asarray(image[box], np.float64)[use], 0, None)
    n = np.bincount(step, minlength=2 * reach + 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        level = np.where(n > 0, np.bincount(step, weights=counts, minlength=2 * reach + 1) / n, 0.0)
    best = int(np.argmax(level))
    if level[best] <= 0:
        return center
    bright = level >= level[best] / 2
    lo = best - int(np.argmin(bright[best::-1])) + 1 if not bright[:best + 1].all() else 0
    hi = best + int(np.argmin(bright[best:])) if not bright[best:].all() else len(level)
    s = np.arange(lo, hi)
    offset = float((s * level[lo:hi]).sum() / level[lo:hi].sum()) - reach
    return center[0] + offset * ur, center[1] + offset * uc
