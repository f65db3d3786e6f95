"""The shared service: fit slots under concurrent jobs, jobs killed mid-fit, users
through the page, and scale-out on Celery with a real Redis.

Redis comes from XRAY_HEAL_TEST_REDIS (``.ci/run`` starts Debian's
redis-server and sets it), else from a redis-server the test starts on a
free port; without either, or without Celery installed, that test skips.
"""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import psutil
import pytest
import tifffile
from conftest import _free_port, start_server, stop_server
from playwright.sync_api import expect

from dashboard.jobs import run_heal_job
from dashboard.storage import Store
from dip_engine.masks import MaskSpec

ROOT = Path(__file__).resolve().parent.parent

JOB = """
import sys; sys.path.insert(0, {root!r})
from dashboard.jobs import run_heal_job
from dashboard.storage import Store
from dip_engine.masks import MaskSpec
store = Store({data!r})
meta = store.load_upload({upload!r})[2]
job_id, message = run_heal_job(store, lambda p: None, meta, MaskSpec(), "fast", {iterations}, 0, slots=1)
print(job_id, flush=True)
"""


def _upload(tmp_path):
    frame = np.random.default_rng(0).poisson(40, (48, 48)).astype(np.int32)
    frame[20:24] = -1
    tifffile.imwrite(tmp_path / "f.tif", frame)
    store = Store(tmp_path / "data")
    return store, store.save_upload("f.tif", (tmp_path / "f.tif").read_bytes())


def _spawn(store, meta, iterations):
    code = JOB.format(root=str(ROOT), data=str(store.root), upload=meta["upload_id"], iterations=iterations)
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)


def test_five_users_at_once_share_one_fit_slot(tmp_path):
    store, meta = _upload(tmp_path)
    users = [_spawn(store, meta, 40) for _ in range(5)]
    job_ids = [u.communicate(timeout=300)[0].split()[0] for u in users]
    records = [store.job(j) for j in job_ids]
    assert all(r["state"] == "done" for r in records), [r.get("reason") for r in records]
    # each job's own result, and never two fits at once
    assert len({r["job_id"] for r in records}) == 5
    spans = sorted((r["started"], r["fit_ended"]) for r in records)  # slot held
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:])), spans


def test_a_job_killed_mid_fit_is_interrupted_and_the_next_one_runs(tmp_path):
    store, meta = _upload(tmp_path)
    victim = _spawn(store, meta, 100000)
    deadline = time.time() + 120
    running = []
    while not running and time.time() < deadline:
        running = [r for r in store.jobs_list() if r["state"] == "running"]
        time.sleep(0.2)
    assert running, "the job never started"
    victim.kill()
    victim.wait()
    record = store.job(running[0]["job_id"])
    assert record["state"] == "interrupted" and "ended before it finished" in record["reason"]
    job_id, message = run_heal_job(store, lambda p: None, meta, MaskSpec(), "fast", 10, 0, slots=1)
    assert store.job(job_id)["state"] == "done", message
    assert json.loads((store.jobs / job_id / "job.json").read_text())["result"]["iterations_run"] == 10


def test_jobs_forked_while_other_threads_use_the_cache_can_still_write_their_result(tmp_path):
    """The web server forks a job from one thread while others poll the same SQLite cache;
    a plain diskcache child then waits on a lock nobody releases (24 of 30 children timed
    out in this test). Each job must get its result written."""
    import threading

    from dashboard.background import ForkSafeCache, ForkSafeDiskcacheManager

    cache = ForkSafeCache(str(tmp_path / "cache"), timeout=3)
    manager = ForkSafeDiskcacheManager(cache)
    stop = threading.Event()

    def poll():
        while not stop.is_set():
            cache.set("progress", [1, 2, 3])
            cache.get("progress")
            cache.delete("progress")

    def job_fn(key, _progress_key, _args, _context):
        cache.set(key, "done")

    pollers = [threading.Thread(target=poll) for _ in range(3)]
    for thread in pollers:
        thread.start()
    try:
        pids = [manager.call_job_fn(f"job-{i}", job_fn, (), {}) for i in range(30)]
        _, alive = psutil.wait_procs([psutil.Process(p) for p in pids if psutil.pid_exists(p)], timeout=20)
    finally:
        stop.set()
        for thread in pollers:
            thread.join()
    for proc in alive:
        proc.kill()
    assert [cache.get(f"job-{i}") for i in range(30)] == ["done"] * 30


