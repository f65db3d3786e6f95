"""Read detector frames and masks, write healed frames.

Readers return plain numpy arrays with the file's own values; the detector's
invalid-pixel flags stay in the data (see :func:`dip_engine.masks.flag_mask`).
Every failure is a :class:`FrameError` whose message is one sentence a
scientist can act on.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

#: Largest frame accepted by default, in pixels (the dashboard and the CLI take XRAY_HEAL_MAX_PIXELS).
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
#: Largest difference (0-255) from the border colour of a picture's margin pixels (JPEG noise).
MARGIN_NOISE = 30
#: Largest median colour distance (RGB 0-255) at which a picture counts as drawn with a colour map.
MAX_COLORMAP_DISTANCE = 6.0


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




#: Bytes a decoded frame may take per pixel of the limit: a float32 frame at
#: the pixel limit fits, a float64 one of the same size does not.
BYTES_PER_PIXEL = 4
#: Magic bytes of the formats recognised by content (the suffix may lie).
_MAGIC = ((b"\x89HDF\r\n\x1a\n", "hdf5"), (b"II*\x00", "tiff"), (b"MM\x00*", "tiff"), (b"II+\x00", "tiff"),
          (b"MM\x00+", "tiff"), (b"\x93NUMPY", "npy"), (b"PK\x03\x04", "npz"))


def check_declared(shape, dtype, what: str = "the frame", limit: int = DEFAULT_MAX_PIXELS) -> None:
    """Refuse a frame by the size its header declares, before anything is decoded.

    Parameters
    ----------
    shape : tuple of int
        The array that would be decoded (a whole stack or chunk, if the
        reader decodes that much at once); frames are its last two axes, or
        the two before a last axis of at most 4 colour samples.
    dtype : numpy dtype-like
    what : str
        What is being decoded, for the message.
    limit : int
        Most pixels of one frame (XRAY_HEAL_MAX_PIXELS where the caller reads it).

    Raises
    ------
    FrameError
        When it holds more than ``limit`` pixels in one frame, or more than
        ``limit * BYTES_PER_PIXEL`` bytes in all.
    """
    shape = tuple(int(n) for n in shape)
    if any(n < 0 for n in shape):
        raise FrameError(f"the header declares a negative size {shape}")
    rows_cols = shape[-3:-1] if len(shape) >= 3 and shape[-1] <= 4 else shape[-2:]  # colour: (..., H, W, C)
    frame_pixels = math.prod(rows_cols)
    if frame_pixels > limit:
        raise FrameError(f"the header declares {'x'.join(map(str, rows_cols))} = {_pixels(frame_pixels)}, "
                         f"above the limit of {_pixels(limit)} (XRAY_HEAL_MAX_PIXELS)")
    size = math.prod(shape) * np.dtype(dtype).itemsize
    if size > limit * BYTES_PER_PIXEL:
        raise FrameError(f"decoding {what} ({'x'.join(map(str, shape))} of {np.dtype(dtype)}) would take "
                         f"{_bytes(size)}, above the limit of {_bytes(limit * BYTES_PER_PIXEL)} "
                         f"(XRAY_HEAL_MAX_PIXELS x {BYTES_PER_PIXEL} bytes)")


def _pixels(count: int) -> str:
    """A pixel count for a message: in MP when large."""
    return f"{count / 1e6:.1f} MP" if count >= 100_000 else f"{count} pixels"


def _bytes(count: int) -> str:
    """A size for a message: in MB when large."""
    return f"{count / 2**20:.0f} MB" if count >= 2**20 else f"{count} bytes"


def sniff(path: Path) -> str | None:
    """The format a file's first bytes show ('hdf5', 'tiff', 'npy', 'npz'), or None.

    HDF5 is also found behind a user block (signature at 512, 1024, ... bytes).
    """
    with open(path, "rb") as f:
        head = f.read(8)
        kind = next((k for magic, k in _MAGIC if head.startswith(magic)), None)
        offset = 512
        while kind is None and offset < min(path.stat().st_size, 1 << 30):
            f.seek(offset)
            if f.read(8) == _MAGIC[0][0]:
                kind = "hdf5"
            offset *= 2
    return kind


def read_frame(
    path: str | os.PathLike,
    name: str | None = None,
    frame: int = 0,
    dataset: str | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
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
    max_pixels : int
        Largest frame accepted (checked from the header before decoding, see
        :func:`check_declared`).

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
        result = _read_by_suffix(path, suffix, frame, dataset, max_pixels)
    except DatasetChoice as exc:
        raise DatasetChoice(f"{name}: {exc}", exc.choices) from None
    except FrameError as exc:
        raise FrameError(f"{name}: {exc}") from None
    except Exception as exc:  # any library's failure becomes one readable line
        raise FrameError(f"{name}: cannot read it as {suffix} ({_short(exc)})") from exc
    result.name = name
    check_frame(result.data, name, max_pixels)
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


def _read_by_suffix(path: Path, suffix: str, frame: int, dataset: str | None, limit: int) -> Frame:
    """Read with the reader of the format the content shows, else of the suffix.

    Every reader checks the size its header declares (:func:`check_declared`)
    before it decodes anything.
    """
    kind = sniff(path)
    if kind == "hdf5" or (kind is None and suffix in _HDF5):
        return _read_hdf5(path, frame, dataset, limit)  # never through fabio, which follows external links
    if kind == "tiff" or (kind is None and suffix in _TIFF):
        return _read_tiff(path, frame, limit)
    if kind == "npy" or (kind is None and suffix == ".npy"):
        return _read_npy(path, frame, limit)
    if kind == "npz" or (kind is None and suffix == ".npz"):
        return _read_npz(path, limit)
    if suffix in _PICTURE:
        return _read_picture(path, limit)
    return _read_fabio(path, frame, limit)


def _read_npy(path: Path, frame: int, limit: int) -> Frame:
    """A 2-D NPY, or a frame of a 3-D stack (memory-mapped: only that frame is read)."""
    with open(path, "rb") as f:
        shape, _, dtype = _npy_header(f)
    check_declared(shape[-2:] if len(shape) == 3 else shape, dtype, limit=limit)
    data = np.load(path, allow_pickle=False, mmap_mode="r")
    if data.ndim == 3 and data.shape[-1] in (3, 4) and data.shape[0] > 4:
        raise FrameError(f"expected a 2-D detector frame, got a colour image of shape {data.shape}")
    data, frames = _pick_frame(data, frame)
    return Frame(data=np.array(data), fmt="npy", meta={"frames": frames})


def _npy_header(f) -> tuple[tuple, bool, np.dtype]:
    """(shape, fortran order, dtype) of an NPY stream, read from its header only."""
    version = np.lib.format.read_magic(f)
    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    return read(f, max_header_size=10000)


def _read_tiff(path: Path, frame: int, limit: int) -> Frame:
    """A page of a multi-page TIFF, or a frame of a single page's 3-D stack."""
    import tifffile

    _check_page_count(path)
    with tifffile.TiffFile(path, is_ome=False) as tif:  # never a multi-file OME series
        pages = len(tif.pages)
        if pages > 1:
            if frame >= pages:
                raise FrameError(f"frame {frame} asked for, but the file holds {pages} frames")
            page = tif.pages[frame]
            check_declared(page.shape, page.dtype, limit=limit)
            data, frames = page.asarray(), pages
        else:
            series = tif.series[0]
            check_declared(series.shape, series.dtype, "the image", limit)
            data = series.asarray()
            if data.ndim == 3 and data.shape[-1] in (3, 4):
                return picture_to_frame(data)
            data, frames = _pick_frame(data, frame)
    if data.ndim == 3 and data.shape[-1] in (3, 4):
        return picture_to_frame(data)
    return Frame(data=np.asarray(data), fmt="tiff", meta={"frames": frames})


