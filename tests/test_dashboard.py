"""Dashboard logic without a browser: uploads, masks from shapes, jobs on disk."""

import base64
import subprocess
import sys

import numpy as np
import pytest

from dashboard.app import create_app
from dashboard.uploads import handle_upload
from dashboard.jobs import run_heal_job
from dashboard import ids
from dashboard.callbacks.mask import mask_file_bytes, spec_from_inputs
from dashboard.settings import Settings
from dashboard.storage import Store
from dip_engine import FrameError
from dip_engine.masks import DEFAULT_SIGMA, MaskSpec


def _uri(payload: bytes) -> str:
    return "data:application/octet-stream;base64," + base64.b64encode(payload).decode()


def test_web_process_does_not_import_torch(tmp_path):
    code = ("import sys; from dashboard.app import create_app; from dashboard.settings import Settings;"
            f"create_app(Settings(data_dir=__import__('pathlib').Path({str(tmp_path)!r})));"
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_upload_of_a_frame_is_stored(tmp_path, small_tiff):
    path, _, flagged = small_tiff
    store = Store(tmp_path)
    meta, message, *_ = handle_upload(store, _uri(path.read_bytes()), "frame.tif", 10)
    assert message == "" and meta["shape"] == [96, 96]
    data, mask, meta2 = store.load_upload(meta["upload_id"])
    assert np.array_equal(data, flagged) and mask is None and meta2["name"] == "frame.tif"


@pytest.mark.parametrize("name, payload, message", [
    ("corrupt.tif", b"not a tiff at all", "cannot read"),
    ("empty.tif", b"", "empty"),
    ("../../etc/<b>x</b>.tif", b"garbage", "cannot read"),
])
def test_bad_upload_gets_a_message_and_leaves_nothing(tmp_path, name, payload, message):
    store = Store(tmp_path)
    meta, text, *_ = handle_upload(store, _uri(payload), name, 10)
    assert meta is None and message in text
    assert list(store.uploads.iterdir()) == []
    assert not (tmp_path.parent / "etc").exists()


def test_damaged_base64_is_reported(tmp_path):
    meta, text, *_ = handle_upload(Store(tmp_path), "data:x;base64,@@@", "a.tif", 10)
    assert meta is None and "damaged" in text


def test_plotly_shapes_become_a_mask_spec():
    shapes = [
        {"type": "rect", "x0": 10, "x1": 20, "y0": 30.5, "y1": 40},
        {"type": "circle", "x0": 1, "x1": 3, "y0": 2, "y1": 4},
        {"type": "path", "path": "M10,20L30,20L30,40Z"},
        {"type": "line", "x0": 0, "x1": 1, "y0": 0, "y1": 1},
    ]
    values = {ids.BOX_THRESHOLD: 15, ids.ROW_THRESHOLD: 0.2, ids.COL_THRESHOLD: None, ids.GROW: 2,
              ids.AUTO: [], ids.INVERT: ["invert"]}
    spec = spec_from_inputs(shapes, values)
    assert spec.invert and not spec.auto and spec.sigma == DEFAULT_SIGMA
    assert spec.boxes == [[30.5, 40.0, 10.0, 20.0]]
    assert spec.ellipses == [[2.0, 4.0, 1.0, 3.0]]
    assert spec.polygons == [[[20.0, 20.0, 40.0], [10.0, 30.0, 30.0]]]
    assert spec.lines == [[0.0, 0.0, 1.0, 1.0]] and spec.line_width == 8.0
    assert (spec.box_threshold, spec.row_threshold, spec.col_threshold, spec.grow) == (15.0, 0.2, 0.0, 2)


def test_job_writes_a_bundle_that_survives_a_restart(tmp_path, small_tiff):
    path, _, flagged = small_tiff
    store = Store(tmp_path)
    meta = store.save_upload("frame.tif", path.read_bytes())
    updates = []
    job_id, message = run_heal_job(store, updates.append, meta, MaskSpec(boxes=[[50, 55, 40, 45]]),
                                   "fast", 20, 0)
    assert "Healed" in message and updates
    assert updates[-1][0] == "20" and updates[-1][3].startswith("data:image/png;base64,")
    # a new server process on the same data folder sees the finished job
    app = create_app(Settings(data_dir=tmp_path))
    client = app.server.test_client()
    record = Store(tmp_path).job(job_id)
    assert record["state"] == "done" and record["result"]["iterations_run"] == 20
    resp = client.get(f"/download/{job_id}/healed.tif")
    assert resp.status_code == 200 and len(resp.data) > flagged.size * 4
    for bad in (f"/download/{job_id}/frame.npy", "/download/nosuchjob/healed.tif",
                "/download/a.b/healed.tif", f"/download/{job_id}/%2E%2E"):
        assert client.get(bad).status_code == 404, bad
    # the whole bundle as a zip, with the thumbnail and the mask in three formats
    import io
    import zipfile

    resp = client.get(f"/download/{job_id}/bundle.zip")
    names = set(zipfile.ZipFile(io.BytesIO(resp.data)).namelist())
    assert {f"{job_id}/{n}" for n in ("healed.tif", "mask.npy", "mask.tif", "mask.edf", "preview.png",
                                      "uncertainty.tif", "job.json")} <= names
    assert client.get(f"/download/{job_id}/preview.png").data.startswith(b"\x89PNG")
    assert record["versions"]["torch"] and record["result"]["elapsed_s"] > 0
    assert client.get(f"/job/{job_id}").status_code == 200
    for bad in ("/job/nosuchjob", "/job/..%2F..%2Fetc", "/job/a.b", f"/job/{job_id}/x"):
        assert client.get(bad).status_code == 404, bad
    # a path that climbs out never reaches a file (Dash answers with its page)
    assert b"root:" not in client.get("/download/..%2F..%2F..%2Fetc/passwd").data
    with pytest.raises(KeyError):
        store.job_file("../..", "healed.tif")


def test_bad_config_from_the_page_is_a_message(tmp_path, small_tiff):
    path, _, _ = small_tiff
    store = Store(tmp_path)
    meta = store.save_upload("frame.tif", path.read_bytes())
    job_id, message = run_heal_job(store, lambda _: None, meta, MaskSpec(), "fast", 0, 0)
    assert job_id is None and "iterations must be a whole number from 1 to 100000" in message


def test_failed_fit_is_recorded_with_its_reason(tmp_path):
    store = Store(tmp_path)
    img = np.arange(400.0).reshape(20, 20)
    np.save(tmp_path / "f.npy", img)
    meta = store.save_upload("f.npy", (tmp_path / "f.npy").read_bytes())
    job_id, message = run_heal_job(store, lambda _: None, meta, MaskSpec(), "fast", 5, 0)
    assert "nothing to heal" in message
    assert store.job(job_id)["state"] == "failed"


def test_a_part_of_the_auto_mask_can_be_excluded_on_the_page(tmp_path, small_tiff):
    path, _, _ = small_tiff
    store = Store(tmp_path)
    upload = store.save_upload("frame.tif", path.read_bytes())["upload_id"]
    spec = spec_from_inputs([], {ids.AUTO: ["auto"], ids.EXCLUDE: ["beamstop_and_arm"]})
    _, mask, _ = store.upload_mask(upload, spec)
    parts, _ = store.auto_parts(upload, None, spec.sigma, spec.contrast)
    excluded = store.upload_exclusion(upload, spec, mask)
    assert excluded.any() and np.array_equal(excluded, parts["beamstop_and_arm"] & mask)
    healed_only = spec_from_inputs([], {ids.AUTO: ["auto"], ids.EXCLUDE: []})
    assert not store.upload_exclusion(upload, healed_only, mask).any()


def test_auto_mask_is_cached_and_mask_files_round_trip(tmp_path, small_tiff):
    import fabio

    path, _, flagged = small_tiff
    store = Store(tmp_path)
    meta = store.save_upload("frame.tif", path.read_bytes())
    spec = spec_from_inputs([], {ids.AUTO: ["auto"]})
    _, mask, params = store.upload_mask(meta["upload_id"], spec)
    assert mask[flagged < 0].all() and params["pixels"]["beamstop_and_arm"] > 0
    assert list((store.uploads / meta["upload_id"]).glob("auto-*.npz"))
    (tmp_path / "m.edf").write_bytes(mask_file_bytes(mask, ".edf"))
    assert np.array_equal(fabio.open(str(tmp_path / "m.edf")).data != 0, mask)
    # a user mask file joins the mask; one of another shape is refused
    user = np.zeros(flagged.shape, np.uint8)
    user[0, 0] = 1
    store.save_user_mask(meta["upload_id"], "u.npy", mask_file_bytes(user, ".npy"))
    _, with_user, _ = store.upload_mask(meta["upload_id"], spec_from_inputs([], {ids.AUTO: []}))
    assert with_user[0, 0]
    with pytest.raises(ValueError, match="same shape"):
        store.save_user_mask(meta["upload_id"], "bad.npy", mask_file_bytes(np.zeros((3, 3)), ".npy"))


def test_a_job_whose_process_died_reads_as_interrupted(tmp_path):
    store = Store(tmp_path)
    job_id = store.create_job("example", np.zeros((2, 2), bool), {}, {})
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    store.update_job(job_id, state="running", pid=dead.pid)
    record = store.job(job_id)
    assert record["state"] == "interrupted" and "ended before it finished" in record["reason"]
    assert store.jobs_list()[0]["state"] == "interrupted"


def test_fit_slots_are_limited_and_freed_when_a_holder_dies(tmp_path):
    store = Store(tmp_path)
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; sys.path.insert(0, %r); from dashboard.storage import Store;"
        "s = Store(%r); assert s.try_slot('a', 1); print('held', flush=True); time.sleep(60)")
        % (str(__import__("pathlib").Path(__file__).resolve().parent.parent), str(tmp_path))],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert not store.try_slot("b", 1)  # the only slot is taken
        assert store.try_slot("b", 2)  # a second slot is free
        store.release_slot()
    finally:
        holder.kill()
        holder.wait()
    assert store.try_slot("b", 1)  # the dead holder's slot is free again
    store.release_slot()
    assert not list((tmp_path / "slots").glob("*/slot-*"))


