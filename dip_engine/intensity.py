"""Counts <-> the log space the healers work in, and pasting a fill back."""

from __future__ import annotations

import numpy as np


def log_counts(image: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """log(1 + I) on valid pixels, 0 elsewhere; (H, W) float64."""
    return np.where(valid, np.log1p(np.clip(np.nan_to_num(np.asarray(image, np.float64)), 0, None)), 0.0)


def log10_counts(counts: np.ndarray) -> np.ndarray:
    """log10(1 + I), negatives clipped to 0, float64: the scale scores and uncertainties are in."""
    return np.log10(1 + np.clip(np.asarray(counts, np.float64), 0, None))


def whole_counts(values: np.ndarray) -> bool:
    """Whether values are whole numbers (photon counts, where Poisson statistics apply)."""
    values = np.asarray(values)
    return values.dtype.kind in "iu" or bool(np.array_equal(values, np.round(values)))


def output_dtype(values: np.ndarray) -> type:
    """float32 when it holds every value exactly (counts up to 2**24), else float64."""
    values = np.asarray(values)
    exact = np.array_equal(values.astype(np.float32).astype(values.dtype), values)
    return np.float32 if exact else np.float64


def paste(image: np.ndarray, missing: np.ndarray, fill_counts: np.ndarray) -> np.ndarray:
    """The frame with its missing pixels replaced by a fill, valid pixels exact.

    Parameters
    ----------
    image : (H, W) ndarray
        Frame in counts.
    missing : (H, W) bool ndarray
    fill_counts : (H, W) ndarray
        Fill in counts (read at missing pixels only; negatives are clipped).

    Returns
    -------
    healed : (H, W) ndarray, dtype from :func:`output_dtype`
    """
    healed = np.asarray(image, dtype=output_dtype(np.asarray(image)[~missing])).copy()
    healed[missing] = np.clip(fill_counts[missing], 0, None)
    return healed