#: Most pages (frames) of a TIFF file: tifffile keeps every page's offset once it
#: counts them, and a file of minimal pages holds one every 6 bytes.
MAX_TIFF_PAGES = 100_000


def _check_page_count(path: Path) -> None:
    """FrameError when a TIFF's chain of pages is longer than :data:`MAX_TIFF_PAGES`,
    walked from the header with constant memory before tifffile indexes the pages."""
    import struct

    with open(path, "rb") as f:
        head = f.read(16)
        order = "<" if head[:2] == b"II" else ">"
        big = struct.unpack(order + "H", head[2:4])[0] == 43
        offset = struct.unpack(order + ("Q" if big else "I"), head[8:16] if big else head[4:8])[0]
        count_fmt, entry, next_fmt = ("Q", 20, "Q") if big else ("H", 12, "I")
        seen = set()
        while offset and offset not in seen:
            if len(seen) >= MAX_TIFF_PAGES:
                raise FrameError(f"the TIFF holds more than {MAX_TIFF_PAGES} pages")
            seen.add(offset)
            f.seek(offset)
            raw = f.read(struct.calcsize(count_fmt))
            if len(raw) < struct.calcsize(count_fmt):
                return  # a broken chain: tifffile says what is wrong
            f.seek(struct.unpack(order + count_fmt, raw)[0] * entry, 1)
            raw = f.read(struct.calcsize(next_fmt))
            offset = struct.unpack(order + next_fmt, raw)[0] if len(raw) == struct.calcsize(next_fmt) else 0