def test_pages_for_urls(tmp_path, small_tiff):
    from dashboard.app import page_for

    store = Store(tmp_path)
    example = store.ensure_example()
    assert "Not found" in str(page_for(store, "/job/..%2Fetc", example))
    assert "There is no job" in str(page_for(store, "/job/nosuchjob", example))
    assert "No jobs match" in str(page_for(store, "/jobs", example))
    assert "Nothing lives at" in str(page_for(store, "/etc/passwd", example))


def test_an_edf_input_is_also_healed_back_to_edf_with_its_header(tmp_path, rings):
    import fabio.edfimage

    _, flagged, _ = rings
    src = tmp_path / "f.edf"
    fabio.edfimage.EdfImage(data=flagged, header={"ExposureTime": "1.5"}).write(str(src))
    store = Store(tmp_path / "data")
    meta = store.save_upload("f.edf", src.read_bytes())
    job_id, _ = run_heal_job(store, lambda _: None, meta, MaskSpec(), "fast", 5, 0)
    healed = fabio.open(str(store.job_file(job_id, "healed.edf")))
    assert healed.header.get("ExposureTime") == "1.5" and "xray_heal" in healed.header
    valid = flagged >= 0
    assert np.array_equal(healed.data[valid], flagged[valid])


def test_a_dataset_and_frame_can_be_chosen_after_upload(tmp_path):
    import h5py

    path = tmp_path / "two.h5"
    with h5py.File(path, "w") as f:
        f["a/img"] = np.random.default_rng(0).poisson(20, (3, 16, 18)).astype(np.int32)
        f["b/img"] = np.random.default_rng(1).poisson(20, (12, 10)).astype(np.int32)
    store = Store(tmp_path / "data")
    outcome = handle_upload(store, _uri(path.read_bytes()), "two.h5", 10)
    assert outcome.meta is None and outcome.choices == ["a/img", "b/img"]
    assert "choose one of" in outcome.message
    meta = store.read_upload(outcome.upload_id, frame=2, dataset="a/img")
    assert meta["shape"] == [16, 18] and meta["frames"] == 3 and meta["frame"] == 2
    with pytest.raises(FrameError, match="holds 3 frames"):
        store.read_upload(outcome.upload_id, frame=5, dataset="a/img")
    assert store.load_upload(outcome.upload_id)[2]["frame"] == 2  # the last good read stays


