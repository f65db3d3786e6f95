"""The one heal pipeline: a frame, its mask and a config in, a typed outcome out.

:func:`run_heal` is what the CLI (``heal`` and ``grid``), the dashboard's
jobs and batches call, so every caller reports the same things: the healed
frame and its uncertainty, the fit's score next to every classical fill's on
the same held-out pixels, the blend weights, the profiles and Friedel check,
what an out-of-memory retry changed, and how long each step took.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .config import FitProgress, HealConfig


@dataclass
class HealOutcome:
    """What :func:`run_heal` made of one frame.

    Attributes
    ----------
    result : dip_engine.fit.HealResult
        The fit (healed frame in the input's units, missing and held-out
        pixels, uncertainty, score, blend).
    scores : dict
        RMSE of log10(1 + I) on the held-out pixels: ``dip`` (the result),
        each classical fill's, and ``poisson_floor`` for integer counts.
    profiles : dict or None
        :func:`dip_engine.evaluate.profiles` of the result, with its
        ``mirror_check``; None without a beam centre.
    retried : str or None
        What the one out-of-memory retry changed, if there was one.
    grid : list of dict or None
        The ranked runs of a grid search (lr, param_noise, reg_noise_std,
        score, elapsed_s), best first.
    timings : dict
        Seconds spent fitting, scoring the fills and computing the profiles.
    integrated : dict or None
        With a geometry in the config (:func:`integrate`): ``geometry``, the
        curves ``iq`` and ``chi`` and the ``cake`` of the original and the
        healed frame.
    """

    result: object
    scores: dict
    profiles: dict | None = None
    retried: str | None = None
    grid: list[dict] | None = None
    timings: dict = field(default_factory=dict)
    integrated: dict | None = None

    def report(self) -> dict:
        """The JSON-compatible report (``xray-heal heal --report``): what the page shows."""
        r = self.result
        return {
            "pixels_healed": int(r.missing.sum()),
            "iterations_run": r.iterations_run,
            "best_iteration": r.best_iteration,
            "device": r.device,
            "working_shape": list(r.working_shape),
            "center": list(r.center) if r.center else None,
            "symmetry": r.symmetry.to_dict() if r.symmetry else None,
            "scores": self.scores,
            "blend": r.blend,
            "retried": self.retried,
            "grid": self.grid,
            "mirror_check": (self.profiles or {}).get("mirror_check"),
            "calibration": r.calibration,
            "fill": r.config.fill,
            "pixels_excluded": int(r.excluded.sum()) if r.excluded is not None else 0,
            "timings": self.timings,
            "config": r.config.to_dict(),
            **(iq_report(self.integrated) if self.integrated else {}),
        }


def iq_report(integrated: dict) -> dict:
    """The report's ``iq`` (and ``chi``) entries: the curves of :func:`integrate` as lists,
    under the key ``q`` (or ``2th``) for the positions."""
    from .azimuthal import METHOD

    iq = integrated["iq"]
    position = "q" if iq["unit"].startswith("q") else "2th"
    chi = integrated["chi"]
    return {"iq": {"unit": iq["unit"], position: iq["x"], "original": iq["original"]["I"],
                   "healed": iq["healed"]["I"], "sigma": iq["healed"]["sigma"],
                   "sigma_original": iq["original"]["sigma"], "npt": iq["healed"]["npt"],
                   "range": iq["healed"]["range"], "method": "/".join(METHOD), "error_model": "poisson",
                   "healed_share": iq["healed_share"]["I"]},
            "chi": {"unit": "chi_deg", "chi": chi["x"], "range": chi["range"], "range_unit": chi["range_unit"],
                    "original": chi["original"]["I"], "healed": chi["healed"]["I"],
                    "healed_share": chi["healed_share"]["I"]}}


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether an exception from a fit means the device (or host) ran out of memory."""
    return isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError" \
        or "out of memory" in str(exc).lower()


