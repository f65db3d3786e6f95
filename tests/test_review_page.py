"""What a colleague reviews: the bundled example healed in the page, its no-data area left
NaN, the before/after view at one zoom, the fit's loss and score, the calibration line."""

import numpy as np
import pytest
import tifffile
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def _graph(page, graph_id: str) -> dict:
    return page.evaluate(f"() => {{ const g = document.querySelector('#{graph_id} .js-plotly-plot');"
                         f" return {{data: g.data, layout: g.layout}}; }}")


def test_the_bundled_example_heals_with_its_outside_left_nan_and_a_before_after_view(page, live_server, tmp_path):
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(live_server["url"])
    expect(page.locator("#frame-info")).to_contain_text("liu2017_example_1.npz", timeout=30000)
    expect(page.locator("#excluded-line")).to_contain_text("Excluded", timeout=30000)
    page.fill("#iterations", "40")
    page.keyboard.press("Tab")
    page.click("#heal-button")
    expect(page.locator("#download-healed-tif")).to_be_visible(timeout=240000)
    expect(page.locator("#calibration-line")).to_contain_text("within 1σ (ideal 68 %)")

    # the area outside the detector's round window stays NaN in the downloaded frame
    with page.expect_download() as download:
        page.click("#download-healed-tif")
    download.value.save_as(tmp_path / "healed.tif")
    healed = tifffile.imread(tmp_path / "healed.tif")
    assert np.isnan(healed[:40, :40]).all() and np.isnan(healed[-40:, -40:]).all()  # two corners
    assert np.isfinite(healed[200:300, 200:300]).all()
    assert 0.15 < np.isnan(healed).mean() < 0.3

    # the loss and score plot, with the chosen iteration marked
    fit = _graph(page, "fit-graph")
    names = [t.get("name") for t in fit["data"]]
    assert "loss" in names and "hold-out score" in names
    assert any("chosen" in (a.get("text") or "") for a in fit["layout"].get("annotations", []))

    # before/after: one figure, the toggle swaps what is shown and keeps the zoom
    compare = page.locator("#compare-graph .nsewdrag").first
    expect(compare).to_be_visible(timeout=30000)
    box = compare.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.3)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5, steps=5)
    page.mouse.up()
    page.wait_for_timeout(1500)
    zoomed = _graph(page, "compare-graph")["layout"]["xaxis"]["range"]
    shown = [t.get("visible") for t in _graph(page, "compare-graph")["data"]]
    assert shown[2] is True and shown[0] is False  # after: the healed frame
    page.get_by_label("before: original and mask").check()
    page.wait_for_timeout(1500)
    after_toggle = _graph(page, "compare-graph")
    assert after_toggle["data"][0]["visible"] is True and after_toggle["data"][2]["visible"] is False
    assert after_toggle["layout"]["xaxis"]["range"] == zoomed
    assert after_toggle["data"][0]["dx"] == 1  # a 512-pixel frame is shown at full resolution (no tiles)
