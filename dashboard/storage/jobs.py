"""Job records: one ``jobs/<job_id>/job.json`` per job, its mask beside it; states and liveness."""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, field, fields

import numpy as np

from .common import _write_json, check_id, host_name, new_id, process_alive

#: States of a job whose process should be alive.
ACTIVE_STATES = ("queued", "running")
#: Every state a job can be in.
STATES = ("queued", "running", "done", "failed", "cancelled", "interrupted")
#: A job on another machine (a Celery worker) that has not reported for this
#: long is taken for dead.
STALE_S = 120.0


@dataclass
class JobRecord:
    """The one schema of a job record (``job.json``): every write goes through it.

    Attributes
    ----------
    job_id, upload_id, owner : str
    state : str
        One of :data:`STATES`.
    pid, host :
        The process working on the job and its machine (internals: not in
        what readers download).
    created, heartbeat, started, fit_ended, finished : float or None
        Unix times.
    config, mask_spec : dict
        The frozen heal config and the mask as data.
    rerun_of : str or None
    items : list of dict or None
        A batch job's frames.
    grid : bool
        A hyperparameter-grid job.
    reason : str or None
        Why a job failed, was cancelled or interrupted.
    result : dict or None
        What a finished job measured (scores, blend, timings, ...).
    versions : dict or None
        Software that made the result.
    """

    job_id: str
    upload_id: str
    owner: str = ""
    state: str = "queued"
    pid: int | None = None
    host: str = ""
    created: float = 0.0
    heartbeat: float = 0.0
    config: dict = field(default_factory=dict)
    mask_spec: dict = field(default_factory=dict)
    rerun_of: str | None = None
    items: list | None = None
    grid: bool = False
    started: float | None = None
    fit_ended: float | None = None
    finished: float | None = None
    reason: str | None = None
    result: dict | None = None
    versions: dict | None = None

    @classmethod
    def check_fields(cls, updates: dict) -> dict:
        """``updates`` itself if it names only fields of the record (KeyError otherwise)
        and any state is one of :data:`STATES` (ValueError otherwise)."""
        unknown = set(updates) - {f.name for f in fields(cls)}
        if unknown:
            raise KeyError(f"not fields of a job record: {', '.join(sorted(unknown))}")
        if "state" in updates and updates["state"] not in STATES:
            raise ValueError(f"unknown job state {updates['state']!r}")
        return updates


