"""The page in the field's units: a PONI geometry, the flip of a legacy file, I(q), the cake and
the curve files, on the real CeO2 Pilatus 1M frame (skipped without ../shared/data)."""

import numpy as np
import pytest
from playwright.sync_api import expect

from dip_engine.azimuthal import read_dat

pytestmark = pytest.mark.browser

#: CeO2 (a = 5.411 Å) (111) reflection: q = 2 pi sqrt(3) / a, in nm^-1.
Q_111 = 2 * np.pi * np.sqrt(3) / 0.5411


def _graph_data(page, graph_id: str) -> list:
    """The traces Plotly drew in a dcc.Graph."""
    return page.evaluate(f"() => document.querySelector('#{graph_id} .js-plotly-plot').data")


def _array(value) -> np.ndarray:
    """A trace's array as Plotly holds it: a list (None for NaN) or a typed array (base64)."""
    if isinstance(value, dict):
        import base64

        data = np.frombuffer(base64.b64decode(value["bdata"]), np.dtype(value["dtype"]))
        shape = [int(n) for n in str(value["shape"]).split(",")] if "shape" in value else [-1]
        return data.reshape(shape)
    return np.array([np.nan if v is None else v for v in value], float)


def _healed_curve(page) -> tuple[np.ndarray, np.ndarray]:
    """(q, I) of the healed frame's I(q) as the page draws it."""
    trace = next(t for t in _graph_data(page, "scattering-graph")
                 if t.get("name") == "healed" and t.get("xaxis", "x") == "x" and t.get("mode") == "lines")
    return _array(trace["x"]), _array(trace["y"])


def _first_peak(q: np.ndarray, intensity: np.ndarray) -> float:
    """Position of the first strong peak (parabola through its top three bins)."""
    from scipy.signal import find_peaks

    y = np.log(intensity)
    found, props = find_peaks(y, prominence=0.5)
    k = found[0]
    left, mid, right = y[k - 1: k + 2]
    offset = 0.5 * (left - right) / (left - 2 * mid + right)
    return float(np.interp(k + offset, np.arange(q.size), q))


def _heal(page, timeout_ms: int = 240000):
    page.click("#heal-button")
    expect(page.locator("#download-iq_healed-dat")).to_be_visible(timeout=timeout_ms)


def test_a_legacy_poni_is_flipped_and_ceo2_heals_with_its_rings_at_the_right_q(page, live_server, shared_data,
                                                                                tmp_path):
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(live_server["url"])
    expect(page.locator("#frame-info")).to_contain_text("liu2017_example_1.npz", timeout=30000)
    page.set_input_files("#upload input[type=file]", str(shared_data / "CeO2_Pilatus1M.tif"))
    expect(page.locator("#frame-info")).to_contain_text("CeO2_Pilatus1M.tif: 1043 x 981", timeout=60000)
    expect(page.locator("#symmetry-line")).to_contain_text("isotropic", timeout=60000)

    # the Dioptas 2015 file: the flip sentence, and the flip
    page.set_input_files("#geometry-upload input[type=file]", str(shared_data / "CeO2_Pilatus1M.poni"))
    check = page.locator("#geometry-check")
    expect(check).to_contain_text("flipped up-down it is", timeout=30000)
    page.click("#geometry-flip")
    expect(page.locator("#geometry-line")).to_contain_text("flipped up-down", timeout=30000)
    expect(check).to_contain_text("agrees", timeout=30000)
    rings = _graph_data(page, "frame-graph")[4]
    assert rings["name"] == "rings of the geometry" and len(rings["x"]) > 100

    page.fill("#iterations", "30")
    page.keyboard.press("Tab")
    _heal(page)
    q, healed = _healed_curve(page)
    assert abs(_first_peak(q, healed) / Q_111 - 1) < 0.005

    # the cake: the original's gaps are empty bins, the healed cake has none left
    original, filled = (_array(t["z"]) for t in _graph_data(page, "cake-graph")[:2])
    assert np.isnan(original).sum() > np.isnan(filled).sum() + 1000
    assert not (np.isnan(filled) & ~np.isnan(original)).any()

    # the downloaded curve is the drawn one
    with page.expect_download() as download:
        page.click("#download-iq_healed-dat")
    path = tmp_path / "iq_healed.dat"
    download.value.save_as(path)
    curve = read_dat(path)
    np.testing.assert_allclose(curve[:, 0], q, rtol=1e-9)
    np.testing.assert_allclose(curve[:, 1], healed, rtol=1e-9)

    # the file with the detector orientation gives the same curve
    page.set_input_files("#geometry-upload input[type=file]", str(shared_data / "CeO2_Pilatus1M_orientation2.poni"))
    expect(page.locator("#geometry-line")).to_contain_text("orientation2.poni", timeout=30000)
    expect(check).to_contain_text("agrees", timeout=30000)
    _heal(page)
    np.testing.assert_allclose(_healed_curve(page)[1], healed, rtol=1e-12)
    # the review page a colleague opens shows the same curves and cakes
    page.click("#review-link")
    expect(page.locator("#review-scattering .main-svg").first).to_be_visible(timeout=30000)
    expect(page.locator("#review-cake .main-svg").first).to_be_visible(timeout=30000)
    review = next(t for t in _graph_data(page, "review-scattering")
                  if t.get("name") == "healed" and t.get("mode") == "lines" and t.get("xaxis", "x") == "x")
    np.testing.assert_allclose(_array(review["y"]), healed, rtol=1e-12)