@pytest.fixture
def redis_url(tmp_path):
    pytest.importorskip("celery")
    url = os.environ.get("XRAY_HEAL_TEST_REDIS")
    if url:
        yield url
        return
    if not shutil.which("redis-server"):
        pytest.skip("no Redis: set XRAY_HEAL_TEST_REDIS or install redis-server")
    port = _free_port()
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(tmp_path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    time.sleep(0.5)
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(10)


def _worker(data, broker, log):
    env = dict(os.environ, XRAY_HEAL_DATA=str(data), XRAY_HEAL_BROKER=broker, XRAY_HEAL_GPU_SLOTS="1")
    with open(log, "ab") as out:
        return subprocess.Popen([sys.executable, "-m", "dashboard.cli", "worker", "--concurrency", "1"],
                                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def _heal(page, url, iterations=15):
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(url)
    expect(page.locator("#frame-info")).to_contain_text("liu2017_example_1.npz", timeout=30000)
    expect(page.locator("#frame-graph .main-svg").first).to_be_visible(timeout=30000)
    page.fill("#iterations", str(iterations))
    page.keyboard.press("Tab")
    page.click("#heal-button")


@pytest.mark.browser
def test_five_users_through_the_page_each_see_their_own_job(browser, live_server):
    """Same frame, same settings, same moment: five jobs, five results, one fit at a time."""
    pages = [browser.new_page() for _ in range(5)]
    for page in pages:
        _heal(page, live_server["url"])
    for page in pages:
        expect(page.locator("#download-healed-tif")).to_be_visible(timeout=240000)
    shown = [page.locator("#review-link").inner_text().split("/")[-1] for page in pages]
    records = [json.loads(p.read_text()) for p in (live_server["data"] / "jobs").glob("*/job.json")]
    assert sorted(shown) == sorted(r["job_id"] for r in records) and len(set(shown)) == 5
    spans = sorted((r["started"], r["fit_ended"]) for r in records)
    overlaps = sum(a[1] > b[0] for a, b in zip(spans, spans[1:]))
    assert overlaps == 0, f"fits overlapped {overlaps} times with XRAY_HEAL_GPU_SLOTS=1"


@pytest.mark.browser
def test_closing_the_tab_does_not_stop_the_job(browser, live_server):
    page = browser.new_page()
    _heal(page, live_server["url"], iterations=150)
    expect(page.locator("#progress-text")).to_contain_text("Iteration", timeout=60000)
    page.close()
    deadline = time.time() + 180
    while time.time() < deadline:
        records = [json.loads(p.read_text()) for p in (live_server["data"] / "jobs").glob("*/job.json")]
        if records and records[0]["state"] not in ("queued", "running"):
            break
        time.sleep(0.5)
    assert records[0]["state"] == "done" and records[0]["result"]["iterations_run"] >= 1


@pytest.mark.browser
def test_two_jobs_through_the_app_run_on_a_celery_worker(browser, tmp_path, redis_url):
    data, port = tmp_path / "data", _free_port()
    server = start_server(data, port, tmp_path / "server.log", XRAY_HEAL_BROKER=redis_url)
    worker = _worker(data, redis_url, tmp_path / "worker.log")
    try:
        pages = [browser.new_page() for _ in range(2)]
        for page in pages:
            _heal(page, f"http://127.0.0.1:{port}")
        for page in pages:
            expect(page.locator("#download-healed-tif")).to_be_visible(timeout=240000)
        # each user sees the result of their own job
        shown = {page.locator("#review-link").inner_text().split("/")[-1] for page in pages}
        records = [json.loads(p.read_text()) for p in (data / "jobs").glob("*/job.json")]
        assert shown == {r["job_id"] for r in records}
        assert len(records) == 2 and all(r["state"] == "done" for r in records), records
        assert all((data / "jobs" / r["job_id"] / "healed.tif").is_file() for r in records)
        # the fits ran in the worker's (prefork) processes, not in processes of the web server
        worker_family = {worker.pid, *(c.pid for c in psutil.Process(worker.pid).children(recursive=True))}
        assert {r["pid"] for r in records} <= worker_family, (records, worker_family)
        assert "xray-heal worker on" in (tmp_path / "worker.log").read_text()
    finally:
        for proc in (worker, server):
            stop_server(proc)