def test_zoomed_views_get_full_resolution_tiles():
    from dash import Patch

    from dashboard.figures import FRAME_TILE, MASK_TILE, frame_figure, tile_patch, view_window

    image = np.random.default_rng(0).poisson(10, (2100, 300)).astype(np.float64)
    mask = np.zeros(image.shape, bool)
    mask[1000:1005] = True
    fig = frame_figure(image, mask, "r")
    assert not fig.data[FRAME_TILE].visible and not fig.data[MASK_TILE].visible
    zoom = {"xaxis.range[0]": 10.2, "xaxis.range[1]": 60, "yaxis.range[0]": 1100, "yaxis.range[1]": 990}
    window = view_window(zoom, image.shape)
    assert window == (990, 1101, 10, 61)
    assert view_window({"xaxis.range[0]": 0, "xaxis.range[1]": 300, "yaxis.range[0]": 2100,
                        "yaxis.range[1]": 0}, image.shape) is None  # not zoomed in enough
    assert view_window(zoom, (500, 300)) is None  # a small frame is shown at full resolution
    patch = tile_patch(Patch(), image, mask, window, levels=fig.layout.meta["levels"]).to_plotly_json()
    assert len(patch["operations"]) == 2


def test_an_auto_mask_not_computed_yet_can_be_left_for_later(tmp_path, small_tiff):
    path, _, flagged = small_tiff
    store = Store(tmp_path)
    meta = store.save_upload("frame.tif", path.read_bytes())
    spec = spec_from_inputs([], {ids.AUTO: ["auto"]})
    _, mask, params = store.upload_mask(meta["upload_id"], spec, wait_for_auto=False)
    assert params == {"pending": True} and mask.sum() == (flagged < 0).sum()
    assert spec.exclude and not store.upload_exclusion(meta["upload_id"], spec, mask, wait_for_auto=False).any()
    assert not list((tmp_path / "uploads" / meta["upload_id"]).glob("auto-*.npz"))  # still left for later
    _, full, params = store.upload_mask(meta["upload_id"], spec)
    assert "center" in params and full.sum() > mask.sum()
    assert store.upload_mask(meta["upload_id"], spec, wait_for_auto=False)[2] == params  # now cached


