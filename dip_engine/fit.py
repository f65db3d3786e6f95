"""Fit the Deep Image Prior to one frame and heal its missing pixels.

:func:`heal` is the one entry point the CLI and the dashboard call. The fit
runs in a normalised log-intensity space at a working resolution of at most
``config.max_side`` pixels; the result is mapped back to counts and only the
missing pixels of the input change.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from .config import FitProgress, HealConfig
from .geometry import estimate_center, mirror_image, polar_model
from .intensity import log_counts, paste
from .masks import flag_mask
from .network import make_input, skip

#: The normalised target spans [_MARGIN, 1 - _MARGIN], inside the sigmoid.
_MARGIN = 0.05
#: Progress is reported every this many steps (and loss read back).
_REPORT_EVERY = 10


@dataclass
class HealResult:
    """Outcome of :func:`heal`.

    Attributes
    ----------
    healed : (H, W) ndarray
        The frame in the input's units (dtype from
        :func:`dip_engine.intensity.output_dtype`). Equal to the input wherever ``missing`` is False.
    missing : (H, W) bool ndarray
        The pixels that were healed.
    uncertainty : (H, W) float32 ndarray
        Spread (std) of the fit over its last iterations, in units of
        log10(1 + I); zero on valid pixels.
    loss_history : list of float
        Masked MSE per step in the normalised log space.
    iterations_run : int
        Steps done (fewer than planned when stopped).
    elapsed_s : float
        Wall time of the fit.
    device : str
        Where it ran ('cpu' or 'cuda').
    working_shape : (h, w) tuple
        Resolution the network was fitted at.
    stopped : bool
        True when ``should_stop`` ended the fit early.
    center : (row, col) or None
        Beam centre the radial prior used.
    config : HealConfig
    """

    healed: np.ndarray
    missing: np.ndarray
    uncertainty: np.ndarray
    loss_history: list[float]
    iterations_run: int
    elapsed_s: float
    device: str
    working_shape: tuple[int, int]
    stopped: bool
    center: tuple[float, float] | None
    config: HealConfig = field(repr=False)


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


def heal(
    image: np.ndarray,
    mask: np.ndarray | None = None,
    config: HealConfig | None = None,
    progress: Callable[[FitProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> HealResult:
    """Inpaint the missing pixels of a detector frame with the Deep Image Prior.

    Parameters
    ----------
    image : (H, W) ndarray
        Frame in counts. Negative and non-finite pixels are missing.
    mask : (H, W) array_like, optional
        Nonzero = missing, in addition to the detector flags.
    config : HealConfig, optional
        Defaults to the 'balanced' preset.
    progress : callable, optional
        Called with a :class:`FitProgress` every few steps and at the end.
    should_stop : callable, optional
        Polled every step; when it returns True the fit ends early and the
        current estimate is returned (``stopped=True``).

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
    missing = missing_pixels(image, mask)
    if missing.all():
        raise ValueError("every pixel is masked: there is nothing to fit the healing to")
    if not missing.any():
        raise ValueError("no pixel is masked or flagged: there is nothing to heal")

    device = resolve_device(config.device)
    if device.type == "cpu":
        torch.set_num_threads(os.cpu_count() or 1)
    torch.manual_seed(config.seed)
    gen = torch.Generator().manual_seed(config.seed)

    valid = ~missing
    center = None
    if config.prior == "radial":
        center = tuple(config.center) if config.center else estimate_center(image, valid)
    space = _LogSpace.fit(image, valid, center)
    target, weight = space.targets(image, valid, config.mirror_weight)

    factor = max(1, math.ceil(max(image.shape) / config.max_side))
    levels = len(config.channels)
    t_small, w_small, coarse_shape = _downsample(target, weight, factor, 2**levels)
    t_small, w_small = t_small.to(device), w_small.to(device)

    in_ch = config.input_depth if config.input_type == "noise" else 2
    z = make_input(config.input_type, in_ch, tuple(t_small.shape[-2:]), gen).to(device)
    net = skip(in_ch, 1, config.channels, channels_skip=config.skip_channels).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=config.lr)
    conv_weights = [p for p in net.parameters() if p.dim() == 4]
    weight_sum = w_small.sum()

    n_avg = max(1, round(config.iterations * config.average_last))
    mean = torch.zeros_like(t_small)
    m2 = torch.zeros_like(t_small)
    n_seen = 0
    out = None
    losses: list[torch.Tensor] = []
    loss_history: list[float] = []
    stopped = False
    start = time.perf_counter()

    def current_healed() -> np.ndarray:
        fit = mean if n_seen else out.detach()
        return paste(image, missing, space.to_counts(_upsample(fit, factor, coarse_shape, image.shape)))

    step = 0
    for step in range(1, config.iterations + 1):
        z_in = z
        if config.reg_noise_std > 0:
            z_in = z + config.reg_noise_std * torch.randn(z.shape, generator=gen).to(device)
        opt.zero_grad(set_to_none=True)
        out = net(z_in)
        loss = ((out - t_small) ** 2 * w_small).sum() / weight_sum
        loss.backward()
        opt.step()
        if config.param_noise:
            with torch.no_grad():
                for p in conv_weights:
                    p.add_(torch.randn(p.shape, generator=gen).to(device) * (p.std() / 50))
        losses.append(loss.detach())
        if step > config.iterations - n_avg:
            n_seen += 1
            o = out.detach()
            delta = o - mean
            mean += delta / n_seen
            m2 += delta * (o - mean)
        stop_now = should_stop is not None and should_stop()
        if step % _REPORT_EVERY == 0 or step == config.iterations or stop_now:
            loss_history.extend(torch.stack(losses).cpu().tolist())
            losses.clear()
            if progress is not None:
                progress(FitProgress(step, config.iterations, loss_history[-1],
                                     time.perf_counter() - start, current_healed))
        if stop_now:
            stopped = True
            break

    fit = mean if n_seen else out.detach()
    spread = (m2 / max(n_seen - 1, 1)).sqrt() if n_seen > 1 else torch.zeros_like(fit)
    healed = paste(image, missing, space.to_counts(_upsample(fit, factor, coarse_shape, image.shape)))
    # spread of t -> spread of ln(1+I) -> spread of log10(1+I)
    sigma = _upsample(spread, factor, coarse_shape, image.shape) * space.span / (1 - 2 * _MARGIN) / math.log(10)
    uncertainty = np.where(missing, sigma, 0).astype(np.float32)
    return HealResult(
        healed=healed,
        missing=missing,
        uncertainty=uncertainty,
        loss_history=loss_history,
        iterations_run=step,
        elapsed_s=time.perf_counter() - start,
        device=device.type,
        working_shape=tuple(t_small.shape[-2:]),
        center=center,
        stopped=stopped,
        config=config,
    )


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
    hp, wp = -(-hc // multiple) * multiple, -(-wc // multiple) * multiple
    pad = (0, wp - wc, 0, hp - hc)
    return F.pad(t, pad, mode="replicate"), F.pad(v, pad), (hc, wc)


def _upsample(fit: torch.Tensor, factor: int, coarse_shape, shape) -> np.ndarray:
    """Crop the padded network output and bring it back to the frame's shape."""
    hc, wc = coarse_shape
    x = fit[..., :hc, :wc].float()
    if factor > 1:
        x = F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False)
    return x[0, 0, : shape[0], : shape[1]].cpu().numpy().astype(np.float64)


