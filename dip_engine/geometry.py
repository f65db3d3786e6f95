"""Beam centre and the symmetry of scattering about it.

Elastic scattering is centrosymmetric (Friedel's law): away from absorption
and tilt effects, I(c + d) = I(c - d) about the beam centre c. This module
finds c from the data and maps pixels to their mirror and to polar
coordinates. Coordinates are (row, col) in pixels, row 0 at the top.
"""

from __future__ import annotations

import numpy as np
from scipy import fft, ndimage

from .intensity import log_counts


def estimate_center(
    image: np.ndarray,
    valid: np.ndarray,
    min_overlap: float = 0.2,
    max_side: int = 1024,
) -> tuple[float, float]:
    """Beam centre by point-symmetry search, refined to sub-pixel.

    For every candidate centre c on the half-pixel grid, the Pearson
    correlation between log(1 + I) at x and at its mirror 2c - x is computed
    over the pixel pairs that are both valid (four FFT convolutions),
    weighted by the square root of the share of valid pixels in those
    pairs; the best candidate is refined by a parabola through its neighbours.
    Correlation, unlike a mean squared difference, does not reward matching
    flat empty regions with each other.

    Parameters
    ----------
    image : (H, W) ndarray
        Frame in counts.
    valid : (H, W) bool ndarray
        Pixels with data.
    min_overlap : float
        Candidates whose valid pixel pairs number less than this fraction
        of the valid pixels are ignored (edges of the frame).
    max_side : int
        Larger frames are searched coarse to fine: on a block-averaged copy,
        then at full resolution in a ``max_side`` window around that estimate.

    Returns
    -------
    center : (row, col) floats

    Raises
    ------
    ValueError
        When no candidate has enough overlapping valid pairs.
    """
    valid = np.asarray(valid, bool)
    if max(image.shape) > max_side:
        return _coarse_to_fine_center(image, valid, min_overlap, max_side)
    return _symmetry_center(image, valid, min_overlap)


def _coarse_to_fine_center(image, valid, min_overlap, max_side):
    k = int(np.ceil(max(image.shape) / max_side))
    coarse, weight = block_log(image, valid, k)
    # the coarse image is already in log space: expm1 makes log_counts a no-op
    c = _symmetry_center(np.expm1(coarse), weight > 0, min_overlap)
    row, col = c[0] * k + (k - 1) / 2, c[1] * k + (k - 1) / 2
    half = max_side // 2
    r0 = int(np.clip(round(row) - half, 0, max(0, image.shape[0] - max_side)))
    c0 = int(np.clip(round(col) - half, 0, max(0, image.shape[1] - max_side)))
    window = np.s_[r0: r0 + max_side, c0: c0 + max_side]
    fine = _symmetry_center(image[window], valid[window], min_overlap)
    return fine[0] + r0, fine[1] + c0


