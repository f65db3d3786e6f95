"""Command line of the engine: ``xray-heal heal|mask|grid|symmetry`` (``serve`` and ``worker``
are the dashboard's, :mod:`dashboard.cli`).

Bad input ends with exit status 2 and one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

from .azimuthal import UNITS
from .config import DEFAULT_PRESET, PRESETS, HealConfig
from .geometry import check_center
from .masks import DEFAULT_CONTRAST, DEFAULT_EXCLUDE, DEFAULT_SIGMA, RING_UNITS
from .io import (DEFAULT_MAX_PIXELS, apply_colorbar, MASK_SUFFIXES, WRITABLE_SUFFIXES, FrameError, read_frame, read_mask,
                 write_frame, write_mask)

EXIT_BAD_INPUT = 2


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line (subcommands' parsers too)."""

    def error(self, message: str):
        self.exit(EXIT_BAD_INPUT, f"xray-heal: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="xray-heal",
        description="Heal missing pixels of X-ray scattering frames with the Deep Image Prior.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    h = sub.add_parser("heal", help="heal one frame")
    _add_frame_arguments(h)
    _add_fit_arguments(h, f"healed frame ({', '.join(WRITABLE_SUFFIXES)})", DEFAULT_PRESET)
    h.add_argument("--quiet", action="store_true", help="no progress bar")
    h.add_argument("--uncertainty", help="also write the predictive standard deviation of log10(1 + I) of each "
                                         "healed pixel, calibrated on held-out pixels (float32 TIFF; 0 on valid "
                                         "and excluded pixels)")
    h.add_argument("--report", help="also write the scores the page shows (every fill's, the blend, "
                                    "the Friedel check, timings) to this JSON file")

    g = sub.add_parser("grid", help="run the seed's 40-point hyperparameter grid, ranked by score")
    _add_frame_arguments(g)
    _add_fit_arguments(g, "healed frame of the best run", "fast")

    s = sub.add_parser("symmetry", help="measure a frame's centre and symmetry operations (JSON)")
    _add_frame_arguments(s)
    s.add_argument("--mask", help="mask file, nonzero = missing pixel (default: the automatic mask, as "
                                  "'xray-heal mask --auto' makes it; detector flags and gaps are always left out)")

    m = sub.add_parser("mask", help="make a mask file (nonzero = missing) for a frame")
    _add_frame_arguments(m)
    m.add_argument("-o", "--output", required=True, help=f"mask file ({', '.join(MASK_SUFFIXES)})")
    m.add_argument("--auto", action="store_true",
                   help="also find module gaps, beamstop and arm, hot/dead pixels (default: detector flags only)")
    m.add_argument("--mask", help="an existing mask to add to")
    m.add_argument("--sigma", type=float, default=DEFAULT_SIGMA,
                   help="outlier threshold in Poisson sigmas (--auto)")
    m.add_argument("--contrast", type=float, default=DEFAULT_CONTRAST,
                   help="how many times darker than its ring a shadowed pixel is (--auto)")
    m.add_argument("--grow", type=int, default=0, help="grow (or with < 0 shrink) the mask by N pixels")
    m.add_argument("--exclude", default=",".join(DEFAULT_EXCLUDE),
                   help="parts with no physical data, written as 2 (excluded: not healed, NaN or -1 in outputs) "
                        "instead of 1: a comma list of outside (the area outside the detector window, large masked "
                        "regions joined to the border), a part of the auto mask (horizon: below a GISAXS sample "
                        "horizon; shadows: flight-tube and window shadows joined to the border; beamstop_and_arm, "
                        "gaps, flags, outliers), file (--mask), rings; 'none' for none "
                        f"(default: {','.join(DEFAULT_EXCLUDE)})")
    m.add_argument("--ring", nargs=2, type=float, action="append", metavar=("LOW", "HIGH"),
                   help="also mask a ring range (repeatable), in --unit around the beam centre")
    m.add_argument("--unit", default="px", choices=("px", *RING_UNITS),
                   help="unit of --ring: pixels from the beam centre (found by symmetry), "
                        "or q / 2-theta from --poni")
    _add_geometry_arguments(m, "for --ring in q or 2-theta, and the detector's own gap mask with --auto")
    parser.commands = sub  # the dashboard's CLI adds its own commands (dashboard.cli)
    return parser


def _add_frame_arguments(p: argparse.ArgumentParser) -> None:
    """The input frame: file, frame of a multi-frame file, HDF5 dataset."""
    p.add_argument("input", help="detector frame (TIFF, NPY, NPZ, EDF, CBF, HDF5, PNG/JPG export)")
    p.add_argument("--frame", type=int, default=0, help="frame of a multi-frame file (default 0)")
    p.add_argument("--dataset", help="HDF5 dataset path (default: the only image dataset)")
    p.add_argument("--colorbar", nargs=3, metavar=("LOW", "HIGH", "SCALE"),
                   help="for a picture drawn with a colour map: the colour bar's range and scale (linear or log), "
                        "to read intensities instead of positions on the map")
    p.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS,
                   help="largest frame accepted (default 64 MP; xray-heal takes XRAY_HEAL_MAX_PIXELS)")


