"""How far to trust each healed pixel: a calibrated predictive standard deviation.

The error of a healed value, in log10(1 + I), against what the detector
would have measured there has four sources:

- the fit's own spread over its last iterations (``s``);
- the disagreement of the healers the blend combines (``d``: the spread of
  their predictions about the blend, each weighted half by its blend weight
  and half equally, so that a blend that took one healer still shows how
  much the others differ);
- the noise of the measurement itself (``p``): Poisson for photon counts
  (exact for log10(1 + N), N ~ Poisson(predicted counts)), else the
  pixel-to-pixel scatter of the frame;
- what nothing measured tells (``h``): a pixel with no measured symmetric
  partner, r pixels from the nearest measured one, is known only as well as
  the structure around it r pixels apart is: ``h`` is the mean squared
  difference of measured pixels r apart along rows or columns, whichever
  is less, in the 129 x 129 px about the pixel (the local variogram,
  2 gamma(r)), less the part of it that is the noise of those two pixels
  (its nugget). On ``gisaxs_np_bcp.tif`` the error of such pixels grew from
  0.05 to 0.20 between 1 and 20 px, as the variogram does, while healers
  and fit agreed everywhere; holes on its spots erred most, which the
  frame's mean variogram did not tell. 0 where a partner was measured, and
  on isotropic frames, where the ring is every pixel's partner.

The predictive variance is ``a (s^2 + d^2) + p + h + c``; the scale ``a`` and
the floor ``c`` are fitted on the fit's held-out pixels (copies of the
frame's own gaps) so that 68.3 % of their errors fall within 1 sigma and
95.4 % within 2 sigma. The coverage reported is cross-fitted: calibrated on
half the held-out regions, counted on the other half, and back.

A photon count is a whole number: a pixel that measured n counts is the
cell from n - 1/2 to n + 1/2 counts (from nothing, for 0), not a point. On a
sparse frame most held-out pixels measured 0, and a point-wise "within 1
sigma" then holds for all of them or for none, whatever sigma is. Counts
are therefore judged by the randomised probability integral transform
(Czado, Gneiting and Held 2009): u = F(low) + v (F(high) - F(low)) with v
uniform in [0, 1) and F the normal predictive distribution; "within k
sigma" means u lies between Phi(-k) and Phi(k), which happens 68.3 % and
95.4 % of the time for a right sigma, and for a value that is not a count
(low = high) is |error| <= k sigma exactly.

References
----------
.. [1] C. Czado, T. Gneiting, L. Held, "Predictive model assessment for
       count data", Biometrics 65, 1254-1261 (2009),
       https://doi.org/10.1111/j.1541-0420.2009.01191.x
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from scipy import special

from .intensity import log10_counts, log_counts, whole_counts

#: The share of a normal distribution within 1 and within 2 standard deviations.
WITHIN_1, WITHIN_2 = 0.6827, 0.9545
#: Candidate scales ``a`` and floors ``c`` (log10 units squared) of the calibration.
SCALES = np.logspace(-3, 4, 71)
FLOORS = np.concatenate([[0.0], np.logspace(-7, -1, 31)])
#: Most held-out pixels a calibration looks at (a regular subsample beyond).
MAX_PIXELS = 10_000
#: Separations (pixels) at which :func:`local_variogram` is measured; between them it is interpolated.
LAGS = (1, 2, 4, 8, 16, 32, 64)
#: Side (pixels) of the neighbourhood :func:`local_variogram` measures over: twice the longest lag.
NEIGHBOURHOOD = 2 * LAGS[-1] + 1


@dataclass(frozen=True)
class Measured:
    """What was measured at held-out pixels, as cells about the prediction (log10(1 + I)).

    ``low`` and ``high``: (n,) edges of each pixel's cell minus its predicted
    value (equal for values that are not counts; ``low`` is -inf for a
    count of 0); ``draw``: (n,) uniform numbers in [0, 1) that place each
    measurement within its cell (:func:`Measured.within`).
    """

    low: np.ndarray
    high: np.ndarray
    draw: np.ndarray

    @classmethod
    def of(cls, values: np.ndarray, predicted: np.ndarray, counts: bool, seed: int = 0) -> "Measured":
        """The cells of measured ``values`` (counts, or intensities when ``counts`` is False)
        about ``predicted`` (log10(1 + I)); ``seed`` makes the draws reproducible."""
        values = np.clip(np.asarray(values, np.float64), 0, None)
        predicted = np.asarray(predicted, np.float64)
        draw = np.random.default_rng(seed).random(values.shape)
        if not counts:
            error = log10_counts(values) - predicted
            return cls(error, error, draw)
        low = np.full(values.shape, -np.inf)  # a count of 0 reaches down to nothing
        some = values >= 1
        low[some] = np.log10(values[some] + 0.5)
        return cls(low - predicted, np.log10(values + 1.5) - predicted, draw)

    def __getitem__(self, index) -> "Measured":
        return Measured(self.low[index], self.high[index], self.draw[index])

    @property
    def size(self) -> int:
        return self.low.size

    def pit(self, sigma: np.ndarray) -> np.ndarray:
        """Randomised probability integral transform of each measurement under a normal
        prediction of std ``sigma`` (array of sigma's broadcast shape, in [0, 1])."""
        sigma = np.maximum(sigma, 1e-15)
        lo, hi = special.ndtr(self.low / sigma), special.ndtr(self.high / sigma)
        return lo + self.draw * (hi - lo)

    def within(self, sigma: np.ndarray, k: float) -> np.ndarray:
        """Whether each measurement lies within ``k`` sigma of its prediction: its
        randomised PIT lies between Phi(-k) and Phi(k)."""
        return _central(self.pit(sigma), k)


def _central(u: np.ndarray, k: float) -> np.ndarray:
    """Whether each PIT ``u`` lies in the central interval of a normal's +-k sigma."""
    return np.abs(u - 0.5) <= special.ndtr(k) - 0.5


@dataclass(frozen=True)
class Calibration:
    """Scale and floor of the predictive variance, and how well they cover held-out errors.

    ``coverage_1`` / ``coverage_2``: cross-fitted share of held-out pixels
    within 1 / 2 sigma; ``pixels``: how many held-out pixels were used
    (0: nothing to calibrate on, the scale is 1 and the floor 0).
    """

    scale: float = 1.0
    floor: float = 0.0
    coverage_1: float | None = None
    coverage_2: float | None = None
    pixels: int = 0

    def sigma(self, model_var: np.ndarray, noise_var: np.ndarray) -> np.ndarray:
        """Predictive standard deviation (log10(1 + I)) from the model and noise variances."""
        return np.sqrt(self.scale * model_var + noise_var + self.floor)

    def to_dict(self) -> dict:
        return {"scale": self.scale, "floor": self.floor, "coverage_1": self.coverage_1,
                "coverage_2": self.coverage_2, "pixels": self.pixels}


def exact_poisson_log_variance(means: np.ndarray) -> np.ndarray:
    """Variance of log10(1 + N) for N ~ Poisson(mean), per mean (counts): summed exactly over
    N up to 200 counts (the delta method gives 0.184 instead of 0.221 at a mean of 2), the
    delta method above, exact there to 0.1 %. Costs a 380-term sum per mean."""
    from scipy import stats

    lam = np.clip(np.asarray(means, np.float64), 0, None)
    var = lam / ((1 + lam) * np.log(10)) ** 2
    low = lam <= 200
    if low.any():
        k = np.arange(0, int(200 + 12 * np.sqrt(200) + 10))
        pmf = stats.poisson.pmf(k[None, :], lam[low][:, None])
        f = np.log10(1 + k)[None, :]
        first = (pmf * f).sum(1)
        var[low] = np.clip((pmf * f * f).sum(1) - first ** 2, 0, None)
    return var


@functools.lru_cache(maxsize=1)
def _poisson_table() -> tuple[np.ndarray, np.ndarray]:
    """(means, :func:`exact_poisson_log_variance`) on a grid of means from 0 to 1e4."""
    means = np.concatenate([[0.0], np.logspace(-3, 4, 300)])
    return means, exact_poisson_log_variance(means)


def poisson_log_variance(means: np.ndarray) -> np.ndarray:
    """Variance of log10(1 + N) for N ~ Poisson(mean), per mean (counts), interpolated in a
    table of :func:`exact_poisson_log_variance` (cheap for a frame's worth of pixels)."""
    table_means, table_var = _poisson_table()
    m = np.clip(np.asarray(means, np.float64), 0, None)
    delta = m / ((1 + m) * np.log(10)) ** 2
    return np.where(m > table_means[-1], delta, np.interp(m, table_means, table_var))


def scatter_noise(image: np.ndarray, valid: np.ndarray, pixels: np.ndarray | None = None) -> float:
    """Noise (std) of log10(1 + I) from the scatter of pixels about their four neighbours.

    d = y - mean of the four valid neighbours has variance 1.25 sigma^2 for
    independent noise of variance sigma^2; sigma = 1.4826 MAD(d) / sqrt(1.25).
    ``pixels``: where to measure it (default: every valid pixel).
    """
    y = np.log10(1 + np.clip(np.where(valid, image, 0), 0, None))
    v = valid.astype(np.float64)
    pad_y, pad_v = np.pad(y * v, 1), np.pad(v, 1)
    sums = pad_y[:-2, 1:-1] + pad_y[2:, 1:-1] + pad_y[1:-1, :-2] + pad_y[1:-1, 2:]
    counts = pad_v[:-2, 1:-1] + pad_v[2:, 1:-1] + pad_v[1:-1, :-2] + pad_v[1:-1, 2:]
    use = (valid if pixels is None else pixels & valid) & (counts == 4)
    if not use.any():
        return 0.0
    d = y[use] - sums[use] / 4
    return float(1.4826 * np.median(np.abs(d - np.median(d))) / np.sqrt(1.25))


def noise_variance(predicted: np.ndarray, counts: bool, scatter: float) -> np.ndarray:
    """Measurement noise variance (log10 units squared) at pixels whose predicted counts are
    ``predicted``: Poisson for photon counts, else ``scatter`` squared."""
    if counts:
        return poisson_log_variance(predicted)
    return np.full(np.shape(predicted), scatter ** 2)


def _differences(y: np.ndarray, known: np.ndarray, lag: int, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """(H, W) bool where a pixel and the one ``lag`` pixels after it along ``axis`` are both
    ``known``, and (H, W) their squared difference of ``y`` there (0 elsewhere)."""
    pair = np.zeros(y.shape, bool)
    squared = np.zeros(y.shape)
    ahead, here = [slice(None)] * 2, [slice(None)] * 2
    ahead[axis], here[axis] = slice(lag, None), slice(None, -lag)
    ahead, here = tuple(ahead), tuple(here)
    pair[here] = known[ahead] & known[here]
    squared[here] = np.where(pair[here], (y[ahead] - y[here]) ** 2, 0.0)
    return pair, squared


def local_variogram(image: np.ndarray, known: np.ndarray, pixels: np.ndarray, lags=LAGS,
                    size: int = NEIGHBOURHOOD) -> tuple[np.ndarray, np.ndarray]:
    """(lags (L,), variogram (L, n)) of log10(1 + I) at each of ``pixels`` (n =
    pixels.sum()): the mean squared difference of ``known`` pixels ``lag`` pixels
    apart in the ``size`` x ``size`` neighbourhood of the pixel, along rows or along
    columns, whichever differ less (a streak or a rod varies little along itself,
    and a healer follows it); the whole frame's where a neighbourhood holds fewer
    pairs at a lag than a row of it. Lags as long as the frame are left out (pixels,
    log10 units squared). A hole on a spot or a steep flank is harder to fill than
    one in flat background, and the frame's mean variogram tells them apart poorly."""
    from scipy import ndimage

    y = log10_counts(np.where(known, image, 0))
    used, rows = [], []
    for lag in (lag for lag in lags if lag < min(y.shape)):
        whole, best = [], np.full(int(pixels.sum()), np.inf)
        for pair, squared in (_differences(y, known, lag, axis) for axis in (0, 1)):
            if not pair.any():
                continue
            whole.append(squared.sum() / pair.sum())
            count = ndimage.uniform_filter(pair.astype(np.float64), size, mode="constant")[pixels]
            total = ndimage.uniform_filter(squared, size, mode="constant")[pixels]
            best = np.where(count * size >= 1, np.minimum(best, total / np.maximum(count, 1e-300)), best)
        if whole:
            used.append(lag)
            rows.append(np.where(np.isfinite(best), best, min(whole)))
    if not used:
        return np.ones(1), np.zeros((1, int(pixels.sum())))
    return np.asarray(used, np.float64), np.stack(rows)


def reach_variance(image: np.ndarray, known: np.ndarray, pixels: np.ndarray, symmetry) -> np.ndarray:
    """(n,) variance (log10 units squared) of what nothing measured tells at ``pixels``
    (n = pixels.sum()): the :func:`local_variogram` at each pixel's distance from the
    nearest ``known`` pixel less its nugget (the noise of the two pixels: the variogram
    drawn back from lags 1 and 2 to lag 0), for pixels with no known symmetric partner
    under ``symmetry`` (every pixel when it is None); 0 for the others and on
    isotropic frames."""
    from scipy import ndimage

    from .symmetry import fold

    if symmetry is not None and symmetry.isotropic:
        return np.zeros(int(pixels.sum()))
    lags, values = local_variogram(image, known, pixels)
    distance = ndimage.distance_transform_edt(~known)[pixels]
    nugget = np.clip(2 * values[0] - values[1], 0, values[0]) if lags.size > 1 else values[0]
    reach = np.clip(_interpolate(distance, lags, values) - nugget, 0, None)
    if symmetry is None:
        return reach
    _, found = fold(log_counts(image, known), known, symmetry)
    return np.where(found[pixels], 0.0, reach)


def _interpolate(x: np.ndarray, xp: np.ndarray, fp: np.ndarray) -> np.ndarray:
    """(n,) ``np.interp(x[j], xp, fp[:, j])`` for each column j of ``fp`` (L, n); flat
    beyond ``xp``'s ends."""
    if xp.size == 1:
        return fp[0].copy()
    j = np.clip(np.searchsorted(xp, x) - 1, 0, xp.size - 2)
    t = np.clip((x - xp[j]) / (xp[j + 1] - xp[j]), 0, 1)
    columns = np.arange(x.size)
    return fp[j, columns] * (1 - t) + fp[j + 1, columns] * t


def disagreement(logs: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(n,) variance of k healers' predictions (n, k; log10) about their blend, each healer
    weighted half by its blend weight and half equally."""
    logs = np.asarray(logs, np.float64)
    if logs.shape[1] < 2:
        return np.zeros(logs.shape[0])
    w = 0.5 * np.asarray(weights, np.float64) + 0.5 / logs.shape[1]
    blend = logs @ np.asarray(weights, np.float64)
    return ((logs - blend[:, None]) ** 2) @ w


def calibrate(measured: Measured, model_var: np.ndarray, noise_var: np.ndarray,
              groups: np.ndarray) -> Calibration:
    """The scale and floor that make held-out ``measured`` values (cells about their
    predictions) cover like a normal distribution, with their cross-fitted coverage;
    ``groups``: the region of each pixel."""
    model_var, noise_var = (np.asarray(a, np.float64) for a in (model_var, noise_var))
    if measured.size < 20:
        return Calibration()
    keep = np.arange(measured.size)[:: max(1, measured.size // MAX_PIXELS)]
    measured, model_var, noise_var, groups = measured[keep], model_var[keep], noise_var[keep], groups[keep]
    scale, floor = _fit(measured, model_var, noise_var)
    within = {1: [], 2: []}
    for half in (0, 1):
        test = groups % 2 == half
        if test.all() or not test.any():
            test = np.arange(measured.size) % 2 == half  # one region: alternate pixels
        a, c = _fit(measured[~test], model_var[~test], noise_var[~test])
        sigma = np.sqrt(a * model_var[test] + noise_var[test] + c)
        for k in within:
            within[k].append(measured[test].within(sigma, k))
    return Calibration(float(scale), float(floor), float(np.concatenate(within[1]).mean()),
                       float(np.concatenate(within[2]).mean()), int(measured.size))


def _fit(measured: Measured, model_var, noise_var) -> tuple[float, float]:
    """(a, c) on the candidate grid whose coverage at 1 and 2 sigma is nearest the normal's."""
    best = (np.inf, 1.0, 0.0)
    for floor in FLOORS:  # one floor at a time: (scales x pixels) stays small
        u = measured.pit(np.sqrt(np.maximum(SCALES[:, None] * model_var[None, :] + noise_var + floor, 1e-30)))
        miss = (_central(u, 1).mean(axis=1) - WITHIN_1) ** 2 + (_central(u, 2).mean(axis=1) - WITHIN_2) ** 2
        i = int(np.argmin(miss))
        if miss[i] < best[0]:
            best = (float(miss[i]), float(SCALES[i]), float(floor))
    return best[1], best[2]


def calibrated(image: np.ndarray, result, hidden_logs: np.ndarray | None = None, weights=None,
               missing_logs: np.ndarray | None = None):
    """The :class:`~dip_engine.fit.HealResult` with ``uncertainty`` the calibrated predictive
    sigma (log10(1 + I)) and ``calibration`` recorded.

    ``hidden_logs`` (n, k) and ``missing_logs`` (m, k): log10(1 + I) of the k
    healers blended at the held-out and the missing pixels, ``weights`` their
    blend weights; by default the fit alone.
    """
    import dataclasses

    from scipy import ndimage

    hidden, missing = result.hidden, result.missing
    if hidden_logs is None:
        hidden_logs = log10_counts(result.hidden_prediction)[:, None]
        missing_logs = log10_counts(np.asarray(result.healed)[missing])[:, None]
        weights = np.ones(1)
    valid = ~missing
    values = np.asarray(image, np.float64)[valid]
    counts = whole_counts(values)
    scatter = 0.0 if counts else scatter_noise(np.asarray(image, np.float64), valid)
    cal = Calibration()
    if hidden.any() and result.hidden_spread.size == hidden.sum() and hidden_logs.shape[0] == hidden.sum():
        predicted = hidden_logs @ weights
        model = result.hidden_spread ** 2 + disagreement(hidden_logs, weights)
        noise = noise_variance(10 ** predicted - 1, counts, scatter) \
            + reach_variance(image, valid & ~hidden, hidden, result.symmetry)
        measured = Measured.of(np.asarray(image)[hidden], predicted, counts, result.config.seed)
        cal = calibrate(measured, model, noise, ndimage.label(hidden)[0][hidden])
    model = np.asarray(result.uncertainty, np.float64)[missing] ** 2 + disagreement(missing_logs, weights)
    noise = noise_variance(np.asarray(result.healed, np.float64)[missing], counts, scatter) \
        + reach_variance(image, valid, missing, result.symmetry)
    sigma = np.zeros(np.shape(image), np.float32)
    sigma[missing] = cal.sigma(model, noise)
    return dataclasses.replace(result, uncertainty=sigma, calibration=cal.to_dict())
