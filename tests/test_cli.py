"""The command line: round trip on a small TIFF, one readable line on bad input."""

import subprocess
import sys

import numpy as np
import pytest
import tifffile

from dip_engine.cli import main


def test_heal_round_trip(tmp_path, small_tiff, capsys):
    path, truth, flagged = small_tiff
    out = tmp_path / "healed.tif"
    rc = main(["heal", str(path), "-o", str(out), "--preset", "fast", "--iterations", "30", "--seed", "1"])
    assert rc == 0
    assert f"wrote {out}" in capsys.readouterr().out
    healed = tifffile.imread(out)
    assert healed.dtype == np.float32 and healed.shape == flagged.shape
    valid = flagged >= 0
    assert np.array_equal(healed[valid], flagged[valid])
    assert (healed[~valid] >= 0).all()


def test_mask_file_adds_missing_pixels(tmp_path, small_tiff):
    path, _, flagged = small_tiff
    mask = np.zeros(flagged.shape, np.uint8)
    mask[40:50, 40:50] = 1
    np.save(tmp_path / "m.npy", mask)
    out = tmp_path / "h.npy"
    assert main(["heal", str(path), "--mask", str(tmp_path / "m.npy"), "-o", str(out),
                 "--iterations", "10", "--quiet"]) == 0
    healed = np.load(out)
    keep = (flagged >= 0) & (mask == 0)
    assert np.array_equal(healed[keep], flagged[keep])
    assert not np.array_equal(healed[40:50, 40:50], flagged[40:50, 40:50])


@pytest.mark.parametrize("case, message", [
    ("missing", "no such file"),
    ("not_image", "cannot read"),
    ("mask_shape", "same shape"),
    ("bad_output", "must end in"),
])
def test_bad_input_exits_2_with_one_line(tmp_path, small_tiff, case, message):
    path, _, _ = small_tiff
    args = ["heal", str(path), "-o", str(tmp_path / "o.tif"), "--iterations", "2"]
    if case == "missing":
        args[1] = str(tmp_path / "nope.tif")
    elif case == "not_image":
        (tmp_path / "x.tif").write_text("hello")
        args[1] = str(tmp_path / "x.tif")
    elif case == "mask_shape":
        np.save(tmp_path / "m.npy", np.zeros((3, 3)))
        args += ["--mask", str(tmp_path / "m.npy")]
    else:
        args[3] = str(tmp_path / "o.png")
    proc = subprocess.run([sys.executable, "-m", "dip_engine.cli", *args], capture_output=True, text=True)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("xray-heal: error:") and message in lines[0]
    assert "Traceback" not in proc.stderr


def test_mask_command_writes_an_auto_mask(tmp_path, small_tiff, capsys):
    import fabio

    path, _, flagged = small_tiff
    out = tmp_path / "mask.edf"
    assert main(["mask", str(path), "-o", str(out), "--auto", "--grow", "1"]) == 0
    assert "% masked" in capsys.readouterr().out
    mask = fabio.open(str(out)).data != 0
    assert mask[flagged < 0].all() and mask.mean() < 0.5


def test_mask_command_excludes_the_named_parts_of_the_auto_mask(tmp_path, small_tiff, capsys):
    from dip_engine.masks import auto_mask_report

    path, image, _ = small_tiff
    out = tmp_path / "mask.npy"
    assert main(["mask", str(path), "-o", str(out), "--auto", "--exclude", "beamstop_and_arm"]) == 0
    labels = np.load(out)
    parts, _ = auto_mask_report(tifffile.imread(path))
    assert parts["beamstop_and_arm"].any() and np.array_equal(labels == 2, parts["beamstop_and_arm"])
    assert main(["mask", str(path), "-o", str(out), "--auto", "--exclude", "sky"]) == 2
    assert "--exclude takes a comma list of outside, horizon" in capsys.readouterr().err


def test_mask_command_adds_ring_ranges(tmp_path, small_tiff, capsys):
    path, _, flagged = small_tiff
    out = tmp_path / "mask.npy"
    assert main(["mask", str(path), "-o", str(out), "--ring", "20", "22", "--ring", "30", "31"]) == 0
    ring = np.load(out) & (flagged >= 0)
    assert 0.02 < ring.mean() < 0.3
    assert main(["mask", str(path), "-o", str(out), "--ring", "1", "2", "--unit", "q_nm^-1"]) == 2
    assert "--poni" in capsys.readouterr().err


def test_heal_takes_the_users_beam_centre(tmp_path, small_tiff, capsys):
    path, _, _ = small_tiff
    out = tmp_path / "h.npy"
    assert main(["heal", str(path), "-o", str(out), "--iterations", "3", "--quiet", "--center", "50.5", "46"]) == 0
    assert main(["heal", str(path), "-o", str(out), "--iterations", "3", "--center", "5000", "46"]) == 2
    assert "far outside the 96 x 96 frame" in capsys.readouterr().err


def test_grid_ranks_forty_runs_and_writes_the_best(tmp_path, small_tiff, capsys):
    from dip_engine import HealConfig
    from dip_engine.grid import grid_configs

    assert len(grid_configs(HealConfig())) == 40
    path, _, flagged = small_tiff
    out = tmp_path / "best.tif"
    assert main(["grid", str(path), "-o", str(out), "--iterations", "5"]) == 0
    table = capsys.readouterr().out
    scores = [float(line.split()[-1]) for line in table.splitlines()[1:41]]
    assert len(scores) == 40 and scores == sorted(scores)
    assert tifffile.imread(out).shape == flagged.shape


def test_report_holds_the_scores_a_dashboard_job_records(tmp_path, small_tiff):
    """One pipeline: the CLI's --report and a dashboard job of the same frame, mask and
    config report the same scores and blend."""
    import json

    from dashboard.jobs import run_heal_job
    from dashboard.storage import Store
    from dip_engine.masks import MaskSpec

    path, _, _ = small_tiff
    report = tmp_path / "report.json"
    assert main(["heal", str(path), "-o", str(tmp_path / "h.tif"), "--preset", "fast", "--iterations", "40",
                 "--seed", "0", "--report", str(report), "--quiet"]) == 0
    cli = json.loads(report.read_text())
    store = Store(tmp_path / "data")
    meta = store.save_upload("frame.tif", path.read_bytes())
    job_id, _ = run_heal_job(store, lambda _: None, meta, MaskSpec(use_flags=True), "fast", 40, 0)
    page = store.job(job_id)["result"]
    assert set(cli["scores"]) == set(page["scores"]) >= {"dip", "biharmonic", "polar", "polar_smooth", "mirror"}
    assert cli["scores"] == pytest.approx(page["scores"], rel=1e-6)
    assert cli["blend"]["weights"] == pytest.approx(page["blend"]["weights"], rel=1e-6)
    assert cli["pixels_healed"] == page["pixels_healed"] and cli["mirror_check"]["pixels"] > 0


def test_report_path_is_checked_before_the_fit(tmp_path, small_tiff, capsys):
    path, _, _ = small_tiff
    assert main(["heal", str(path), "-o", str(tmp_path / "h.tif"), "--report", str(tmp_path / "r.txt")]) == 2
    assert "the report must end in .json" in capsys.readouterr().err
