"""The page in headless Chromium: upload, draw, heal, see and download the result."""

import json
import time

import psutil
import pytest
from conftest import start_server, stop_server
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def _open(page, live_server):
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(live_server["url"])
    expect(page.locator("#frame-info")).to_contain_text("liu2017_example_1.npz", timeout=30000)
    expect(page.locator("#frame-graph .main-svg").first).to_be_visible(timeout=30000)


def _wait_until_quiet(page, quiet_s: float = 1.5, limit_s: float = 60):
    """Wait until no callback request has been in flight for ``quiet_s`` seconds."""
    state = {"open": 0, "last": time.monotonic()}

    def started(request):
        if "_dash-update-component" in request.url:
            state["open"] += 1

    def ended(request):
        if "_dash-update-component" in request.url:
            state["open"] -= 1
            state["last"] = time.monotonic()

    page.on("request", started)
    page.on("requestfinished", ended)
    page.on("requestfailed", ended)
    deadline = time.monotonic() + limit_s
    while (state["open"] > 0 or time.monotonic() - state["last"] < quiet_s) and time.monotonic() < deadline:
        page.wait_for_timeout(250)
    for event, handler in (("request", started), ("requestfinished", ended), ("requestfailed", ended)):
        page.remove_listener(event, handler)


def _draw_box(page):
    box = page.locator("#frame-graph .nsewdrag").first.bounding_box()
    x0, y0 = box["x"] + box["width"] * 0.4, box["y"] + box["height"] * 0.4
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(x0 + 40, y0 + 30, steps=5)
    page.mouse.up()


def _draw_until_the_mask_follows(page, summary):
    """Draw a box; Plotly may still be laying out a new figure, so draw again until
    the mask summary changes."""
    before = summary.inner_text()
    for _ in range(5):
        _draw_box(page)
        try:
            expect(summary).not_to_have_text(before, timeout=3000)
            return
        except AssertionError:
            continue
    expect(summary).not_to_have_text(before)


def test_upload_draw_heal_download(page, live_server, small_tiff, tmp_path):
    path, _, _ = small_tiff
    _open(page, live_server)
    summary = page.locator("#mask-summary div").first  # "Masked: x % (n pixels, k regions)"
    expect(summary).to_contain_text("Masked", timeout=10000)
    example = summary.inner_text()
    page.set_input_files("#upload input[type=file]", str(path))
    expect(page.locator("#frame-info")).to_contain_text("frame.tif: 96 x 96", timeout=30000)
    expect(summary).not_to_have_text(example, timeout=10000)  # the new frame's figure is up
    _draw_until_the_mask_follows(page, summary)

    page.fill("#iterations", "40")
    page.keyboard.press("Tab")
    page.click("#heal-button")
    link = page.locator("#download-healed-tif")
    expect(link).to_be_visible(timeout=120000)
    expect(page.locator("#result-info")).to_contain_text("Healed")
    expect(page.locator("#result-graph .main-svg").first).to_be_visible()
    page.screenshot(path=str(tmp_path / "result.png"), full_page=True)

    with page.expect_download() as download:
        link.click()
    saved = tmp_path / "healed.tif"
    download.value.save_as(saved)
    import tifffile

    assert tifffile.imread(saved).shape == (96, 96)
    review = page.locator("#review-link").inner_text()

    # the result outlives the server: restart it on the same data folder
    stop_server(live_server["proc"])
    restarted = start_server(live_server["data"], live_server["port"], live_server["log"])
    try:
        page.goto(live_server["url"] + review)
        expect(page.locator(".review h2")).to_contain_text(review.split("/")[-1], timeout=30000)
        expect(page.locator(".review .main-svg").first).to_be_visible()
        page.goto(live_server["url"] + "/jobs")
        expect(page.locator("table.jobs")).to_contain_text("done")
        assert page.goto(live_server["url"] + "/job/..%2F..%2Fetc").status == 404
    finally:
        stop_server(restarted)


def test_corrupt_upload_shows_a_message_and_keeps_the_frame(page, live_server, tmp_path):
    _open(page, live_server)
    bad = tmp_path / "broken.tif"
    bad.write_bytes(b"this is text, not a TIFF")
    page.set_input_files("#upload input[type=file]", str(bad))
    expect(page.locator("#message")).to_contain_text("broken.tif: cannot read", timeout=30000)
    expect(page.locator("#frame-info")).to_contain_text("liu2017_example_1.npz")