@dataclass
class _LogSpace:
    """The normalised log space a fit works in.

    t = MARGIN + (1 - 2 MARGIN) (log(1 + I) - base - lo) / span, where
    ``base`` is the radial prior (the azimuthal mean of log(1 + I) at each
    pixel's radius) or 0, so that the network fits what symmetry does not
    explain. ``lo`` and ``span`` map the valid pixels (with a prior: the
    0.1 to 99.9 percentiles of the residual) to [MARGIN, 1 - MARGIN].
    """

    base: np.ndarray
    lo: float
    span: float
    center: tuple[float, float] | None = None

    @classmethod
    def fit(cls, image, valid, center=None) -> "_LogSpace":
        y = log_counts(image, valid)
        base = np.zeros(y.shape) if center is None else polar_model(y, valid, center, window_deg=20)
        v = (y - base)[valid]
        # a residual has rare large outliers (hot pixels, edges of the
        # shadow): scale it robustly so its typical variation is resolved
        lo, hi = (float(v.min()), float(v.max())) if center is None else np.percentile(v, [0.1, 99.9])
        return cls(base=base, lo=lo, span=hi - lo if hi > lo else 1.0, center=center)

    def encode(self, y: np.ndarray) -> np.ndarray:
        return _MARGIN + (1 - 2 * _MARGIN) * (y - self.base - self.lo) / self.span

    def to_counts(self, t: np.ndarray) -> np.ndarray:
        return np.expm1((t - _MARGIN) / (1 - 2 * _MARGIN) * self.span + self.lo + self.base)

    def targets(self, image, valid, mirror_weight: float):
        """Target and per-pixel weight of the loss.

        Valid pixels have weight 1. With a radial prior and ``mirror_weight``
        > 0, missing pixels whose point mirror is valid are supervised by the
        mirrored value (Friedel's law) with that weight.
        """
        y = log_counts(image, valid)
        weight = valid.astype(np.float64)
        target = np.where(valid, y, 0.0)
        if mirror_weight > 0 and self.center is not None:
            mirrored, available = mirror_image(y, valid, self.center)
            use = available & ~valid
            target[use] = mirrored[use]
            weight[use] = mirror_weight
        return np.clip(self.encode(target), 0, 1) * (weight > 0), weight