def smaller(config: HealConfig, device: str) -> tuple[HealConfig, str]:
    """The config of the one retry after running out of memory, and what it changes:
    the CPU after a GPU, else half the working resolution."""
    if device.startswith("cuda"):
        return dataclasses.replace(config, device="cpu"), "out of GPU memory: retried on the CPU"
    side = max(64, config.max_side // 2)
    return dataclasses.replace(config, max_side=side), f"out of memory: retried at {side} px"


def run_heal(
    image: np.ndarray,
    mask: np.ndarray | None,
    config: HealConfig,
    progress: Callable[[FitProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    grid: bool = False,
    on_retry: Callable[[str], None] | None = None,
    on_run: Callable | None = None,
    threads: int | None = None,
    excluded: np.ndarray | None = None,
) -> HealOutcome:
    """Heal one frame and measure the result against the classical fills.

    Parameters
    ----------
    image : (H, W) ndarray
        Frame in counts (detector flags are missing pixels).
    mask : (H, W) bool ndarray or None
        More missing pixels (True = missing).
    config : HealConfig
    progress, should_stop : callables, optional
        As for :func:`dip_engine.fit.heal`.
    grid : bool
        Run the seed's hyperparameter grid (:func:`dip_engine.grid.grid_search`)
        on ``config`` and keep the best run.
    on_retry : callable, optional
        Told what the out-of-memory retry changes, before it runs.
    on_run : callable, optional
        ``on_run(i, total, config, result)`` after each grid run.
    threads : int, optional
        Torch threads of a fit on the CPU (default: every usable core but one).
    excluded : (H, W) bool ndarray, optional
        Pixels with no physical data (outside the window, below the horizon):
        left out of the fit like missing ones, but not healed: NaN in the
        healed frame, 0 uncertainty, left out of every profile and curve.

    Returns
    -------
    outcome : HealOutcome

    Raises
    ------
    ValueError
        For a frame or mask that cannot be healed (one sentence).
    """
    from .fit import resolve_device  # torch loads only when a fit is asked for

    geometry = _geometry(config, np.shape(image))

    def fit(cfg):
        return _fit(image, mask, cfg, grid, dict(progress=progress, should_stop=should_stop, on_run=on_run,
                                                 threads=threads, excluded=excluded))

    started = time.perf_counter()
    retried = None
    try:
        result, ranked = fit(config)
    except Exception as exc:
        if not is_out_of_memory(exc):
            raise
        config, retried = smaller(config, str(resolve_device(config.device)))
        if on_retry:
            on_retry(retried)
        result, ranked = fit(config)
    fit_s = time.perf_counter() - started
    scores, curves, timings = _measure(image, result)
    integrated_at = time.perf_counter()
    integrated = integrate(image, result.missing, result.healed, geometry, config, result.excluded) \
        if geometry else None
    timings["integrate_s"] = round(time.perf_counter() - integrated_at, 2)
    return HealOutcome(result, scores, curves, retried, ranked, {"fit_s": round(fit_s, 2), **timings}, integrated)


def _geometry(config: HealConfig, shape) -> dict | None:
    """The config's geometry checked against the frame (ValueError with a sentence), or None."""
    if config.geometry is None:
        return None
    from .azimuthal import load_geometry

    try:
        return load_geometry(config.geometry, shape)
    except ValueError as exc:
        raise ValueError(f"the geometry does not fit this frame: {exc}") from None


def integrate(image: np.ndarray, missing: np.ndarray, healed: np.ndarray, geometry: dict,
              config: HealConfig, excluded: np.ndarray | None = None) -> dict:
    """I(q) (or I(2θ)), I(chi) and cake of the original (its missing pixels masked) and of
    the healed frame (every pixel), by pyFAI (:mod:`dip_engine.azimuthal`).

    Returns ``{"geometry", "iq": {"unit", "x", "original", "healed", "healed_share"}, "chi":
    {"x", "range", "range_unit", "original", "healed", "healed_share"}, "cake": {"unit", "x",
    "chi", "original", "healed"}}``; each curve is :func:`~dip_engine.azimuthal.curve`'s dict
    (``healed_share``: the share of each bin's pixels that were healed, 0-1), each cake a
    (chi, radial) float32 array. I(chi) is taken on ``config.chi_range``, else on the
    strongest peak of the original's curve (its half-maximum width, at least 2 % of its position).
    """
    from . import azimuthal

    unit = config.unit
    excluded = None if excluded is None or not np.any(excluded) else np.asarray(excluded, bool)
    share = (missing & ~excluded if excluded is not None else missing).astype(np.float64)  # the share healed
    bins = azimuthal.frame_range(geometry, np.shape(image), unit)  # one set of bins for every curve and cake
    iq = {"original": azimuthal.curve(image, missing, geometry, unit, x_range=bins),
          "healed": azimuthal.curve(healed, excluded, geometry, unit, x_range=bins),
          "healed_share": azimuthal.curve(share, excluded, geometry, unit, x_range=bins)}
    x_range = config.chi_range or strongest_ring(iq["original"])
    chi = {"original": azimuthal.chi_curve(image, missing, geometry, x_range, unit),
           "healed": azimuthal.chi_curve(healed, excluded, geometry, x_range, unit),
           "healed_share": azimuthal.chi_curve(share, excluded, geometry, x_range, unit)}
    cakes = {"original": azimuthal.cake(image, missing, geometry, unit, x_range=bins),
             "healed": azimuthal.cake(healed, excluded, geometry, unit, x_range=bins)}
    return {"geometry": geometry,
            "iq": {"unit": unit, "x": iq["original"]["x"], **iq},
            "chi": {"x": chi["original"]["x"], "range": list(x_range), "range_unit": unit, **chi},
            "cake": {"unit": unit, "x": cakes["original"]["x"], "chi": cakes["original"]["chi"],
                     "original": cakes["original"]["I"], "healed": cakes["healed"]["I"]}}


def strongest_ring(iq: dict) -> tuple[float, float]:
    """(low, high): the ring around the highest point of a curve, over its half-maximum width
    above the curve's median, and at least 2 % of its position wide."""
    x = np.asarray(iq["x"], np.float64)
    y = np.asarray(iq["I"], np.float64)
    have = np.isfinite(y)
    if have.sum() < 3:
        return float(x[0]), float(x[-1])
    y = np.where(have, y, np.nanmin(y))
    top = int(np.argmax(y))
    half = np.median(y) + 0.5 * (y[top] - np.median(y))
    low, high = top, top
    while low > 0 and y[low - 1] >= half:
        low -= 1
    while high < y.size - 1 and y[high + 1] >= half:
        high += 1
    width = max(x[high] - x[low], 0.02 * x[top])
    return float(max(0.0, x[top] - width / 2)), float(x[top] + width / 2)


def _fit(image, mask, config: HealConfig, grid: bool, hooks: dict):
    """(fit, ranked grid runs or None): one fit, or the seed's grid on ``config`` and its best."""
    from .fit import heal
    from .grid import grid_search

    if not grid:
        return heal(image, mask, config, progress=hooks["progress"], should_stop=hooks["should_stop"],
                    threads=hooks["threads"], excluded=hooks["excluded"]), None
    ranked, best = grid_search(image, mask, config, on_run=hooks["on_run"], progress=hooks["progress"],
                               threads=hooks["threads"], excluded=hooks["excluded"])
    return best, [{"lr": r.config.lr, "param_noise": r.config.param_noise, "reg_noise_std": r.config.reg_noise_std,
                   "score": r.score, "elapsed_s": round(r.elapsed_s, 2)} for r in ranked]


def _measure(image: np.ndarray, result) -> tuple[dict, dict | None, dict]:
    """(scores of the fit and of every classical fill on its held-out pixels, profiles with
    the Friedel check or None without a centre, seconds each took)."""
    from .evaluate import classical_scores, mirror_check, profiles

    started = time.perf_counter()
    scores = {"dip": result.score, **classical_scores(image, result.missing, result.hidden, result.symmetry,
                                                      known=(result.blend or {}).get("fill_scores"))}
    scored = time.perf_counter()
    curves = None
    if result.center:
        excluded = result.excluded if result.excluded is not None else np.zeros(result.missing.shape, bool)
        curves = profiles(image, result.healed, result.missing, result.center, result.fills, excluded)
        curves["mirror_check"] = mirror_check(image, result.healed, result.missing & ~excluded, result.center)
    return scores, curves, {"scores_s": round(scored - started, 2),
                            "profiles_s": round(time.perf_counter() - scored, 2)}
