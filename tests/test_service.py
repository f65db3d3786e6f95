"""The shared service: fit slots under concurrent jobs, jobs killed mid-fit."""

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import tifffile

from dashboard.callbacks.heal import run_heal_job
from dashboard.store import Store
from dip_engine.masks import MaskSpec

ROOT = Path(__file__).resolve().parent.parent

JOB = """
import sys; sys.path.insert(0, {root!r})
from dashboard.callbacks.heal import run_heal_job
from dashboard.store import Store
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