def block_log(image: np.ndarray, valid: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """log(1 + I) averaged over the valid pixels of k x k blocks (0 where a block has none),
    and each block's count of valid pixels; the frame's last rows and columns that do not
    fill a block are left out. ((H // k, W // k) float64 arrays.)"""
    h, w = (image.shape[0] // k) * k, (image.shape[1] // k) * k
    y = log_counts(image[:h, :w], valid[:h, :w])
    v = valid[:h, :w].astype(np.float64)
    blocks = (h // k, k, w // k, k)
    weight = v.reshape(blocks).sum(axis=(1, 3))
    return np.where(weight > 0, (y * v).reshape(blocks).sum(axis=(1, 3)) / np.maximum(weight, 1), 0.0), weight


def _symmetry_center(image, valid, min_overlap):
    f = log_counts(image, valid)
    v = valid.astype(np.float64)
    shape = [2 * n - 1 for n in f.shape]
    fshape = [fft.next_fast_len(n, real=True) for n in shape]

    def conv(a, b):
        return fft.irfftn(fft.rfftn(a, fshape) * fft.rfftn(b, fshape), fshape)[: shape[0], : shape[1]]

    pairs = conv(v, v)
    total = conv(v * f, v)  # sum of f over pairs (the same for the mirror side)
    cross = conv(v * f, v * f)
    energy = conv(v * f * f, v)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_sq = total * total / pairs
        score = (cross - mean_sq) / (energy - mean_sq)
    # a small overlap can match a thin straight feature (the beamstop arm)
    # with itself: weigh the correlation by the share of pixels it rests on
    with np.errstate(invalid="ignore"):
        score = score * np.sqrt(np.clip(pairs / v.sum(), 0, 1))
    score[~(pairs >= max(min_overlap * v.sum(), 2.0)) | ~np.isfinite(score)] = -np.inf
    if not np.isfinite(score).any():
        raise ValueError("too few valid pixels to find the beam centre by symmetry")
    t = np.unravel_index(np.argmax(score), score.shape)
    return tuple(_parabola_peak(score, t, axis) / 2 for axis in (0, 1))


def _parabola_peak(values: np.ndarray, index: tuple, axis: int) -> float:
    """Sub-sample position of a maximum along one axis."""
    i = index[axis]
    if not 0 < i < values.shape[axis] - 1:
        return float(i)
    lo = values[tuple(i - 1 if a == axis else j for a, j in enumerate(index))]
    hi = values[tuple(i + 1 if a == axis else j for a, j in enumerate(index))]
    mid = values[index]
    denom = lo - 2 * mid + hi
    if not (np.isfinite(denom) and denom < 0):
        return float(i)
    return float(i + 0.5 * (lo - hi) / denom)


def mirror_coordinates(shape: tuple[int, int], center: tuple[float, float]):
    """(rows, cols) of every pixel's point mirror 2c - x, as float arrays."""
    rr, cc = np.indices(shape, dtype=np.float64)
    return 2 * center[0] - rr, 2 * center[1] - cc


def mirror_image(
    values: np.ndarray, valid: np.ndarray, center: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray]:
    """Values at each pixel's point mirror, and where they exist.

    Bilinear interpolation at 2c - x; a mirrored value counts as available
    only when all four neighbours it is interpolated from are valid.

    Parameters
    ----------
    values : (H, W) ndarray
        Any per-pixel quantity (e.g. log counts).
    valid : (H, W) bool ndarray
    center : (row, col)

    Returns
    -------
    mirrored : (H, W) float ndarray
    available : (H, W) bool ndarray
    """
    rows, cols = mirror_coordinates(values.shape, center)
    coords = np.array([rows, cols])
    filled = np.where(valid, values, 0.0)
    mirrored = ndimage.map_coordinates(filled, coords, order=1, mode="constant", cval=0.0)
    support = ndimage.map_coordinates(valid.astype(np.float64), coords, order=1, mode="constant", cval=0.0)
    return mirrored, support > 1 - 1e-9


def polar_coordinates(shape: tuple[int, int], center: tuple[float, float]):
    """Radius (pixels) and azimuth (radians, -pi..pi) of every pixel."""
    rr, cc = np.indices(shape, dtype=np.float64)
    dr, dc = rr - center[0], cc - center[1]
    return np.hypot(dr, dc), np.arctan2(dr, dc)


def radial_profile(
    values: np.ndarray, valid: np.ndarray, center: tuple[float, float], bin_width: float = 1.0,
    polar: tuple[np.ndarray, np.ndarray] | None = None,
):
    """Mean of ``values`` over valid pixels in rings of ``bin_width`` pixels.

    ``polar``: :func:`polar_coordinates` of this shape and centre, when the
    caller already has them (several profiles of one frame).

    Returns
    -------
    radius : (R,) ndarray
        Ring centres (pixels).
    mean : (R,) ndarray
        Mean per ring, NaN for rings without valid pixels.
    """
    r = (polar or polar_coordinates(values.shape, center))[0]
    ring = np.rint(r / bin_width).astype(np.int64)
    n = ring.max() + 1
    counts = np.bincount(ring[valid], minlength=n)
    sums = np.bincount(ring[valid], weights=values[valid], minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = sums / counts
    mean[counts == 0] = np.nan
    return np.arange(n, dtype=np.float64) * bin_width, mean


def radial_model(
    values: np.ndarray, valid: np.ndarray, center: tuple[float, float], bin_width: float = 0.5
) -> np.ndarray:
    """The isotropic part of a frame: its radial profile at every pixel.

    The azimuthal mean over valid pixels in fine rings, linearly
    interpolated at each pixel's exact radius; radii without data take the
    nearest rings' values.

    Returns
    -------
    model : (H, W) float64 ndarray
    """
    radius, mean = radial_profile(values, valid, center, bin_width)
    have = np.isfinite(mean)
    r, _ = polar_coordinates(values.shape, center)
    return np.interp(r, radius[have], mean[have])


def polar_model(
    values: np.ndarray,
    valid: np.ndarray,
    center: tuple[float, float],
    bin_width: float = 0.5,
    window_deg: float = 10.0,
    sectors: int = 360,
) -> np.ndarray:
    """A smooth anisotropic model of a frame in polar coordinates.

    Valid values are averaged in cells of ``bin_width`` pixels in radius and
    360/``sectors`` degrees in azimuth, smoothed along the azimuth with a
    circular window of ``window_deg`` (normalised convolution, so masked
    cells borrow from their ring neighbours), and interpolated back to each
    pixel linearly in radius. Cells whose window holds no valid pixel take
    the ring's azimuthal mean (:func:`radial_profile`, interpolated over
    rings without data).

    Returns
    -------
    model : (H, W) float64 ndarray
    """
    r, phi = polar_coordinates(values.shape, center)
    pos = r / bin_width
    ring = np.rint(pos).astype(np.int64)
    n_r = ring.max() + 2
    sector = ((phi + np.pi) / (2 * np.pi) * sectors).astype(np.int64) % sectors
    cell = ring * sectors + sector
    sums = np.bincount(cell[valid], weights=values[valid], minlength=n_r * sectors).reshape(n_r, sectors)
    counts = np.bincount(cell[valid], minlength=n_r * sectors).reshape(n_r, sectors).astype(np.float64)
    size = max(1, int(round(window_deg / 360 * sectors)))
    sums = ndimage.uniform_filter1d(sums, size, axis=1, mode="wrap")
    counts = ndimage.uniform_filter1d(counts, size, axis=1, mode="wrap")
    radius, ring_mean = radial_profile(values, valid, center, bin_width)
    have = np.isfinite(ring_mean)
    ring_fill = np.interp(np.arange(n_r) * bin_width, radius[have], ring_mean[have])
    with np.errstate(invalid="ignore", divide="ignore"):
        table = np.where(counts > 1e-9, sums / counts, ring_fill[:, None])
    lower = np.clip(np.floor(pos).astype(np.int64), 0, n_r - 1)
    upper = np.clip(lower + 1, 0, n_r - 1)
    frac = pos - np.floor(pos)
    return (1 - frac) * table[lower, sector] + frac * table[upper, sector]


def azimuthal_profile(
    values: np.ndarray,
    valid: np.ndarray,
    center: tuple[float, float],
    r_min: float,
    r_max: float,
    sectors: int = 180,
    polar: tuple[np.ndarray, np.ndarray] | None = None,
):
    """Mean of ``values`` over valid pixels of an annulus, per azimuthal sector.

    ``polar``: as for :func:`radial_profile`.

    Returns
    -------
    chi : (sectors,) ndarray
        Sector centres in degrees (-180..180, 0 = +column direction, 90 =
        +row direction, i.e. downwards on the frame).
    mean : (sectors,) ndarray
        Mean per sector, NaN where the sector has no valid pixel.
    """
    r, phi = polar or polar_coordinates(values.shape, center)
    sel = valid & (r >= r_min) & (r <= r_max)
    sector = ((phi[sel] + np.pi) / (2 * np.pi) * sectors).astype(np.int64) % sectors
    counts = np.bincount(sector, minlength=sectors)
    sums = np.bincount(sector, weights=values[sel], minlength=sectors)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = sums / counts
    mean[counts == 0] = np.nan
    chi = (np.arange(sectors) + 0.5) * 360.0 / sectors - 180.0
    return chi, mean


def check_center(center, shape: tuple[int, int]) -> tuple[float, float] | None:
    """A user's beam centre as (row, col) floats, or None when not given.

    Off-frame centres are allowed (grazing incidence puts the beam outside
    the detector), but not far away: ValueError beyond one frame size.
    """
    if center is None:
        return None
    try:
        row, col = (float(v) for v in center)
    except (TypeError, ValueError):
        raise ValueError("the beam centre must be two numbers, row and column") from None
    h, w = shape
    if not (-h <= row <= 2 * h and -w <= col <= 2 * w):
        raise ValueError(f"beam centre ({row:g}, {col:g}) is far outside the {h} x {w} frame")
    return row, col
