"""The bad-input corpus: files a careless or hostile user may send.

Each case writes its files into a folder and says what must happen:
``words`` that the one-line refusal holds, or None for a file that must heal
correctly. ``mask`` names a mask file that goes with a good frame.
Cases marked ``at_heal`` are frames an upload accepts and the heal refuses
(too small to fit). The memory bombs declare sizes far above the default
limit (64 MP), so they are refused under any limit a test sets.
"""

from __future__ import annotations

import gzip
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tifffile

#: Contents of a file outside the upload that hostile HDF5 files point at.
SECRET = b"root:x:0:0:root:/root:/bin/bash\n" * 64


@dataclass
class Case:
    name: str
    path: Path
    words: str | None  # None: must heal
    mask: Path | None = None
    at_heal: bool = False


def good_frame(shape=(32, 40), flagged: bool = True) -> np.ndarray:
    """Poisson counts, int32; with ``flagged``, a few pixels flagged -1 to heal."""
    frame = np.random.default_rng(0).poisson(50, shape).astype(np.int32)
    if flagged:
        frame[shape[0] // 2, : shape[1] // 3] = -1
    return frame


def _edf(path: Path, dims: tuple[int, int], payload: bytes = b"\0" * 4096) -> Path:
    header = (f"{{\nHeaderID = EH:000001:000000:000000 ;\nImage = 1 ;\nByteOrder = LowByteFirst ;\n"
              f"DataType = SignedInteger ;\nDim_1 = {dims[1]} ;\nDim_2 = {dims[0]} ;\n"
              f"Size = {dims[0] * dims[1] * 4} ;\n")
    path.write_bytes(header.ljust(510).encode() + b"}\n" + payload)
    return path


def _edf_block(path: Path, dims: tuple[int, int], keys: str, payload: bytes) -> Path:
    """An EDF of one int32 block with extra header ``keys`` ("Key = value ;" lines)."""
    header = (f"{{\nHeaderID = EH:000001:000000:000000 ;\nImage = 1 ;\nByteOrder = LowByteFirst ;\n"
              f"DataType = SignedInteger ;\nDim_1 = {dims[1]} ;\nDim_2 = {dims[0]} ;\n{keys}")
    path.write_bytes(header.ljust(510).encode() + b"}\n" + payload)
    return path


def _tiled_zeros(path: Path, shape: tuple[int, int], dtype, tile: int = 1024) -> Path:
    """A deflate-compressed tiled TIFF of zeros: a few hundred KB that declare ``shape``."""
    zeros = np.zeros((tile, tile), dtype)
    count = -(-shape[0] // tile) * -(-shape[1] // tile)
    tifffile.imwrite(path, data=(zeros for _ in range(count)), shape=shape, dtype=dtype,
                     tile=(tile, tile), compression="zlib")
    return path


def _npy_header_only(path: Path, shape: tuple[int, ...], dtype="<f8") -> Path:
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": dtype, "fortran_order": False, "shape": shape})
        f.write(b"\0" * 64)
    return path


def _h5(path: Path, build) -> Path:
    import h5py

    with h5py.File(path, "w") as f:
        build(f)
    return path


def _hdf5_cases(d: Path) -> list[Case]:
    import h5py

    secret = d / "secret.txt"
    secret.write_bytes(SECRET)
    outside = _h5(d / "outside.h5", lambda f: f.create_dataset("data", data=good_frame()))

    def external(f):
        f.create_dataset("entry/data/data", (32, 64), "u1", external=[(str(secret), 0, 32 * 64)])

    def link(f):
        f["entry/data/data"] = h5py.ExternalLink(str(outside), "data")

    def soft_to_link(f):
        f["ext"] = h5py.ExternalLink(str(outside), "/")
        f["entry/data/data"] = h5py.SoftLink("/ext/data")

    def virtual(f):
        layout = h5py.VirtualLayout(shape=(32, 40), dtype="i4")
        layout[:] = h5py.VirtualSource(str(outside), "data", shape=(32, 40))
        f.create_virtual_dataset("entry/data/data", layout)

    def huge(f):
        f.create_dataset("entry/data/data", (100_000, 100_000), "f4", chunks=(1000, 1000), compression="gzip")

    def huge_chunk(f):
        f.create_dataset("entry/data/data", (64, 512, 512), "u4", chunks=(64, 512, 512), compression="gzip")

    external_file = _h5(d / "external.h5", external)
    disguised = d / "external_disguised.edf"
    disguised.write_bytes(external_file.read_bytes())
    good = d / "good_for_mask.tif"
    tifffile.imwrite(good, good_frame())
    return [
        Case("hdf5_external_storage", external_file, "external storage"),
        Case("hdf5_external_storage_named_edf", disguised, "external storage"),
        Case("hdf5_external_link", _h5(d / "link.h5", link), "links to another file"),
        Case("hdf5_soft_link_through_external", _h5(d / "soft.h5", soft_to_link), "links to another file"),
        Case("hdf5_virtual_dataset", _h5(d / "virtual.h5", virtual), "virtual dataset"),
        Case("hdf5_shape_bomb", _h5(d / "huge.h5", huge), "above the limit"),
        Case("hdf5_chunk_bomb", _h5(d / "chunk.h5", huge_chunk), "a chunk"),
        Case("mask_hdf5_external_storage", good, "external storage", mask=_h5(d / "mask_ext.h5", external)),
    ]


def _header_bombs(d: Path) -> list[Case]:
    import fabio.cbfimage

    cbf = d / "bomb.cbf"
    fabio.cbfimage.CbfImage(data=good_frame()).write(str(cbf))
    text = cbf.read_bytes()
    for key, old in ((b"X-Binary-Size-Fastest-Dimension: ", b"40"), (b"X-Binary-Size-Second-Dimension: ", b"32")):
        text = text.replace(key + old, key + b"100000")
    (d / "bomb_dims.cbf").write_bytes(text)

    zipped = d / "bomb.npz"
    header = d / "im.npy"
    _npy_header_only(header, (100_000, 100_000))
    with zipfile.ZipFile(zipped, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(header, "im.npy")
    bomb = gzip.compress(bytes(200 * 2**20), compresslevel=9)  # 200 MB of zeros in 200 KB
    (d / "secret.txt").write_bytes(SECRET)  # beside the EDF that names it
    pages = d / "bomb_pages.tif"  # 200,000 minimal pages (6 bytes each) after the 8-byte header
    with open(pages, "wb") as f:
        f.write(b"II*\x00" + struct.pack("<I", 8))
        f.write(b"".join(struct.pack("<HI", 0, 8 + (i + 1) * 6 if i < 199_999 else 0) for i in range(200_000)))
    return [
        Case("tiff_page_bomb", pages, "more than 100000 pages"),
        Case("edf_gzip_bomb", _edf_block(d / "bomb_gz.edf", (100, 100), f"Compression = gzip ;\nSize = {len(bomb)} ;\n",
                                         bomb), "compressed data holds more"),
        Case("edf_external_binary", _edf_block(d / "external.edf", (20, 64),
                                               "EDF_BinaryFileName = secret.txt ;\nEDF_BinaryFilePosition = 0 ;\n"
                                               "EDF_BinaryFileSize = 5120 ;\n", b""), "another file"),
        Case("edf_dims_bomb", _edf(d / "bomb.edf", (100_000, 100_000)), "above the limit"),
        Case("edf_dim_1e9", _edf(d / "bomb_1e9.edf", (1, 1_000_000_000)), "above the limit"),
        Case("tiff_deflate_400mp", _tiled_zeros(d / "bomb_400mp.tif", (20_000, 20_000), np.uint8), "above the limit"),
        Case("tiff_64mp_float64", _tiled_zeros(d / "bomb_f64.tif", (8192, 8192), np.float64), "above the limit"),
        Case("npy_header_bomb", _npy_header_only(d / "bomb.npy", (100_000, 100_000)), "above the limit"),
        Case("npz_header_bomb", zipped, "above the limit"),
        Case("cbf_dims_bomb", d / "bomb_dims.cbf", "above the limit"),
    ]


def _odd_files(d: Path) -> list[Case]:
    from PIL import Image

    np.save(d / "objects.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    with zipfile.ZipFile(d / "notes.npz", "w") as z:
        z.writestr("notes.txt", "no arrays in here")
    Image.fromarray(good_frame((1000, 1200)).astype(np.uint8)).save(d / "big.png")  # above the tests' limit
    tifffile.imwrite(d / "tiny.tif", good_frame((8, 8)))
    tifffile.imwrite(d / "thin.tif", good_frame((2, 4000)))
    tifffile.imwrite(d / "small.tif", good_frame((42, 32)))
    return [
        Case("npy_object_array", d / "objects.npy", "cannot read"),
        Case("npz_without_arrays", d / "notes.npz", "cannot tell which array"),
        Case("png_above_the_limit", d / "big.png", "above the limit"),
        Case("tiny_8x8", d / "tiny.tif", "at least 16 pixels", at_heal=True),
        Case("thin_2x4000", d / "thin.tif", "at least 16 pixels", at_heal=True),
        Case("small_42x32_heals", d / "small.tif", None),
    ]


def _plain_cases(d: Path) -> list[Case]:
    """Files that were refused before the hostile-upload work (kept as they were)."""
    import h5py

    good = d / "good.tif"
    tifffile.imwrite(good, good_frame(flagged=False))
    big = d / "big.tif"
    tifffile.imwrite(big, np.arange(200 * 200, dtype=np.int32).reshape(200, 200))
    (d / "empty.tif").write_bytes(b"")
    (d / "truncated.tif").write_bytes(big.read_bytes()[:5000])
    (d / "notes.tif").write_text("beamtime notes, not an image\n")
    with h5py.File(d / "meta.h5", "w") as f:
        f["entry/title"] = np.bytes_("no image here")
        f["entry/energy"] = np.arange(5.0)
    np.save(d / "line.npy", np.arange(100.0))
    np.save(d / "rgba.npy", np.zeros((64, 64, 4), np.uint8))
    np.save(d / "nan.npy", np.full((16, 16), np.nan))
    np.save(d / "flat.npy", np.full((16, 16), 3.0))
    np.save(d / "huge.npy", np.ones((800, 800)) + np.arange(800))
    (d / "frame.xyz").write_bytes(b"1234")
    np.save(d / "mask_small.npy", np.zeros((5, 5), np.uint8))
    np.save(d / "mask_all.npy", np.ones((32, 40), np.uint8))
    np.save(d / "mask_none.npy", np.zeros((32, 40), np.uint8))
    (d / "mask_text.tif").write_text("0 1 0")
    return [
        Case("empty", d / "empty.tif", "empty"),
        Case("truncated_tiff", d / "truncated.tif", "cannot read"),
        Case("text_as_tif", d / "notes.tif", "cannot read"),
        Case("hdf5_without_image", d / "meta.h5", "no 2-D or 3-D image dataset"),
        Case("one_d", d / "line.npy", "2-D"),
        Case("rgba_array", d / "rgba.npy", "colour image"),
        Case("all_nan", d / "nan.npy", "no pixel holds a valid"),
        Case("constant", d / "flat.npy", "same value"),
        Case("too_many_pixels", d / "huge.npy", "above the limit"),
        Case("unknown_suffix", d / "frame.xyz", "unsupported file type"),
        Case("mask_other_shape", good, "same shape", mask=d / "mask_small.npy"),
        Case("mask_everything", good, "every pixel is masked", mask=d / "mask_all.npy"),
        Case("mask_nothing", good, "nothing to heal", mask=d / "mask_none.npy"),
        Case("mask_not_an_image", good, "cannot read", mask=d / "mask_text.tif"),
    ]


#: Pixel limit (XRAY_HEAL_MAX_PIXELS) the corpus is meant for: the bundled
#: 512 x 512 float64 example fits, ``too_many_pixels`` and the PNG do not.
PIXEL_LIMIT = 600_000


#: Names of the cases, known before any file is written (for test parameters).
NAMES = [
    "empty", "truncated_tiff", "text_as_tif", "hdf5_without_image", "one_d", "rgba_array", "all_nan",
    "constant", "too_many_pixels", "unknown_suffix", "mask_other_shape", "mask_everything", "mask_nothing",
    "mask_not_an_image",
    "hdf5_external_storage", "hdf5_external_storage_named_edf", "hdf5_external_link",
    "hdf5_soft_link_through_external", "hdf5_virtual_dataset", "hdf5_shape_bomb", "hdf5_chunk_bomb",
    "mask_hdf5_external_storage",
    "tiff_page_bomb", "edf_gzip_bomb", "edf_external_binary", "edf_dims_bomb", "edf_dim_1e9", "tiff_deflate_400mp", "tiff_64mp_float64", "npy_header_bomb",
    "npz_header_bomb", "cbf_dims_bomb",
    "npy_object_array", "npz_without_arrays", "png_above_the_limit", "tiny_8x8", "thin_2x4000",
    "small_42x32_heals",
]


def build(folder: Path) -> dict[str, Case]:
    """Write every case into ``folder``; {name: case} in the order of :data:`NAMES`."""
    folder.mkdir(parents=True, exist_ok=True)
    cases = _plain_cases(folder) + _hdf5_cases(folder) + _header_bombs(folder) + _odd_files(folder)
    assert [c.name for c in cases] == NAMES
    return {c.name: c for c in cases}
