"""pyFAI geometry and integration (dip_engine.azimuthal): PONI files, the beam centre and
its flips, I(q) and its files, and the bundle pyFAI reads as it is."""

import json

import numpy as np
import pytest

from dip_engine import azimuthal as az
from dip_engine.synthetic import ring_pattern

SHAPE = (120, 140)
#: A flat detector facing the beam, 172 um pixels, beam at row 50, column 60, 1 A.
TYPED = dict(distance_mm=100.0, pixel_um=172.0, center=(50.0, 60.0), wavelength_a=1.0)


def _q_of(rows, cols, center=(50.0, 60.0), distance_mm=100.0, pixel_um=172.0, wavelength_a=1.0):
    """q (nm^-1) of pixels on that flat detector, by hand."""
    r_mm = np.hypot(rows - center[0], cols - center[1]) * pixel_um * 1e-3
    two_theta = np.arctan(r_mm / distance_mm)
    return 4 * np.pi * np.sin(two_theta / 2) / (wavelength_a / 10)


def test_a_typed_geometry_puts_q_where_the_formula_does():
    geometry = az.geometry_from_values(SHAPE, **TYPED)
    assert az.beam_center(geometry) == pytest.approx((50.0, 60.0), abs=1e-6)
    values = az.unit_map(geometry, SHAPE)
    rows, cols = np.mgrid[:SHAPE[0], :SHAPE[1]]
    np.testing.assert_allclose(values, _q_of(rows, cols), rtol=1e-5, atol=1e-6)
    by_energy = az.geometry_from_values(SHAPE, 100.0, 172.0, (50.0, 60.0), energy_kev=az.HC_KEV_A)
    assert by_energy["wavelength"] == pytest.approx(1e-10)


def test_a_poni_file_round_trips_and_its_flips_move_the_centre():
    geometry = az.geometry_from_values(SHAPE, **TYPED)
    again = az.load_geometry(az.poni_text(geometry), SHAPE)
    assert again == geometry
    flips = {"up-down": (SHAPE[0] - 1 - 50.0, 60.0), "left-right": (50.0, SHAPE[1] - 1 - 60.0),
             "both": (SHAPE[0] - 1 - 50.0, SHAPE[1] - 1 - 60.0)}
    for flip, centre in flips.items():
        assert az.beam_center(az.flipped(geometry, flip)) == pytest.approx(centre, abs=1e-6)
        assert az.flipped(az.flipped(geometry, flip), flip) == geometry
    # the flipped geometry's q map is the frame's flipped
    np.testing.assert_allclose(az.unit_map(az.flipped(geometry, "up-down"), SHAPE),
                               az.unit_map(geometry, SHAPE)[::-1], rtol=1e-6)


def test_the_centre_check_names_the_flip_that_brings_the_centres_together():
    geometry = az.geometry_from_values(SHAPE, **TYPED)
    assert az.centre_check(geometry, (51.0, 61.0))["agrees"]
    check = az.centre_check(geometry, (SHAPE[0] - 1 - 50.0 + 1.0, 60.0))
    assert not check["agrees"] and check["flip"] == "up-down" and "flipped up-down" in check["sentence"]
    lost = az.centre_check(geometry, (5.0, 5.0))
    assert lost["flip"] is None and "check the geometry" in lost["sentence"]


