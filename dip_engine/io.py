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
_PICTURE = (".png", ".jpg", ".jpeg")

SUPPORTED_SUFFIXES = _TIFF + _NUMPY + _FABIO + _HDF5 + _PICTURE
#: Suffixes :func:`write_frame` writes.
WRITABLE_SUFFIXES = (".tif", ".tiff", ".npy", ".edf", ".cbf")
PICTURE_WARNING = ("this is an exported picture, not detector data: its grey levels are "
                   "display intensities, not counts")


class FrameError(ValueError):
    """A frame or mask file that cannot be used, with a readable reason."""


class DatasetChoice(FrameError):
    """An HDF5 file with several image datasets: the user must name one.

    Attributes
    ----------
    choices : list of str
        The image datasets the file holds.
    """

    def __init__(self, message: str, choices: list[str]):
        super().__init__(message)
        self.choices = choices


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
        Reader used: 'tiff', 'npy', 'npz', 'fabio', 'hdf5' or 'picture'.
    meta : dict
        Extra facts from the file (beam centre, header, frame count,
        datasets), JSON-compatible.
    warnings : list of str
        Things the user should know (e.g. a picture holds no counts).
    """

    data: np.ndarray
    mask: np.ndarray | None = None
    name: str = ""
    fmt: str = ""
    meta: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)


def max_pixels() -> int:
    """Pixel limit from XRAY_HEAL_MAX_PIXELS, default 64 MP."""
    return int(os.environ.get("XRAY_HEAL_MAX_PIXELS", DEFAULT_MAX_PIXELS))


def read_frame(
    path: str | os.PathLike,
    name: str | None = None,
    frame: int = 0,
    dataset: str | None = None,
) -> Frame:
    """Read one 2-D detector frame.

    Parameters
    ----------
    path : path-like
        File to read; the format comes from ``name`` (or the path's) suffix.
    name : str, optional
        Original file name, when ``path`` is a stored upload.
    frame : int
        Frame of a multi-frame file (multi-page TIFF, 3-D HDF5 or NPY, EDF).
    dataset : str, optional
        HDF5 dataset path; by default the only image dataset, or the Eiger
        ``.../data/data`` one.

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
    if frame < 0:
        raise FrameError(f"{name}: the frame index must be 0 or more")
    try:
        result = _read_by_suffix(path, suffix, frame, dataset)
    except DatasetChoice as exc:
        raise DatasetChoice(f"{name}: {exc}", exc.choices) from None
    except FrameError as exc:
        raise FrameError(f"{name}: {exc}") from None
    except Exception as exc:  # any library's failure becomes one readable line
        raise FrameError(f"{name}: cannot read it as {suffix} ({_short(exc)})") from exc
    result.name = name
    check_frame(result.data, name)
    if result.mask is not None:
        result.mask = check_mask(result.mask, result.data.shape, name)
    return result


def _pick_frame(stack: np.ndarray, frame: int) -> tuple[np.ndarray, int]:
    """Frame ``frame`` of a (N, H, W) stack (a 2-D array is one frame)."""
    if stack.ndim != 3:
        if frame:
            raise FrameError(f"frame {frame} asked for, but the file holds one frame")
        return stack, 1
    if frame >= stack.shape[0]:
        raise FrameError(f"frame {frame} asked for, but the file holds {stack.shape[0]} frames")
    return stack[frame], stack.shape[0]


def _read_by_suffix(path: Path, suffix: str, frame: int, dataset: str | None) -> Frame:
    if suffix in _TIFF:
        return _read_tiff(path, frame)
    if suffix == ".npy":
        data = np.load(path, allow_pickle=False, mmap_mode="r")
        if data.ndim == 3 and data.shape[-1] in (3, 4) and data.shape[0] > 4:
            raise FrameError(f"expected a 2-D detector frame, got a colour image of shape {data.shape}")
        data, frames = _pick_frame(data, frame)
        return Frame(data=np.array(data), fmt="npy", meta={"frames": frames})
    if suffix == ".npz":
        return _read_npz(path)
    if suffix in _HDF5:
        return _read_hdf5(path, frame, dataset)
    if suffix in _PICTURE:
        return _read_picture(path)
    return _read_fabio(path, frame)


def _read_tiff(path: Path, frame: int) -> Frame:
    """A page of a multi-page TIFF, or a frame of a single page's 3-D stack."""
    import tifffile

    with tifffile.TiffFile(path) as tif:
        pages = len(tif.pages)
        if pages > 1:
            if frame >= pages:
                raise FrameError(f"frame {frame} asked for, but the file holds {pages} frames")
            data, frames = tif.pages[frame].asarray(), pages
        else:
            data = tif.series[0].asarray()
            if data.ndim == 3 and data.shape[-1] in (3, 4):
                return picture_to_frame(data)
            data, frames = _pick_frame(data, frame)
    if data.ndim == 3 and data.shape[-1] in (3, 4):
        return picture_to_frame(data)
    return Frame(data=np.asarray(data), fmt="tiff", meta={"frames": frames})


def _read_fabio(path: Path, frame: int) -> Frame:
    import fabio

    img = fabio.open(str(path))
    frames = int(getattr(img, "nframes", 1) or 1)
    if frame >= frames:
        raise FrameError(f"frame {frame} asked for, but the file holds {frames} frames")
    if frame:
        img = img.getframe(frame)
    header = {str(k): str(v) for k, v in img.header.items()}
    return Frame(data=np.asarray(img.data), fmt="fabio", meta={"header": header, "frames": frames})


def _read_picture(path: Path) -> Frame:
    from PIL import Image

    with Image.open(path) as im:
        return picture_to_frame(np.asarray(im.convert("RGBA") if im.mode in ("P", "LA") else im))


def picture_to_frame(pixels: np.ndarray) -> Frame:
    """A grey frame from an exported figure (RGB/RGBA or grey picture).

    The uniform border and plot margins (rows and columns that hold only
    the border colour) are cropped, colour is converted to luminance and
    scaled to [0, 1000]; fully transparent pixels become NaN (missing).

    Parameters
    ----------
    pixels : (H, W), (H, W, 3) or (H, W, 4) array

    Returns
    -------
    frame : Frame with ``fmt='picture'`` and a warning that these are not counts
    """
    pixels = np.asarray(pixels)
    alpha = None
    if pixels.ndim == 3:
        if pixels.shape[-1] == 4:
            alpha = pixels[..., 3]
        rgb = pixels[..., :3].astype(np.float64)
        grey = rgb @ np.array([0.2126, 0.7152, 0.0722])
        key = pixels[..., :3]
    else:
        grey = pixels.astype(np.float64)
        key = pixels[..., None]
    border = key[0, 0]
    content = np.any(key != border, axis=-1)
    if alpha is not None:
        content &= alpha > 0
    rows, cols = np.flatnonzero(content.any(axis=1)), np.flatnonzero(content.any(axis=0))
    if rows.size == 0:
        raise FrameError("the picture is blank")
    crop = np.s_[rows[0]: rows[-1] + 1, cols[0]: cols[-1] + 1]
    grey = grey[crop]
    top = grey.max()
    data = grey / top * 1000 if top > 0 else grey
    if alpha is not None:
        data = np.where(alpha[crop] > 0, data, np.nan)
    return Frame(data=data, fmt="picture", warnings=[PICTURE_WARNING],
                 meta={"cropped_from": list(pixels.shape[:2])})


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


def _read_hdf5(path: Path, frame: int, dataset: str | None) -> Frame:
    """A frame of an image dataset (2-D, or 3-D stack) of an HDF5/NeXus file."""
    import h5py
    import hdf5plugin  # noqa: F401  (registers the bitshuffle/LZ4 filters)

    found: list[str] = []

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset) and obj.ndim in (2, 3) and obj.dtype.kind in "iuf" \
                and min(obj.shape[-2:]) > 1:
            found.append(name)

    with h5py.File(path, "r") as f:
        f.visititems(visit)
        if not found:
            raise FrameError("the HDF5 file holds no 2-D or 3-D image dataset")
        if dataset is None:
            eiger = [n for n in found if n.endswith("data/data")]
            if len(found) > 1 and len(eiger) != 1:
                raise DatasetChoice(f"the HDF5 file holds several image datasets; choose one of: "
                                    f"{', '.join(found)}", found)
            dataset = (eiger or found)[0]
        elif dataset.strip("/") not in found:
            raise FrameError(f"no image dataset {dataset!r}; choose one of: {', '.join(found)}")
        ds = f[dataset.strip("/")]
        frames = ds.shape[0] if ds.ndim == 3 else 1
        if frame >= frames:
            raise FrameError(f"frame {frame} asked for, but the dataset holds {frames} frames")
        data = ds[frame] if ds.ndim == 3 else ds[()]
        return Frame(data=np.asarray(data), fmt="hdf5",
                     meta={"dataset": ds.name.strip("/"), "datasets": found, "frames": int(frames)})


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
            arr = _read_by_suffix(path, suffix, 0, None).data
    except FrameError:
        raise
    except Exception as exc:
        raise FrameError(f"{name}: cannot read it as a mask ({_short(exc)})") from exc
    return check_mask(arr, shape, name)


