"""One configuration dataclass per healing job, serialisable to JSON.

No torch import here: the web process builds and validates configs without
loading the deep-learning stack.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field

import numpy as np

#: Named bundles of network size, iterations and working resolution.
#: ``max_side`` is the longest side (pixels) the network fits at; larger
#: frames are block-averaged down to it and the fit is upsampled back.
PRESETS: dict[str, dict] = {
    "fast": dict(
        iterations=300, max_side=256, channels=(8, 16, 32, 64, 64), input_depth=8, patience=150
    ),
    "balanced": dict(
        iterations=600, max_side=320, channels=(8, 16, 32, 64, 64), input_depth=8, patience=200
    ),
    "quality": dict(
        iterations=2000, max_side=768, channels=(16, 32, 64, 128, 128), input_depth=32, patience=500
    ),
}

DEFAULT_PRESET = "balanced"
#: Most Adam steps one fit may take (the quality preset takes 2000).
MAX_ITERATIONS = 100_000
#: Largest seed (numpy's and torch's generators take 32-bit seeds everywhere).
MAX_SEED = 2**32 - 1


#: What healed pixels may hold: the expectation, or a Poisson draw around it.
FILLS_WRITTEN = ("expectation", "poisson")


@dataclass(frozen=True)
class HealConfig:
    """Hyperparameters of one Deep Image Prior fit.

    Attributes
    ----------
    preset : str
        Name of the preset the values came from (informative).
    iterations : int
        Adam steps.
    lr : float
        Adam learning rate.
    reg_noise_std : float
        Std of the Gaussian noise added to the input ``z`` at every step.
    param_noise : bool
        Add Gaussian noise (1/50 of each conv weight's std) to the conv
        weights after every step, as the DIP inpainting notebook intends.
    input_type : {'noise', 'meshgrid'}
        Kind of fixed input ``z``.
    input_depth : int
        Channels of a noise input.
    channels : tuple of int
        Channels per level of the skip network (encoder and decoder).
    skip_channels : int
        Channels of each skip connection.
    max_side : int
        Longest side (pixels) of the working resolution.
    ema : float
        Weight of the exponential moving average of the network output over
        iterations (0.99 ~ the last 100 steps); the average is the result and
        its running spread the uncertainty map.
    holdout : float
        Share of valid pixels held out of the loss, in copies of the frame's
        own gaps, beamstop and arm (:func:`dip_engine.evaluate.holdout_pixels`);
        their error is the quality score (0 = no score, no early stopping).
        5 %, not 3 %: on the GISAXS frames' gap copies the blend then followed
        the network (0.76x and 0.65x the best other method's error above the
        noise instead of 1.01x and 0.83x), on the processed muscle frame it
        lost (0.86x instead of 0.69x).
    patience : int
        Stop when the score has not improved for this many steps (0 = never).
    stopping : {'score', 'wmv'}
        How the result's iteration is picked: 'score', the best hold-out
        score (early stop after ``patience``); 'wmv', ES-WMV (Wang et al.
        2021): the minimum of the variance of the last ``wmv_window``
        outputs, stopping when no new minimum came for ``wmv_patience`` steps.
    wmv_window, wmv_patience : int
        W and P of ES-WMV (100 and 1000 in the authors' code).
    blend : bool
        Combine the fit with the classical fills, weighted by the held-out
        pixels (:mod:`dip_engine.blend`; needs the symmetry prior and
        ``holdout`` > 0).
    prior : {'symmetry', 'none'}
        'symmetry': the frame's symmetry is measured
        (:func:`dip_engine.symmetry.detect_symmetry`) and the network fits
        what it does not explain: on an isotropic frame the residual from the
        ring model, otherwise the residual from the frame folded onto itself
        by the operations that hold; 'none': plain DIP on the log image.
        ('radial', the former name, is read as 'symmetry'.)
    center : (row, col) or None
        Beam centre in pixels; None takes the measured one.
    symmetry : dict or None
        The user's symmetry instead of the measured one
        (:meth:`dip_engine.symmetry.Symmetry.to_dict` form: centre, isotropic,
        operations with ``holds``); None measures it.
    mirror_weight : float
        Loss weight of missing pixels with a valid symmetric partner,
        supervised by the noise-weighted mean of their partners
        (:func:`dip_engine.symmetry.fold`; 0 = off; symmetry prior only).
    seed : int
        Seed of the input noise and the weight initialisation.
    device : {'auto', 'cpu', 'cuda'}
        Where to fit; 'auto' takes CUDA when available.
    geometry : dict or None
        pyFAI geometry (:func:`dip_engine.azimuthal.load_geometry`); with it the
        outcome holds I(q) or I(2θ), I(chi) and the cake of the original and
        the healed frame. It does not change the fit.
    unit : str
        Unit of those curves (a key of :data:`dip_engine.azimuthal.UNITS`).
    chi_range : (low, high) or None
        The ring, in ``unit``, whose I(chi) is reported; None takes the
        strongest peak of the original's curve.
    fill : {'expectation', 'poisson'}
        What a healed pixel holds: the expected counts, or (integer frames
        only) a Poisson draw around them, reproducible from ``seed``, so that
        downstream photon statistics are not biased by a too-smooth fill.
    """

    preset: str = DEFAULT_PRESET
    iterations: int = PRESETS[DEFAULT_PRESET]["iterations"]
    lr: float = 0.01
    reg_noise_std: float = 0.03
    param_noise: bool = False
    input_type: str = "noise"
    input_depth: int = PRESETS[DEFAULT_PRESET]["input_depth"]
    channels: tuple[int, ...] = PRESETS[DEFAULT_PRESET]["channels"]
    skip_channels: int = 4
    max_side: int = PRESETS[DEFAULT_PRESET]["max_side"]
    ema: float = 0.99
    holdout: float = 0.05
    patience: int = PRESETS[DEFAULT_PRESET]["patience"]  # one source of defaults: the default preset
    stopping: str = "score"
    wmv_window: int = 100
    wmv_patience: int = 1000
    blend: bool = True
    prior: str = "symmetry"
    center: tuple[float, float] | None = None
    symmetry: dict | None = None
    mirror_weight: float = 1.0
    seed: int = 0
    device: str = "auto"
    geometry: dict | None = None
    unit: str = "q_nm^-1"
    chi_range: tuple[float, float] | None = None
    fill: str = "expectation"

    def __post_init__(self):
        object.__setattr__(self, "channels", tuple(int(c) for c in self.channels))
        if self.center is not None:
            object.__setattr__(self, "center", tuple(float(c) for c in self.center))
        if self.prior == "radial":
            object.__setattr__(self, "prior", "symmetry")
        problems = []
        if not _integer_in(self.iterations, 1, MAX_ITERATIONS):
            problems.append(f"iterations must be a whole number from 1 to {MAX_ITERATIONS}")
        if not _integer_in(self.seed, 0, MAX_SEED):
            problems.append(f"seed must be a whole number from 0 to {MAX_SEED}")
        if not self.lr > 0:
            problems.append("lr must be positive")
        if self.reg_noise_std < 0:
            problems.append("reg_noise_std must be >= 0")
        if self.input_type not in ("noise", "meshgrid"):
            problems.append("input_type must be 'noise' or 'meshgrid'")
        if self.input_depth < 1:
            problems.append("input_depth must be at least 1")
        if not self.channels or min(self.channels) < 1:
            problems.append("channels must be a non-empty list of positive integers")
        if self.max_side < 2 ** len(self.channels):
            problems.append(f"max_side must be at least {2 ** len(self.channels)}")
        if not 0 <= self.ema < 1:
            problems.append("ema must be in [0, 1)")
        if not 0 <= self.holdout < 0.5:
            problems.append("holdout must be in [0, 0.5)")
        if self.patience < 0:
            problems.append("patience must be >= 0")
        if self.stopping not in ("score", "wmv"):
            problems.append("stopping must be 'score' or 'wmv'")
        if self.wmv_window < 2 or self.wmv_patience < 1:
            problems.append("wmv_window must be at least 2 and wmv_patience at least 1")
        if self.prior not in ("symmetry", "none"):
            problems.append("prior must be 'symmetry' or 'none'")
        if self.symmetry is not None:
            from .symmetry import Symmetry  # numpy and scipy only

            try:
                object.__setattr__(self, "symmetry", Symmetry.from_dict(self.symmetry).to_dict())
            except (ValueError, AttributeError) as exc:
                problems.append(f"symmetry: {exc}")
        if self.center is not None and len(self.center) != 2:
            problems.append("center must be (row, col)")
        if self.mirror_weight < 0:
            problems.append("mirror_weight must be >= 0")
        if self.device not in ("auto", "cpu", "cuda"):
            problems.append("device must be 'auto', 'cpu' or 'cuda'")
        problems += self._geometry_problems()
        if self.fill not in FILLS_WRITTEN:
            problems.append(f"fill must be one of {', '.join(FILLS_WRITTEN)}")
        if problems:
            raise ValueError("invalid heal config: " + "; ".join(problems))

    def _geometry_problems(self) -> list[str]:
        """What is wrong with the geometry, unit and chi range (the geometry is checked
        against the frame when the job runs)."""
        from .azimuthal import UNITS  # pyFAI loads only when a geometry is used

        problems = []
        if self.geometry is not None and not isinstance(self.geometry, dict):
            problems.append("geometry must be a pyFAI geometry dict")
        if self.unit not in UNITS:
            problems.append(f"unit must be one of {', '.join(UNITS)}")
        if self.chi_range is not None:
            try:
                low, high = (float(v) for v in self.chi_range)
            except (TypeError, ValueError):
                low = high = float("nan")
            if not (math.isfinite(low) and math.isfinite(high) and 0 <= low < high):
                problems.append("chi_range must be two numbers, 0 <= low < high")
            else:
                object.__setattr__(self, "chi_range", (low, high))
        return problems

    @classmethod
    def from_preset(cls, name: str = DEFAULT_PRESET, **overrides) -> "HealConfig":
        """Config of a named preset, with fields overridden (None = keep)."""
        if name not in PRESETS:
            raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
        values = dict(PRESETS[name], preset=name)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def to_dict(self) -> dict:
        """Plain JSON-compatible dict."""
        d = dataclasses.asdict(self)
        d["channels"] = list(self.channels)
        d["center"] = list(self.center) if self.center is not None else None
        d["chi_range"] = list(self.chi_range) if self.chi_range is not None else None
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict) -> "HealConfig":
        """Inverse of :meth:`to_dict`; unknown keys are an error."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"unknown heal config keys: {', '.join(unknown)}")
        return cls(**d)

    @classmethod
    def from_json(cls, text: str) -> "HealConfig":
        return cls.from_dict(json.loads(text))


def _integer_in(value, low: int, high: int) -> bool:
    """Whether ``value`` is an int (not a bool) within [low, high]."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and low <= value <= high


@dataclass
class FitProgress:
    """State of a running fit, handed to the ``progress`` callback.

    Attributes
    ----------
    iteration : int
        Steps done so far (1-based).
    iterations : int
        Steps planned.
    loss : float
        Masked MSE of the last step, in the normalised log space.
    elapsed_s : float
        Seconds since the fit started.
    preview : callable
        ``preview()`` returns the current best healed frame (H, W) in
        counts; it costs an upsampling, so call it only when it will be shown.
    score : float or None
        Best hold-out score so far (RMSE of log10(1 + I)), if any.
    """

    iteration: int
    iterations: int
    loss: float
    elapsed_s: float
    preview: object = field(repr=False, default=None)
    score: float | None = None
