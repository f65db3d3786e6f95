"""Exported figures back to intensities: recognise the colour map, invert it.

The seed project's inputs were RGB exports of frames drawn with a colour map.
For ``jet``, ``hot`` and most colour maps luminance does not rise with the
value drawn, so healing the luminance mixes bright and dark. Each picture's
colours are matched against the common colour maps (and their reversed
versions); the best match maps every colour back to its position on the map
(0 to 1), and with the colour bar's range and scale, to intensity.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

#: The colour maps recognised (each also reversed, ``_r``).
NAMES = ("viridis", "magma", "inferno", "plasma", "cividis", "jet", "turbo", "hot", "gray")
#: A pixel farther than this from every colour of the map (axes, text, annotations) is missing.
MAX_PIXEL_DISTANCE = 24.0
#: Most pixels compared when choosing the map.
SAMPLE = 50_000


@dataclass(frozen=True)
class Match:
    """The colour map a picture was drawn with: its name, the median distance (RGB 0-255) of
    the picture's pixels to the map's colours, and the share of pixels that match none of them."""

    name: str
    distance: float
    unmatched: float


@functools.lru_cache(maxsize=None)
def lut(name: str, n: int = 1024) -> np.ndarray:
    """(n, 3) float64 RGB (0-255) of the colour map ``name`` (a ``_r`` suffix reverses it)."""
    import matplotlib

    return matplotlib.colormaps[name](np.linspace(0, 1, n))[:, :3] * 255.0


@functools.lru_cache(maxsize=None)
def _tree(name: str):
    from scipy.spatial import cKDTree

    return cKDTree(lut(name))


def recognise(rgb: np.ndarray) -> Match:
    """The colour map of :data:`NAMES` (or reversed) nearest to a picture's pixels: the
    median distance of a regular sample of them to the map's colours (robust to axes, text
    and JPEG artefacts). ``rgb``: (..., 3) uint8 pixels. Grey pictures match ``gray``."""
    pixels = np.asarray(rgb, np.uint8).reshape(-1, 3)
    pixels = pixels[:: max(1, len(pixels) // SAMPLE)].astype(np.float64)
    best = None
    for name in NAMES + tuple(f"{n}_r" for n in NAMES):
        distance = _tree(name).query(pixels)[0]
        score = float(np.median(distance))
        if best is None or score < best.distance - 1e-9:
            best = Match(name, score, float(np.mean(distance > MAX_PIXEL_DISTANCE)))
    return best


def to_scalar(rgb: np.ndarray, name: str) -> np.ndarray:
    """(H, W) float64: each pixel's position (0-1) on the colour map ``name``; NaN where no
    colour of the map is within :data:`MAX_PIXEL_DISTANCE` (axes, text)."""
    pixels = np.asarray(rgb, np.uint8)
    shape = pixels.shape[:2]
    packed = pixels.reshape(-1, 3).astype(np.int64) @ np.array([65536, 256, 1])
    unique, inverse = np.unique(packed, return_inverse=True)
    colours = np.stack([unique // 65536, unique // 256 % 256, unique % 256], 1).astype(np.float64)
    distance, index = _tree(name).query(colours)
    position = np.where(distance <= MAX_PIXEL_DISTANCE, index / (len(lut(name)) - 1), np.nan)
    return position[inverse].reshape(shape)


def to_intensity(position: np.ndarray, low: float, high: float, scale: str = "log") -> np.ndarray:
    """Intensities from positions on the colour map (0-1) and the colour bar's range and
    scale ('linear', or 'log' for a bar in powers of ten of the intensity)."""
    if scale not in ("linear", "log"):
        raise ValueError("the colour bar's scale must be 'linear' or 'log'")
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise ValueError("the colour bar's range must be two numbers, low < high")
    if scale == "linear":
        return low + position * (high - low)
    if low <= 0:
        raise ValueError("a log colour bar's range must be positive")
    return 10 ** (np.log10(low) + position * (np.log10(high) - np.log10(low)))