def test_cancel_really_stops_the_fit(page, live_server):
    _open(page, live_server)
    page.fill("#iterations", "100000")
    page.keyboard.press("Tab")
    page.click("#heal-button")
    expect(page.locator("#progress-text")).to_contain_text("Iteration", timeout=60000)
    server = psutil.Process(live_server["pid"])
    assert server.children(recursive=True), "the fit should run in a child process"
    job_id = json.loads(next((live_server["data"] / "jobs").glob("*/job.json")).read_text())["job_id"]
    clicked = time.time()
    page.click("#cancel-button")
    while server.children(recursive=True) and time.time() < clicked + 10:
        time.sleep(0.05)
    stopped_s = time.time() - clicked
    assert not server.children(recursive=True), "the fit process is still running"
    print(f"cancel stopped the fit in {stopped_s:.2f} s")
    assert stopped_s < 2.0, f"cancel took {stopped_s:.2f} s"
    expect(page.locator("#result-info")).to_contain_text(f"Cancelled: the fit was stopped; job {job_id}",
                                                         timeout=10000)
    expect(page.locator("#heal-button")).to_be_enabled(timeout=10000)
    from dashboard.storage import Store

    assert Store(live_server["data"]).job(job_id)["state"] == "cancelled"


def test_a_job_whose_process_dies_is_reported_on_the_page(page, live_server):
    """A fit killed from outside (out of memory, an admin) ends Dash's job with no output
    and no error; the page still says what happened and links the job."""
    _open(page, live_server)
    page.fill("#iterations", "100000")
    page.keyboard.press("Tab")
    page.click("#heal-button")
    expect(page.locator("#progress-text")).to_contain_text("Iteration", timeout=60000)
    record = json.loads(next((live_server["data"] / "jobs").glob("*/job.json")).read_text())
    psutil.Process(record["pid"]).kill()
    expect(page.locator("#result-info")).to_contain_text(
        "The job ended without a result: the job's process ended before it finished", timeout=20000)
    expect(page.locator("#interrupted-link")).to_have_attribute("href", f"/job/{record['job_id']}")
    expect(page.locator("#heal-button")).to_be_enabled()


def test_undo_and_redo_mask_edits(page, live_server):
    """A drawn box and a control change are undone and redone, overlay and summary with them."""
    _open(page, live_server)
    summary = page.locator("#mask-summary div").first  # "Masked: x % (n pixels, k regions)"
    expect(summary).to_contain_text("Masked", timeout=10000)
    expect(page.locator("#undo-button")).to_be_disabled()
    start = summary.inner_text()
    _draw_until_the_mask_follows(page, summary)
    boxed = summary.inner_text()
    page.locator("#invert input").check()
    expect(summary).not_to_have_text(boxed, timeout=10000)
    inverted = summary.inner_text()

    page.click("#undo-button")
    expect(summary).to_have_text(boxed, timeout=10000)
    expect(page.locator("#invert input")).not_to_be_checked()
    page.click("#undo-button")
    expect(summary).to_have_text(start, timeout=10000)
    expect(page.locator("#undo-button")).to_be_disabled()
    shapes = page.evaluate("document.querySelector('#frame-graph .js-plotly-plot').layout.shapes || []")
    assert shapes == []
    page.click("#redo-button")
    expect(summary).to_have_text(boxed, timeout=10000)
    page.click("#redo-button")
    expect(summary).to_have_text(inverted, timeout=10000)
    expect(page.locator("#redo-button")).to_be_disabled()


def test_owner_history_rerun_and_delete(page, live_server):
    """A named user's job appears in the history with its thumbnail; an interrupted
    job re-runs with one click; a user deletes their own job, not someone else's."""
    import json

    from dashboard.storage import Store

    _open(page, live_server)
    page.fill("#owner", "ada")
    page.keyboard.press("Tab")
    page.fill("#iterations", "10")
    page.keyboard.press("Tab")
    page.click("#heal-button")
    expect(page.locator("#download-healed-tif")).to_be_visible(timeout=120000)
    done_id = page.locator("#review-link").inner_text().split("/")[-1]

    store = Store(live_server["data"])
    record = store.job(done_id)
    assert record["owner"] == "ada"
    # someone else's job that died mid-fit
    other = store.clone_job(done_id, owner="bob")
    path = store.jobs / other / "job.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "state": "running", "pid": 2 ** 22 + 7}))

    page.goto(live_server["url"] + f"/job/{other}")
    expect(page.locator("#job-state")).to_have_text("State: interrupted", timeout=30000)
    page.click("#rerun-button")
    expect(page.locator("#rerun-link")).to_be_visible(timeout=120000)
    rerun = page.locator("#rerun-link").inner_text().split("/")[-1]
    assert store.job(rerun)["state"] == "done" and store.job(rerun)["rerun_of"] == other

    page.goto(live_server["url"] + "/jobs")
    expect(page.locator("#owner")).to_have_value("ada", timeout=10000)  # kept in this browser
    table = page.locator("#history-table")
    expect(table.locator("img.thumb").first).to_be_visible(timeout=30000)
    expect(table).to_contain_text("bob")
    # only ada's own finished job has a Delete button
    delete = page.locator(f"button[id*='{done_id}']")
    expect(delete).to_have_count(1)
    expect(page.locator(f"button[id*='{other}']")).to_have_count(0)
    delete.click()
    expect(table).to_contain_text(f"Deleted job {done_id}", timeout=10000)
    assert not (store.jobs / done_id).exists()
    # the state filter
    page.locator("#history-state").click()
    page.get_by_role("option", name="interrupted").click()
    expect(table.locator("tbody tr")).to_have_count(1, timeout=10000)


