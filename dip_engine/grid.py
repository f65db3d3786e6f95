"""Hyperparameter grid of the DIP fit, ranked by the hold-out score.

The seed project chose ``lr``, ``param_noise`` and ``reg_noise_std`` by eye
from a 40-run grid; here every run is scored on the same held-out pixels
(same seed, same occlusions) and the best is applied.
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Callable

import numpy as np

from .config import HealConfig

#: The seed's grid: 5 x 2 x 4 = 40 runs.
SEED_GRID: dict[str, list] = {
    "lr": [1e-4, 1e-3, 1e-2, 5e-2, 0.1],
    "param_noise": [False, True],
    "reg_noise_std": [0.3, 0.03, 0.003, 0.0],
}


def grid_configs(base: HealConfig, grid: dict[str, list] | None = None) -> list[HealConfig]:
    """Every combination of the grid's values applied to ``base``."""
    grid = SEED_GRID if grid is None else grid
    names = list(grid)
    return [dataclasses.replace(base, **dict(zip(names, values)))
            for values in itertools.product(*(grid[n] for n in names))]


@dataclasses.dataclass(frozen=True)
class GridRun:
    """One grid point: its config, hold-out score and fit time (s)."""

    config: HealConfig
    score: float
    elapsed_s: float


def grid_search(
    image: np.ndarray,
    mask: np.ndarray | None,
    base: HealConfig,
    grid: dict[str, list] | None = None,
    on_run: Callable[[int, int, HealConfig, object], None] | None = None,
    progress: Callable | None = None,
    threads: int | None = None,
    excluded: np.ndarray | None = None,
) -> tuple[list[GridRun], object]:
    """Fit every grid point, rank them by hold-out score, keep the best fit.

    Parameters
    ----------
    image : (H, W) ndarray
        Frame in counts.
    mask : (H, W) array_like or None
        Nonzero = missing.
    base : HealConfig
        Everything the grid does not vary; its ``holdout`` must be > 0.
    grid : dict of lists, optional
        Field name -> values; defaults to :data:`SEED_GRID`.
    on_run : callable, optional
        Called as ``on_run(index, total, config, result)`` after each fit.
    progress : callable, optional
        Passed to every fit (:func:`dip_engine.fit.heal`), as are ``threads``
        and ``excluded``.

    Returns
    -------
    ranked : list of GridRun, best first
    best : HealResult of the best run (only that one is kept in memory)
    """
    from .fit import heal

    if base.holdout <= 0:
        raise ValueError("a grid search needs held-out pixels to score runs (holdout > 0)")
    configs = grid_configs(base, grid)
    runs, best = [], None
    for i, config in enumerate(configs, start=1):
        result = heal(image, mask, config, progress=progress, threads=threads, excluded=excluded)
        runs.append(GridRun(config, result.score, result.elapsed_s))
        if best is None or result.score < best.score:
            best = result
        if on_run is not None:
            on_run(i, len(configs), config, result)
    return sorted(runs, key=lambda run: run.score), best
