"""Self-validation of every healer on real frames (printed table).

    python benchmarks/quality.py [--frames a.tif,b.npz] [--seed-iterations N] [--wmv]

For each frame in ../shared/data: hide known valid pixels shaped like real
occlusions (a seed distinct from the fits' own hold-out), heal with each
method, and print the RMSE of log10(1 + I) on those pixels, the Poisson
floor of the same pixels, and wall times.

Methods: biharmonic, polar (1-pixel rings), smoothed polar (cake, 20°) and
mirror fills (around the estimated beam centre), 'seed DIP' (plain DIP as the seed ran it: skip net 16..128
channels, 32-channel noise input, lr 0.01, reg noise 0.03, no symmetry,
full resolution, --seed-iterations steps) and the default healer (the
'balanced' preset).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from common import FRAMES, load

from dip_engine import HealConfig
from dip_engine.baselines import FILLS
from dip_engine.evaluate import log_rmse, occlusions, poisson_floor
from dip_engine.fit import heal
from dip_engine.geometry import estimate_center

EVAL_SEED = 1234


def seed_dip_config(iterations: int, shape) -> HealConfig:
    return HealConfig(preset="seed", iterations=iterations, lr=0.01, reg_noise_std=0.03,
                      input_depth=32, channels=(16, 32, 64, 128, 128), max_side=max(shape),
                      prior="none", mirror_weight=0.0, holdout=0.0, patience=0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", default=",".join(FRAMES))
    ap.add_argument("--seed-iterations", type=int, default=100,
                    help="steps of the seed's plain DIP (it needs ~1500 and hours on a CPU; 0 skips it)")
    ap.add_argument("--preset", default="balanced", help="preset of the default healer")
    ap.add_argument("--wmv", action="store_true",
                    help="also the default healer with ES-WMV stopping (Wang et al. 2021; W=100, P=1000)")
    args = ap.parse_args()

    rows = []
    for name in args.frames.split(","):
        image, missing = load(name)
        center = estimate_center(image, ~missing)
        hidden = occlusions(~missing, seed=EVAL_SEED, center=center)
        truth = np.asarray(image, np.float64)[hidden]
        masked = missing | hidden
        methods = {name: (lambda fill=fill: fill(image, masked, center)) for name, fill in FILLS.items()}
        methods |= {
            "seed DIP": lambda: heal(image, masked, seed_dip_config(args.seed_iterations, image.shape)).healed,
            f"default ({args.preset})": lambda: heal(image, masked, HealConfig.from_preset(args.preset)).healed,
        }
        if args.wmv:  # the same fit, its iterate picked by ES-WMV instead of the hold-out score
            methods[f"{args.preset}, ES-WMV"] = lambda: heal(image, masked, HealConfig.from_preset(
                args.preset, stopping="wmv", wmv_window=100, wmv_patience=1000)).healed
            methods[f"default ({args.preset})"] = methods.pop(f"default ({args.preset})")  # stays last
        if args.seed_iterations <= 0:
            del methods["seed DIP"]
        for method, run in methods.items():
            t0 = time.perf_counter()
            healed = run()
            rows.append((name, method, log_rmse(healed[hidden], truth), time.perf_counter() - t0))
            print(f"{name:24s} {method:20s} rmse {rows[-1][2]:.4f}  {rows[-1][3]:7.1f} s", flush=True)
        floor = poisson_floor(truth)
        best = min(r[2] for r in rows if r[0] == name and r[1] in FILLS)
        ours = rows[-1][2]
        print(f"{name:24s} centre ({center[0]:.1f}, {center[1]:.1f})  hidden {hidden.sum()} px  "
              f"Poisson floor {floor:.4f}  default/best classical {ours / best:.2f}  "
              f"default/floor {ours / floor:.2f}\n", flush=True)


if __name__ == "__main__":
    main()
