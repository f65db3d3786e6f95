"""Speed of the DIP fit (printed figures, not a timed test).

    python benchmarks/speed.py [--device auto|cpu|cuda] [--sizes 512,1024] [--steps 3]

Prints, on one device:
1. iterations per second of the project's networks vs the upstream DIP
   inpainting network (skip, 5 levels x 128 channels, 3x3 kernels, nearest
   upsampling, LeakyReLU, BatchNorm, 32-channel noise input), per frame size;
2. wall time of the default preset healing 1 MP frames (powder rings, a
   muscle fibre, a GISAXS frame) and the Pilatus 300K frame end to end, with
   the hold-out score of the result and the best classical fill's score on the
   same pixels;
3. peak memory (RSS on the CPU, torch.cuda.max_memory_allocated on a GPU).
"""

from __future__ import annotations

import argparse
import resource
import time

import torch

from common import load

from dip_engine import PRESETS, HealConfig
from dip_engine.evaluate import classical_scores
from dip_engine.fit import cpu_threads, heal, memory_layout, resolve_device
from dip_engine.network import skip


def iterations_per_second(net, in_ch: int, size: int, device, steps: int) -> float:
    """Adam steps per second of ``net`` on a (size x size) frame, in the fit's memory layout."""
    net = net.to(device, memory_format=memory_layout(device))
    z = (torch.rand(1, in_ch, size, size) / 10).to(device, memory_format=memory_layout(device))
    target = torch.rand(1, 1, size, size, device=device)
    opt = torch.optim.Adam(net.parameters(), lr=0.01)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = ((net(z) - target) ** 2).mean()
        loss.backward()
        opt.step()

    step()  # warm-up
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps / (time.perf_counter() - t0)


def peak_memory(device) -> str:
    if device.type == "cuda":
        return f"{torch.cuda.max_memory_allocated() / 2**20:.0f} MiB GPU"
    return f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB RSS"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--sizes", default="512,1024")
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--preset", default="balanced")
    args = ap.parse_args()
    device = resolve_device(args.device)
    torch.set_num_threads(cpu_threads())  # as a fit sets them
    name = torch.cuda.get_device_name() if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"device: {name}; torch {torch.__version__}")

    print("\n1. iterations per second (Adam step, batch 1)")
    nets = {"upstream (5x128, 32 in, nearest)": lambda: (skip(32, 1, (128,) * 5, upsample_mode="nearest"), 32)}
    for preset, p in PRESETS.items():
        nets[f"{preset} ({'-'.join(map(str, p['channels']))}, {p['input_depth']} in)"] = (
            lambda p=p: (skip(p["input_depth"], 1, p["channels"]), p["input_depth"]))
    for size in [int(s) for s in args.sizes.split(",")]:
        base = None
        for label, make in nets.items():
            net, in_ch = make()
            ips = iterations_per_second(net, in_ch, size, device, args.steps)
            base = base or ips
            print(f"  {size}x{size}  {label:40s} {ips:8.2f} it/s  ({ips / base:5.1f}x upstream)", flush=True)

    print(f"\n2. end to end, preset '{args.preset}'")
    for frame in ("CeO2_Pilatus1M.tif", "muscle_P40_1_3_00000.tif", "gisaxs_GISAXS_12.tif", "saxslab_image.tiff"):
        image, missing, excluded = load(frame)
        t0 = time.perf_counter()
        result = heal(image, missing, HealConfig.from_preset(args.preset, device=args.device), excluded=excluded)
        wall = time.perf_counter() - t0
        scores = classical_scores(image, result.missing, result.hidden, result.symmetry)
        best = min(v for k, v in scores.items() if k != "poisson_floor")
        print(f"  {frame:24s} {image.shape[0]}x{image.shape[1]}  {wall:6.1f} s wall "
              f"({result.iterations_run} it, best at {result.best_iteration}, working {result.working_shape})  "
              f"score {result.score:.4f} vs best classical {best:.4f} (floor {scores['poisson_floor']:.4f})",
              flush=True)

    print(f"\n3. peak memory: {peak_memory(device)}")


if __name__ == "__main__":
    main()