def test_mask_history_keeps_twenty_steps_and_drops_the_redo_branch():
    from dashboard.callbacks.undo import DEPTH, push

    history = push(None, "a", {"shapes": [], "values": [0]}, new_frame=True)
    for k in range(1, 30):
        history = push(history, "a", {"shapes": [], "values": [k]}, new_frame=False)
    assert DEPTH >= 20 and len(history["stack"]) == 30 and history["index"] == 29
    assert push(history, "a", {"shapes": [], "values": [29]}, new_frame=False) is None  # an echo
    undone = {**history, "index": 9}  # ten undos back... then a new edit
    branched = push(undone, "a", {"shapes": [{"type": "rect"}], "values": [9]}, new_frame=False)
    assert len(branched["stack"]) == 11 and branched["index"] == 10
    fresh = push(history, "b", {"shapes": [], "values": [0]}, new_frame=False)  # another frame
    assert fresh["stack"] == [{"shapes": [], "values": [0]}]


def test_jobs_on_another_machine_are_judged_by_their_heartbeat(tmp_path):
    """A Celery worker's job: its pid means nothing here, its heartbeat does."""
    import json
    import time

    from dashboard.storage import STALE_S

    store = Store(tmp_path)
    job_id = store.create_job("example", np.zeros((2, 2), bool), {}, {})
    path = store.jobs / job_id / "job.json"
    record = json.loads(path.read_text())
    record.update(state="running", host="gpu-node-7", pid=1, heartbeat=time.time())
    path.write_text(json.dumps(record))
    assert store.job(job_id)["state"] == "running"
    record["heartbeat"] = time.time() - STALE_S - 1
    path.write_text(json.dumps(record))
    assert store.job(job_id)["state"] == "interrupted"


def test_cancel_rerun_and_delete_own_jobs(tmp_path, small_tiff):
    path, _, _ = small_tiff
    store = Store(tmp_path)
    meta = store.save_upload("frame.tif", path.read_bytes())
    job_id = store.create_job(meta["upload_id"], np.zeros((96, 96), bool), {"iterations": 5}, {}, owner="ada")
    assert store.cancel_job(job_id)["state"] == "cancelled"
    store.update_job(job_id, state="running")  # a late report from the dying process
    assert store.job(job_id)["state"] == "cancelled"
    rerun = store.clone_job(job_id, owner="bob")
    again = store.job(rerun)
    assert again["state"] == "queued" and again["rerun_of"] == job_id and again["owner"] == "bob"
    with pytest.raises(PermissionError):
        store.delete_job(job_id, "bob")
    with pytest.raises(ValueError, match="still queued"):
        store.delete_job(rerun, "bob")
    store.delete_job(job_id, "ada")
    with pytest.raises(KeyError):
        store.job(job_id)


def test_history_filters():
    from dashboard.review import filter_jobs

    records = [{"owner": "ada", "state": "done", "created": 1_700_000_000},
               {"owner": "bob", "state": "failed", "created": 1_800_000_000}]
    assert filter_jobs(records, owner="ada") == records[:1]
    assert filter_jobs(records, state="failed") == records[1:]
    assert filter_jobs(records, since="2025-01-01") == records[1:]
    assert filter_jobs(records) == records


def test_out_of_memory_retries_once_with_less_and_says_so(tmp_path, small_tiff, monkeypatch):
    import dip_engine.fit as fit

    path, _, _ = small_tiff
    store = Store(tmp_path)
    meta = store.save_upload("frame.tif", path.read_bytes())
    real, calls = fit.heal, []

    def flaky(image, mask, config, **kw):
        calls.append(config)
        if len(calls) == 1:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(image, mask, config, **kw)

    monkeypatch.setattr(fit, "heal", flaky)
    job_id, message = run_heal_job(store, lambda _: None, meta, MaskSpec(), "fast", 5, 0)
    record = store.job(job_id)
    assert record["state"] == "done" and "retried" in record["result"]["note"] and "retried" in message
    assert calls[1].max_side == calls[0].max_side // 2  # on the CPU: half the working resolution

    def always(image, mask, config, **kw):
        raise MemoryError()

    monkeypatch.setattr(fit, "heal", always)
    job_id, message = run_heal_job(store, lambda _: None, meta, MaskSpec(), "fast", 5, 0)
    assert store.job(job_id)["state"] == "failed" and "out of memory" in store.job(job_id)["reason"]


def test_login_with_an_htpasswd_file(tmp_path):
    import base64 as b64

    bcrypt = pytest.importorskip("bcrypt")
    users = tmp_path / "users.htpasswd"
    users.write_text("ada:" + bcrypt.hashpw(b"s3cret", bcrypt.gensalt()).decode().replace("$2b$", "$2y$", 1)
                     + "\nbob:{SHA}" + b64.b64encode(__import__("hashlib").sha1(b"pw").digest()).decode() + "\n")
    client = create_app(Settings(data_dir=tmp_path / "data", users_file=users)).server.test_client()

    def basic(user, password):
        return {"Authorization": "Basic " + b64.b64encode(f"{user}:{password}".encode()).decode()}

    assert client.get("/").status_code == 401
    assert client.get("/", headers=basic("ada", "wrong")).status_code == 401
    assert client.get("/", headers=basic("ada", "s3cret")).status_code == 200
    assert client.get("/", headers=basic("bob", "pw")).status_code == 200
    assert client.get("/healthz").status_code == 200  # health checks need no login
    layout = client.get("/_dash-layout", headers=basic("ada", "s3cret")).get_data(as_text=True)
    assert "Signed in as ada" in layout
    open_layout = create_app(Settings(data_dir=tmp_path / "d2")).server.test_client().get("/_dash-layout")
    assert "Open to the network" in open_layout.get_data(as_text=True)
    with pytest.raises(SystemExit, match="lists no users"):
        (tmp_path / "empty").write_text("")
        create_app(Settings(data_dir=tmp_path / "d3", users_file=tmp_path / "empty"))


