"""The field's units: a pyFAI geometry, and I(q), I(chi) and cake views of a frame.

A geometry is pyFAI's own configuration dictionary (``poni_version`` 2.1:
distance, PONI, rotations, wavelength, detector and its orientation), kept
JSON-compatible so that it travels in a job's config and is written back as
a PONI file. Every integration runs pyFAI with one fixed method and pyFAI's
Poisson error model, so the page, the CLI report and anyone running pyFAI on
the exported bundle get the same curve. pyFAI's compiled code goes through
:func:`dip_engine.forksafe.call` (it hangs in forked jobs otherwise).

Coordinates are (row, col) in pixels of the frame as fabio reads it, row 0
first, pixel centres at integers.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from . import forksafe

#: Units of the curves and ring ranges, as pyFAI names them, with their axis labels.
UNITS = {"q_nm^-1": "q (nm⁻¹)", "q_A^-1": "q (Å⁻¹)", "2th_deg": "2θ (°)"}
#: pyFAI's integration method for every curve and cake here: bounding-box pixel
#: splitting, CSR sparse matrix, Cython (the same numbers on every machine).
METHOD = ("bbox", "csr", "cython")
#: Largest PONI file accepted (bytes); real ones are under 1 kB.
MAX_PONI_BYTES = 64 * 1024
#: Detector settings a geometry may carry; a file name (NeXus detector, spline)
#: would make pyFAI open files on the server, so none is accepted.
DETECTOR_KEYS = {"pixel1", "pixel2", "orientation", "max_shape"}
#: hc in keV * angstrom, to turn an energy into a wavelength.
HC_KEV_A = 12.398419843320026


def load_geometry(source, shape: tuple[int, int]) -> dict:
    """A checked geometry for a frame of ``shape`` from a PONI file's bytes or text, its
    path, or a geometry dict.

    The detector's ``max_shape`` is set to the frame's shape when the file
    has none (a flip needs it). Raises ValueError with one sentence for a
    file pyFAI cannot read, a missing wavelength, a detector that reads
    files, or a detector whose shape is not the frame's.
    """
    if isinstance(source, dict):
        config = dict(source)
    else:
        config = _read_poni(source)
    config = _checked(config, tuple(int(n) for n in shape))
    try:
        forksafe.call(_pyfai_geometry_check, config, tuple(shape))
    except Exception as exc:  # pyFAI raises many kinds on a malformed geometry
        raise ValueError(f"the geometry is not usable by pyFAI ({type(exc).__name__}: {exc})") from None
    return config


def _read_poni(source) -> dict:
    """The geometry dict of a PONI file (bytes, text or a path), parsed here: pyFAI's own
    reader would open whatever file a hostile ``Detector_config`` names."""
    if isinstance(source, Path):
        source = source.read_bytes()
    if isinstance(source, str):
        source = source.encode()
    if len(source) > MAX_PONI_BYTES:
        raise ValueError(f"a PONI file is a few lines; this one is {len(source)} bytes")
    try:
        text = source.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("this is not a PONI file (it is not text)") from None
    if "\0" in text:
        raise ValueError("this is not a PONI file (it holds binary data)")
    fields = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and not line.lstrip().startswith("#"):
            fields[key.strip().lower()] = value.strip()
    return _poni_fields(fields)


#: PONI keys (lower case) of the geometry's numbers, and the dict keys they go to.
_PONI_NUMBERS = {"distance": "dist", "poni1": "poni1", "poni2": "poni2", "rot1": "rot1", "rot2": "rot2",
                 "rot3": "rot3", "wavelength": "wavelength"}


def _poni_fields(fields: dict) -> dict:
    """The geometry dict of a PONI file's ``key: value`` fields (keys in lower case)."""
    if fields.get("splinefile", "None") not in ("None", ""):
        raise ValueError("PONI files with a spline (distortion) file are not accepted")
    config = {}
    for key, name in _PONI_NUMBERS.items():
        if key in fields:
            try:
                config[name] = float(fields[key])
            except ValueError:
                raise ValueError(f"the PONI file's {key} is not a number") from None
    if "distance" not in fields:
        raise ValueError("this is not a PONI file (it has no Distance line)")
    config["detector"] = fields.get("detector", "Detector")
    try:
        settings = json.loads(fields.get("detector_config", "{}"))
    except json.JSONDecodeError:
        raise ValueError("the PONI file's Detector_config is not JSON") from None
    if not isinstance(settings, dict):
        raise ValueError("the PONI file's Detector_config is not a JSON object")
    for axis in ("1", "2"):  # PONI version 1 gives the pixel size on its own lines
        if f"pixelsize{axis}" in fields:
            try:
                settings.setdefault(f"pixel{axis}", float(fields[f"pixelsize{axis}"]))
            except ValueError:
                raise ValueError(f"the PONI file's PixelSize{axis} is not a number") from None
    config["detector_config"] = settings
    return config