@pytest.mark.parametrize("text, message", [
    ("hello", "not a PONI file"),
    ("Distance: 0.1\nPoni1: 0\nPoni2: 0\nRot1: 0\nRot2: 0\nRot3: 0\nPixelSize1: 1e-4\nPixelSize2: 1e-4\n",
     "wavelength"),
    ("Distance: x\n", "not a number"),
    ('Detector: NexusDetector\nDetector_config: {"filename": "/etc/passwd"}\nDistance: 0.2\nPoni1: 0\nPoni2: 0\n'
     "Rot1: 0\nRot2: 0\nRot3: 0\nWavelength: 1e-10\n", "no files"),
    ("Distance: 0.1\nPoni1: 0\nPoni2: 0\nRot1: 0\nRot2: 0\nRot3: 0\nWavelength: 1e-10\nSplineFile: /tmp/x.spline\n",
     "spline"),
    ("Detector: Pilatus1M\nDistance: 0.2\nPoni1: 0\nPoni2: 0\nRot1: 0\nRot2: 0\nRot3: 0\nWavelength: 1e-10\n",
     "is 1043 x 981 pixels, the frame 120 x 140"),
    ("Distance: 0.2\nPoni1: 0\nPoni2: 0\nRot1: 0\nRot2: 0\nRot3: 0\nWavelength: 1e-10\n", "pixel size"),
    ("Distance: -0.2\nPoni1: 0\nPoni2: 0\nRot1: 0\nRot2: 0\nRot3: 0\nWavelength: 1e-10\nPixelSize1: 1e-4\n"
     "PixelSize2: 1e-4\n", "must be positive"),
])
def test_a_bad_poni_file_gets_one_sentence(text, message):
    with pytest.raises(ValueError, match=message):
        az.load_geometry(text, SHAPE)


def test_binary_and_huge_files_are_refused_before_parsing():
    with pytest.raises(ValueError, match="not text|binary"):
        az.load_geometry(b"\x89PNG\r\n\x1a\n\0\0\xff", SHAPE)
    with pytest.raises(ValueError, match="a few lines"):
        az.load_geometry(b"#" * (az.MAX_PONI_BYTES + 1), SHAPE)


def test_the_curve_of_rings_peaks_at_their_q_and_its_file_is_pyfais_layout(tmp_path):
    geometry = az.geometry_from_values(SHAPE, **TYPED)
    rows, cols = np.mgrid[:SHAPE[0], :SHAPE[1]]
    q = _q_of(rows, cols)
    image = 10 + 500 * np.exp(-0.5 * ((q - 3.0) / 0.05) ** 2)  # one ring at q = 3 nm^-1
    invalid = np.zeros(SHAPE, bool)
    invalid[40:60] = True
    curve = az.curve(image, invalid, geometry)
    assert az.peak_positions(curve)[0] == pytest.approx(3.0, abs=0.02)
    whole = az.curve(image, None, geometry)
    assert whole["x"] == curve["x"]  # one frame, one set of bins, whatever the mask
    az.write_dat(tmp_path / "iq.dat", curve, geometry, "test")
    table = az.read_dat(tmp_path / "iq.dat")
    have = np.isfinite(curve["I"])
    np.testing.assert_allclose(table[have, 1], np.asarray(curve["I"])[have], rtol=1e-9)
    head = [line for line in (tmp_path / "iq.dat").read_text().splitlines() if line.startswith("#")]
    assert json.loads("\n".join(line[2:] for line in head[:-3])) == geometry


def test_the_legacy_ceo2_poni_flipped_is_the_oriented_one(shared_data):
    """Dioptas PR #152's trap: the 2015 file needs an up-down flip to match the frame."""
    import fabio

    image = fabio.open(str(shared_data / "CeO2_Pilatus1M.tif")).data
    legacy = az.load_geometry((shared_data / "CeO2_Pilatus1M.poni").read_bytes(), image.shape)
    oriented = az.load_geometry((shared_data / "CeO2_Pilatus1M_orientation2.poni").read_bytes(), image.shape)
    measured = (529.4, 488.9)  # estimate_center of the frame (test_realdata measures it)
    check = az.centre_check(legacy, measured)
    assert check["flip"] == "up-down" and az.centre_check(oriented, measured)["agrees"]
    assert az.flipped(legacy, "up-down") == oriented
    curve = az.curve(image, image < 0, oriented)
    q_111 = 2 * np.pi * np.sqrt(3) / 0.5411  # CeO2, a = 5.411 A
    assert az.peak_positions(curve)[0] == pytest.approx(q_111, rel=0.002)
    # the direct beam is where 2-theta is least
    two_theta = az.unit_map(oriented, image.shape, "2th_deg")
    lowest = np.unravel_index(np.argmin(two_theta), image.shape)
    assert np.hypot(*(np.subtract(lowest, az.beam_center(oriented)))) < 1.0