def _read_fabio(path: Path, frame: int, limit: int) -> Frame:
    """A frame of an EDF, CBF or other fabio file, after its header's checks (:func:`_check_blocks`)."""
    import fabio

    _check_blocks(path, fabio.openheader(str(path)), limit)
    img = fabio.open(str(path))
    frames = int(getattr(img, "nframes", 1) or 1)
    if frame >= frames:
        raise FrameError(f"frame {frame} asked for, but the file holds {frames} frames")
    if frame:
        img = img.getframe(frame)
    header = {str(k): str(v) for k, v in img.header.items()}
    return Frame(data=np.asarray(img.data), fmt="fabio", meta={"header": header, "frames": frames})


def _check_blocks(path: Path, header, limit: int) -> None:
    """FrameError for a fabio file whose blocks (EDF frames) declare too large a size, keep
    their data in another file (EDF_BinaryFileName), or hold compressed data that inflates
    beyond their declared size (fabio would decompress all of it)."""
    blocks = getattr(header, "_frames", None) or [header]
    for block in blocks:
        shape = getattr(block, "shape", None)
        if not shape:
            raise FrameError("the header does not say the frame's size")
        keys = getattr(block, "header", None) or header.header
        check_declared(shape, np.float64 if "Double" in str(keys.get("DataType", "")) else np.float32,
                       limit=limit)
        if getattr(block, "bfname", None):
            raise FrameError("a frame keeps its data in another file (EDF_BinaryFileName); "
                             "only data stored inside the file is read")
        compression = str(keys.get("Compression", "none")).strip().lower()
        if compression not in ("", "none", "nocompression"):
            _check_inflated(path, block, compression, math.prod(shape) * max(1, int(block.bpp)))


def _check_inflated(path: Path, block, compression: str, expected: int) -> None:
    """FrameError unless a compressed EDF block inflates to at most ``expected`` bytes
    (decompressed with a bound, never in full)."""
    import bz2
    import zlib

    with open(path, "rb") as f:
        f.seek(block.start)
        blob = f.read(block.blobsize)
    try:
        if "bz" in compression:
            out = bz2.BZ2Decompressor().decompress(blob, max_length=expected + 1)
        else:
            out = zlib.decompressobj(47).decompress(blob, expected + 1)  # zlib or gzip, by its own header
    except (OSError, ValueError, zlib.error):
        return  # not compressed after all (fabio then reads the block as it is, at most its own size)
    if len(out) > expected:
        raise FrameError(f"the compressed data holds more than the {expected} bytes the header declares")


def _read_picture(path: Path, limit: int) -> Frame:
    from PIL import Image

    with Image.open(path) as im:
        check_declared((im.height, im.width, 4), np.uint8, "the picture", limit)  # RGBA at most
        return picture_to_frame(np.asarray(im.convert("RGBA") if im.mode in ("P", "LA") else im))


