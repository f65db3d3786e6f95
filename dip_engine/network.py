"""The Deep Image Prior network: an encoder-decoder with skip connections.

Built from tiny blocks (``conv``, ``bn``, ``act``) and one builder,
:func:`skip`, with explicit channel lists per level, as in the reference
code of Ulyanov et al. (``models/skip.py``), without its global state.

References
----------
.. [1] D. Ulyanov, A. Vedaldi, V. Lempitsky, "Deep Image Prior",
       CVPR 2018, https://doi.org/10.1109/CVPR.2018.00984
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn


def conv(in_ch: int, out_ch: int, kernel: int, stride: int = 1) -> nn.Sequential:
    """2-D convolution with reflection padding that keeps size // stride."""
    pad = (kernel - 1) // 2
    layers: list[nn.Module] = []
    if pad:
        layers.append(nn.ReflectionPad2d(pad))
    layers.append(nn.Conv2d(in_ch, out_ch, kernel, stride=stride, bias=True))
    return nn.Sequential(*layers)


def bn(ch: int) -> nn.BatchNorm2d:
    """Batch normalisation (with batch size 1 it normalises over the image)."""
    return nn.BatchNorm2d(ch)


def act() -> nn.LeakyReLU:
    """LeakyReLU(0.2), the reference activation."""
    return nn.LeakyReLU(0.2, inplace=True)


class _Concat(nn.Module):
    """Run several branches on one input and concatenate along channels."""

    def __init__(self, *branches: nn.Module):
        super().__init__()
        self.branches = nn.ModuleList(branches)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs = [b(x) for b in self.branches]
        h = min(o.shape[2] for o in outs)
        w = min(o.shape[3] for o in outs)
        return torch.cat([o[:, :, :h, :w] for o in outs], dim=1)


def skip(
    in_channels: int,
    out_channels: int = 1,
    channels_down: Sequence[int] = (16, 32, 64, 128, 128),
    channels_up: Sequence[int] | None = None,
    channels_skip: Sequence[int] | int = 4,
    upsample_mode: str = "bilinear",
    sigmoid: bool = True,
) -> nn.Sequential:
    """Build the DIP skip network (encoder-decoder with skip connections).

    Parameters
    ----------
    in_channels : int
        Channels of the fixed input ``z``.
    out_channels : int
        Channels of the output image (1 for a detector frame).
    channels_down, channels_up : sequence of int
        Channels per level on the way down and up; ``channels_up`` defaults
        to ``channels_down``. The number of levels is their length; an
        input of size (H, W) needs H and W divisible by ``2**levels``.
    channels_skip : sequence of int or int
        Channels of the skip branch per level (0 = no skip at that level).
    upsample_mode : {'bilinear', 'nearest'}
        Upsampling of the decoder.
    sigmoid : bool
        Squash the output to (0, 1), matching a target normalised to it.

    Returns
    -------
    net : torch.nn.Sequential
        Maps (B, in_channels, H, W) to (B, out_channels, H, W).
    """
    channels_up = list(channels_down if channels_up is None else channels_up)
    channels_down = list(channels_down)
    levels = len(channels_down)
    if isinstance(channels_skip, int):
        channels_skip = [channels_skip] * levels
    channels_skip = list(channels_skip)
    if not len(channels_up) == len(channels_skip) == levels:
        raise ValueError("channels_down, channels_up and channels_skip need one entry per level")

    model = nn.Sequential()
    current = model
    depth = in_channels
    for i in range(levels):
        deeper = nn.Sequential()
        if channels_skip[i]:
            skip_branch = nn.Sequential(
                conv(depth, channels_skip[i], 1), bn(channels_skip[i]), act()
            )
            current.add_module("concat", _Concat(skip_branch, deeper))
        else:
            current.add_module("deeper", deeper)
        # channels arriving from the deeper level: its decoder output, or at
        # the bottom its encoder output
        k = channels_up[i + 1] if i < levels - 1 else channels_down[i]
        current.add_module("bn", bn(channels_skip[i] + k))
        deeper.add_module("down", conv(depth, channels_down[i], 3, stride=2))
        deeper.add_module("down_bn", bn(channels_down[i]))
        deeper.add_module("down_act", act())
        deeper.add_module("conv", conv(channels_down[i], channels_down[i], 3))
        deeper.add_module("conv_bn", bn(channels_down[i]))
        deeper.add_module("conv_act", act())
        deeper_main = nn.Sequential()
        if i < levels - 1:
            deeper.add_module("next", deeper_main)
        deeper.add_module("up", nn.Upsample(scale_factor=2, mode=upsample_mode))
        current.add_module("up_conv", conv(channels_skip[i] + k, channels_up[i], 3))
        current.add_module("up_bn", bn(channels_up[i]))
        current.add_module("up_act", act())
        current.add_module("up_conv1", conv(channels_up[i], channels_up[i], 1))
        current.add_module("up_bn1", bn(channels_up[i]))
        current.add_module("up_act1", act())
        depth = channels_down[i]
        current = deeper_main
    model.add_module("out", conv(channels_up[0], out_channels, 1))
    if sigmoid:
        model.add_module("sigmoid", nn.Sigmoid())
    return model


def make_input(
    kind: str, channels: int, shape: tuple[int, int], generator: torch.Generator
) -> torch.Tensor:
    """The fixed network input ``z``.

    Parameters
    ----------
    kind : {'noise', 'meshgrid'}
        Uniform noise scaled by 1/10 (the reference's default), or the two
        normalised pixel coordinates (``channels`` is then ignored).
    channels : int
        Noise channels.
    shape : (H, W) tuple
        Spatial size.
    generator : torch.Generator
        Source of randomness, for reproducible fits.

    Returns
    -------
    z : (1, C, H, W) float32 tensor
    """
    h, w = shape
    if kind == "noise":
        return torch.rand((1, channels, h, w), generator=generator) / 10.0
    if kind == "meshgrid":
        yy, xx = torch.meshgrid(
            torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij"
        )
        return torch.stack([xx, yy])[None]
    raise ValueError(f"unknown input kind {kind!r}; use 'noise' or 'meshgrid'")