def test_pyfai_reads_the_bundle_as_it_is_and_gets_the_pages_curve(tmp_path):
    """healed.tif, mask.tif and geometry.poni of a job, integrated by pyFAI alone, give the
    curves the page shows (integrated.json) to 1e-6."""
    import fabio
    import pyFAI
    import tifffile

    from dashboard.jobs import run_heal_job
    from dashboard.storage import Store
    from dip_engine.masks import MaskSpec

    truth = ring_pattern(SHAPE, center=(50.0, 60.0), seed=3) * 20
    frame = np.random.default_rng(0).poisson(truth).astype(np.int32)
    frame[70:76] = -1
    tifffile.imwrite(tmp_path / "rings.tif", frame)
    store = Store(tmp_path / "data")
    meta = store.save_upload("rings.tif", (tmp_path / "rings.tif").read_bytes())
    geometry = az.geometry_from_values(SHAPE, **TYPED)
    job, message = run_heal_job(store, lambda p: None, meta, MaskSpec(), "fast", 10, 0, geometry=geometry)
    assert store.job(job)["state"] == "done", message
    folder = store.jobs / job
    page = json.loads((folder / "integrated.json").read_text())["iq"]
    ai = pyFAI.load(str(folder / "geometry.poni"))
    kwargs = dict(npt=page["npt"], unit=page["unit"], radial_range=tuple(page["range"]), error_model="poisson",
                  method=tuple(page["method"].split("/")))
    healed = ai.integrate1d(fabio.open(str(folder / "healed.tif")).data.astype(np.float32), **kwargs)
    np.testing.assert_allclose(healed.intensity, page["healed"], rtol=1e-6)
    mask = fabio.open(str(folder / "mask.tif")).data
    original = ai.integrate1d(np.clip(frame, 0, None).astype(np.float32), mask=mask, **kwargs)
    have = np.isfinite(np.asarray(page["original"], float))
    np.testing.assert_allclose(original.intensity[have], np.asarray(page["original"], float)[have], rtol=1e-6)
    np.testing.assert_allclose(az.read_dat(folder / "iq_healed.dat")[:, 1], page["healed"], rtol=1e-9)


def test_the_cli_report_holds_the_pages_iq(shared_data, tmp_path):
    """``heal --poni --report`` and a page job with the same mask, config and geometry report
    the same I(q): one pipeline serves both."""
    from dashboard.jobs import run_heal_job
    from dashboard.storage import Store
    from dip_engine.cli import main
    from dip_engine.masks import MaskSpec

    frame, poni = shared_data / "CeO2_Pilatus1M.tif", shared_data / "CeO2_Pilatus1M_orientation2.poni"
    store = Store(tmp_path / "data")
    meta = store.save_upload(frame.name, frame.read_bytes())
    geometry = az.load_geometry(poni.read_bytes(), tuple(meta["shape"]))
    job, message = run_heal_job(store, lambda p: None, meta, MaskSpec(auto=True), "fast", 10, 0, geometry=geometry)
    assert store.job(job)["state"] == "done", message
    page = json.loads((store.jobs / job / "integrated.json").read_text())["iq"]
    report = tmp_path / "report.json"
    code = main(["heal", str(frame), "--poni", str(poni), "--mask", str(store.jobs / job / "mask.tif"),
                 "--preset", "fast", "--iterations", "10", "-o", str(tmp_path / "healed.tif"),
                 "--report", str(report), "--quiet"])
    assert code == 0
    iq = json.loads(report.read_text())["iq"]
    assert iq["unit"] == "q_nm^-1" and iq["q"] == page["q"]
    assert iq["original"] == page["original"]
    np.testing.assert_allclose(iq["healed"], page["healed"], rtol=0.02)
    q_111 = 2 * np.pi * np.sqrt(3) / 0.5411
    assert az.peak_positions({"x": iq["q"], "I": iq["healed"]})[0] == pytest.approx(q_111, rel=0.005)