def _checked(config: dict, shape: tuple[int, int]) -> dict:
    """The geometry dict with its detector settings checked and ``max_shape`` set."""
    for key in ("dist", "poni1", "poni2", "rot1", "rot2", "rot3", "wavelength"):
        value = config.get(key)
        if not (isinstance(value, (int, float)) and math.isfinite(value)):
            raise ValueError(f"the geometry has no usable {key} (a wavelength or energy is needed for q)"
                             if key == "wavelength" else f"the geometry has no usable {key}")
    if config["dist"] <= 0 or config["wavelength"] <= 0:
        raise ValueError("the geometry's distance and wavelength must be positive")
    detector = config.get("detector") or "Detector"
    settings = dict(config.get("detector_config") or {})
    known = {name.lower(): name for name in detector_names() if name != "NexusDetector"}
    if not isinstance(detector, str) or detector.lower() not in known or set(settings) - DETECTOR_KEYS:
        raise ValueError("the geometry's detector must be one of pyFAI's by name, with pixel size and "
                         "orientation only (no files)")
    detector = known[detector.lower()]
    if detector == "Detector" and not all(isinstance(settings.get(k), (int, float)) and settings[k] > 0
                                          for k in ("pixel1", "pixel2")):
        raise ValueError("the geometry gives neither a known detector nor its pixel size")
    if settings.get("orientation", 3) not in (1, 2, 3, 4):
        raise ValueError("the detector orientation must be 1, 2, 3 or 4")
    native = _native_shape(detector)
    if native is not None and native != shape:
        raise ValueError(f"the geometry's detector {detector} is {native[0]} x {native[1]} pixels, "
                         f"the frame {shape[0]} x {shape[1]}")
    settings.setdefault("max_shape", list(shape))
    settings.setdefault("orientation", 3)
    if tuple(settings["max_shape"]) != shape:
        raise ValueError(f"the geometry's detector is {settings['max_shape'][0]} x {settings['max_shape'][1]} "
                         f"pixels, the frame {shape[0]} x {shape[1]}")
    keys = ("poni_version", "dist", "poni1", "poni2", "rot1", "rot2", "rot3", "wavelength")
    out = {key: config[key] for key in keys if key in config}
    out.update(poni_version=2.1, detector=detector, detector_config=settings)
    return json.loads(json.dumps(out))


def _native_shape(name: str) -> tuple[int, int] | None:
    """(rows, cols) of pyFAI's detector class ``name``; None for one of any size."""
    import pyFAI.detectors

    size = getattr(pyFAI.detectors.ALL_DETECTORS.get(name.lower()), "MAX_SHAPE", None)
    return tuple(int(n) for n in size) if size else None


def _pyfai_geometry_check(config: dict, shape: tuple[int, int]) -> None:
    """Build the integrator and one pixel's q: pyFAI's own objections to the geometry."""
    integrator(config).qFunction(np.array([shape[0] / 2]), np.array([shape[1] / 2]))


