"""Read detector frames and masks, write healed frames.

Readers return plain numpy arrays with the file's own values; the detector's
invalid-pixel flags stay in the data (see :func:`dip_engine.masks.flag_mask`).
Every failure is a :class:`FrameError` whose message is one sentence a
scientist can act on.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

#: Largest frame accepted, in pixels (override with XRAY_HEAL_MAX_PIXELS).
DEFAULT_MAX_PIXELS = 64 * 1024 * 1024

_TIFF = (".tif", ".tiff")
_NUMPY = (".npy", ".npz")
_FABIO = (".edf", ".cbf", ".img", ".mccd", ".sfrm", ".gfrm", ".msk")
_HDF5 = (".h5", ".hdf5", ".nxs", ".hdf")

SUPPORTED_SUFFIXES = _TIFF + _NUMPY + _FABIO + _HDF5


class FrameError(ValueError):
    """A frame or mask file that cannot be used, with a readable reason."""


@dataclass
class Frame:
    """A detector frame as read from disk.

    Attributes
    ----------
    data : (H, W) ndarray
        Intensities in the file's units and dtype (counts for raw frames).
    mask : (H, W) bool ndarray or None
        Missing pixels stored with the frame (an NPZ ``mask``), if any.
    name : str
        File name the frame came from (display only, never a path).
    fmt : str
        Reader used: 'tiff', 'npy', 'npz', 'fabio' or 'hdf5'.
    meta : dict
        Extra facts from the file (beam centre, header), JSON-compatible.
    """

    data: np.ndarray
    mask: np.ndarray | None = None
    name: str = ""
    fmt: str = ""
    meta: dict = field(default_factory=dict)


def max_pixels() -> int:
    """Pixel limit from XRAY_HEAL_MAX_PIXELS, default 64 MP."""
    return int(os.environ.get("XRAY_HEAL_MAX_PIXELS", DEFAULT_MAX_PIXELS))


def read_frame(path: str | os.PathLike, name: str | None = None) -> Frame:
    """Read one 2-D detector frame.

    Parameters
    ----------
    path : path-like
        File to read; the format comes from ``name`` (or the path's) suffix.
    name : str, optional
        Original file name, when ``path`` is a stored upload.

    Returns
    -------
    frame : Frame

    Raises
    ------
    FrameError
        For a missing, empty, unreadable or unsupported file, or an array that
        is not a usable 2-D frame (see :func:`check_frame`).
    """
    path = Path(path)
    name = name or path.name
    suffix = Path(name).suffix.lower()
    if not path.is_file():
        raise FrameError(f"{name}: no such file")
    if path.stat().st_size == 0:
        raise FrameError(f"{name}: the file is empty")
    if suffix not in SUPPORTED_SUFFIXES:
        raise FrameError(
            f"{name}: unsupported file type {suffix or '(none)'}; "
            f"use one of {', '.join(SUPPORTED_SUFFIXES)}"
        )
    try:
        frame = _read_by_suffix(path, suffix)
    except FrameError:
        raise
    except Exception as exc:  # any library's failure becomes one readable line
        raise FrameError(f"{name}: cannot read it as {suffix} ({_short(exc)})") from exc
    frame.name = name
    check_frame(frame.data, name)
    if frame.mask is not None:
        frame.mask = check_mask(frame.mask, frame.data.shape, name)
    return frame


def _read_by_suffix(path: Path, suffix: str) -> Frame:
    if suffix in _TIFF:
        import tifffile

        data = tifffile.imread(path, key=0)
        return Frame(data=np.asarray(data), fmt="tiff")
    if suffix == ".npy":
        return Frame(data=np.load(path, allow_pickle=False), fmt="npy")
    if suffix == ".npz":
        return _read_npz(path)
    if suffix in _HDF5:
        return _read_hdf5(path)
    import fabio

    img = fabio.open(str(path))
    return Frame(data=np.asarray(img.data), fmt="fabio",
                 meta={"header": {str(k): str(v) for k, v in img.header.items()}})


def _read_npz(path: Path) -> Frame:
    """NPZ with an image under 'im', 'image' or 'data' (or a single array),
    an optional boolean 'mask' (True = missing) and optional beam centre
    'xcenter'/'ycenter' (pixels), as in Liu et al.'s examples."""
    with np.load(path, allow_pickle=False) as z:
        keys = list(z.keys())
        image_key = next((k for k in ("im", "image", "data", "frame") if k in z), None)
        if image_key is None:
            arrays = [k for k in keys if z[k].ndim >= 2 and k != "mask"]
            if len(arrays) != 1:
                raise FrameError(
                    f"{path.name}: cannot tell which array is the image "
                    f"(found {', '.join(keys) or 'none'}); name it 'im'"
                )
            image_key = arrays[0]
        meta = {}
        if "xcenter" in z and "ycenter" in z:
            meta["beam_center"] = [float(z["ycenter"]), float(z["xcenter"])]
        mask = z["mask"] if "mask" in z else None
        return Frame(data=z[image_key], mask=mask, fmt="npz", meta=meta)


def _read_hdf5(path: Path) -> Frame:
    """First frame of the only 2-D/3-D numeric dataset (Eiger/NeXus files)."""
    import h5py
    import hdf5plugin  # noqa: F401  (registers the bitshuffle/LZ4 filters)

    found: list[str] = []

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset) and obj.ndim in (2, 3) and obj.dtype.kind in "iuf":
            found.append(name)

    with h5py.File(path, "r") as f:
        f.visititems(visit)
        if not found:
            raise FrameError(f"{path.name}: the HDF5 file holds no 2-D or 3-D image dataset")
        preferred = [n for n in found if n.endswith("data/data")] or found
        key = preferred[0]
        ds = f[key]
        data = ds[0] if ds.ndim == 3 else ds[()]
        return Frame(data=np.asarray(data), fmt="hdf5",
                     meta={"dataset": key, "datasets": found, "frames": int(ds.shape[0]) if ds.ndim == 3 else 1})