def test_a_36_mb_frame_through_the_streaming_upload(page, live_server, tmp_path):
    """An uncompressed 9 MP int32 frame: too big to pass base64 through a callback comfortably."""
    import numpy as np
    import tifffile

    frame = np.random.default_rng(0).poisson(50, (3000, 3000)).astype(np.int32)
    frame[1000:1017] = -1
    big = tmp_path / "big9mp.tif"
    tifffile.imwrite(big, frame)
    assert big.stat().st_size > 36e6
    _open(page, live_server)
    with page.expect_file_chooser() as chooser:
        page.click("#big-upload-button")
    chooser.value.set_files(str(big))
    expect(page.locator("#frame-info")).to_contain_text("big9mp.tif: 3000 x 3000 pixels, int32", timeout=60000)
    expect(page.locator("#mask-summary")).to_contain_text("Masked", timeout=60000)


def test_a_set_of_frames_heals_as_one_batch_job(page, live_server, tmp_path):
    import numpy as np
    import tifffile

    from dip_engine.synthetic import occlude, ring_pattern

    _open(page, live_server)  # the example: 512 x 512
    same, other = tmp_path / "same.tif", tmp_path / "other.tif"
    tifffile.imwrite(same, occlude(ring_pattern((512, 512), seed=3))[0])
    tifffile.imwrite(other, np.arange(1600, dtype=np.int32).reshape(40, 40))
    page.set_input_files("#set-upload input[type=file]", [str(same), str(other)])
    info = page.locator("#set-info")
    expect(info).to_contain_text("Set: 1 frame(s) besides the shown one: same.tif", timeout=30000)
    expect(info).to_contain_text("other.tif: 40 x 40 pixels, not the shown frame's 512 x 512")
    page.locator("#all-frames input").check()
    page.fill("#iterations", "5")
    page.keyboard.press("Tab")
    page.click("#heal-button")
    table = page.locator("#batch-table")
    expect(table).to_be_visible(timeout=120000)
    expect(table.locator("tbody tr")).to_have_count(2)
    expect(table).to_contain_text("1: same.tif")


def test_a_mask_edit_on_a_1mp_frame_sends_little_each_way(page, live_server, tmp_path):
    """The mask is data: an edit sends the drawn shapes and control values, and gets back
    the overlay, not the whole figure (which holds the frame's picture)."""
    import numpy as np
    import tifffile

    frame = np.random.default_rng(0).poisson(30, (1024, 1024)).astype(np.int32)
    frame[500:520] = -1
    tifffile.imwrite(tmp_path / "big.tif", frame)
    _open(page, live_server)
    summary = page.locator("#mask-summary")
    expect(summary).to_contain_text("Auto mask: beam centre", timeout=30000)
    # to_have_text reads textContent, inner_text puts newlines between the lines: compare one line
    masked = page.locator("#mask-summary div").first
    example = masked.inner_text()
    page.set_input_files("#upload input[type=file]", str(tmp_path / "big.tif"))
    expect(page.locator("#frame-info")).to_contain_text("big.tif: 1024 x 1024", timeout=30000)
    expect(masked).not_to_have_text(example, timeout=60000)  # the new frame's figure and mask are up
    expect(summary).to_contain_text("Auto mask: beam centre")
    page.wait_for_function("() => { const g = document.querySelector('#frame-graph .js-plotly-plot');"
                           " return g && g.layout && g.layout.xaxis.range && Math.max(...g.layout.xaxis.range) > 1000; }",
                           timeout=60000)  # the new frame's figure is drawn
    _wait_until_quiet(page)  # and its own events are over
    sizes = []

    def measure(response):
        if "_dash-update-component" in response.url:
            sizes.append((len(response.request.post_data_buffer or b""), len(response.body())))

    page.on("response", measure)
    _draw_until_the_mask_follows(page, summary)
    page.wait_for_timeout(1500)
    page.remove_listener("response", measure)
    sent, received = max(s for s, _ in sizes), max(r for _, r in sizes)
    print(f"\nmask edit on 1 MP: {len(sizes)} requests, largest {sent / 1e3:.1f} kB sent, "
          f"{received / 1e3:.1f} kB received")
    assert sent < 50_000 and received < 50_000
