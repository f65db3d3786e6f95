"""Every bad input gets one clear sentence: engine, CLI (exit 2) and page.

Each case builds a file; the same file is then refused by ``read_frame`` /
``read_mask`` / ``heal`` with a FrameError or ValueError, by the CLI with
exit status 2 and one line, and by the page's upload handler with a message
(the previously loaded frame is untouched).
"""

import base64
import subprocess
import sys

import numpy as np
import pytest
import tifffile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dashboard.callbacks.frame import handle_upload
from dashboard.store import Store
from dip_engine import FrameError, read_frame
from dip_engine.io import SUPPORTED_SUFFIXES


def _frame():
    return np.random.default_rng(0).poisson(50, (32, 40)).astype(np.int32)


def _write(tmp_path, case):
    """(input file, mask file or None, expected words) for a case."""
    good = tmp_path / "good.tif"
    tifffile.imwrite(good, _frame())
    if case == "empty":
        p = tmp_path / "empty.tif"
        p.write_bytes(b"")
        return p, None, "empty"
    if case == "truncated_tiff":
        big = tmp_path / "big.tif"
        tifffile.imwrite(big, np.arange(200 * 200, dtype=np.int32).reshape(200, 200))
        p = tmp_path / "truncated.tif"
        p.write_bytes(big.read_bytes()[:5000])
        return p, None, "cannot read"
    if case == "text_as_tif":
        p = tmp_path / "notes.tif"
        p.write_text("beamtime notes, not an image\n")
        return p, None, "cannot read"
    if case == "hdf5_without_image":
        import h5py

        p = tmp_path / "meta.h5"
        with h5py.File(p, "w") as f:
            f["entry/title"] = np.bytes_("no image here")
            f["entry/energy"] = np.arange(5.0)
        return p, None, "no 2-D or 3-D image dataset"
    if case == "one_d":
        p = tmp_path / "line.npy"
        np.save(p, np.arange(100.0))
        return p, None, "2-D"
    if case == "rgba_array":
        p = tmp_path / "rgba.npy"
        np.save(p, np.zeros((64, 64, 4), np.uint8))
        return p, None, "colour image"
    if case == "all_nan":
        p = tmp_path / "nan.npy"
        np.save(p, np.full((16, 16), np.nan))
        return p, None, "no pixel holds a valid"
    if case == "constant":
        p = tmp_path / "flat.npy"
        np.save(p, np.full((16, 16), 3.0))
        return p, None, "same value"
    if case == "too_many_pixels":
        p = tmp_path / "huge.npy"
        np.save(p, np.ones((600, 600)) + np.arange(600))
        return p, None, "above the limit"
    if case == "mask_other_shape":
        m = tmp_path / "mask.npy"
        np.save(m, np.zeros((5, 5), np.uint8))
        return good, m, "same shape"
    if case == "mask_everything":
        m = tmp_path / "mask.npy"
        np.save(m, np.ones((32, 40), np.uint8))
        return good, m, "every pixel is masked"
    if case == "mask_nothing":
        m = tmp_path / "mask.npy"
        np.save(m, np.zeros((32, 40), np.uint8))
        return good, m, "nothing to heal"
    if case == "mask_not_an_image":
        m = tmp_path / "mask.tif"
        m.write_text("0 1 0")
        return good, m, "cannot read"
    if case == "unknown_suffix":
        p = tmp_path / "frame.xyz"
        p.write_bytes(b"1234")
        return p, None, "unsupported file type"
    raise AssertionError(case)


CASES = ["empty", "truncated_tiff", "text_as_tif", "hdf5_without_image", "one_d", "rgba_array",
         "all_nan", "constant", "too_many_pixels", "mask_other_shape", "mask_everything",
         "mask_nothing", "mask_not_an_image", "unknown_suffix"]


@pytest.fixture(autouse=True)
def small_pixel_limit(monkeypatch):
    monkeypatch.setenv("XRAY_HEAL_MAX_PIXELS", "300000")  # the bundled example (512x512) fits


@pytest.mark.parametrize("case", CASES)
def test_engine_refuses_with_a_sentence(tmp_path, case):
    from dip_engine import HealConfig, read_mask
    from dip_engine.fit import heal

    path, mask_path, words = _write(tmp_path, case)
    with pytest.raises(ValueError, match=words):  # FrameError is a ValueError
        frame = read_frame(path)
        mask = read_mask(mask_path, frame.data.shape) if mask_path else None
        heal(frame.data, mask, HealConfig.from_preset("fast", iterations=1))


@pytest.mark.parametrize("case", CASES)
def test_cli_exits_2_with_one_line(tmp_path, case):
    path, mask_path, words = _write(tmp_path, case)
    args = [sys.executable, "-m", "dip_engine.cli", "heal", str(path), "-o", str(tmp_path / "out.tif"),
            "--iterations", "1", "--quiet"]
    if mask_path:
        args += ["--mask", str(mask_path)]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=120,
                          env={**__import__("os").environ, "XRAY_HEAL_MAX_PIXELS": "300000"})
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], lines
    assert not (tmp_path / "out.tif").exists()


@pytest.mark.parametrize("case", [c for c in CASES if not c.startswith("mask")])
def test_page_upload_refuses_and_keeps_the_loaded_frame(tmp_path, case):
    path, _, words = _write(tmp_path, case)
    store = Store(tmp_path / "data")
    loaded = store.ensure_example()
    uri = "data:application/octet-stream;base64," + base64.b64encode(path.read_bytes()).decode()
    meta, message, *_ = handle_upload(store, uri, path.name, max_mb=10)
    assert meta is None and words in message
    assert store.load_upload(loaded["upload_id"])[2]["name"] == loaded["name"]
    assert [p.name for p in store.uploads.iterdir()] == ["example"]


def test_upload_above_the_size_limit(tmp_path):
    store = Store(tmp_path)
    uri = "data:application/octet-stream;base64," + base64.b64encode(b"x" * 3 * 2**20).decode()
    meta, message, *_ = handle_upload(store, uri, "big.tif", max_mb=2)
    assert meta is None and "larger than the upload limit of 2 MB" in message


def test_hostile_file_name_is_only_a_label(tmp_path):
    store = Store(tmp_path / "data")
    name = "../../<script>alert(1)</script>.tif"
    payload = (tmp_path / "f.tif")
    tifffile.imwrite(payload, _frame())
    uri = "data:image/tiff;base64," + base64.b64encode(payload.read_bytes()).decode()
    meta, message, *_ = handle_upload(store, uri, name, max_mb=10)
    assert meta["name"] == name  # shown as text by React, which escapes it
    stored = list((store.uploads / meta["upload_id"]).iterdir())
    assert sorted(p.name for p in stored) == ["frame.npy", "meta.json", "original.tif", "source.json"]
    assert not (tmp_path / "<script>alert(1)</script>.tif").exists()


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=st.binary(max_size=2048), suffix=st.sampled_from(SUPPORTED_SUFFIXES))
def test_fuzz_readers_only_raise_frame_errors(tmp_path, payload, suffix):
    path = tmp_path / f"fuzz{suffix}"
    path.write_bytes(payload)
    try:
        frame = read_frame(path)
    except FrameError:
        return
    assert frame.data.ndim == 2


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(min_value=1, max_value=6000))
def test_fuzz_truncated_tiffs(tmp_path, cut):
    good = tmp_path / "g.tif"
    tifffile.imwrite(good, np.arange(64 * 64, dtype=np.int32).reshape(64, 64))
    path = tmp_path / "t.tif"
    path.write_bytes(good.read_bytes()[:cut])
    try:
        read_frame(path)
    except FrameError:
        pass
