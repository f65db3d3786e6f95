"""A hostile or careless user against the service: the reproductions of the
security review, each a test.

The live-server tests talk to the server as the page does (its Dash callback
requests and the /upload route) and watch its memory with psutil; the rest
call the same code through Flask's test client or directly.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import psutil
import pytest
import tifffile
from conftest import _free_port, start_server, stop_server

import corpus
from dashboard import auth, ids
from dashboard.app import create_app
from dashboard.callbacks.heal import job_owner
from dashboard.settings import Settings
from dashboard.storage import Store

ROOT = Path(__file__).resolve().parent.parent
#: The bound the issue sets on the server's memory for any bad file.
RSS_LIMIT = 2**30


# -- talking to the server as the page does ------------------------------------------------

def callback_body(deps: list[dict], trigger: str, values: dict, output: str = "") -> dict:
    """The request body the page sends when ``trigger`` ("id.property") fires.

    The callback is the first whose first input is ``trigger`` and whose
    outputs name ``output``; ``values`` maps "id.property" of its inputs and
    states to their values (missing ones are None).
    """
    dep = next(d for d in deps if f"{d['inputs'][0]['id']}.{d['inputs'][0]['property']}" == trigger
               and output in d["output"])
    outputs = [dict(zip(("id", "property"), o.split("@")[0].rsplit(".", 1)))
               for o in dep["output"].strip(".").split("...")]
    def items(kind):
        return [{**i, "value": values.get(f"{i['id']}.{i['property']}")} for i in dep[kind]]
    return {"output": dep["output"], "outputs": outputs if len(outputs) > 1 else outputs[0],
            "inputs": items("inputs"), "state": items("state"), "changedPropIds": [trigger]}


def post(url: str, data: bytes, content_type: str = "application/json", timeout: float = 120):
    """(status, parsed JSON or text) of a POST."""
    request = urllib.request.Request(url, data=data, headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            status, body = answer.status, answer.read()
    except urllib.error.HTTPError as err:
        status, body = err.code, err.read()
    try:
        return status, json.loads(body)
    except ValueError:
        return status, body.decode(errors="replace")


def mask_state(upload_id: str, **controls) -> dict:
    """The page's mask state for an upload: no shapes, default controls but ``controls``
    (by MaskSpec name: grow, sigma, ...)."""
    from dashboard.components.layout import DEFAULTS

    by_name = {ids.GROW: "grow", ids.SIGMA: "sigma", ids.CONTRAST: "contrast"}
    values = [controls.get(by_name.get(i), DEFAULTS[i]) for i in ids.MASK_CONTROLS]
    return {"upload_id": upload_id, "shapes": [], "values": values, "file": None}


def data_uri(path: Path) -> str:
    return "data:application/octet-stream;base64," + base64.b64encode(path.read_bytes()).decode()


def peak_rss(pid: int) -> int:
    """The process's peak resident memory (VmHWM), or its current RSS where /proc has no peak."""
    status = Path(f"/proc/{pid}/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return psutil.Process(pid).memory_info().rss


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    return corpus.build(tmp_path_factory.mktemp("corpus"))


def test_every_bad_file_is_refused_in_one_line_with_bounded_server_memory(tmp_path, bad_files):
    """Every frame file of the corpus through /upload and through the page's upload callback,
    under the default pixel limit: a one-line answer, no 5xx, and the server's peak memory
    under 1 GB; then a 200 MiB callback body is refused before it is read."""
    port = _free_port()
    server = start_server(tmp_path / "data", port, tmp_path / "server.log", XRAY_HEAL_MAX_UPLOAD_MB="64")
    url = f"http://127.0.0.1:{port}"
    try:
        deps = json.loads(urllib.request.urlopen(f"{url}/_dash-dependencies").read())
        proc = psutil.Process(server.pid)
        for case in bad_files.values():
            status, streamed = post(f"{url}/upload?name={case.path.name}", case.path.read_bytes(),
                                    "application/octet-stream")
            assert status in (200, 400) and "\n" not in streamed["message"], (case.name, status, streamed)
            body = callback_body(deps, f"{ids.UPLOAD}.contents", {f"{ids.UPLOAD}.contents": data_uri(case.path),
                                                                 f"{ids.UPLOAD}.filename": case.path.name})
            status, answer = post(f"{url}/_dash-update-component", json.dumps(body).encode())
            assert status == 200, (case.name, status, answer)
            if streamed["meta"] is None:  # refused: the page shows the same sentence
                assert streamed["message"] and streamed["message"] in json.dumps(answer, ensure_ascii=False)
            else:
                assert answer["response"][ids.FRAME_STORE]["data"]["shape"] == streamed["meta"]["shape"]
            assert peak_rss(server.pid) < RSS_LIMIT, (case.name, peak_rss(server.pid))
        huge = b"x" * (200 * 2**20)
        status, answer = post(f"{url}/_dash-update-component", huge)
        assert status == 413 and "larger than the upload limit of 64 MB" in answer["message"]
        print(f"\nserver peak memory over {len(bad_files)} bad files and a 200 MiB body: "
              f"{peak_rss(server.pid) / 2**20:.0f} MiB (now {proc.memory_info().rss / 2**20:.0f} MiB)")
        assert peak_rss(server.pid) < RSS_LIMIT
    finally:
        stop_server(server)


def test_a_killed_server_restarts_on_its_port_while_its_job_runs(tmp_path):
    """kill -9 of the server mid-fit: the job it forked must not keep the listening socket."""
    port = _free_port()
    data = tmp_path / "data"
    server = start_server(data, port, tmp_path / "server.log")
    url = f"http://127.0.0.1:{port}"
    restarted = None
    try:
        deps = json.loads(urllib.request.urlopen(f"{url}/_dash-dependencies").read())
        example = json.loads((data / "uploads" / "example" / "meta.json").read_text())
        body = callback_body(deps, f"{ids.HEAL}.n_clicks", {
            f"{ids.HEAL}.n_clicks": 1, f"{ids.FRAME_STORE}.data": example, f"{ids.PRESET}.value": "fast",
            f"{ids.MASK_STATE}.data": mask_state("example"),
            f"{ids.ITERATIONS}.value": 100_000, f"{ids.SEED}.value": 0, f"{ids.SESSION}.data": "s1"})
        status, answer = post(f"{url}/_dash-update-component", json.dumps(body).encode())
        assert status == 200, answer
        deadline = time.time() + 120
        while time.time() < deadline and not any(
                json.loads(p.read_text()).get("state") == "running" for p in data.glob("jobs/*/job.json")):
            time.sleep(0.2)
        job = next(json.loads(p.read_text()) for p in data.glob("jobs/*/job.json"))
        assert job["state"] == "running" and psutil.pid_exists(job["pid"]) and job["pid"] != server.pid
        os.kill(server.pid, signal.SIGKILL)
        server.wait()
        killed_at = time.monotonic()
        restarted = start_server(data, port, tmp_path / "restart.log")
        took = time.monotonic() - killed_at
        assert took < 5, f"restart took {took:.1f} s"
        assert psutil.pid_exists(job["pid"])  # the job still ran all the while
    finally:
        if restarted is not None:
            stop_server(restarted)
        try:
            os.killpg(server.pid, signal.SIGKILL)  # the orphaned job
        except ProcessLookupError:
            pass


# -- requests the page would never send ------------------------------------------------------

@pytest.fixture
def client(tmp_path):
    app = create_app(Settings(data_dir=tmp_path / "data", max_upload_mb=1))
    client = app.server.test_client()
    client.deps = client.get("/_dash-dependencies").json
    client.example = Store(tmp_path / "data").upload_meta("example")
    return client


def call(client, trigger: str, values: dict, output: str = ""):
    """The response of the callback :func:`callback_body` picks, through the test client."""
    answer = client.post("/_dash-update-component", json=callback_body(client.deps, trigger, values, output))
    assert answer.status_code in (200, 204), answer.get_data(as_text=True)[:500]
    return answer.json["response"] if answer.status_code == 200 else {}


@pytest.mark.parametrize("contents", [12345, [1, 2], {"a": "b"}])
def test_upload_payloads_of_the_wrong_type_get_a_sentence(client, contents):
    response = call(client, f"{ids.UPLOAD}.contents", {f"{ids.UPLOAD}.contents": contents,
                                                       f"{ids.UPLOAD}.filename": "f.tif"})
    assert "arrived in a form the page does not send" in json.dumps(response[ids.MESSAGE])


def test_mask_controls_out_of_range_are_refused_on_the_server(client):
    """A mask callback called directly with grow = 80 (2.5 GB before) gets a sentence."""
    values = {f"{ids.MASK_STATE}.data": mask_state("example", grow=80), f"{ids.VIEW}.data": {"upload_id": "example"}}
    body = callback_body(client.deps, f"{ids.MASK_STATE}.data", values, output=f"{ids.MASK_SUMMARY}.children")
    before = psutil.Process().memory_info().rss
    answer = client.post("/_dash-update-component", json=body)
    assert answer.status_code == 200
    assert "grow = 80 is outside its range -3 to 10" in json.dumps(answer.json["response"][ids.MASK_SUMMARY])
    assert psutil.Process().memory_info().rss - before < 200 * 2**20


@pytest.mark.parametrize("spec, words", [
    ({"grow": 80}, "grow"), ({"sigma": float("nan")}, "sigma"), ({"contrast": "1.4"}, "contrast"),
    ({"line_width": 1e9}, "line_width"), ({"row_threshold": -1}, "row_threshold"),
    ({"box_threshold": -5.0}, "box_threshold"), ({"grow": 2.5}, "whole number"),
    ({"ellipses": [[0, 1e12, 0, 1e12]]}, "far outside"), ({"boxes": [[0, 1, 2]]}, "4 coordinates"),
    ({"lines": [[0, 0, 10, 10]] * 501}, "more than 500"), ({"polygons": [[[0.0] * 20001, [0.0] * 20001]]}, "vertices"),
    ({"polygons": [[[0.0, 511.0, 511.0] * 700, [0.0, 0.0, 511.0] * 700]]}, "too long to draw"),
])
def test_mask_spec_check_names_the_value_out_of_range(spec, words):
    from dip_engine.masks import MaskSpec

    with pytest.raises(ValueError, match=words):
        MaskSpec(**spec).check((512, 512))
    assert MaskSpec(grow=10, sigma=5.0, ellipses=[[-100, 900, 0, 10]]).check((512, 512))


def test_thick_lines_drawn_in_their_box_match_the_whole_frame_rule():
    """The line is drawn only in its box now; the pixels are those within width/2 of it."""
    from dip_engine.masks import thick_line_mask

    rr, cc = np.indices((60, 80), dtype=float)
    for (r0, c0, r1, c1), width in [((10.3, 5.5, 40.2, 70.9), 7.0), ((-20, -5, 30, 100), 12.5), ((5, 5, 5, 5), 1.0)]:
        dr, dc = r1 - r0, c1 - c0
        t = np.clip(((rr - r0) * dr + (cc - c0) * dc) / max(dr * dr + dc * dc, 1e-300), 0, 1)
        expected = np.hypot(rr - (r0 + t * dr), cc - (c0 + t * dc)) <= max(width, 1.0) / 2
        assert np.array_equal(thick_line_mask((60, 80), (r0, c0), (r1, c1), width), expected)


def test_request_bodies_above_the_limit_are_refused_before_they_are_read(client):
    answer = client.post("/_dash-update-component", data=b"x" * (3 * 2**20),
                         content_type="application/json")
    assert answer.status_code == 413 and "larger than the upload limit of 1 MB" in answer.json["message"]


def test_review_downloads_keep_the_servers_internals_out(tmp_path):
    import io
    import zipfile

    from dashboard.jobs import run_heal_job
    from dip_engine.masks import MaskSpec

    app = create_app(Settings(data_dir=tmp_path / "data"))
    store = Store(tmp_path / "data")
    tifffile.imwrite(tmp_path / "f.tif", corpus.good_frame((48, 48)))
    meta = store.save_upload("f.tif", (tmp_path / "f.tif").read_bytes())
    job_id, _ = run_heal_job(store, lambda _: None, meta, MaskSpec(), "fast", 5, 0)
    client = app.server.test_client()
    record = client.get(f"/download/{job_id}/job.json").json
    archive = zipfile.ZipFile(io.BytesIO(client.get(f"/download/{job_id}/bundle.zip").data))
    zipped = json.loads(archive.read(f"{job_id}/job.json"))
    for shown in (record, zipped):
        assert shown["state"] == "done" and shown["result"]["pixels_healed"] > 0
        assert not {"upload_id", "pid", "host", "heartbeat"} & set(shown)
    assert store.job(job_id)["upload_id"] == meta["upload_id"]  # the server keeps its own record


# -- the data folder -------------------------------------------------------------------------

def test_a_data_folder_that_cannot_be_written_stops_startup_with_one_line(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    proc = subprocess.run([sys.executable, "-m", "dashboard"], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, env={**os.environ, "XRAY_HEAL_DATA": str(blocker / "data")})
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode != 0 and len(lines) == 1, proc.stderr
    assert f"the data folder {blocker / 'data'} is not writable" in lines[0]


def test_a_data_folder_that_turns_read_only_keeps_the_page_working(client, monkeypatch, tmp_path):
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Store, "save_upload_stream", refuse)
    monkeypatch.setattr(Store, "save_upload", refuse)
    answer = client.post("/upload?name=f.tif", data=b"II*\x00")
    assert answer.status_code == 400 and "cannot store uploads right now" in answer.json["message"]
    response = call(client, f"{ids.UPLOAD}.contents", {f"{ids.UPLOAD}.contents": data_uri(ROOT / "README.md"),
                                                       f"{ids.UPLOAD}.filename": "f.tif"})
    assert "cannot store uploads right now" in json.dumps(response[ids.MESSAGE])
    # the shown frame's auto mask is still drawn when it cannot be cached
    monkeypatch.setattr(np, "save", refuse)
    response = call(client, f"{ids.MASK_STATE}.data", {f"{ids.MASK_STATE}.data": mask_state("example")},
                    output=f"{ids.MASK_SUMMARY}.children")
    assert "Auto mask: beam centre" in json.dumps(response[ids.MASK_SUMMARY])


# -- login -----------------------------------------------------------------------------------

@pytest.fixture
def users(tmp_path):
    import bcrypt

    path = tmp_path / "users.htpasswd"
    path.write_text("alice:" + bcrypt.hashpw(b"wonderland", bcrypt.gensalt(rounds=8)).decode() + "\n"
                    "bob:" + bcrypt.hashpw(b"builder", bcrypt.gensalt(rounds=8)).decode() + "\n")
    return auth.load_users(path)


def test_login_checks_each_password_once_and_unknown_users_cost_the_same(users, monkeypatch):
    checked = []
    real = auth.check_password
    monkeypatch.setattr(auth, "check_password", lambda h, p: checked.append(h) or real(h, p))
    login = auth.Login(users)
    assert [login.check("alice", "wonderland", "10.0.0.1") for _ in range(20)] == [200] * 20
    assert len(checked) == 1  # one hash check, then the remembered pair
    assert login.check("alice", "wrong", "10.0.0.2") == 401
    assert login.check("mallory", "wrong", "10.0.0.2") == 401
    assert checked[-1].startswith("$2b$08$") and checked[-1] not in users.values()  # a dummy of the same cost
    t = {"now": 0.0}
    login = auth.Login(users, clock=lambda: t["now"])
    login.check("alice", "wonderland", "a")
    t["now"] = auth.VERIFIED_S + 1
    checked.clear()
    login.check("alice", "wonderland", "a")
    assert len(checked) == 1  # checked again once the pair expired


def test_failed_logins_from_one_address_get_429_while_known_users_still_pass(users):
    t = {"now": 0.0}
    login = auth.Login(users, clock=lambda: t["now"])
    assert login.check("bob", "builder", "10.0.0.9") == 200
    assert [login.check("bob", f"guess{k}", "10.0.0.9") for k in range(auth.MAX_FAILURES)] == [401] * 10
    assert login.check("bob", "guess-more", "10.0.0.9") == 429
    assert login.check("alice", "wonderland", "10.0.0.9") == 429  # not yet verified: no check now
    assert login.check("bob", "builder", "10.0.0.9") == 200  # verified before: still in
    assert login.check("alice", "wonderland", "10.0.0.10") == 200  # another address
    t["now"] = auth.FAILURE_WINDOW_S + 1
    assert login.check("alice", "wonderland", "10.0.0.9") == 200


def test_passwords_bcrypt_cannot_take_and_bad_users_files(tmp_path, users):
    app = create_app(Settings(data_dir=tmp_path / "data", users_file=_write_users(tmp_path, users)))
    client = app.server.test_client()
    long = base64.b64encode(b"alice:" + b"p" * 100).decode()
    assert client.get("/", headers={"Authorization": f"Basic {long}"}).status_code == 401
    for bad in ("alice", "alice:$2b$12$tooshort", "alice:{SHA}bm90IGJhc2U2NA", "alice:plain"):
        path = tmp_path / "bad.htpasswd"
        path.write_text("# users\n" + bad + "\n")
        with pytest.raises(SystemExit, match="line 2 is not name:hash"):
            auth.load_users(path)


def _write_users(tmp_path, users: dict) -> Path:
    path = tmp_path / "ok.htpasswd"
    path.write_text("".join(f"{k}:{v}\n" for k, v in users.items()))
    return path


def test_with_login_the_owner_is_the_logged_in_user_whatever_the_page_sends(monkeypatch):
    """set_props('owner', {value: 'alice'}) while logged in as bob made a job owned by alice."""
    from dash._callback_context import context_value
    from dash._utils import AttributeDict

    bob = "Basic " + base64.b64encode(b"bob:builder").decode()
    context_value.set(AttributeDict(headers={"Authorization": bob}))
    assert job_owner(True, "alice") == "bob"
    assert job_owner(False, " alice ") == "alice"  # open mode: the typed name
    assert job_owner(False, ["alice"]) == ""


# -- the queue -------------------------------------------------------------------------------

JOB = """
import sys; sys.path.insert(0, {root!r})
from dashboard.jobs import run_heal_job
from dashboard.storage import Store
from dip_engine.masks import MaskSpec
store = Store({data!r})
meta = store.upload_meta({upload!r})
run_heal_job(store, lambda p: None, meta, MaskSpec(), "fast", 5, 0, slots=1)
"""


def test_jobs_start_in_the_order_they_were_submitted(tmp_path):
    """One slot, four jobs submitted one after the other while it is taken: they start
    first come, first served (a job shown as position 1 started after a later one)."""
    store = Store(tmp_path / "data")
    tifffile.imwrite(tmp_path / "f.tif", corpus.good_frame((48, 48)))
    meta = store.save_upload("f.tif", (tmp_path / "f.tif").read_bytes())
    assert store.try_slot("held-by-the-test", 1)
    code = JOB.format(root=str(ROOT), data=str(store.root), upload=meta["upload_id"])
    jobs = []
    for n in range(1, 5):
        jobs.append(subprocess.Popen([sys.executable, "-c", code]))
        deadline = time.time() + 60
        while len(store.jobs_list()) < n and time.time() < deadline:
            time.sleep(0.05)
    time.sleep(2.5)  # every job has polled for the slot at least once
    store.release_slot()
    for job in jobs:
        assert job.wait(180) == 0
    records = sorted(store.jobs_list(), key=lambda r: r["created"])
    assert all(r["state"] == "done" for r in records)
    starts = [r["started"] for r in records]
    assert starts == sorted(starts), [(r["created"], r["started"]) for r in records]


def test_a_free_slot_goes_to_the_job_waiting_longest(tmp_path):
    """Whichever job polls first after a slot frees, the oldest waiting job gets it."""
    store = Store(tmp_path / "data")
    mask = np.zeros((16, 16), bool)
    older, newer = (store.create_job("example", mask, {}, {}) for _ in range(2))
    assert not store.try_slot(newer, 1)  # polls first, but one job waits ahead of it
    assert store.queue_ahead(newer) == 1 and store.queue_ahead(older) == 0
    assert store.try_slot(older, 1)
    store.update_job(older, state="running")
    assert not store.try_slot(newer, 1)  # the slot is taken now
    store.release_slot()
    assert store.try_slot(newer, 1)