def geometry_from_values(shape: tuple[int, int], distance_mm: float, pixel_um: float, center: tuple[float, float],
                         wavelength_a: float | None = None, energy_kev: float | None = None,
                         detector: str | None = None) -> dict:
    """A geometry typed by hand: sample-detector distance (mm), square pixel size (um), beam
    centre (row, col in pixels) on a flat detector facing the beam, and the wavelength (A)
    or the photon energy (keV). ``detector``: one of pyFAI's names (its pixel size is then used)."""
    values = {"distance": distance_mm, "pixel size": pixel_um, "beam centre row": center[0],
              "beam centre column": center[1]}
    for name, value in values.items():
        if not (isinstance(value, (int, float)) and math.isfinite(value)):
            raise ValueError(f"the {name} must be a number")
    if distance_mm <= 0 or pixel_um <= 0:
        raise ValueError("the distance and pixel size must be positive")
    wavelength_a = _wavelength(wavelength_a, energy_kev)
    settings = {}
    if detector and detector != "Detector":
        pixel_um = _pyfai_pixel_um(detector)
    else:
        settings = {"pixel1": pixel_um * 1e-6, "pixel2": pixel_um * 1e-6}
    pixel = pixel_um * 1e-6
    config = {"poni_version": 2.1, "dist": distance_mm * 1e-3, "poni1": (center[0] + 0.5) * pixel,
              "poni2": (center[1] + 0.5) * pixel, "rot1": 0.0, "rot2": 0.0, "rot3": 0.0,
              "wavelength": wavelength_a * 1e-10, "detector": detector or "Detector", "detector_config": settings}
    return load_geometry(config, shape)


def _wavelength(wavelength_a, energy_kev) -> float:
    """The wavelength in angstrom from whichever of the two was given."""
    if isinstance(wavelength_a, (int, float)) and math.isfinite(wavelength_a) and wavelength_a > 0:
        return float(wavelength_a)
    if isinstance(energy_kev, (int, float)) and math.isfinite(energy_kev) and energy_kev > 0:
        return HC_KEV_A / energy_kev
    raise ValueError("give the wavelength (Å) or the photon energy (keV), a positive number")


def _pyfai_pixel_um(name: str) -> float:
    """Pixel size (um) of pyFAI's detector ``name``; ValueError if pyFAI has none such."""
    import pyFAI.detectors

    if name not in detector_names():
        raise ValueError(f"pyFAI knows no detector {name!r}")
    return float(pyFAI.detectors.detector_factory(name).pixel1) * 1e6


def detector_names(shape: tuple[int, int] | None = None) -> list[str]:
    """pyFAI's detector names, those whose size is ``shape`` when it is given."""
    import pyFAI.detectors

    names = set()
    for cls in pyFAI.detectors.ALL_DETECTORS.values():
        size = getattr(cls, "MAX_SHAPE", None)
        if shape is None or (size is not None and tuple(size) == tuple(shape)):
            names.add(cls.__name__)
    return sorted(names, key=str.lower)


def integrator(config: dict):
    """pyFAI's AzimuthalIntegrator of a geometry dict."""
    import pyFAI

    return pyFAI.load(config)


def beam_center(config: dict) -> tuple[float, float]:
    """(row, col) of the direct beam on the frame, from the geometry.

    pyFAI's Fit2D centre is in the detector's native pixel order; the
    detector orientation (1-4) says which of its axes the frame flips
    (3, pyFAI's default, flips none).
    """
    fit2d = forksafe.call(_fit2d_center, config)
    rows, cols = config["detector_config"]["max_shape"]
    row, col = fit2d[0] - 0.5, fit2d[1] - 0.5  # Fit2D counts from the pixel's corner
    orientation = config["detector_config"].get("orientation", 3)
    if orientation in (1, 2):  # top origin: rows run the other way
        row = rows - 1 - row
    if orientation in (1, 4):  # left origin: columns run the other way
        col = cols - 1 - col
    return float(row), float(col)


def _fit2d_center(config: dict) -> tuple[float, float]:
    """(centerY, centerX) of pyFAI's Fit2D view of the geometry, in pixels."""
    fit2d = integrator(config).getFit2D()
    return float(fit2d["centerY"]), float(fit2d["centerX"])


#: Detector orientations after flipping the frame's rows (up-down) or columns (left-right).
_FLIPS = {"up-down": {1: 4, 4: 1, 2: 3, 3: 2}, "left-right": {1: 2, 2: 1, 3: 4, 4: 3}}


def flipped(config: dict, flip: str) -> dict:
    """The geometry with the frame flipped ``'up-down'``, ``'left-right'`` or ``'both'``."""
    out = json.loads(json.dumps(config))
    settings = out["detector_config"]
    for axis in (("up-down", "left-right") if flip == "both" else (flip,)):
        settings["orientation"] = _FLIPS[axis][settings.get("orientation", 3)]
    return out