def _add_fit_arguments(p: argparse.ArgumentParser, output_help: str, preset: str) -> None:
    """Mask, output and fit settings of ``heal`` and ``grid``."""
    p.add_argument("--mask", help="mask file, nonzero = missing pixel (pyFAI's convention)")
    p.add_argument("-o", "--output", required=True, help=output_help)
    p.add_argument("--preset", choices=list(PRESETS), default=preset)
    p.add_argument("--iterations", type=int, help="Adam steps (per run for grid; default: the preset's)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, help="torch threads of a fit on the CPU (default: every usable core but "
                                               "one; xray-heal takes XRAY_HEAL_THREADS)")
    p.add_argument("--center", nargs=2, type=float, metavar=("ROW", "COL"),
                   help="beam centre in pixels (default: the measured one)")
    p.add_argument("--symmetry", help="JSON file of the symmetry to use, as 'xray-heal symmetry' prints it "
                                      "(edit 'holds', 'angle_deg', 'center'); default: measured")
    p.add_argument("--fill", choices=["expectation", "poisson"], default="expectation",
                   help="healed pixels hold the expected counts, or a Poisson draw around them (integer frames; "
                        "reproducible from --seed)")
    _add_geometry_arguments(p, "the report then holds I(q) and I(chi) of the original and the healed frame")
    p.add_argument("--unit", default="q_nm^-1", choices=list(UNITS), help="unit of the I(q) curve (with --poni)")
    p.add_argument("--chi-range", nargs=2, type=float, metavar=("LOW", "HIGH"),
                   help="ring of the I(chi) curve, in --unit (default: the strongest peak)")


def _add_geometry_arguments(p: argparse.ArgumentParser, what: str) -> None:
    """``--poni`` and ``--flip``: the frame's pyFAI geometry."""
    p.add_argument("--poni", help=f"pyFAI geometry (PONI file) of the frame: {what}")
    p.add_argument("--flip", choices=["up-down", "left-right", "both"],
                   help="flip the --poni geometry (old PONI files without the detector orientation; "
                        "a warning says when one is needed)")


def main(argv: list[str] | None = None) -> int:
    return run(build_parser().parse_args(argv))


def run(args: argparse.Namespace) -> int:
    """Run a parsed ``heal``, ``grid``, ``mask`` or ``symmetry`` command; the exit status."""
    try:
        with quiet_libraries():
            return {"mask": _mask, "grid": _grid, "symmetry": _symmetry}.get(args.command, _heal)(args)
    except (FrameError, ValueError) as exc:
        print(f"xray-heal: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("\nxray-heal: interrupted", file=sys.stderr)
        return 130


@contextlib.contextmanager
def quiet_libraries():
    """While a command runs, keep the readers' own log lines and warnings off the
    terminal: the CLI says what went wrong in its one line."""
    before = logging.root.manager.disable
    logging.disable(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.disable(before)


def check_output(out: Path, suffixes: tuple[str, ...], what: str) -> None:
    """FrameError unless ``out`` has one of ``suffixes`` and its folder takes a new file
    (tried with a temporary file, so it is known before a fit runs)."""
    if out.suffix.lower() not in suffixes:
        raise FrameError(f"{out.name}: the {what} must end in {', '.join(suffixes)}")
    if not out.parent.is_dir():
        raise FrameError(f"{out.parent}: the output folder does not exist")
    try:
        with tempfile.NamedTemporaryFile(dir=out.parent, prefix=".xray-heal-"):
            pass
    except OSError as exc:
        raise FrameError(f"{out}: cannot write there ({exc.strerror or exc})") from None


def _inputs(args):
    """Check the output path, read the frame and its mask: (out, frame, mask, config)."""
    out = Path(args.output)
    check_output(out, WRITABLE_SUFFIXES, "output")
    if args.iterations is not None and args.iterations < 1:
        raise FrameError("--iterations must be at least 1")
    if args.threads is not None and args.threads < 1:
        raise FrameError("--threads must be at least 1")
    frame, mask = _frame_and_mask(args)
    for warning in frame.warnings:
        print(f"xray-heal: warning: {frame.name}: {warning}", file=sys.stderr)
    config = HealConfig.from_preset(
        args.preset, iterations=args.iterations, device=args.device, seed=args.seed,
        center=check_center(args.center, frame.data.shape), symmetry=_symmetry_file(args.symmetry, frame.data.shape),
        geometry=_poni_file(args, frame.data.shape), unit=args.unit, chi_range=args.chi_range, fill=args.fill,
    )
    return out, frame, mask, config


def _poni_file(args, shape) -> dict | None:
    """The geometry of ``--poni`` (flipped by ``--flip``), checked against the frame; None without."""
    if args.flip and not args.poni:
        raise FrameError("--flip flips the --poni geometry: give --poni too")
    if not args.poni:
        return None
    from .azimuthal import flipped, load_geometry

    path = Path(args.poni)
    try:
        geometry = load_geometry(path.read_bytes(), shape)
    except OSError as exc:
        raise FrameError(f"{path}: cannot read the PONI file ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise FrameError(f"{path}: {exc}") from None
    return flipped(geometry, args.flip) if args.flip else geometry


def _warn_centre(args, geometry: dict | None, center) -> None:
    """Warn when the geometry's beam centre is not the one measured on the frame."""
    if geometry is None or center is None:
        return
    from .azimuthal import centre_check

    check = centre_check(geometry, center)
    if check["sentence"]:
        hint = f" (add --flip {check['flip']})" if check["flip"] else ""
        print(f"xray-heal: warning: {Path(args.poni).name}: {check['sentence']}{hint}", file=sys.stderr)



def _symmetry_file(path: str | None, shape) -> dict | None:
    """The symmetry JSON of ``--symmetry`` (checked against the frame), or None."""
    if path is None:
        return None
    from .symmetry import Symmetry

    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise FrameError(f"{path}: cannot read the symmetry file ({exc.strerror or exc})") from None
    try:
        data = json.loads(text)
    except ValueError:
        raise FrameError(f"{path}: the symmetry file is not JSON") from None
    if not isinstance(data, dict):
        raise FrameError(f"{path}: the symmetry file must hold a JSON object")
    return Symmetry.from_dict(data, shape).to_dict()


def _excluded_of(args, shape):
    """The pixels ``--mask`` marks 2 (excluded: no physical data, not healed), or None."""
    if not getattr(args, "mask", None):
        return None
    excluded = read_mask(args.mask, shape, max_pixels=args.max_pixels, excluded=True)
    return excluded if excluded.any() else None


def _frame_and_mask(args):
    """The input frame and its missing pixels: the file's own mask and ``--mask`` (or None)."""
    frame = read_frame(args.input, frame=args.frame, dataset=args.dataset, max_pixels=args.max_pixels)
    if args.colorbar:
        frame = apply_colorbar(frame, *_colorbar(args.colorbar))
    mask = frame.mask
    if args.mask:
        extra = read_mask(args.mask, frame.data.shape, max_pixels=args.max_pixels)
        mask = extra if mask is None else (mask | extra)
    return frame, mask


def _colorbar(values: list[str]) -> tuple[float, float, str]:
    """(low, high, scale) of ``--colorbar``; FrameError with a sentence."""
    try:
        low, high = float(values[0]), float(values[1])
    except ValueError:
        raise FrameError("--colorbar LOW HIGH SCALE: LOW and HIGH must be numbers") from None
    return low, high, values[2]


def _write_healed(out: Path, frame, result) -> None:
    description = json.dumps({"healed_by": "xray-heal", "config": result.config.to_dict()})
    write_frame(out, result.healed, description=description, header=frame.meta.get("header"))


def _grid(args) -> int:
    from .pipeline import run_heal

    out, frame, mask, config = _inputs(args)

    from tqdm import tqdm

    from .grid import SEED_GRID

    runs = tqdm(total=len(SEED_GRID), desc="grid", unit="run", file=sys.stderr)

    def report(i, total, cfg, result):
        runs.update(1)
        runs.write(f"[{i:2d}/{total}] lr {cfg.lr:<7g} param_noise {cfg.param_noise!s:5} reg_noise "
                   f"{cfg.reg_noise_std:<6g} score {result.score:.4f}  ({result.elapsed_s:.0f} s)", file=sys.stderr)

    with runs:
        outcome = run_heal(frame.data, mask, config, grid=True, on_run=report, threads=args.threads)
    print("rank  lr       param_noise  reg_noise  score")
    for rank, run in enumerate(outcome.grid, start=1):
        print(f"{rank:4d}  {run['lr']:<7g}  {run['param_noise']!s:11}  {run['reg_noise_std']:<9g}  {run['score']:.4f}")
    _write_healed(out, frame, outcome.result)
    best = outcome.grid[0]
    print(f"wrote {out} with the best run (lr {best['lr']:g}, param_noise {best['param_noise']}, "
          f"reg_noise_std {best['reg_noise_std']:g}, score {best['score']:.4f})")
    return 0


def _heal(args) -> int:
    out, frame, mask, config = _inputs(args)
    report = Path(args.report) if args.report else None
    if report is not None:
        check_output(report, (".json",), "report")
    sigma = Path(args.uncertainty) if args.uncertainty else None
    if sigma is not None:
        check_output(sigma, (".tif", ".tiff"), "uncertainty")

    from .pipeline import run_heal  # torch loads only when a fit is asked for

    with _progress_bar(args.quiet) as bar:
        outcome = run_heal(frame.data, mask, config, progress=bar, threads=args.threads,
                           excluded=_excluded_of(args, frame.data.shape))
    result = outcome.result
    _warn_centre(args, config.geometry, result.center)
    _write_healed(out, frame, result)
    if sigma is not None:
        write_frame(sigma, result.uncertainty.astype(np.float32),
                    description=json.dumps({"uncertainty": "predictive std of log10(1 + I), calibrated",
                                            "calibration": result.calibration}))
    if report is not None:
        report.write_text(json.dumps(outcome.report(), indent=1, default=float))
    score = f", score {result.score:.3f}" if result.score is not None else ""
    excluded = int(result.excluded.sum()) if result.excluded is not None else 0
    print(
        f"wrote {out} ({result.healed.dtype}, {result.missing.sum() - excluded} pixels healed"
        + (f", {excluded} excluded" if excluded else "") + ", "
        f"{result.iterations_run} iterations in {result.elapsed_s:.1f} s on {result.device}{score})"
    )
    return 0


def _symmetry(args) -> int:
    from . import masks
    from .symmetry import detect_symmetry

    frame, mask = _frame_and_mask(args)
    if args.mask is None:
        _, params = masks.auto_mask(frame.data)  # it measures the symmetry without the shadows
        print(json.dumps(params["symmetry"], indent=1))
        return 0
    fits = masks.detectors_for_shape(frame.data.shape)
    missing = masks.combine(frame.data.shape, masks.flag_mask(frame.data), mask,
                            masks.gap_mask(frame.data.shape, fits[0]) if len(fits) == 1 else None)
    print(json.dumps(detect_symmetry(frame.data, ~missing).to_dict(), indent=1))
    return 0


def _mask(args) -> int:
    from . import masks

    out = Path(args.output)
    check_output(out, MASK_SUFFIXES, "mask file")
    frame, base = _frame_and_mask(args)
    geometry = _poni_file(args, frame.data.shape)
    spec = masks.MaskSpec(auto=args.auto, sigma=args.sigma, contrast=args.contrast, grow=args.grow,
                          geometry=geometry).check(frame.data.shape)
    if args.auto:
        parts, params = masks.auto_mask_report(frame.data, sigma=args.sigma, contrast=args.contrast,
                                               detector=spec.detector)
        mask = masks.combine(frame.data.shape, *parts.values())
        _warn_centre(args, geometry, params["center"])
    else:
        parts, params = {}, {}
        mask = masks.flag_mask(frame.data)
    mask = masks.grow(masks.combine(mask.shape, mask, base), args.grow)
    rings = [_ring(frame.data, low, high, args, params, geometry) for low, high in args.ring or []]
    for ring in rings:
        mask |= ring
    excluded = _excluded(args.exclude, frame.data, mask, base, rings, parts)
    write_mask(out, mask.astype(np.uint8) + excluded)
    info = masks.summary(mask)
    print(f"wrote {out}: {100 * info['fraction']:.2f} % masked ({info['pixels']} pixels, "
          f"{info['components']} regions, {int(excluded.sum())} of them excluded as no data)"
          + (f"; {json.dumps(params)}" if params else ""))
    return 0


def _excluded(names: str, image, mask, base, rings: list, auto_parts: dict) -> "np.ndarray":
    """The pixels of ``mask`` that ``xray-heal mask --exclude`` names (no physical data);
    ``auto_parts``: the auto mask's parts ({} without --auto). The ring ranges are the
    command's own (in pixels or in --unit); the rest is :func:`~dip_engine.masks.build_exclusion`."""
    from . import masks

    chosen = {p.strip() for p in names.split(",") if p.strip()} - {"none"}
    allowed = [name for name in masks.EXCLUDABLE if name != "drawn"]
    if chosen - set(allowed):
        raise ValueError(f"--exclude takes a comma list of {', '.join(allowed)}, or none, not {names!r}")
    spec = masks.MaskSpec(auto=bool(auto_parts), exclude=sorted(chosen - {"rings"}))
    excluded = masks.build_exclusion(image, spec, mask, base, auto_parts)
    for ring in rings if "rings" in chosen else []:
        excluded |= ring
    return excluded & mask


def _ring(image, low: float, high: float, args, params: dict, geometry: dict | None):
    """The ring range [low, high] of ``xray-heal mask --ring`` (see --unit, --poni)."""
    from . import masks
    from .geometry import estimate_center

    if args.unit == "px":
        center = params.get("center") or estimate_center(image, ~masks.flag_mask(image))
        return masks.annulus_mask(image.shape, center, low, high)
    if geometry is None:
        raise ValueError(f"--ring in {args.unit} needs the geometry: --poni FILE")
    return masks.ring_range_mask(image.shape, geometry, low, high, args.unit)


@contextlib.contextmanager
def _progress_bar(quiet: bool):
    """A tqdm bar on standard error fed by a fit's progress (iteration, loss, score), or
    None when ``quiet``."""
    if quiet:
        yield None
        return
    from tqdm import tqdm

    with tqdm(total=None, desc="fit", unit="it", file=sys.stderr, dynamic_ncols=True) as bar:
        def update(p) -> None:
            if bar.total != p.iterations:
                bar.total = p.iterations
            bar.update(p.iteration - bar.n)
            score = f", score {p.score:.3f}" if p.score is not None else ""
            bar.set_postfix_str(f"loss {p.loss:.2e}{score}", refresh=False)

        yield update


if __name__ == "__main__":
    sys.exit(main())
