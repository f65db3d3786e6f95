"""Reading frames and masks: real formats in, bad files refused with a sentence."""

import numpy as np
import pytest
import tifffile

from dip_engine import FrameError, read_frame, read_mask, write_frame
from dip_engine.examples import example_path


def test_int32_tiff_keeps_values_and_flags(small_tiff):
    path, _, flagged = small_tiff
    frame = read_frame(path)
    assert frame.data.dtype == np.int32
    assert np.array_equal(frame.data, flagged)
    assert frame.fmt == "tiff"


def test_bundled_example_has_mask_and_beam_centre():
    frame = read_frame(example_path())
    assert frame.data.shape == (512, 512)
    assert frame.mask.dtype == bool and 0.3 < frame.mask.mean() < 0.4
    assert frame.meta["beam_center"] == [388.0, 258.0]


def test_npy_and_float_tiff_round_trip(tmp_path):
    data = np.random.default_rng(0).random((20, 30)).astype(np.float32)
    write_frame(tmp_path / "a.tif", data, description="x")
    write_frame(tmp_path / "a.npy", data)
    assert np.array_equal(read_frame(tmp_path / "a.tif").data, data)
    assert np.array_equal(read_frame(tmp_path / "a.npy").data, data)


def test_hdf5_first_frame_of_the_image_dataset(tmp_path):
    import h5py

    with h5py.File(tmp_path / "f.h5", "w") as f:
        f["entry/data/data"] = np.arange(2 * 8 * 9, dtype=np.uint32).reshape(2, 8, 9)
        f["entry/instrument/x"] = np.arange(3)
    frame = read_frame(tmp_path / "f.h5")
    assert frame.data.shape == (8, 9)
    assert frame.meta["dataset"] == "entry/data/data" and frame.meta["frames"] == 2