def centre_check(config: dict, measured: tuple[float, float], tolerance_px: float = 5.0) -> dict:
    """How the geometry's beam centre compares with the one measured on the frame.

    Returns ``{"geometry": (row, col), "measured": (row, col), "distance_px",
    "flip": None or the flip ('up-down', 'left-right', 'both') that brings it
    within ``tolerance_px`` when the unflipped one is not, "agrees": bool,
    "sentence": None or one sentence for the page}``.

    The tolerance allows for a tilted detector, whose ring centre is not the
    beam centre (2 px on the CeO2 Pilatus 1M frame).
    """
    centre = beam_center(config)
    off = math.dist(centre, measured)
    out = {"geometry": centre, "measured": tuple(measured), "distance_px": off, "flip": None,
           "agrees": off <= tolerance_px, "sentence": None}
    if out["agrees"]:
        return out
    trials = {flip: math.dist(beam_center(flipped(config, flip)), measured)
              for flip in ("up-down", "left-right", "both")}
    best = min(trials, key=trials.get)
    where = (f"The geometry puts the beam centre at row {centre[0]:.1f}, column {centre[1]:.1f}, "
             f"{off:.1f} px from the centre measured on the frame (row {measured[0]:.1f}, column {measured[1]:.1f})")
    if trials[best] <= tolerance_px:
        out["flip"] = best
        out["sentence"] = (f"{where}; flipped {best} it is {trials[best]:.1f} px off, as in PONI files written "
                           "before pyFAI knew the detector orientation.")
    else:
        out["sentence"] = f"{where}: check the geometry, its rings will not lie on the frame's."
    return out


def poni_text(config: dict) -> str:
    """The geometry as a PONI 2.1 file, written by pyFAI."""
    import io

    from pyFAI.io.ponifile import PoniFile

    text = io.StringIO()
    PoniFile(integrator(config)).write(text)
    return text.getvalue()


def radial_points(shape: tuple[int, int]) -> int:
    """Bins of an I(q) curve of a frame: about one per pixel of its half diagonal (100-2000)."""
    return int(np.clip(round(math.hypot(*shape) / 2), 100, 2000))


def curve(image: np.ndarray, invalid: np.ndarray | None, config: dict, unit: str = "q_nm^-1",
          npt: int | None = None, x_range: tuple[float, float] | None = None) -> dict:
    """I(q) (or I(2θ)) of a frame by pyFAI's ``integrate1d``, with Poisson error bars.

    Parameters
    ----------
    image : (H, W) counts
    invalid : (H, W) bool or None
        Pixels left out (pyFAI's mask convention: True = masked).
    config : geometry dict (:func:`load_geometry`)
    unit : a key of :data:`UNITS`
    npt : bins (default :func:`radial_points`)
    x_range : :func:`frame_range` of the frame, when the caller has it already

    Returns
    -------
    dict with ``unit``, ``x`` (bin centres), ``I`` and ``sigma`` (mean counts per
    pixel and its Poisson error), lists of floats, NaN where a bin has no pixel;
    ``npt`` and ``range``: the bins (the whole frame's range, whatever the mask,
    so that curves of one frame share their bins).
    """
    _check_unit(unit)
    npt = npt or radial_points(image.shape)
    x_range = x_range or frame_range(config, image.shape, unit)
    x, intensity, sigma, count = forksafe.call(_integrate1d, _float32(image), _mask(invalid), config, unit, npt,
                                               x_range)
    empty = count <= 0
    return {"unit": unit, "x": x.tolist(), "I": np.where(empty, np.nan, intensity).tolist(),
            "sigma": np.where(empty, np.nan, sigma).tolist(), "npt": npt, "range": list(x_range)}


def frame_range(config: dict, shape: tuple[int, int], unit: str) -> tuple[float, float]:
    """(lowest, highest) ``unit`` over the frame's pixel centres: the bins of every curve."""
    values = unit_map(config, shape, unit)
    return float(values.min()), float(values.max())


def _integrate1d(data, mask, config, unit, npt, x_range):
    """(radial, intensity, sigma, pixel count) arrays of pyFAI's integrate1d."""
    res = integrator(config).integrate1d(data, npt, unit=unit, mask=mask, error_model="poisson", method=METHOD,
                                         radial_range=x_range)
    return (np.asarray(res.radial, np.float64), np.asarray(res.intensity, np.float64),
            np.asarray(res.sigma, np.float64), np.asarray(res.count, np.float64))