def write_frame(
    path: str | os.PathLike, data: np.ndarray, description: str = "", header: dict | None = None
) -> Path:
    """Write a frame in the format its suffix names.

    Parameters
    ----------
    path : path-like
        '.tif'/'.tiff' (TIFF in the array's dtype), '.npy', '.edf' or '.cbf'
        (fabio; CBF holds integers, so values are rounded).
    data : (H, W) ndarray
    description : str
        Stored in the TIFF ImageDescription tag or as the EDF/CBF header
        key ``xray_heal`` (e.g. the heal config).
    header : dict, optional
        Header of the input frame (fabio formats), kept in the output.

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
    elif suffix in (".edf", ".cbf"):
        import fabio.cbfimage
        import fabio.edfimage

        keep = {k: v for k, v in (header or {}).items()
                if k not in ("Dim_1", "Dim_2", "DataType", "ByteOrder", "Size", "EDF_DataBlockID",
                             "EDF_BinarySize", "EDF_HeaderSize", "Image", "HeaderID")}
        if description:
            keep["xray_heal"] = description.replace("\n", " ")
        if suffix == ".edf":
            fabio.edfimage.EdfImage(data=data, header=keep).write(str(path))
        else:
            ints = np.rint(np.nan_to_num(data)).astype(np.int32)
            fabio.cbfimage.CbfImage(data=ints, header=keep).write(str(path))
    else:
        raise FrameError(f"{path.name}: cannot write {suffix or 'a file without suffix'}; "
                         f"use one of {', '.join(WRITABLE_SUFFIXES)}")
    return path


#: Suffixes :func:`write_mask` writes.
MASK_SUFFIXES = (".npy", ".tif", ".tiff", ".edf", ".msk")
MASK_NOTE = "xray-heal mask: nonzero = missing pixel (pyFAI convention); row 0 = first row of the frame"


def write_mask(path: str | os.PathLike, mask: np.ndarray) -> Path:
    """Write a mask (nonzero = missing) as NPY, TIFF, EDF or Fit2D .msk.

    Rows are written in the frame's own order, so fabio (and so pyFAI and
    Dioptas) reads back the same pixels of the same frame. TIFF and EDF
    files state the convention in their description/header.

    Parameters
    ----------
    path : path-like
    mask : (H, W) bool array_like

    Returns
    -------
    path : Path
    """
    path = Path(path)
    suffix = path.suffix.lower()
    data = np.asarray(mask, bool).astype(np.uint8)
    if suffix == ".npy":
        np.save(path, data)
    elif suffix in _TIFF:
        import tifffile

        tifffile.imwrite(path, data, description=MASK_NOTE)
    elif suffix == ".edf":
        import fabio.edfimage

        fabio.edfimage.EdfImage(data=data, header={"xray_heal": MASK_NOTE}).write(str(path))
    elif suffix == ".msk":
        import fabio.fit2dmaskimage

        fabio.fit2dmaskimage.Fit2dMaskImage(data=data).write(str(path))
    else:
        raise FrameError(f"{path.name}: cannot write a mask as {suffix or 'a file without suffix'}; "
                         f"use one of {', '.join(MASK_SUFFIXES)}")
    return path


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]