def picture_to_frame(pixels: np.ndarray) -> Frame:
    """A frame from an exported figure (RGB/RGBA or grey picture).

    The uniform border and plot margins (rows and columns that hold only
    the border colour) are cropped. A colour picture drawn with a known
    colour map (:mod:`dip_engine.colormaps`) is mapped back to the position
    of each colour on the map, scaled to [0, 1000] (pixels of no colour of
    the map, such as axes and text, are NaN); any other picture is taken as
    its luminance, scaled to [0, 1000]. Fully transparent pixels are NaN
    (missing). ``meta["colormap"]`` names the map found, with its fit;
    :func:`apply_colorbar` then maps the values to intensities.

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
    border = key[0, 0].astype(np.int64)
    # a margin pixel differs from the border colour by JPEG noise at most
    content = np.any(np.abs(key.astype(np.int64) - border) > MARGIN_NOISE, axis=-1)
    if alpha is not None:
        content &= alpha > 0
    rows, cols = np.flatnonzero(content.any(axis=1)), np.flatnonzero(content.any(axis=0))
    if rows.size == 0:
        raise FrameError("the picture is blank")
    crop = np.s_[rows[0]: rows[-1] + 1, cols[0]: cols[-1] + 1]
    meta = {"cropped_from": list(pixels.shape[:2])}
    data, warning = _picture_values(pixels[crop], grey[crop], meta)
    if alpha is not None:
        data = np.where(alpha[crop] > 0, data, np.nan)
    return Frame(data=data, fmt="picture", warnings=[warning], meta=meta)


def _picture_values(pixels: np.ndarray, grey: np.ndarray, meta: dict) -> tuple[np.ndarray, str]:
    """(values 0-1000, warning) of a cropped picture: positions on its colour map when one is
    recognised (recorded in ``meta``), else its luminance."""
    from .colormaps import recognise, to_scalar

    colour = pixels.ndim == 3 and not (np.array_equal(pixels[..., 0], pixels[..., 1])
                                      and np.array_equal(pixels[..., 1], pixels[..., 2]))
    if colour:
        match = recognise(pixels[..., :3])
        fit = f"median colour distance {match.distance:.1f} of 255, {100 * match.unmatched:.1f} % of pixels off the map"
        if match.distance <= MAX_COLORMAP_DISTANCE:
            meta["colormap"] = {"name": match.name, "distance": match.distance, "unmatched": match.unmatched}
            return to_scalar(pixels[..., :3], match.name) * 1000, (
                f"this is an exported picture drawn with the {match.name} colour map ({fit}): its values are "
                "positions on that map (0-1000), not counts; give the colour bar's range and scale to get "
                "intensities")
        warning = (f"this is an exported picture whose colours match no known colour map (nearest {match.name}, "
                   f"{fit}): it is taken as grey luminance, not counts, which need not rise with intensity")
    else:
        warning = PICTURE_WARNING
    top = grey.max()
    return (grey / top * 1000 if top > 0 else grey), warning


def apply_colorbar(frame: Frame, low: float, high: float, scale: str = "log") -> Frame:
    """The frame of a colour-map picture with its values mapped to intensities by the
    colour bar's range and scale ('linear' or 'log'); FrameError for any other frame."""
    from .colormaps import to_intensity

    if "colormap" not in frame.meta:
        raise FrameError(f"{frame.name}: a colour bar applies to a picture drawn with a known colour map only")
    try:
        frame.data = to_intensity(frame.data / 1000, low, high, scale)
    except ValueError as exc:
        raise FrameError(f"{frame.name}: {exc}") from None
    frame.meta["colorbar"] = {"low": low, "high": high, "scale": scale}
    return frame