def chi_curve(image: np.ndarray, invalid: np.ndarray | None, config: dict, x_range: tuple[float, float],
              unit: str = "q_nm^-1", npt: int = 180) -> dict:
    """I(chi) of a frame over the ring ``x_range`` (in ``unit``), by pyFAI's ``integrate_radial``.

    Returns ``{"unit": "chi_deg", "x": chi (degrees), "I": mean counts, "range": x_range,
    "range_unit": unit}``; NaN where a sector has no pixel.
    """
    _check_unit(unit)
    low, high = (float(v) for v in x_range)
    if not (math.isfinite(low) and math.isfinite(high) and 0 <= low < high):
        raise ValueError(f"the I(chi) range must be two numbers, 0 <= low < high ({UNITS[unit]})")
    chi, intensity = forksafe.call(_integrate_chi, _float32(image), _mask(invalid), config, unit, (low, high), npt)
    return {"unit": "chi_deg", "x": chi.tolist(), "I": intensity.tolist(), "range": [low, high], "range_unit": unit}


def _integrate_chi(data, mask, config, unit, x_range, npt):
    """(chi in degrees, mean counts) of the sectors of the ring ``x_range``."""
    cake = integrator(config).integrate2d(data, 1000, npt, unit=unit, radial_range=x_range, mask=mask,
                                          method=METHOD, azimuth_range=(-180, 180))
    counts = np.asarray(cake.count, np.float64) if cake.count is not None else None
    signal = np.asarray(cake.sum_signal, np.float64)
    if counts is None or signal.shape != counts.shape:
        raise ValueError("pyFAI returned no pixel counts for the cake")
    total = counts.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(total > 0, signal.sum(axis=1) / np.where(total > 0, total, 1), np.nan)
    return np.asarray(cake.azimuthal, np.float64), mean


def cake(image: np.ndarray, invalid: np.ndarray | None, config: dict, unit: str = "q_nm^-1",
         npt_rad: int = 500, npt_azim: int = 360, x_range: tuple[float, float] | None = None) -> dict:
    """pyFAI's ``integrate2d`` cake: mean counts on (chi, q) bins over ``x_range`` (default:
    :func:`frame_range`).

    Returns ``{"unit", "x": (npt_rad,) radial, "chi": (npt_azim,) degrees,
    "I": (npt_azim, npt_rad) float32 array, NaN in bins with no pixel}``.
    """
    _check_unit(unit)
    x_range = x_range or frame_range(config, image.shape, unit)
    x, chi, intensity = forksafe.call(_integrate2d, _float32(image), _mask(invalid), config, unit, npt_rad, npt_azim,
                                      x_range)
    return {"unit": unit, "x": x, "chi": chi, "I": intensity}


def _integrate2d(data, mask, config, unit, npt_rad, npt_azim, x_range):
    """(radial, chi, intensity with NaN in empty bins) of pyFAI's integrate2d."""
    res = integrator(config).integrate2d(data, npt_rad, npt_azim, unit=unit, mask=mask, method=METHOD,
                                         radial_range=x_range, azimuth_range=(-180, 180))
    counts = np.asarray(res.count, np.float64)
    intensity = np.where(counts > 0, np.asarray(res.intensity, np.float64), np.nan).astype(np.float32)
    return np.asarray(res.radial, np.float64), np.asarray(res.azimuthal, np.float64), intensity


def unit_map(config: dict, shape: tuple[int, int], unit: str = "q_nm^-1") -> np.ndarray:
    """(H, W) float64: each pixel centre's q (or 2θ) in ``unit``."""
    _check_unit(unit)
    return forksafe.call(_unit_map, config, tuple(shape), unit)


def _unit_map(config, shape, unit):
    """pyFAI's per-pixel values of ``unit`` at the pixel centres."""
    return np.asarray(integrator(config).array_from_unit(shape, "center", unit, scale=True), np.float64)


def ring_mask(config: dict, shape: tuple[int, int], low: float, high: float, unit: str = "q_nm^-1") -> np.ndarray:
    """Pixels whose q (or 2θ) lies in [low, high] (``unit``)."""
    values = unit_map(config, shape, unit)
    return (values >= low) & (values <= high)