def test_streaming_upload_route(tmp_path, small_tiff):
    path, _, _ = small_tiff
    client = create_app(Settings(data_dir=tmp_path, max_upload_mb=0.05)).server.test_client()
    ok = client.post("/upload?name=frame.tif", data=path.read_bytes())  # 37 kB
    assert ok.status_code == 200 and ok.json["meta"]["shape"] == [96, 96]
    assert Store(tmp_path).load_upload(ok.json["upload_id"])[0].shape == (96, 96)
    bad = client.post("/upload?name=notes.tif", data=b"not a tiff at all")
    assert bad.status_code == 400 and "notes.tif: cannot read" in bad.json["message"]
    big = client.post("/upload?name=big.npy", data=b"\0" * 60_000)
    assert big.status_code == 400 and "larger than the upload limit of 0.05 MB" in big.json["message"]
    assert sorted(p.name for p in (tmp_path / "uploads").iterdir()) == sorted(["example", ok.json["upload_id"]])


def test_a_batch_job_heals_every_frame_of_a_file_with_one_mask(tmp_path):
    import io
    import zipfile

    import tifffile

    from dip_engine.synthetic import occlude, ring_pattern

    frames = np.stack([occlude(ring_pattern((64, 64), seed=k))[0] for k in range(3)])
    tifffile.imwrite(tmp_path / "series.tif", frames)
    store = Store(tmp_path / "data")
    meta = store.save_upload("series.tif", (tmp_path / "series.tif").read_bytes())
    assert meta["frames"] == 3
    job_id, message = run_heal_job(store, lambda _: None, meta, MaskSpec(boxes=[[5, 9, 5, 9]]), "fast", 8, 0,
                                   all_frames=True)
    record = store.job(job_id)
    assert record["state"] == "done", message
    assert [f["frame"] for f in record["result"]["frames"]] == ["frame 0", "frame 1", "frame 2"]
    assert "3 frames" in message
    mask = store.job_mask(job_id)
    for k in range(3):
        healed = tifffile.imread(store.jobs / job_id / "frames" / str(k) / "healed.tif")
        assert np.array_equal(healed[~mask], frames[k][~mask])  # each frame keeps its own valid pixels
    client = create_app(Settings(data_dir=tmp_path / "data")).server.test_client()
    names = zipfile.ZipFile(io.BytesIO(client.get(f"/download/{job_id}/bundle.zip").data)).namelist()
    assert {f"{job_id}/frames/{k}/healed.tif" for k in range(3)} <= set(names)


def test_a_grid_job_runs_the_seed_grid_and_keeps_the_best(tmp_path, small_tiff):
    path, _, _ = small_tiff
    store = Store(tmp_path)
    meta = store.save_upload("frame.tif", path.read_bytes())
    updates = []
    job_id, message = run_heal_job(store, updates.append, meta, MaskSpec(), "fast", 3, 0, grid=True)
    result = store.job(job_id)["result"]
    scores = [r["score"] for r in result["grid"]]
    assert len(scores) == 40 and scores == sorted(scores)
    assert result["scores"]["dip"] == pytest.approx(scores[0])  # the best run is the result
    assert any("Grid run 40 of 40" in u[2] for u in updates)


def test_a_batch_job_over_a_set_of_uploaded_frames(tmp_path):
    """The shown frame plus a set of files of its shape: one job, one mask, a result per file;
    the page refuses a file of another shape from the set."""
    import tifffile

    from dashboard.jobs import batch_items
    from dip_engine.synthetic import occlude, ring_pattern

    store = Store(tmp_path / "data")
    metas = []
    for k, shape in enumerate([(64, 64), (64, 64), (64, 64), (50, 64)]):
        tifffile.imwrite(tmp_path / f"f{k}.tif", occlude(ring_pattern(shape, seed=k))[0])
        metas.append(store.save_upload(f"f{k}.tif", (tmp_path / f"f{k}.tif").read_bytes()))
    shown, frame_set = metas[0], [{k: m[k] for k in ("upload_id", "name", "shape")} for m in metas[1:]]
    assert [i["label"] for i in batch_items(store, shown, frame_set)] == ["f0.tif", "f1.tif", "f2.tif"]
    # the page sends only ids that count: a forged shape does not slip a frame of another shape in
    forged = [{**frame_set[2], "shape": [64, 64]}]
    assert [i["label"] for i in batch_items(store, shown, forged)] == ["f0.tif"]
    job_id, message = run_heal_job(store, lambda _: None, shown, MaskSpec(), "fast", 5, 0,
                                   all_frames=True, frame_set=frame_set)
    result = store.job(job_id)["result"]
    assert [f["frame"] for f in result["frames"]] == ["f0.tif", "f1.tif", "f2.tif"], message
    for k in range(3):
        healed = tifffile.imread(store.jobs / job_id / "frames" / str(k) / "healed.tif")
        original = store.load_upload(metas[k]["upload_id"])[0]
        valid = ~store.job_mask(job_id)
        assert np.array_equal(healed[valid], original[valid])