def _read_npz(path: Path, limit: int) -> Frame:
    """NPZ with an image under 'im', 'image' or 'data' (or a single array),
    an optional boolean 'mask' (True = missing) and optional beam centre
    'xcenter'/'ycenter' (pixels), as in Liu et al.'s examples.

    Each array's size is read from its NPY header inside the archive
    before it is decompressed.
    """
    shapes = _npz_shapes(path)
    image_key = next((k for k in ("im", "image", "data", "frame") if k in shapes), None)
    if image_key is None:
        arrays = [k for k, (shape, _) in shapes.items() if len(shape) >= 2 and k != "mask"]
        if len(arrays) != 1:
            raise FrameError(
                f"{path.name}: cannot tell which array is the image "
                f"(found {', '.join(shapes) or 'none'}); name it 'im'"
            )
        image_key = arrays[0]
    for key in (image_key, "mask", "xcenter", "ycenter"):
        if key in shapes:
            check_declared(*shapes[key], f"array {key!r}", limit)
    with np.load(path, allow_pickle=False) as z:
        meta = {}
        if "xcenter" in z and "ycenter" in z:
            meta["beam_center"] = [float(z["ycenter"]), float(z["xcenter"])]
        mask = z["mask"] if "mask" in z else None
        return Frame(data=z[image_key], mask=mask, fmt="npz", meta=meta)


def _npz_shapes(path: Path) -> dict[str, tuple[tuple, np.dtype]]:
    """{array name: (shape, dtype)} of an NPZ archive, from the members' NPY headers."""
    import zipfile

    shapes = {}
    with zipfile.ZipFile(path) as archive:
        for member in archive.namelist():
            if member.endswith(".npy"):
                with archive.open(member) as f:
                    shape, _, dtype = _npy_header(f)
                shapes[member[:-4]] = (shape, dtype)
    return shapes


def _read_hdf5(path: Path, frame: int, dataset: str | None, limit: int) -> Frame:
    """A frame of an image dataset (2-D, or 3-D stack) of an HDF5/NeXus file.

    Only data stored inside the file is read: a file with external links,
    and a dataset with external raw storage or virtual (VDS) mappings, are
    refused (:func:`_refuse_outside_data`), so an upload can never make the
    server read another file.
    """
    import h5py
    import hdf5plugin  # noqa: F401  (registers the bitshuffle/LZ4 filters)

    with h5py.File(path, "r") as f:
        found = _image_datasets(f)
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
        _check_dataset(ds, limit)
        frames = ds.shape[0] if ds.ndim == 3 else 1
        if frame >= frames:
            raise FrameError(f"frame {frame} asked for, but the dataset holds {frames} frames")
        data = ds[frame] if ds.ndim == 3 else ds[()]
        return Frame(data=np.asarray(data), fmt="hdf5",
                     meta={"dataset": ds.name.strip("/"), "datasets": found, "frames": int(frames)})


def _image_datasets(f) -> list[str]:
    """Paths of the 2-D and 3-D numeric datasets of an open HDF5 file, soft links included.

    FrameError if any link points into another file: soft links stay (HDF5
    resolves them inside the same file), and a path through an external
    link is refused with the link itself.
    """
    import h5py

    # first only the links themselves: nothing is opened through a link before all are known
    outside = f.visit_links(lambda name: name if isinstance(f.get(name, getlink=True), h5py.ExternalLink)
                            else None)
    if outside is not None:
        raise FrameError(f"the HDF5 file links to another file at {outside!r}; only data stored inside "
                         "the file is read (open the linked data file itself)")
    found: list[str] = []

    def visit(name):
        obj = f.get(name)
        if isinstance(obj, h5py.Dataset) and obj.ndim in (2, 3) and obj.dtype.kind in "iuf" \
                and min(obj.shape[-2:]) > 1:
            found.append(name)

    f.visit_links(visit)
    return found


def _check_dataset(ds, limit: int) -> None:
    """FrameError for a dataset whose data lies in other files, or too large to decode.

    One frame is decoded, but HDF5 decompresses whole chunks, so a chunk
    counts with its full size.
    """
    if ds.external:
        raise FrameError(f"dataset {ds.name!r} keeps its data in other files (external storage); "
                         "only data stored inside the uploaded file is read")
    if ds.is_virtual:
        raise FrameError(f"dataset {ds.name!r} is a virtual dataset mapped from other files; "
                         "only data stored inside the uploaded file is read")
    check_declared(ds.shape[-2:], ds.dtype, f"dataset {ds.name!r}", limit)
    if ds.chunks:
        check_declared(ds.chunks, ds.dtype, f"a chunk of dataset {ds.name!r}", limit)