@pytest.mark.parametrize("name, content, message", [
    ("empty.tif", b"", "empty"),
    ("text.tif", b"this is not an image", "cannot read"),
    ("frame.xyz", b"abc", "unsupported file type"),
])
def test_bad_files_are_refused(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(FrameError, match=message):
        read_frame(path)


def test_truncated_tiff_is_refused(tmp_path, small_tiff):
    path, _, _ = small_tiff
    cut = tmp_path / "cut.tif"
    cut.write_bytes(path.read_bytes()[:2000])
    with pytest.raises(FrameError, match="cut.tif"):
        read_frame(cut)


@pytest.mark.parametrize("array, message", [
    (np.arange(10.0), "2-D"),
    (np.full((8, 8), np.nan), "no pixel holds a valid"),
    (np.full((8, 8), 7.0), "same value"),
    (np.zeros((8, 8, 4), np.uint8), "2-D"),
])
def test_unusable_arrays_are_refused(tmp_path, array, message):
    np.save(tmp_path / "a.npy", array)
    with pytest.raises(FrameError, match=message):
        read_frame(tmp_path / "a.npy")


def test_pixel_limit(tmp_path):
    np.save(tmp_path / "a.npy", np.arange(100.0).reshape(10, 10))
    with pytest.raises(FrameError, match="10x10 = 100 pixels, above the limit of 50 pixels"):
        read_frame(tmp_path / "a.npy", max_pixels=50)
    with pytest.raises(FrameError, match="would take 800 bytes, above the limit of 400 bytes"):
        read_frame(tmp_path / "a.npy", max_pixels=100)  # float64: 8 bytes a pixel, the limit allows 4
    assert read_frame(tmp_path / "a.npy", max_pixels=200).data.shape == (10, 10)


def test_mask_file_nonzero_is_missing(tmp_path):
    m = np.zeros((4, 5), np.uint8)
    m[1, 2] = 1
    tifffile.imwrite(tmp_path / "m.tif", m)
    assert read_mask(tmp_path / "m.tif", (4, 5)).tolist() == (m != 0).tolist()
    with pytest.raises(FrameError, match="same shape"):
        read_mask(tmp_path / "m.tif", (5, 4))


def test_multi_page_tiff_frames(tmp_path):
    stack = np.arange(3 * 6 * 7, dtype=np.int32).reshape(3, 6, 7)
    tifffile.imwrite(tmp_path / "s.tif", stack, photometric="minisblack")
    assert np.array_equal(read_frame(tmp_path / "s.tif", frame=2).data, stack[2])
    assert read_frame(tmp_path / "s.tif").meta["frames"] == 3
    with pytest.raises(FrameError, match="holds 3 frames"):
        read_frame(tmp_path / "s.tif", frame=3)


def test_exported_rgb_picture_is_cropped_and_flagged(tmp_path):
    from PIL import Image

    pic = np.full((60, 80, 3), 255, np.uint8)  # white margins
    pic[10:50, 20:70] = np.random.default_rng(0).integers(0, 200, (40, 50, 3))
    Image.fromarray(pic).save(tmp_path / "fig.png")
    frame = read_frame(tmp_path / "fig.png")
    assert frame.data.shape == (40, 50) and frame.fmt == "picture"
    assert "not counts" in frame.warnings[0]


def test_fabio_formats_round_trip_with_header(tmp_path):
    import fabio

    data = np.random.default_rng(0).poisson(30, (12, 14)).astype(np.float32)
    write_frame(tmp_path / "h.edf", data, description="healed", header={"Wavelength": "1.0"})
    img = fabio.open(str(tmp_path / "h.edf"))
    assert np.array_equal(img.data, data) and img.header["Wavelength"] == "1.0"
    write_frame(tmp_path / "h.cbf", data)
    assert np.array_equal(read_frame(tmp_path / "h.cbf").data, data.astype(np.int32))


@pytest.mark.parametrize("cmap", ["jet", "viridis"])
@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_a_colour_map_export_of_a_real_frame_reads_back_as_its_log_intensity(tmp_path, cmap, suffix):
    """The bundled Liu et al. frame drawn on a log scale with jet or viridis (a white margin
    around it, as a figure has): the colour map is recognised and each colour mapped back to
    its position on it; with the colour bar's range, to intensity. Luminance, the former
    reading, does not rise with intensity for jet."""
    import matplotlib
    from PIL import Image

    from dip_engine.examples import example_path
    from dip_engine.io import apply_colorbar

    frame = read_frame(example_path())
    valid = np.isfinite(frame.data) & ~frame.mask
    y = np.log10(1 + np.clip(np.nan_to_num(frame.data), 0, None))
    low, high = y[valid].min(), y[valid].max()
    rgb = (matplotlib.colormaps[cmap](np.clip((y - low) / (high - low), 0, 1))[..., :3] * 255).round()
    rgb = np.pad(rgb.astype(np.uint8), ((20, 20), (30, 30), (0, 0)), constant_values=255)
    Image.fromarray(rgb).save(tmp_path / f"export{suffix}", quality=90)
    back = read_frame(tmp_path / f"export{suffix}")
    assert back.meta["colormap"]["name"] == cmap and f"the {cmap} colour map" in back.warnings[0]
    ok = valid & np.isfinite(back.data)
    assert ok.sum() > 0.98 * valid.sum()
    assert np.corrcoef(back.data[ok], y[ok])[0, 1] > 0.99
    if cmap == "jet":
        luminance = rgb[20:-20, 30:-30].astype(float) @ [0.2126, 0.7152, 0.0722]
        assert np.corrcoef(luminance[valid], y[valid])[0, 1] < 0.9
    counts = apply_colorbar(back, 10 ** low - 1 + 1, 10 ** high, "log").data  # the bar shows 1 + I
    assert np.corrcoef(np.log10(counts[ok]), y[ok])[0, 1] > 0.99
    assert np.median(np.abs(np.log10(counts[ok]) - y[ok])) < 0.02


def test_a_colour_picture_of_no_known_map_is_taken_as_grey_with_a_sentence(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (64, 64, 3)).astype(np.uint8)).save(tmp_path / "noise.png")
    frame = read_frame(tmp_path / "noise.png")
    assert "colormap" not in frame.meta and "match no known colour map" in frame.warnings[0]
    with pytest.raises(FrameError, match="known colour map only"):
        from dip_engine.io import apply_colorbar

        apply_colorbar(frame, 1, 10)