def test_the_users_beam_centre_reaches_the_fit(tmp_path, small_tiff):
    path, _, _ = small_tiff
    store = Store(tmp_path)
    meta = store.save_upload("frame.tif", path.read_bytes())
    job_id, _ = run_heal_job(store, lambda _: None, meta, MaskSpec(), "fast", 3, 0, center=(50.0, 45.5))
    record = store.job(job_id)
    assert record["config"]["center"] == [50.0, 45.5] and record["result"]["center"] == [50.0, 45.5]
    job_id, message = run_heal_job(store, lambda _: None, meta, MaskSpec(), "fast", 3, 0, center=(-900, 4))
    assert job_id is None and "far outside" in message


def test_queue_status_counts_jobs_ahead_and_estimates_from_finished_fits(tmp_path):
    store = Store(tmp_path)
    ids_ = [store.create_job("example", np.zeros((2, 2), bool), {}, {}) for _ in range(3)]
    for k, job_id in enumerate(ids_):
        store.update_job(job_id, created=100.0 + k)
    assert store.queue_status(ids_[2]) == (2, None)
    store.update_job(ids_[0], state="done", result={"elapsed_s": 30.0})
    assert store.queue_status(ids_[2]) == (1, 30.0)


def test_a_failed_job_leaves_its_traceback_in_the_log_and_one_line_on_the_page(tmp_path, small_tiff, monkeypatch):
    from dashboard import jobs
    from dip_engine import fit

    def broken(*args, **kwargs):
        raise RuntimeError("the GPU driver went away")

    path, _, _ = small_tiff
    store = Store(tmp_path)
    log = jobs.log_to(tmp_path)
    meta = store.save_upload("frame.tif", path.read_bytes())
    monkeypatch.setattr(fit, "heal", broken)
    job_id, message = run_heal_job(store, lambda _: None, meta, MaskSpec(), "fast", 5, 0)
    assert message == ("The fit failed (RuntimeError: the GPU driver went away); the job was recorded as failed.")
    assert store.job(job_id)["state"] == "failed"
    text = log.read_text()
    assert f"job {job_id} failed" in text and "Traceback" in text and "the GPU driver went away" in text


def test_job_records_follow_one_schema(tmp_path):
    from dataclasses import fields

    from dashboard.storage import JobRecord

    store = Store(tmp_path)
    job_id = store.create_job("example", np.zeros((4, 4), bool), {}, {}, owner="ada")
    assert set(store.job(job_id)) == {f.name for f in fields(JobRecord)}
    with pytest.raises(KeyError, match="not fields of a job record: colour"):
        store.update_job(job_id, colour="red")
    with pytest.raises(ValueError, match="unknown job state 'paused'"):
        store.update_job(job_id, state="paused")


def test_healing_an_upload_the_server_no_longer_has_is_a_sentence(tmp_path):
    store = Store(tmp_path)
    job_id, message = run_heal_job(store, lambda _: None, {"upload_id": "gone1234"}, MaskSpec(), "fast", 5, 0)
    assert job_id is None and message == "Cannot heal: the frame is no longer on the server; load it again"
    job_id, message = run_heal_job(store, lambda _: None, "not a dict", MaskSpec(), "fast", 5, 0)
    assert job_id is None and "malformed request" in message


