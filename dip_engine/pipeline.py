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
    """

    result: object
    scores: dict
    profiles: dict | None = None
    retried: str | None = None
    grid: list[dict] | None = None
    timings: dict = field(default_factory=dict)

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
            "timings": self.timings,
            "config": r.config.to_dict(),
        }


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

    Returns
    -------
    outcome : HealOutcome

    Raises
    ------
    ValueError
        For a frame or mask that cannot be healed (one sentence).
    """
    from .fit import resolve_device  # torch loads only when a fit is asked for

    def fit(cfg):
        return _fit(image, mask, cfg, grid, dict(progress=progress, should_stop=should_stop, on_run=on_run,
                                                 threads=threads))

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
    return HealOutcome(result, scores, curves, retried, ranked, {"fit_s": round(fit_s, 2), **timings})


def _fit(image, mask, config: HealConfig, grid: bool, hooks: dict):
    """(fit, ranked grid runs or None): one fit, or the seed's grid on ``config`` and its best."""
    from .fit import heal
    from .grid import grid_search

    if not grid:
        return heal(image, mask, config, progress=hooks["progress"], should_stop=hooks["should_stop"],
                    threads=hooks["threads"]), None
    ranked, best = grid_search(image, mask, config, on_run=hooks["on_run"], progress=hooks["progress"],
                               threads=hooks["threads"])
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
        curves = profiles(image, result.healed, result.missing, result.center, result.fills)
        curves["mirror_check"] = mirror_check(image, result.healed, result.missing, result.center)
    return scores, curves, {"scores_s": round(scored - started, 2),
                            "profiles_s": round(time.perf_counter() - scored, 2)}
