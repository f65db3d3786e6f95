"""Combine the DIP fit with the classical fills, weighted by held-out pixels.

Each healer is good somewhere: the polar fills on rings (the smoothed one
on noisy frames), the mirror on Friedel pairs, biharmonic on smooth
backgrounds, the DIP on structure that symmetry does not explain. The fit
already holds out valid pixels shaped like real occlusions; the classical
fills are run with those pixels hidden too, and non-negative weights that sum
to one are fitted to them in log10(1 + I). The healed pixels are the weighted
log-space combination. The reported score is cross-fitted (weights fitted on
half the held-out regions, scored on the other half, and back), so it is not
flattered by the fitting. When one healer alone scores better on the held-out
pixels than the cross-fitted blend, that healer alone is the result: the
blend is never worse than the best single method there.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import ndimage, optimize

from .baselines import FILLS  # blended with the fit, in weight order after it
from .intensity import log10_counts, paste
from .uncertainty import calibrated


def weights(predictions: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Non-negative weights summing to 1 that best combine predictions (least squares).

    Parameters
    ----------
    predictions : (n, k) log10(1 + I) of k healers at n pixels
    truth : (n,) log10(1 + I) measured there
    """
    w, _ = optimize.nnls(predictions, truth)
    total = w.sum()
    return w / total if total > 0 else np.full(predictions.shape[1], 1 / predictions.shape[1])


def cross_fitted_rmse(predictions: np.ndarray, truth: np.ndarray, groups: np.ndarray) -> float:
    """RMSE in log10(1 + I) of the blend, each half of the groups predicted with
    weights fitted on the other half."""
    errors = np.empty_like(truth)
    for half in (0, 1):
        test = groups % 2 == half
        if test.all() or not test.any():
            return float(np.sqrt(np.mean((predictions @ weights(predictions, truth) - truth) ** 2)))
        errors[test] = predictions[test] @ weights(predictions[~test], truth[~test]) - truth[test]
    return float(np.sqrt(np.mean(errors ** 2)))


def blend(image: np.ndarray, result):
    """The :class:`~dip_engine.fit.HealResult` with its healed pixels blended with the fills.

    Returns the result unchanged when it has no symmetry or no held-out
    pixels. Otherwise ``healed`` is the blend, ``score`` its cross-fitted
    hold-out score (or the best single healer's, when that is lower; it then
    has all the weight), ``blend`` records the weights, the fit's own score and
    each fill's score on the same held-out pixels, and ``fills`` holds each
    fill's counts at the missing pixels.
    """
    hidden, missing = result.hidden, result.missing
    if result.symmetry is None or not hidden.any() or result.hidden_prediction.size != hidden.sum():
        return result
    shown = missing | hidden
    predictions = np.stack([log10_counts(result.hidden_prediction)]
                           + [log10_counts(fill(image, shown, result.symmetry)[hidden]) for fill in FILLS.values()], 1)
    truth = log10_counts(np.asarray(image)[hidden])
    singles = np.sqrt(np.mean((predictions - truth[:, None]) ** 2, axis=0))
    w = weights(predictions, truth)
    score = cross_fitted_rmse(predictions, truth, ndimage.label(hidden)[0][hidden])
    if singles.min() < score:
        w, score = np.eye(len(singles))[int(np.argmin(singles))], float(singles.min())
    fills = {name: fill(image, missing, result.symmetry)[missing] for name, fill in FILLS.items()}
    healers = np.stack([log10_counts(result.healed[missing])] + [log10_counts(values) for values in fills.values()], 1)
    counts = np.zeros(np.shape(image))
    counts[missing] = 10 ** (healers @ w) - 1
    healed = paste(image, missing, counts).astype(result.healed.dtype, copy=False)
    record = {"weights": {"dip": float(w[0]), **{n: float(x) for n, x in zip(FILLS, w[1:])}},
              "dip_score": result.score,
              "fill_scores": {n: float(x) for n, x in zip(FILLS, singles[1:])}}
    blended = dataclasses.replace(result, healed=healed, score=score, blend=record, fills=fills)
    return calibrated(image, blended, predictions, w, healers)
