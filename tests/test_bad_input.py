"""Every bad input gets one clear sentence: engine, CLI (exit 2) and page.

Each case of the corpus (``tests/corpus.py``: broken files, hostile HDF5
files, memory bombs by header, frames too small to fit) is refused by
``read_frame`` / ``read_mask`` / ``heal`` with a FrameError or ValueError, by
the CLI with exit status 2 and one line, and by the page's handlers with a
message (the previously loaded frame is untouched); or, for the few good
ones, healed with valid pixels kept.
"""

import base64
import os
import subprocess
import sys

import numpy as np
import pytest
import tifffile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import corpus
from dashboard.uploads import handle_upload
from dashboard.jobs import run_heal_job
from dashboard.storage import Store
from dip_engine import FrameError, read_frame
from dip_engine.io import SUPPORTED_SUFFIXES
from dip_engine.masks import MaskSpec

CASES = corpus.NAMES


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    return corpus.build(tmp_path_factory.mktemp("corpus"))


def test_the_corpus_has_at_least_30_files():
    assert len(CASES) >= 30


@pytest.mark.parametrize("name", CASES)
def test_engine_refuses_with_a_sentence_or_heals(cases, name):
    from dip_engine import HealConfig, read_mask
    from dip_engine.fit import heal

    case = cases[name]

    def run():
        frame = read_frame(case.path, max_pixels=corpus.PIXEL_LIMIT)
        mask = read_mask(case.mask, frame.data.shape, max_pixels=corpus.PIXEL_LIMIT) if case.mask else None
        return frame, heal(frame.data, mask, HealConfig.from_preset("fast", iterations=5))

    if case.words is None:
        frame, result = run()
        valid = ~result.missing
        assert np.array_equal(result.healed[valid], frame.data[valid]) and np.isfinite(result.healed).all()
        return
    with pytest.raises(ValueError, match=case.words):  # FrameError is a ValueError
        run()


@pytest.mark.parametrize("name", CASES)
def test_cli_exits_2_with_one_line_or_heals(tmp_path, cases, name):
    case = cases[name]
    out = tmp_path / "out.tif"
    args = [sys.executable, "-m", "dashboard.cli", "heal", str(case.path), "-o", str(out),
            "--iterations", "5", "--quiet"] + (["--mask", str(case.mask)] if case.mask else [])
    proc = subprocess.run(args, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "XRAY_HEAL_MAX_PIXELS": str(corpus.PIXEL_LIMIT)})
    lines = proc.stderr.strip().splitlines()
    if case.words is None:
        assert proc.returncode == 0 and out.is_file() and not lines, proc.stderr
        return
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and case.words in lines[0], lines
    assert not out.exists()


def page_outcome(store, case) -> str | None:
    """What the page says of a case: the upload's refusal, the mask file's, or the heal's
    (None when it healed), through the page's own handlers."""
    uri = "data:application/octet-stream;base64," + base64.b64encode(case.path.read_bytes()).decode()
    outcome = handle_upload(store, uri, case.path.name, max_mb=10)
    if outcome.meta is None:
        return outcome.message
    if case.mask:
        try:
            store.save_user_mask(outcome.meta["upload_id"], case.mask.name, case.mask.read_bytes())
        except FrameError as exc:
            return str(exc)
    job_id, message = run_heal_job(store, lambda _: None, outcome.meta, MaskSpec(), "fast", 5, 0)
    return None if job_id and store.job(job_id)["state"] == "done" else message


@pytest.mark.parametrize("name", CASES)
def test_page_refuses_with_a_sentence_or_heals(tmp_path, cases, name):
    case = cases[name]
    store = Store(tmp_path / "data", max_pixels=corpus.PIXEL_LIMIT)
    loaded = store.ensure_example()
    message = page_outcome(store, case)
    if case.words is None:
        assert message is None
        return
    assert message and case.words in message and "\n" not in message, message
    assert store.load_upload(loaded["upload_id"])[2]["name"] == loaded["name"]
    if not (case.mask or case.at_heal):  # a refused file is not kept
        assert [p.name for p in store.uploads.iterdir()] == ["example"]


def test_hdf5_with_external_storage_never_serves_the_file_it_names(cases):
    """The reproduction: a 64 x 32 dataset whose raw storage is another file. Before the
    fix it read as a frame holding that file's bytes."""
    with pytest.raises(FrameError, match="external storage"):
        read_frame(cases["hdf5_external_storage"].path)


def test_hdf5_soft_links_inside_the_file_are_read(tmp_path):
    import h5py

    with h5py.File(tmp_path / "soft.h5", "w") as f:
        f["raw/frame"] = corpus.good_frame()
        f["entry/data/data"] = h5py.SoftLink("/raw/frame")
    frame = read_frame(tmp_path / "soft.h5", dataset="entry/data/data")
    assert np.array_equal(frame.data, corpus.good_frame())


def test_header_checks_refuse_before_decoding(cases):
    """The EDF bomb's reader must not allocate: its peak memory stays far below what
    its header declares (40 GB)."""
    import tracemalloc

    tracemalloc.start()
    with pytest.raises(FrameError, match="above the limit"):
        read_frame(cases["edf_dims_bomb"].path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 20 * 2**20


def test_upload_above_the_size_limit(tmp_path):
    store = Store(tmp_path)
    uri = "data:application/octet-stream;base64," + base64.b64encode(b"x" * 3 * 2**20).decode()
    meta, message, *_ = handle_upload(store, uri, "big.tif", max_mb=2)
    assert meta is None and "larger than the upload limit of 2 MB" in message


def test_hostile_file_name_is_only_a_label(tmp_path):
    store = Store(tmp_path / "data")
    name = "../../<script>alert(1)</script>.tif"
    payload = (tmp_path / "f.tif")
    tifffile.imwrite(payload, corpus.good_frame())
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