def test_the_users_symmetry_goes_with_the_heal_and_is_checked_on_the_server(tmp_path):
    """The page shows the measured symmetry under the mask; ticked operations, axis angle and
    centre replace it in the job's config, and the result names the symmetry it used."""
    import tifffile

    from dashboard.callbacks.symmetry import controls_of, describe_symmetry, measured_symmetry, \
        symmetry_from_controls
    from dip_engine.synthetic import fibre_pattern, occlude

    flagged, _ = occlude(fibre_pattern((96, 96), center=(50.0, 45.0), tilt_deg=8.0, seed=1), center=(50.0, 45.0))
    tifffile.imwrite(tmp_path / "fibre.tif", flagged)
    store = Store(tmp_path / "data")
    meta = store.save_upload("fibre.tif", (tmp_path / "fibre.tif").read_bytes())
    state = {"upload_id": meta["upload_id"], "shapes": [],
             "values": [DEFAULTS_FOR_STATE[i] for i in ids.MASK_CONTROLS], "file": None}
    assert measured_symmetry(store, state) is None  # the auto mask is not computed yet
    store.upload_mask(meta["upload_id"], spec_from_inputs([], {ids.AUTO: ["auto"]}))
    measured = measured_symmetry(store, state)
    assert not measured["isotropic"] and "point mirror holds" in str(describe_symmetry(measured))
    ticked, angle = controls_of(measured)
    assert ticked == ["point", "mirror", "perpendicular"]
    assert min(abs(abs(angle) - 8), abs(abs(angle) - 82)) < 2  # the equator or the meridian
    assert symmetry_from_controls([], ticked, angle, measured, None) is None  # not ticked: measured
    mine = symmetry_from_controls(["mine"], ["mirror"], 10.0, measured, (50, 45))
    assert mine == {"center": [50.0, 45.0], "isotropic": False, "operations": [{"kind": "mirror", "angle_deg": 10.0}]}
    for bad, message in [((["mine"], ["spin"], 0, measured, None), "malformed"),
                         ((["mine"], [], 200, measured, None), "from -90 to 90"),
                         ((["mine"], [], 0, None, None), "set the beam centre")]:
        with pytest.raises(ValueError, match=message):
            symmetry_from_controls(*bad)
    far = dict(mine, center=[1e6, 0])
    job_id, message = run_heal_job(store, lambda _: None, meta, MaskSpec(), "fast", 3, 0, symmetry=far)
    assert job_id is None and "far outside" in message
    job_id, message = run_heal_job(store, lambda _: None, meta, MaskSpec(), "fast", 3, 0, symmetry=mine)
    record = store.job(job_id)
    assert record["state"] == "done", message
    assert record["config"]["symmetry"]["operations"] == [{"kind": "mirror", "agreement": None, "holds": True,
                                                          "angle_deg": 10.0}]
    assert [op["angle_deg"] for op in record["result"]["symmetry"]["operations"]] == [10.0]


DEFAULTS_FOR_STATE = {ids.AUTO: ["auto"], ids.SIGMA: DEFAULT_SIGMA, ids.CONTRAST: 1.4, ids.LINE_WIDTH: 8.0,
                      ids.BOX_THRESHOLD: None, ids.ROW_THRESHOLD: 0.0, ids.COL_THRESHOLD: 0.0, ids.GROW: 0,
                      ids.INVERT: [], ids.RINGS: "", ids.UNIT: "q_nm^-1", ids.EXCLUDE: []}


def _poni_upload(text: str) -> str:
    return "data:application/octet-stream;base64," + base64.b64encode(text.encode()).decode()


def test_a_poni_upload_sets_the_geometry_and_a_bad_one_keeps_the_previous(tmp_path):
    from dashboard.callbacks.geometry import _new_geometry, describe_geometry
    from dip_engine import azimuthal

    shape = (120, 140)
    good = azimuthal.poni_text(azimuthal.geometry_from_values(shape, 100.0, 172.0, (50.0, 60.0), wavelength_a=1.0))
    entry, message = _new_geometry(ids.GEOMETRY_UPLOAD, _poni_upload(good), "run.poni", [None] * 7, None, None, shape)
    assert entry["source"] == "run.poni" and "run.poni" in message
    lines, flip_style, _ = describe_geometry(entry, {"center": [50.5, 60.0]})
    assert "beam centre row 50.0, column 60.0" in str(lines) and flip_style["display"] == "none"
    for contents, sentence in [(_poni_upload("garbage"), "run.poni: this is not a PONI file"),
                               ("data:;base64,@@@", "arrived damaged"),
                               (_poni_upload(good.replace("Detector: Detector", "Detector: Pilatus1M")),
                                "is 1043 x 981 pixels")]:
        with pytest.raises(ValueError, match=sentence):
            _new_geometry(ids.GEOMETRY_UPLOAD, contents, "run.poni", [None] * 7, entry, None, shape)
    # the centre measured on an up-down flipped frame: the page offers the flip, and applies it
    flipped_centre = {"center": [shape[0] - 1 - 50.0, 60.0]}
    lines, flip_style, label = describe_geometry(entry, flipped_centre)
    assert "Apply the flip?" in str(lines) and flip_style["display"] != "none" and label.endswith("up-down")
    new, message = _new_geometry(ids.GEOMETRY_FLIP, None, None, [None] * 7, entry, flipped_centre, shape)
    assert azimuthal.beam_center(new["geometry"]) == pytest.approx((69.0, 60.0))
    # typed values; a bad one is one sentence
    typed, _ = _new_geometry(ids.GEOMETRY_APPLY, None, None, [100.0, 12.4, None, 172.0, 50.0, 60.0, None],
                             None, None, shape)
    assert typed["geometry"]["wavelength"] == pytest.approx(1e-10, rel=1e-3)
    with pytest.raises(ValueError, match="wavelength"):
        _new_geometry(ids.GEOMETRY_APPLY, None, None, [100.0, None, None, 172.0, 50.0, 60.0, None], None, None, shape)
    # a new frame of another size drops a geometry that does not fit it
    assert _new_geometry(ids.FRAME_STORE, None, None, [None] * 7, entry, None, (60, 70))[0] is None


