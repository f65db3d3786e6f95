"""Fit the Deep Image Prior to one frame and heal its missing pixels.

:func:`heal` is the one entry point the CLI and the dashboard call.

The fit, in brief:

1. the frame's symmetry is measured (:func:`dip_engine.symmetry.detect_symmetry`);
   log(1 + I) of the valid pixels, minus what that symmetry explains: the
   smooth polar model around the beam centre on an isotropic frame
   (:func:`dip_engine.geometry.polar_model`), the frame folded onto itself
   otherwise (:func:`dip_engine.symmetry.symmetric_model`); normalised to
   [0.05, 0.95];
2. missing pixels with a valid symmetric partner are supervised by the
   noise-weighted mean of all their partners (:func:`dip_engine.symmetry.fold`);
3. a few percent of the valid pixels, in copies of the frame's own gaps,
   arm and beamstop, are held
   out of the loss: their error is the quality score, which picks the best
   iteration and stops the fit when it stops improving (or, with
   ``stopping='wmv'``, ES-WMV picks it from the outputs' windowed variance);
4. the DIP skip network is fitted at a working resolution of at most
   ``config.max_side`` pixels with Adam on the masked MSE; its output is
   smoothed over iterations (exponential moving average), upsampled, mapped
   back to counts, and pasted into the missing pixels only.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from .config import FitProgress, HealConfig
from .evaluate import holdout_pixels
from .exclusion import crop_box, exclude, shifted, uncrop, whole_progress
from .geometry import polar_model
from .intensity import log_counts, paste, whole_counts
from .masks import flag_mask
from .network import make_input, skip
from .symmetry import Symmetry, detect_symmetry, fold, symmetric_model

#: The normalised target spans [_MARGIN, 1 - _MARGIN], inside the sigmoid.
_MARGIN = 0.05
#: Progress is reported (and the loss read back) every this many steps.
_REPORT_EVERY = 10
#: The hold-out score is computed every this many steps.
_SCORE_EVERY = 25
#: Smallest side of a frame :func:`heal` takes, in pixels (smaller frames hold
#: too few valid pixels to hold some out and fit the rest).
MIN_SIDE = 16


@dataclass
class HealResult:
    """Outcome of :func:`heal`.

    Attributes
    ----------
    healed : (H, W) ndarray
        The frame in the input's units (dtype from
        :func:`dip_engine.intensity.output_dtype`). Equal to the input
        wherever ``missing`` is False.
    missing : (H, W) bool ndarray
        The pixels that were healed.
    hidden : (H, W) bool ndarray
        Valid pixels held out of the loss to compute ``score``.
    uncertainty : (H, W) float32 ndarray
        Predictive standard deviation of each healed value, in log10(1 + I),
        calibrated on the held-out pixels (:mod:`dip_engine.uncertainty`);
        zero on valid pixels.
    score : float or None
        RMSE of log10(1 + I) on the held-out valid pixels at the chosen
        iteration (None when ``config.holdout`` is 0).
    best_iteration : int
        Iteration whose (smoothed) output is the result.
    loss_history : list of float
        Masked MSE per step in the normalised log space.
    score_history : list of (iteration, score)
    iterations_run : int
        Steps done (fewer than planned when stopped early).
    elapsed_s : float
        Wall time of the fit.
    device : str
        Where it ran ('cpu' or 'cuda').
    working_shape : (h, w) tuple
        Resolution the network was fitted at.
    stopped : bool
        True when ``should_stop`` ended the fit.
    early_stopped : bool
        True when the hold-out score stopped improving before the last step.
    center : (row, col) or None
        Beam centre the symmetry prior used.
    config : HealConfig
    hidden_prediction : (n,) float64 ndarray
        The fit's counts at the held-out pixels (``hidden``, in
        ``np.flatnonzero`` order), which ``healed`` keeps at their measured
        values; for scoring and blending (:mod:`dip_engine.blend`).
    blend : dict or None
        With ``config.blend``: the weights of the fit and the classical fills
        in ``healed``, and the fit's own score before blending.
    fills : dict or None
        With ``config.blend``: each classical fill of
        :data:`dip_engine.baselines.FILLS` at the ``missing`` pixels, (m,)
        counts in ``np.flatnonzero`` order, as blended into ``healed``.
    symmetry : Symmetry or None
        The symmetry the fit used (measured, or the config's).
    network : (m,) float64 ndarray or None
        The network's own counts at the ``missing`` pixels before any blend.
    hidden_spread : (n,) float64 ndarray
        The fit's spread (as ``uncertainty`` before calibration) at the held-out pixels.
    excluded : (H, W) bool ndarray or None
        Missing pixels with no physical data, left NaN in ``healed`` rather than
        healed (:func:`dip_engine.exclusion.exclude`).
    expected : (m,) float64 ndarray or None
        With a Poisson-draw fill (``config.fill``), the expected counts at the
        ``missing`` pixels that the draw was made around.
    calibration : dict or None
        :meth:`dip_engine.uncertainty.Calibration.to_dict` of ``uncertainty``:
        its scale and floor, and the cross-fitted share of held-out pixels within
        1 and 2 sigma.
    """

    healed: np.ndarray
    missing: np.ndarray
    hidden: np.ndarray
    uncertainty: np.ndarray
    score: float | None
    best_iteration: int
    loss_history: list[float]
    score_history: list[tuple[int, float]]
    iterations_run: int
    elapsed_s: float
    device: str
    working_shape: tuple[int, int]
    stopped: bool
    early_stopped: bool
    center: tuple[float, float] | None
    config: HealConfig = field(repr=False)
    hidden_prediction: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    blend: dict | None = None
    fills: dict | None = field(default=None, repr=False)
    symmetry: Symmetry | None = None
    network: np.ndarray | None = field(default=None, repr=False)
    hidden_spread: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    calibration: dict | None = None
    expected: np.ndarray | None = field(default=None, repr=False)
    excluded: np.ndarray | None = field(default=None, repr=False)


def missing_pixels(image: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Pixels to heal: the mask's nonzero pixels plus the detector's flags.

    Parameters
    ----------
    image : (H, W) ndarray
        Frame in counts; its detector flags (:func:`dip_engine.masks.flag_mask`:
        negative, non-finite, unsigned all-ones) are missing.
    mask : (H, W) array_like, optional
        Nonzero = missing (pyFAI's convention).

    Returns
    -------
    missing : (H, W) bool ndarray
    """
    image = np.asarray(image)
    missing = flag_mask(image)
    if mask is not None:
        mask = np.asarray(mask)
        if mask.shape != image.shape:
            raise ValueError(
                f"the mask is {mask.shape[0]}x{mask.shape[1]} pixels but the frame is "
                f"{image.shape[0]}x{image.shape[1]}; they must have the same shape"
            )
        missing |= mask != 0
    return missing


def resolve_device(name: str) -> torch.device:
    """'auto' -> CUDA when available, else CPU; 'cuda' without one is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for but no CUDA GPU is available")
    return torch.device(name)


def memory_layout(device: torch.device) -> torch.memory_format:
    """Memory layout of the network and its input on ``device``: channels-last on the CPU,
    where oneDNN's convolutions then took CeO2_Pilatus1M.tif's 600 steps in 75 s instead
    of 88 s (one thread, same result); the default on a GPU, where it was not measured."""
    return torch.channels_last if device.type == "cpu" else torch.contiguous_format


def cpu_threads() -> int:
    """Torch threads for a fit on the CPU by default: every core this process may use
    but one (at least one).

    Torch's threads meet at a barrier after every operation, so a fit on every
    core stalls whenever anything else takes a core (the web server, a browser,
    another user's mask): on 2 cores, 100 iterations next to two busy processes
    took 23 s on 2 threads and 13 s on 1 (6.4 s and 7.4 s on an idle machine).
    """
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, usable - 1)


def heal(
    image: np.ndarray,
    mask: np.ndarray | None = None,
    config: HealConfig | None = None,
    progress: Callable[[FitProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    threads: int | None = None,
    excluded: np.ndarray | None = None,
) -> HealResult:
    """Inpaint the missing pixels of a detector frame with the Deep Image Prior.

    Parameters
    ----------
    image : (H, W) ndarray
        Frame in counts. Its detector flags (negative, non-finite) are missing.
    mask : (H, W) array_like, optional
        Nonzero = missing, in addition to the detector flags.
    config : HealConfig, optional
        Defaults to the 'balanced' preset.
    progress : callable, optional
        Called with a :class:`FitProgress` every few steps and at the end.
    should_stop : callable, optional
        Polled every step; when it returns True the fit ends and the best
        estimate so far is returned (``stopped=True``).
    threads : int, optional
        Torch threads of a fit on the CPU; by default :func:`cpu_threads`.
    excluded : (H, W) bool ndarray, optional
        Masked pixels with no physical data (outside the window, below a
        GISAXS horizon): not healed but NaN in ``healed``, 0 in
        ``uncertainty``. The fit runs on the box of the other pixels
        (:mod:`dip_engine.exclusion`).

    Returns
    -------
    result : HealResult

    Raises
    ------
    ValueError
        If the frame is not 2-D, the mask has another shape, no pixel is
        valid, or no pixel is missing.

    References
    ----------
    .. [1] D. Ulyanov, A. Vedaldi, V. Lempitsky, "Deep Image Prior", CVPR 2018.
    """
    config = config or HealConfig.from_preset()
    image = np.asarray(image)
    if image.ndim != 2:
        raise ValueError(f"the frame must be a 2-D image, got an array of shape {image.shape}")
    if min(image.shape) < MIN_SIDE:
        raise ValueError(f"the frame is {image.shape[0]} x {image.shape[1]} pixels; healing needs at least "
                         f"{MIN_SIDE} pixels along each side")
    missing = missing_pixels(image, mask)
    box = crop_box(None if excluded is None else np.asarray(excluded, bool) & missing, image.shape, MIN_SIDE)
    if box is not None:
        inner = heal(image[box], missing[box], shifted(config, box), whole_progress(progress, box, image.shape),
                     should_stop, threads, np.asarray(excluded, bool)[box])
        return exclude(uncrop(inner, box, image, missing, config), excluded)
    if config.fill == "poisson" and not whole_counts(np.asarray(image)[~missing]):
        raise ValueError("a Poisson-draw fill needs a frame of whole counts; this one holds fractions")
    if missing.all():
        raise ValueError("every pixel is masked: there is nothing to fit the healing to")
    if not missing.any():
        raise ValueError("no pixel is masked or flagged: there is nothing to heal")
    device = resolve_device(config.device)
    if device.type == "cpu":
        torch.set_num_threads(threads or cpu_threads())
    problem = _Problem.build(image, missing, config, excluded)
    result = _fit(problem, config, device, progress, should_stop)
    return exclude(_finish(np.asarray(image), result, config), excluded)


def _finish(image: np.ndarray, result: HealResult, config: HealConfig) -> HealResult:
    """The fit blended with the fills (``config.blend``), its uncertainty calibrated, and its
    healed pixels drawn from Poisson (``config.fill``)."""
    if config.blend:
        from .blend import blend

        result = blend(image, result)
    if result.calibration is None:  # not blended: the fit alone is calibrated
        from .uncertainty import calibrated

        result = calibrated(image, result)
    return poisson_draw(result) if config.fill == "poisson" else result


def poisson_draw(result: HealResult) -> HealResult:
    """The result with each healed pixel a Poisson draw around its expected counts, from a
    generator seeded by the config's seed (the same job draws the same frame); valid pixels
    are untouched and the expectation stays in ``expected``."""
    missing = result.missing
    expected = np.clip(np.asarray(result.healed, np.float64)[missing], 0, None)
    rng = np.random.default_rng([result.config.seed, 0x5EED])
    healed = result.healed.copy()
    healed[missing] = rng.poisson(expected)
    return dataclasses.replace(result, healed=healed, expected=expected)


def frame_symmetry(image: np.ndarray, valid: np.ndarray, config: HealConfig) -> Symmetry | None:
    """The symmetry a fit uses: None without the symmetry prior, else the config's
    (``config.symmetry``) or the measured one, its centre replaced by ``config.center``."""
    if config.prior != "symmetry":
        return None
    symmetry = Symmetry.from_dict(config.symmetry) if config.symmetry else detect_symmetry(image, valid)
    if config.center:
        symmetry = dataclasses.replace(symmetry, center=tuple(config.center))
    return symmetry


@dataclass
class _LogSpace:
    """The normalised log space a fit works in.

    t = MARGIN + (1 - 2 MARGIN) (log(1 + I) - base - lo) / span, where
    ``base`` is what the frame's symmetry explains (or 0), so that the network
    fits the rest. ``lo`` and ``span`` map the valid pixels (with a base: the
    0.1 to 99.9 percentiles of the residual, which has rare large outliers) to
    [MARGIN, 1 - MARGIN]. ``base`` is made without the held-out pixels, so that
    they score the fit fairly; ``final``, the same model made with them, is
    what the healed pixels are built on (a held-out pixel may be a missing
    pixel's only symmetric partner).
    """

    base: np.ndarray
    lo: float
    span: float
    symmetry: Symmetry | None = None
    final: np.ndarray | None = None

    @classmethod
    def fit(cls, image, valid, symmetry: Symmetry | None = None, check: np.ndarray | None = None) -> "_LogSpace":
        """The space of a frame's ``valid`` pixels; ``check``: held-out pixels that pick the
        symmetric model's smoothing (:func:`dip_engine.symmetry.symmetric_model`)."""
        y = log_counts(image, valid)
        base, final = np.zeros(y.shape), None
        every = valid if check is None else valid | check
        if symmetry is not None and symmetry.isotropic:
            base = polar_model(y, valid, symmetry.center, window_deg=20)
            if check is not None:
                final = polar_model(log_counts(image, every), every, symmetry.center, window_deg=20)
        elif symmetry is not None:
            truth = None if check is None else log_counts(image, check)[check]
            base, sigma = symmetric_model(y, valid, symmetry, check=check, truth=truth)
            if check is not None:
                final, _ = symmetric_model(log_counts(image, every), every, symmetry, sigmas=(sigma,))
        v = (y - base)[valid]
        lo, hi = (v.min(), v.max()) if symmetry is None else np.percentile(v, [0.1, 99.9])
        return cls(base=base, lo=float(lo), span=float(hi - lo) if hi > lo else 1.0, symmetry=symmetry,
                   final=final)

    def encode(self, y: np.ndarray) -> np.ndarray:
        return _MARGIN + (1 - 2 * _MARGIN) * (y - self.base - self.lo) / self.span

    def to_log(self, t, final: bool = False):
        """Normalised values -> log(1 + I) (numpy or torch, same shape as base), on the
        base or, with ``final``, on the model made with the held-out pixels too."""
        base = self.final if final and self.final is not None else self.base
        return (t - _MARGIN) / (1 - 2 * _MARGIN) * self.span + self.lo + base

    def to_counts(self, t: np.ndarray, final: bool = False) -> np.ndarray:
        return np.expm1(self.to_log(t, final))

    def targets(self, image, valid, partner_weight: float):
        """Target and per-pixel weight of the loss.

        Valid pixels have weight 1. With a symmetry and ``partner_weight`` > 0,
        missing pixels with a valid symmetric partner are supervised by the
        noise-weighted mean of their partners (:func:`dip_engine.symmetry.fold`)
        with that weight.
        """
        y = log_counts(image, valid)
        weight = valid.astype(np.float64)
        target = np.where(valid, y, 0.0)
        if partner_weight > 0 and self.symmetry is not None:
            folded, found = fold(y, valid, self.symmetry)
            use = found & ~valid
            target[use] = folded[use]
            weight[use] = partner_weight
        return np.clip(self.encode(target), 0, 1) * (weight > 0), weight


@dataclass
class _Problem:
    """Everything a fit needs, prepared from the frame and the config."""

    image: np.ndarray
    missing: np.ndarray
    hidden: np.ndarray
    space: _LogSpace
    target: torch.Tensor
    weight: torch.Tensor
    factor: int
    coarse_shape: tuple[int, int]
    symmetry: Symmetry | None

    @property
    def center(self) -> tuple[float, float] | None:
        return None if self.symmetry is None else tuple(self.symmetry.center)

    @classmethod
    def build(cls, image, missing, config: HealConfig, excluded: np.ndarray | None = None) -> "_Problem":
        """The problem of healing ``missing`` pixels; the held-out pixels copy the regions to
        heal, not the ``excluded`` ones."""
        valid = ~missing
        symmetry = frame_symmetry(image, valid, config)
        hidden = np.zeros_like(missing)
        if config.holdout > 0:
            shapes = None if excluded is None else missing & ~np.asarray(excluded, bool)
            hidden = holdout_pixels(missing, seed=config.seed, fraction=config.holdout,
                                    center=symmetry.center if symmetry else None, shapes=shapes)
        known = valid & ~hidden
        space = _LogSpace.fit(image, known, symmetry, check=hidden if hidden.any() else None)
        target, weight = space.targets(image, known, config.mirror_weight)
        factor = max(1, math.ceil(max(image.shape) / config.max_side))
        t_small, w_small, coarse_shape = _downsample(target, weight, factor, 2 ** len(config.channels))
        return cls(image, missing, hidden, space, t_small, w_small, factor, coarse_shape, symmetry)

    def upsample(self, t: torch.Tensor) -> torch.Tensor:
        """Network-sized output -> (H, W) tensor at full resolution."""
        hc, wc = self.coarse_shape
        x = t[..., :hc, :wc].float()
        if self.factor > 1:
            x = F.interpolate(x, scale_factor=self.factor, mode="bilinear", align_corners=False)
        return x[0, 0, : self.image.shape[0], : self.image.shape[1]]

    def prediction(self, t: torch.Tensor, final: bool = False) -> np.ndarray:
        """The fit of a network output ``t`` at every pixel, in counts ((H, W) float64): on
        the base that scores it, or with ``final`` the one that heals (:class:`_LogSpace`)."""
        return self.space.to_counts(self.upsample(t).cpu().numpy().astype(np.float64), final)

    def healed(self, t: torch.Tensor) -> np.ndarray:
        """The frame with missing pixels from a network output ``t``."""
        return paste(self.image, self.missing, self.prediction(t, final=True))

    def scorer(self, device) -> Callable[[torch.Tensor], float] | None:
        """RMSE of log10(1 + I) on the held-out pixels, for a network output."""
        if not self.hidden.any():
            return None
        flat = np.flatnonzero(self.hidden)
        idx = torch.from_numpy(flat).to(device)
        truth = torch.from_numpy(log_counts(self.image, self.hidden).ravel()[flat]).to(device)
        base = torch.from_numpy(self.space.base.ravel()[flat]).to(device)
        space = self.space

        def score(t: torch.Tensor) -> float:
            tt = self.upsample(t).reshape(-1)[idx].double()
            pred = ((tt - _MARGIN) / (1 - 2 * _MARGIN) * space.span + space.lo + base).clamp_min(0)
            return float(torch.sqrt(torch.mean((pred - truth) ** 2)) / math.log(10))

        return score


def _fit(problem: _Problem, config: HealConfig, device, progress, should_stop) -> HealResult:
    """The optimisation loop (see the module docstring)."""
    torch.manual_seed(config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    target, weight = problem.target.to(device), problem.weight.to(device)
    weight_sum = weight.sum()
    in_ch = config.input_depth if config.input_type == "noise" else 2
    layout = memory_layout(device)
    z = make_input(config.input_type, in_ch, tuple(target.shape[-2:]), gen).to(device, memory_format=layout)
    net = skip(in_ch, 1, config.channels, channels_skip=config.skip_channels).to(device, memory_format=layout)
    opt = torch.optim.Adam(net.parameters(), lr=config.lr)
    conv_weights = [p for p in net.parameters() if p.dim() == 4]
    score_fn = problem.scorer(device)

    ema = var = None
    best, best_score, best_var, best_iteration = None, math.inf, None, 0
    wmv = _WindowVariance(config.wmv_window) if config.stopping == "wmv" else None
    wmv_min, latest_score = math.inf, None
    losses: list[torch.Tensor] = []
    loss_history: list[float] = []
    score_history: list[tuple[int, float]] = []
    stopped = early = False
    start = time.perf_counter()
    step = 0
    for step in range(1, config.iterations + 1):
        out, loss = _train_step(net, opt, z, (target, weight, weight_sum), config, gen, conv_weights)
        losses.append(loss.detach())
        with torch.no_grad():
            o = out.detach()
            ema, var = _smooth(ema, var, o, config.ema)
            spread = wmv.push(o) if wmv is not None else None
        last = step == config.iterations
        if spread is not None:  # ES-WMV: the iterate where the outputs vary least
            if spread < wmv_min:
                wmv_min, best, best_var, best_iteration = spread, ema.clone(), var.clone(), step
            elif step - best_iteration >= config.wmv_patience:
                early = True
        if score_fn is not None and (step % _SCORE_EVERY == 0 or last):
            latest_score = s = score_fn(ema)
            score_history.append((step, s))
            if wmv is None and s < best_score:
                best, best_score, best_var, best_iteration = ema.clone(), s, var.clone(), step
            elif wmv is None and config.patience and step - best_iteration >= config.patience:
                early = True
        stop_now = should_stop is not None and should_stop()
        if step % _REPORT_EVERY == 0 or last or stop_now or early:
            loss_history.extend(torch.stack(losses).cpu().tolist())
            losses.clear()
            if progress is not None:
                snapshot = ema if best is None else best
                progress(FitProgress(step, config.iterations, loss_history[-1],
                                     time.perf_counter() - start,
                                     lambda s=snapshot: problem.healed(s),
                                     best_score if wmv is None and best is not None else latest_score))
        if stop_now or early:
            stopped = stop_now
            break

    if best is None:
        best, best_var, best_iteration = ema, var, step
    if wmv is not None and score_fn is not None:
        best_score = score_fn(best)
    return _result(problem, config, best, best_var, best_score if score_fn is not None else None,
                   dict(best_iteration=best_iteration, loss_history=loss_history, score_history=score_history,
                        iterations_run=step, elapsed_s=time.perf_counter() - start, device=device.type,
                        working_shape=tuple(target.shape[-2:]), stopped=stopped, early_stopped=early))


def _train_step(net, opt, z, problem_tensors, config: HealConfig, gen, conv_weights):
    """One Adam step on the masked MSE, with fresh input noise and optional weight noise;
    (network output, loss)."""
    target, weight, weight_sum = problem_tensors
    z_in = z
    if config.reg_noise_std > 0:
        z_in = z + config.reg_noise_std * torch.randn(z.shape, generator=gen).to(z.device)
    opt.zero_grad(set_to_none=True)
    out = net(z_in)
    loss = ((out - target) ** 2 * weight).sum() / weight_sum
    loss.backward()
    opt.step()
    if config.param_noise:
        with torch.no_grad():
            for p in conv_weights:
                p.add_(torch.randn(p.shape, generator=gen).to(p.device) * (p.std() / 50))
    return out, loss


def _smooth(ema, var, o, rate: float):
    """The exponential moving average of the outputs and its running variance, updated with ``o``."""
    if ema is None:
        return o.clone(), torch.zeros_like(o)
    delta = o - ema
    ema += (1 - rate) * delta
    var.mul_(rate).add_((1 - rate) * delta * delta)
    return ema, var


def _result(problem: _Problem, config: HealConfig, best, best_var, score, run: dict) -> HealResult:
    """The :class:`HealResult` of the chosen output ``best`` and its variance; ``run``: the
    loop's counts, histories and flags."""
    prediction = problem.prediction(best, final=True)
    spread = problem.upsample(best_var.sqrt()).cpu().numpy()
    sigma = spread * problem.space.span / (1 - 2 * _MARGIN) / math.log(10)
    return HealResult(
        healed=paste(problem.image, problem.missing, prediction),
        missing=problem.missing,
        hidden=problem.hidden,
        uncertainty=np.where(problem.missing, sigma, 0).astype(np.float32),
        score=score,
        center=problem.center,
        config=config,
        hidden_prediction=problem.prediction(best)[problem.hidden],
        hidden_spread=sigma[problem.hidden].astype(np.float64),
        symmetry=problem.symmetry,
        network=prediction[problem.missing],
        **run,
    )


class _WindowVariance:
    """Variance of the last ``window`` network outputs, averaged over pixels.

    The ES-WMV statistic (Wang et al. 2021, "Early stopping for deep image
    prior"): it falls while the fit learns the image and rises when it
    starts to fit noise. Running sums (float64) over a ring of outputs.
    """

    def __init__(self, window: int):
        self.window = window
        self.ring: list[torch.Tensor] = []
        self.s1 = self.s2 = None

    def push(self, output: torch.Tensor) -> float | None:
        """Add an output; the windowed variance once ``window`` outputs are in, else None."""
        o = output.double()
        if self.s1 is None:
            self.s1, self.s2 = torch.zeros_like(o), torch.zeros_like(o)
        self.ring.append(o)
        self.s1 += o
        self.s2 += o * o
        if len(self.ring) > self.window:
            old = self.ring.pop(0)
            self.s1 -= old
            self.s2 -= old * old
        if len(self.ring) < self.window:
            return None
        mean = self.s1 / self.window
        return float((self.s2 / self.window - mean * mean).clamp_min(0).mean())


def _downsample(target: np.ndarray, weight: np.ndarray, factor: int, multiple: int):
    """Weighted block-average of the target, padded for the network.

    Returns the (1, 1, h, w) target and weight tensors, h and w multiples of
    ``multiple``, and the (h0, w0) shape of the downsampled frame before
    padding. The weight of a block is the mean weight of its pixels.
    """
    h, w = target.shape
    hc, wc = -(-h // factor), -(-w // factor)
    t = torch.from_numpy(np.asarray(target, np.float32))[None, None]
    v = torch.from_numpy(np.asarray(weight, np.float32))[None, None]
    pad = (0, wc * factor - w, 0, hc * factor - h)
    t = F.pad(t, pad)
    v = F.pad(v, pad)
    if factor > 1:
        tv = F.avg_pool2d(t * v, factor)
        v = F.avg_pool2d(v, factor)
        t = torch.where(v > 0, tv / v.clamp_min(1e-12), torch.zeros_like(tv))
    # sides are multiples of ``multiple`` (one pixel per stride-2 level), and at
    # least two such (the deepest level is >= 2 px, as its reflection padding needs)
    hp, wp = (max(2, -(-n // multiple)) * multiple for n in (hc, wc))
    pad = (0, wp - wc, 0, hp - hc)
    return F.pad(t, pad, mode="replicate"), F.pad(v, pad), (hc, wc)