def check_frame(data: np.ndarray, name: str = "frame", limit: int = DEFAULT_MAX_PIXELS) -> None:
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
    if data.size > limit:
        raise FrameError(f"{name}: {data.shape[0]}x{data.shape[1]} = {_pixels(data.size)} is above "
                         f"the limit of {_pixels(limit)} (XRAY_HEAL_MAX_PIXELS)")
    valid = data >= 0  # a boolean map, not a copy of the values: large frames stay cheap
    if data.dtype.kind == "f":
        valid &= np.isfinite(data)
    if not valid.any():
        raise FrameError(f"{name}: no pixel holds a valid (finite, non-negative) value")
    info = np.finfo(data.dtype) if data.dtype.kind == "f" else np.iinfo(data.dtype)
    low = data.min(where=valid, initial=info.max)
    if low == data.max(where=valid, initial=info.min):
        raise FrameError(f"{name}: every valid pixel has the same value ({data.dtype.type(low)}); "
                         "nothing to learn from")


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


def read_mask(path: str | os.PathLike, shape: tuple[int, int], name: str | None = None,
              max_pixels: int = DEFAULT_MAX_PIXELS, excluded: bool = False) -> np.ndarray:
    """Read a mask file (nonzero = missing, pyFAI's convention).

    Any frame format is accepted; an NPZ with a 'mask' array uses that array.
    With ``excluded``, the pixels whose value is 2 (excluded, no physical
    data, as :func:`write_mask` writes them) instead.
    """
    path = Path(path)
    name = name or path.name
    if not path.is_file():
        raise FrameError(f"{name}: no such file")
    suffix = Path(name).suffix.lower()
    try:
        if suffix == ".npz":
            shapes = _npz_shapes(path)
            key = "mask" if "mask" in shapes else next(iter(shapes), None)
            if key is None:
                raise FrameError(f"{name}: the archive holds no array")
            check_declared(*shapes[key], f"array {key!r}", max_pixels)
            with np.load(path, allow_pickle=False) as z:
                arr = z[key]
        else:
            if path.stat().st_size == 0:
                raise FrameError(f"{name}: the file is empty")
            if suffix not in SUPPORTED_SUFFIXES:
                raise FrameError(f"{name}: unsupported mask file type {suffix or '(none)'}")
            arr = _read_by_suffix(path, suffix, 0, None, max_pixels).data
    except FrameError:
        raise
    except Exception as exc:
        raise FrameError(f"{name}: cannot read it as a mask ({_short(exc)})") from exc
    missing = check_mask(arr, shape, name)
    return (np.asarray(arr).reshape(missing.shape) == 2) if excluded else missing


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
            ints = np.where(np.isfinite(data), np.rint(np.nan_to_num(data)), -1).astype(np.int32)  # excluded: -1
            fabio.cbfimage.CbfImage(data=ints, header=keep).write(str(path))
    else:
        raise FrameError(f"{path.name}: cannot write {suffix or 'a file without suffix'}; "
                         f"use one of {', '.join(WRITABLE_SUFFIXES)}")
    return path


#: Suffixes :func:`write_mask` writes.
MASK_SUFFIXES = (".npy", ".tif", ".tiff", ".edf", ".msk")
MASK_NOTE = ("xray-heal mask: nonzero = missing pixel (pyFAI convention), 1 = healed, 2 = excluded (no data); "
             "row 0 = first row of the frame")


def write_mask(path: str | os.PathLike, mask: np.ndarray) -> Path:
    """Write a mask (nonzero = missing) as NPY, TIFF, EDF or Fit2D .msk.

    Rows are written in the frame's own order, so fabio (and so pyFAI and
    Dioptas) reads back the same pixels of the same frame. TIFF and EDF
    files state the convention in their description/header.

    Parameters
    ----------
    path : path-like
    mask : (H, W) bool or integer array_like
        True (1) = healed; an integer mask may also hold 2 = excluded (no
        physical data). Both are masked for pyFAI (nonzero).

    Returns
    -------
    path : Path
    """
    path = Path(path)
    suffix = path.suffix.lower()
    mask = np.asarray(mask)
    data = (mask if mask.dtype.kind in "iu" else mask.astype(bool)).astype(np.uint8)
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