def test_ring_ranges_in_q_join_the_mask_and_are_checked_on_the_server():
    from dashboard.callbacks.mask import ring_ranges, spec_from_state
    from dip_engine import azimuthal
    from dip_engine.masks import build_mask

    assert ring_ranges("19.9-20.3; 32.5 to 33") == [[19.9, 20.3], [32.5, 33.0]]
    assert ring_ranges("") == []
    for bad in ("20-", "a-b", "1-2-3"):
        with pytest.raises(ValueError, match="is not 'low-high'"):
            ring_ranges(bad)
    shape = (120, 140)
    geometry = azimuthal.geometry_from_values(shape, 100.0, 172.0, (50.0, 60.0), wavelength_a=1.0)
    values = [DEFAULTS_FOR_STATE[i] for i in ids.MASK_CONTROLS]
    values[ids.MASK_CONTROLS.index(ids.AUTO)] = []
    values[ids.MASK_CONTROLS.index(ids.RINGS)] = "3-4"
    state = {"upload_id": "x", "shapes": [], "values": values, "file": None, "geometry": geometry}
    spec = spec_from_state(state).check(shape)
    ring = build_mask(np.ones(shape, np.int32), spec)
    q = azimuthal.unit_map(geometry, shape)
    assert ring.any() and np.array_equal(ring, (q >= 3) & (q <= 4))
    with pytest.raises(ValueError, match="need the frame's geometry"):
        spec_from_state({**state, "geometry": None}).check(shape)
    with pytest.raises(ValueError, match="0 <= low < high"):
        spec_from_state({**state, "values": values[:-3] + ["4-3", "q_nm^-1", []]}).check(shape)
    with pytest.raises(ValueError, match="ring unit"):
        spec_from_state({**state, "values": values[:-2] + ["furlongs", []]}).check(shape)


def test_the_before_after_view_tiles_the_zoomed_window_of_the_shown_side_at_full_resolution():
    from dash import Patch

    from dashboard.figures import (AFTER_TILE, BEFORE_TILE, COMPARE_MASK_TILE, compare_figure, compare_tiles,
                                   view_window)

    rng = np.random.default_rng(0)
    original = rng.poisson(50, (2048, 2048)).astype(np.float64)
    mask = np.zeros(original.shape, bool)
    mask[1000:1010] = True
    healed = original.copy()
    healed[:100, :100] = np.nan  # excluded
    fig = compare_figure(original, mask, healed, "job", showing="after")
    assert fig.data[0].dx == 2 and fig.data[2].visible and not fig.data[0].visible
    window = view_window({"xaxis.range[0]": 900, "xaxis.range[1]": 1100, "yaxis.range[0]": 1100,
                          "yaxis.range[1]": 900}, original.shape)
    patch = compare_tiles(Patch(), original, mask, healed, window, fig.layout.meta["levels"], "before")
    operations = {op["location"][1]: op for op in patch.to_plotly_json()["operations"]
                  if op["location"][0] == "data"}
    shown = {k for k, op in operations.items() if op["location"][-1] == "visible" and op["params"]["value"]}
    assert BEFORE_TILE in shown and COMPARE_MASK_TILE in shown and AFTER_TILE not in shown
    assert window == (900, 1101, 900, 1101)


def test_a_colour_map_export_becomes_an_intensity_frame_with_its_colour_bar(tmp_path):
    """The page says which colour map it found; with the colour bar's range and scale the
    positions on the map become a new frame of intensities."""
    import matplotlib
    from PIL import Image

    from dashboard.callbacks.frame import intensity_upload

    values = np.tile(np.linspace(0, 1, 200), (120, 1))
    rgb = (matplotlib.colormaps["jet"](values)[..., :3] * 255).round().astype(np.uint8)
    Image.fromarray(np.pad(rgb, ((10, 10), (10, 10), (0, 0)), constant_values=255)).save(tmp_path / "fig.png")
    store = Store(tmp_path / "data")
    meta = store.save_upload("fig.png", (tmp_path / "fig.png").read_bytes())
    assert meta["colormap"]["name"] == "jet" and "jet colour map" in meta["warnings"][0]
    outcome = intensity_upload(store, meta, 1, 1e4, "log")
    data = store.upload_frame(outcome.meta["upload_id"])
    np.testing.assert_allclose(np.log10(data[60]), 4 * values[60], atol=0.05)  # 8-bit colours over 4 decades
    assert "jet, 1 to 10000 log" in outcome.meta["name"]
    assert "low < high" in intensity_upload(store, meta, 5, 1, "log").message
    grey = store.save_upload("grey.npy", _npy_bytes(np.arange(64 * 64.0).reshape(64, 64)))
    assert "known colour map" in intensity_upload(store, grey, 1, 10, "log").message


def _npy_bytes(array) -> bytes:
    import io

    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()