def check_frame(data: np.ndarray, name: str = "frame") -> None:
    """Refuse arrays that are not a usable 2-D frame.

    Raises
    ------
    FrameError
        For a non-numeric, non-2-D, oversized, all-invalid or constant array.
    """
    if data.dtype.kind not in "iuf":
        raise FrameError(f"{name}: the image holds {data.dtype} values, not numbers")
    if data.ndim != 2:
        raise FrameError(
            f"{name}: expected a 2-D detector frame, got an array of shape {data.shape}"
        )
    if 0 in data.shape:
        raise FrameError(f"{name}: the image has no pixels")
    limit = max_pixels()
    if data.size > limit:
        raise FrameError(
            f"{name}: {data.shape[0]}x{data.shape[1]} = {data.size / 1e6:.1f} MP is above "
            f"the limit of {limit / 1e6:.1f} MP (XRAY_HEAL_MAX_PIXELS)"
        )
    finite = data[np.isfinite(data)] if data.dtype.kind == "f" else data
    valid = finite[finite >= 0]
    if valid.size == 0:
        raise FrameError(f"{name}: no pixel holds a valid (finite, non-negative) value")
    if valid.min() == valid.max():
        raise FrameError(f"{name}: every valid pixel has the same value ({valid.min()}); nothing to learn from")


def check_mask(mask: np.ndarray, shape: tuple[int, int], name: str = "mask") -> np.ndarray:
    """A boolean mask (True = missing) of the frame's shape, or FrameError."""
    mask = np.asarray(mask)
    if mask.ndim == 3 and mask.shape[0] == 1:
        mask = mask[0]
    if mask.shape != tuple(shape):
        raise FrameError(
            f"{name}: the mask is {'x'.join(map(str, mask.shape))} but the frame is "
            f"{shape[0]}x{shape[1]}; they must have the same shape"
        )
    if mask.dtype.kind not in "biuf":
        raise FrameError(f"{name}: the mask holds {mask.dtype} values, not numbers")
    return mask != 0


def read_mask(path: str | os.PathLike, shape: tuple[int, int], name: str | None = None) -> np.ndarray:
    """Read a mask file (nonzero = missing, pyFAI's convention).

    Any frame format is accepted; an NPZ with a 'mask' array uses that array.
    """
    path = Path(path)
    name = name or path.name
    if not path.is_file():
        raise FrameError(f"{name}: no such file")
    suffix = Path(name).suffix.lower()
    try:
        if suffix == ".npz":
            with np.load(path, allow_pickle=False) as z:
                arr = z["mask"] if "mask" in z else z[list(z.keys())[0]]
        else:
            if path.stat().st_size == 0:
                raise FrameError(f"{name}: the file is empty")
            if suffix not in SUPPORTED_SUFFIXES:
                raise FrameError(f"{name}: unsupported mask file type {suffix or '(none)'}")
            arr = _read_by_suffix(path, suffix).data
    except FrameError:
        raise
    except Exception as exc:
        raise FrameError(f"{name}: cannot read it as a mask ({_short(exc)})") from exc
    return check_mask(arr, shape, name)


def write_frame(path: str | os.PathLike, data: np.ndarray, description: str = "") -> Path:
    """Write a frame as TIFF (default) or NPY by the path's suffix.

    Parameters
    ----------
    path : path-like
        '.tif'/'.tiff' writes TIFF in the array's dtype; '.npy' NumPy.
    data : (H, W) ndarray
    description : str
        Stored in the TIFF ImageDescription tag (e.g. the heal config).

    Returns
    -------
    path : Path
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in _TIFF:
        import tifffile

        tifffile.imwrite(path, data, description=description or None)
    elif suffix == ".npy":
        np.save(path, data)
    else:
        raise FrameError(f"{path.name}: cannot write {suffix or 'a file without suffix'}; use .tif or .npy")
    return path


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]
