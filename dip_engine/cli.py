"""Command line: ``xray-heal heal|serve``.

Bad input ends with exit status 2 and one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from .config import DEFAULT_PRESET, PRESETS, HealConfig
from .io import FrameError, read_frame, read_mask, write_frame

EXIT_BAD_INPUT = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="xray-heal",
        description="Heal missing pixels of X-ray scattering frames with the Deep Image Prior.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    h = sub.add_parser("heal", help="heal one frame")
    h.add_argument("input", help="detector frame (TIFF, NPY, NPZ, EDF, CBF, HDF5)")
    h.add_argument("--mask", help="mask file, nonzero = missing pixel (pyFAI's convention)")
    h.add_argument("-o", "--output", required=True, help="healed frame (.tif or .npy)")
    h.add_argument("--preset", choices=list(PRESETS), default=DEFAULT_PRESET)
    h.add_argument("--iterations", type=int, help="Adam steps (default: the preset's)")
    h.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    h.add_argument("--seed", type=int, default=0)
    h.add_argument("--quiet", action="store_true", help="no progress bar")

    s = sub.add_parser("serve", help="start the dashboard (XRAY_HEAL_HOST, XRAY_HEAL_PORT)")
    s.add_argument("--debug", action="store_true")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        from dashboard.app import run_server

        run_server(debug=args.debug)
        return 0
    try:
        return _heal(args)
    except (FrameError, ValueError) as exc:
        print(f"xray-heal: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("\nxray-heal: interrupted", file=sys.stderr)
        return 130


def _heal(args) -> int:
    out = Path(args.output)
    if out.suffix.lower() not in (".tif", ".tiff", ".npy"):
        raise FrameError(f"{out.name}: the output must end in .tif, .tiff or .npy")
    if not out.parent.is_dir():
        raise FrameError(f"{out.parent}: the output folder does not exist")
    if args.iterations is not None and args.iterations < 1:
        raise FrameError("--iterations must be at least 1")
    frame = read_frame(args.input)
    mask = frame.mask
    if args.mask:
        extra = read_mask(args.mask, frame.data.shape)
        mask = extra if mask is None else (mask | extra)
    config = HealConfig.from_preset(
        args.preset, iterations=args.iterations, device=args.device, seed=args.seed
    )

    from .fit import heal  # torch loads only when a fit is asked for

    bar = None if args.quiet else _ProgressBar(sys.stderr)
    result = heal(frame.data, mask, config, progress=bar)
    if bar:
        bar.close()
    description = json.dumps({"healed_by": "xray-heal", "config": config.to_dict()})
    write_frame(out, result.healed, description=description)
    print(
        f"wrote {out} ({result.healed.dtype}, {result.missing.sum()} pixels healed, "
        f"{result.iterations_run} iterations in {result.elapsed_s:.1f} s on {result.device})"
    )
    return 0


class _ProgressBar:
    """A one-line text progress bar: iteration, loss and elapsed time."""

    def __init__(self, stream, width: int = 30):
        self.stream = stream
        self.width = width
        self._last = 0.0

    def __call__(self, p) -> None:
        now = time.monotonic()
        if p.iteration < p.iterations and now - self._last < 0.2:
            return
        self._last = now
        done = int(self.width * p.iteration / p.iterations)
        self.stream.write(
            f"\r[{'#' * done}{'.' * (self.width - done)}] {p.iteration}/{p.iterations}"
            f"  loss {p.loss:.2e}  {p.elapsed_s:.0f} s"
        )
        self.stream.flush()

    def close(self) -> None:
        self.stream.write("\n")
        self.stream.flush()


if __name__ == "__main__":
    sys.exit(main())