def ring_lines(values: np.ndarray, levels, stride: int = 1) -> list[tuple[np.ndarray, np.ndarray]]:
    """Lines of constant q (or 2θ) on the frame: (rows, cols) arrays of each piece.

    ``values``: :func:`unit_map` of the frame; ``levels``: the ring values;
    ``stride``: trace on every ``stride``-th pixel (cheaper, as precise as the display).
    """
    from skimage.measure import find_contours

    coarse = values[::stride, ::stride]
    lines = []
    for level in levels:
        if np.nanmin(coarse) < level < np.nanmax(coarse):
            for piece in find_contours(coarse, level):
                lines.append((piece[:, 0] * stride, piece[:, 1] * stride))
    return lines


def peak_positions(result: dict, most: int = 6) -> list[float]:
    """The ``most`` most prominent peaks of a curve (:func:`curve`), by position, in its unit."""
    from scipy.signal import find_peaks

    intensity = np.asarray(result["I"], np.float64)
    have = np.isfinite(intensity)
    if have.sum() < 5:
        return []
    y = np.log1p(np.clip(np.interp(np.arange(intensity.size), np.flatnonzero(have), intensity[have]), 0, None))
    found, props = find_peaks(y, prominence=0.1)
    keep = found[np.argsort(props["prominences"])[::-1][:most]]
    x = np.asarray(result["x"], np.float64)
    return sorted(float(np.interp(k + _vertex(y[k - 1: k + 2]), np.arange(x.size), x)) for k in keep)


def _vertex(three: np.ndarray) -> float:
    """Offset (-0.5 to 0.5 bins) of the top of the parabola through a peak bin and its two neighbours."""
    if three.size < 3:
        return 0.0
    left, mid, right = three
    bend = left - 2 * mid + right
    return float(np.clip(0.5 * (left - right) / bend, -0.5, 0.5)) if bend < 0 else 0.0


def write_dat(path: Path, result: dict, config: dict, about: str, extra: dict | None = None) -> None:
    """A curve in pyFAI's ``.dat`` layout: '#' header (the geometry, what was integrated
    and how), then one row per bin: position, I, sigma (no sigma column for I(chi)), and
    the ``extra`` columns (name -> values) after them."""
    head = json.dumps(config, indent=4).splitlines()
    lines = [f"# {line}" for line in head]
    bins = (f", {result['npt']} bins over {result['range'][0]!r} to {result['range'][1]!r} {result['unit']}"
            if "npt" in result else "")
    lines += [f"# {about}", f"# pyFAI method: {'/'.join(METHOD)}, error model: poisson{bins}",
              f"# {result['unit']:>16s}  {'I':>18s}" + (f"  {'sigma':>18s}" if "sigma" in result else "")
              + "".join(f"  {name:>18s}" for name in extra or {})]
    columns = [result["x"], result["I"]] + ([result["sigma"]] if "sigma" in result else []) \
        + list((extra or {}).values())
    rows = np.asarray(columns, np.float64).T
    body = "\n".join("  ".join(f"{v:18.10e}" for v in row) for row in rows)  # pyFAI's columns, more digits
    Path(path).write_text("\n".join(lines) + "\n" + body + "\n")


def read_dat(path: Path) -> np.ndarray:
    """(n, 2 or 3) array of a ``.dat`` curve written by :func:`write_dat` (or pyFAI)."""
    return np.loadtxt(path, comments="#", ndmin=2)


def _check_unit(unit: str) -> None:
    if unit not in UNITS:
        raise ValueError(f"unknown unit {unit!r}; use one of {', '.join(UNITS)}")


def _float32(image: np.ndarray) -> np.ndarray:
    """The frame as pyFAI integrates it: float32 counts, negative flags at 0 (they are masked)."""
    data = np.asarray(image, np.float64)
    return np.where(np.isfinite(data), np.clip(data, 0, None), 0).astype(np.float32)


def _mask(invalid: np.ndarray | None) -> np.ndarray | None:
    """pyFAI's mask array (int8, 1 = masked) or None."""
    return None if invalid is None else np.asarray(invalid, bool).astype(np.int8)