class Jobs:
    """The job records of a data folder (a part of :class:`dashboard.storage.Store`)."""

    def create_job(self, upload_id: str, mask: np.ndarray, config: dict, mask_spec: dict,
                   owner: str = "", rerun_of: str | None = None, items: list[dict] | None = None,
                   grid: bool = False, excluded: np.ndarray | None = None) -> str:
        """A new job folder in state 'queued', owned by ``owner``; returns its id.

        ``items``: a batch job over these frames (upload id, frame index, label);
        ``grid``: run the seed's hyperparameter grid and keep the best run;
        ``excluded``: the pixels of ``mask`` with no physical data (not healed).
        """
        job_id = new_id()
        folder = self.jobs / job_id
        folder.mkdir(parents=True)
        np.save(folder / "mask.npy", np.asarray(mask, bool))
        if excluded is not None and np.any(excluded):
            np.save(folder / "excluded.npy", np.asarray(excluded, bool))
        now = time.time()
        record = JobRecord(job_id, upload_id, owner=owner, pid=os.getpid(), host=host_name(), created=now,
                           heartbeat=now, config=config, mask_spec=mask_spec, rerun_of=rerun_of,
                           items=items or None, grid=grid)
        _write_json(folder / "job.json", asdict(record))
        return job_id

    def clone_job(self, job_id: str, owner: str = "") -> str:
        """A new queued job with the frame, mask and config of ``job_id`` (a re-run)."""
        record = self.job(job_id)
        return self.create_job(record["upload_id"], self.job_mask(job_id), record["config"],
                               record.get("mask_spec") or {}, owner=owner or record.get("owner", ""),
                               rerun_of=job_id, items=record.get("items"), grid=record.get("grid", False),
                               excluded=self.job_excluded(job_id))

    def job(self, job_id: str) -> dict:
        """The job's record; KeyError if there is no such job.

        A job that says it is queued or running but whose process is gone
        (killed, out of memory, server or worker restarted) is recorded as
        'interrupted' here, so every reader sees the truth. On this machine
        the job's pid tells; for a job on another machine (a Celery worker),
        its heartbeat does.
        """
        path = self.jobs / check_id(job_id) / "job.json"
        if not path.is_file():
            raise KeyError(job_id)
        record = json.loads(path.read_text())
        if record.get("state") in ACTIVE_STATES and not _job_alive(record):
            record.update(state="interrupted",
                          reason="the job's process ended before it finished (killed, out of memory, "
                                 "or the server or worker restarted)")
            _write_json(path, record)
        return record

    def beat(self, job_id: str, pid: int | None = None) -> None:
        """Record that the job's process is alive (and, when given, which process it is)."""
        updates = {"heartbeat": time.time()}
        if pid is not None:
            updates.update(pid=pid, host=host_name())
        self.update_job(job_id, **updates)

    def cancel_job(self, job_id: str) -> dict:
        """Mark a queued or running job cancelled (its process is being stopped)."""
        record = self.job(job_id)
        if record.get("state") in ACTIVE_STATES:
            record = self.update_job(job_id, state="cancelled", reason="cancelled by the user",
                                     finished=time.time())
        return record

    def delete_job(self, job_id: str, owner: str) -> None:
        """Delete a finished job's bundle; PermissionError unless ``owner`` owns it,
        ValueError while it still runs."""
        record = self.job(job_id)
        if not owner or record.get("owner") != owner:
            raise PermissionError(f"job {job_id} belongs to {record.get('owner') or 'nobody'}")
        if record.get("state") in ACTIVE_STATES:
            raise ValueError(f"job {job_id} is still {record['state']}; cancel it first")
        shutil.rmtree(self.jobs / check_id(job_id))

    def jobs_list(self) -> list[dict]:
        """Every job's record, newest first."""
        records = []
        for folder in self.jobs.iterdir():
            try:
                records.append(self.job(folder.name))
            except (KeyError, ValueError):
                continue
        return sorted(records, key=lambda r: r.get("created", 0), reverse=True)

    def update_job(self, job_id: str, **updates) -> dict:
        """Merge fields into the job's record and return it.

        A job already cancelled keeps that state (its process may report once
        more before it is stopped).
        """
        path = self.jobs / check_id(job_id) / "job.json"
        if not path.is_file():
            raise KeyError(job_id)
        JobRecord.check_fields(updates)
        record = json.loads(path.read_text())
        if record.get("state") == "cancelled":
            updates.pop("state", None)
        record.update(updates)
        _write_json(path, record)
        return record

    def queue_ahead(self, job_id: str, records: list[dict] | None = None) -> int:
        """Jobs queued on this machine before ``job_id`` (by creation time) that still wait."""
        records = self.jobs_list() if records is None else records
        mine = next((r for r in records if r["job_id"] == job_id), {"created": time.time()})
        turn = (mine.get("created", 0), job_id)
        here = host_name()
        return sum(1 for r in records if r.get("state") == "queued" and r.get("host") == here
                   and (r.get("created", 0), r["job_id"]) < turn)

    def queue_status(self, job_id: str) -> tuple[int, float | None]:
        """(jobs waiting ahead of this one, :meth:`queue_ahead`; mean fit time in s of the
        last 20 finished jobs or None before any), from one read of the job records."""
        records = self.jobs_list()
        times = [r["result"]["elapsed_s"] for r in records if r.get("state") == "done"][:20]
        return self.queue_ahead(job_id, records), (sum(times) / len(times) if times else None)

    def public_record(self, job_id: str) -> dict:
        """The job record as readers download it: without the server's internals
        (upload ids, process id, host, heartbeat)."""
        record = self.job(job_id)
        hidden = ("upload_id", "pid", "host", "heartbeat")
        public = {k: v for k, v in record.items() if k not in hidden}
        if public.get("items"):
            public["items"] = [{"frame": i.get("frame"), "label": i.get("label")} for i in public["items"]]
        return public

    def job_mask(self, job_id: str) -> np.ndarray:
        return np.load(self.jobs / check_id(job_id) / "mask.npy")

    def job_excluded(self, job_id: str) -> np.ndarray | None:
        """The job's excluded pixels (no physical data), or None when it has none."""
        path = self.jobs / check_id(job_id) / "excluded.npy"
        return np.load(path) if path.is_file() else None

def _job_alive(record: dict) -> bool:
    """Whether a queued or running job's process still works on it."""
    if record.get("host", host_name()) == host_name():
        return process_alive(record.get("pid"))
    return time.time() - float(record.get("heartbeat") or 0) < STALE_S


