"""Files on disk that outlive the server: uploads and job result bundles.

Layout under the data folder (XRAY_HEAL_DATA)::

    uploads/<upload_id>/original.<ext>   the bytes the user sent
                        frame.npy        the frame as read (file's dtype)
                        mask.npy         a mask stored with the frame, if any
                        meta.json        name, shape, dtype, format, beam centre
    jobs/<job_id>/job.json               state, config, mask spec, progress, timings
                  mask.npy|tif|edf       the mask that was healed (nonzero = missing)
                  healed.tif             healed frame in the input's units (float32)
                  healed.<edf|cbf|npy>   the same in the input's own format
                  uncertainty.tif        per-pixel spread, log10(1 + I) units
                  profiles.json          I(r) and I(chi) of original, healed, fills
                  preview.png            thumbnail of the healed frame
                  frames/<k>/            a batch job's k-th frame: healed.tif, uncertainty.tif, scores.json
    cache/                               Dash background-callback cache

Ids are random URL-safe tokens; every path is built from a checked id and
a fixed file name, never from what a user typed.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import platform
import re
import secrets
import shutil
import socket
import tempfile
import time
from pathlib import Path

import numpy as np

from dip_engine import FrameError, read_frame, write_frame
from dip_engine.io import DEFAULT_MAX_PIXELS, DatasetChoice

logger = logging.getLogger(__name__)
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
#: Files of a job bundle that may be downloaded: name -> (MIME type, link label on
#: the result and review pages, or None for a file that is not offered as a link).
JOB_FILES = {
    "healed.tif": ("image/tiff", "healed frame (TIFF, input units)"),
    "healed.edf": ("application/octet-stream", "healed frame (EDF, input header)"),
    "healed.cbf": ("application/octet-stream", "healed frame (CBF, input header)"),
    "healed.npy": ("application/octet-stream", "healed frame (NPY)"),
    "mask.npy": ("application/octet-stream", "mask (NPY, True = healed)"),
    "mask.tif": ("image/tiff", "mask (TIFF)"),
    "mask.edf": ("application/octet-stream", "mask (EDF)"),
    "uncertainty.tif": ("image/tiff", "uncertainty (TIFF)"),
    "profiles.json": ("application/json", "profiles (JSON)"),
    "job.json": ("application/json", "job record (JSON)"),
    "preview.png": ("image/png", None),
}
EXAMPLE_ID = "example"
#: States of a job whose process should be alive.
ACTIVE_STATES = ("queued", "running")
#: Every state a job can be in.
STATES = ("queued", "running", "done", "failed", "cancelled", "interrupted")
#: A job on another machine (a Celery worker) that has not reported for this
#: long is taken for dead.
STALE_S = 120.0


def host_name() -> str:
    """This machine's name, safe as a file name."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", socket.gethostname()) or "host"


def new_id() -> str:
    """An unguessable id (96 random bits)."""
    return secrets.token_urlsafe(12)


def check_id(value: str) -> str:
    """The id itself, or KeyError when it is not a well-formed id."""
    if not isinstance(value, str) or not _ID.match(value):
        raise KeyError(value)
    return value


def _safe_suffix(name: str) -> str:
    suffix = Path(name).suffix.lower()
    return suffix if re.fullmatch(r"\.[a-z0-9]{1,8}", suffix) else ""


def _write_json(path: Path, data: dict) -> None:
    """Write JSON atomically (readers never see half a file)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1, default=str))
    os.replace(tmp, path)


class Store:
    """Uploads and jobs in one data folder; uploads above ``max_pixels`` are refused."""

    def __init__(self, root: str | os.PathLike, max_pixels: int = DEFAULT_MAX_PIXELS):
        self.root = Path(root)
        self.max_pixels = max_pixels
        self.uploads = self.root / "uploads"
        self.jobs = self.root / "jobs"
        self.cache = self.root / "cache"
        for d in (self.uploads, self.jobs, self.cache):
            d.mkdir(parents=True, exist_ok=True)

    def check_writable(self) -> None:
        """OSError unless new files can be written in the data folder."""
        with tempfile.NamedTemporaryFile(dir=self.root, prefix=".write-test-"):
            pass

    # uploads ---------------------------------------------------------------
    def save_upload(self, name: str, payload: bytes, upload_id: str | None = None) -> dict:
        """Store uploaded bytes, read the frame, and return its metadata.

        Raises
        ------
        FrameError
            When the bytes are not a usable frame; nothing is kept then,
            except for a :class:`~dip_engine.io.DatasetChoice`, whose bytes
            stay so that :meth:`read_upload` can read the chosen dataset
            (the error's ``upload_id`` says where).
        """
        upload_id = check_id(upload_id or new_id())
        folder = self.uploads / upload_id
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"original{_safe_suffix(name)}").write_bytes(payload)
        _write_json(folder / "source.json", {"name": name})
        return self._read_new(upload_id)

    def save_upload_stream(self, name: str, stream, max_mb: float, chunk: int = 1 << 20) -> dict:
        """Like :meth:`save_upload`, from a file-like ``stream`` copied to disk in chunks,
        so a large frame never sits in memory whole. FrameError beyond ``max_mb`` MiB."""
        max_bytes = int(max_mb * 2**20)
        upload_id = new_id()
        folder = self.uploads / upload_id
        folder.mkdir(parents=True)
        size = 0
        with open(folder / f"original{_safe_suffix(name)}", "wb") as out:
            while block := stream.read(chunk):
                size += len(block)
                if size > max_bytes:
                    out.close()
                    shutil.rmtree(folder, ignore_errors=True)
                    raise FrameError(f"{name}: the file is larger than the upload limit of "
                                     f"{max_mb:g} MB (XRAY_HEAL_MAX_UPLOAD_MB)")
                out.write(block)
        _write_json(folder / "source.json", {"name": name})
        return self._read_new(upload_id)

    def _read_new(self, upload_id: str) -> dict:
        """Read a just-stored upload; drop it if unusable (but keep it for a dataset choice)."""
        try:
            return self.read_upload(upload_id)
        except DatasetChoice as exc:
            exc.upload_id = upload_id
            raise
        except FrameError:
            shutil.rmtree(self.uploads / upload_id, ignore_errors=True)
            raise

    def read_upload(self, upload_id: str, frame: int = 0, dataset: str | None = None) -> dict:
        """(Re)read an upload's stored bytes, e.g. another frame or dataset; its metadata.

        On FrameError the upload keeps the frame it had.
        """
        folder = self.uploads / check_id(upload_id)
        source = next(folder.glob("original*"), None)
        if source is None:
            raise KeyError(upload_id)
        name = json.loads((folder / "source.json").read_text())["name"]
        frame_data = read_frame(source, name=name, frame=int(frame or 0), dataset=dataset or None,
                                max_pixels=self.max_pixels)
        np.save(folder / "frame.npy", frame_data.data)
        (folder / "mask.npy").unlink(missing_ok=True)
        if frame_data.mask is not None:
            np.save(folder / "mask.npy", frame_data.mask)
        if frame_data.meta.get("header"):
            _write_json(folder / "header.json", frame_data.meta["header"])
        for cached in folder.glob("auto-*"):
            cached.unlink()
        meta = {
            "upload_id": upload_id,
            "name": name,
            "shape": list(frame_data.data.shape),
            "dtype": str(frame_data.data.dtype),
            "format": frame_data.fmt,
            "frame": int(frame or 0),
            "created": time.time(),
            "warnings": frame_data.warnings,
            **{k: v for k, v in frame_data.meta.items() if k != "header"},
        }
        _write_json(folder / "meta.json", meta)
        return meta

    def load_upload(self, upload_id: str) -> tuple[np.ndarray, np.ndarray | None, dict]:
        """(frame, stored mask or None, metadata) of an upload; KeyError if unknown."""
        folder = self.uploads / check_id(upload_id)
        if not (folder / "meta.json").is_file():
            raise KeyError(upload_id)
        data = np.load(folder / "frame.npy")
        mask_path = folder / "mask.npy"
        mask = np.load(mask_path) if mask_path.is_file() else None
        return data, mask, self.upload_meta(upload_id)

    def upload_meta(self, upload_id: str) -> dict:
        """An upload's metadata (shape, dtype, frames, ...); KeyError if unknown."""
        path = self.uploads / check_id(upload_id) / "meta.json"
        if not path.is_file():
            raise KeyError(upload_id)
        return json.loads(path.read_text())

    def auto_mask(self, upload_id: str, image: np.ndarray | None, sigma: float, contrast: float):
        """(mask, params) of :func:`dip_engine.masks.auto_mask`, cached beside the upload.

        With ``image`` None only the cache is read: None when it holds nothing yet.
        """
        from dip_engine.masks import auto_mask

        folder = self.uploads / check_id(upload_id)
        key = f"auto-{float(sigma):g}-{float(contrast):g}"
        path, info = folder / f"{key}.npy", folder / f"{key}.json"
        if path.is_file() and info.is_file():
            return np.load(path), json.loads(info.read_text())
        if image is None:
            return None
        mask, params = auto_mask(image, sigma=sigma, contrast=contrast)
        try:
            np.save(path, mask)
            _write_json(info, params)
        except OSError as exc:  # a full or read-only data folder: the mask still shows, uncached
            logger.warning("cannot cache the auto mask of upload %s: %s", upload_id, exc)
        return mask, params

    def upload_mask(self, upload_id: str, spec, wait_for_auto: bool = True):
        """(frame, mask, auto-mask parameters) of an upload under a :class:`~dip_engine.masks.MaskSpec`.

        The mask unites the frame's own mask, the user's mask file and what the
        spec describes. ValueError when the spec is out of range for the frame
        (:meth:`MaskSpec.check`); KeyError for an unknown upload. With
        ``wait_for_auto`` False, an auto mask not computed yet is left out
        (params then say ``{"pending": True}``) instead of computed now.
        """
        from dip_engine.masks import build_mask

        image, stored, _ = self.load_upload(upload_id)
        spec.check(image.shape)
        user = self.user_mask(upload_id)
        base = stored if user is None else (user if stored is None else stored | user)
        auto, params = None, {}
        if spec.auto:
            cached = self.auto_mask(upload_id, image if wait_for_auto else None, spec.sigma, spec.contrast)
            if cached is None:
                spec = dataclasses.replace(spec, auto=False)
                params = {"pending": True}
            else:
                auto, params = cached
        return image, build_mask(image, spec, base, auto), params

    def upload_frame(self, upload_id: str, frame: int | None = None) -> np.ndarray:
        """Frame ``frame`` of an upload's file (None: the frame the page shows)."""
        if frame is None:
            return self.load_upload(upload_id)[0]
        folder = self.uploads / check_id(upload_id)
        meta = json.loads((folder / "meta.json").read_text())
        source = next(folder.glob("original*"))
        return read_frame(source, name=meta["name"], frame=int(frame), dataset=meta.get("dataset"),
                          max_pixels=self.max_pixels).data

    def save_user_mask(self, upload_id: str, name: str, payload: bytes) -> np.ndarray:
        """Store a mask file for an upload (nonzero = missing); FrameError if unusable."""
        from dip_engine import read_mask

        folder = self.uploads / check_id(upload_id)
        data, _, meta = self.load_upload(upload_id)
        source = folder / f"user-mask{_safe_suffix(name)}"
        source.write_bytes(payload)
        try:
            mask = read_mask(source, data.shape, name=name, max_pixels=self.max_pixels)
        finally:
            source.unlink(missing_ok=True)
        np.save(folder / "user-mask.npy", mask)
        return mask

    def user_mask(self, upload_id: str) -> np.ndarray | None:
        path = self.uploads / check_id(upload_id) / "user-mask.npy"
        return np.load(path) if path.is_file() else None

    def ensure_example(self) -> dict:
        """Register the bundled example frame (once) and return its metadata."""
        from dip_engine.examples import example_path

        meta_path = self.uploads / EXAMPLE_ID / "meta.json"
        if meta_path.is_file():
            return json.loads(meta_path.read_text())
        path = example_path()
        return self.save_upload(path.name, path.read_bytes(), upload_id=EXAMPLE_ID)

    # jobs --------------------------------------------------------------------
    def create_job(self, upload_id: str, mask: np.ndarray, config: dict, mask_spec: dict,
                   owner: str = "", rerun_of: str | None = None, items: list[dict] | None = None,
                   grid: bool = False) -> str:
        """A new job folder in state 'queued', owned by ``owner``; returns its id.

        ``items``: a batch job over these frames (upload id, frame index, label);
        ``grid``: run the seed's hyperparameter grid and keep the best run.
        """
        job_id = new_id()
        folder = self.jobs / job_id
        folder.mkdir(parents=True)
        np.save(folder / "mask.npy", np.asarray(mask, bool))
        now = time.time()
        _write_json(folder / "job.json", {
            "job_id": job_id,
            "upload_id": upload_id,
            "owner": owner,
            "state": "queued",
            "pid": os.getpid(),
            "host": host_name(),
            "created": now,
            "heartbeat": now,
            "config": config,
            "mask_spec": mask_spec,
            **({"rerun_of": rerun_of} if rerun_of else {}),
            **({"items": items} if items else {}),
            **({"grid": True} if grid else {}),
        })
        return job_id

    def clone_job(self, job_id: str, owner: str = "") -> str:
        """A new queued job with the frame, mask and config of ``job_id`` (a re-run)."""
        record = self.job(job_id)
        return self.create_job(record["upload_id"], self.job_mask(job_id), record["config"],
                               record.get("mask_spec") or {}, owner=owner or record.get("owner", ""),
                               rerun_of=job_id, items=record.get("items"), grid=record.get("grid", False))

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
        fields = {"heartbeat": time.time()}
        if pid is not None:
            fields.update(pid=pid, host=host_name())
        self.update_job(job_id, **fields)

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

    def update_job(self, job_id: str, **fields) -> dict:
        """Merge fields into the job's record and return it.

        A job already cancelled keeps that state (its process may report once
        more before it is stopped).
        """
        path = self.jobs / check_id(job_id) / "job.json"
        if not path.is_file():
            raise KeyError(job_id)
        record = json.loads(path.read_text())
        if record.get("state") == "cancelled":
            fields.pop("state", None)
        record.update(fields)
        _write_json(path, record)
        return record

    # GPU slots -------------------------------------------------------------------
    def try_slot(self, job_id: str, slots: int) -> bool:
        """Take one of ``slots`` fit slots for this process, if one is free and
        it is this job's turn.

        Jobs are served first come, first served: a job takes a slot only
        when fewer jobs queued before it on this machine are waiting than
        slots are free (:meth:`queue_ahead`). A slot is a file holding the pid
        of the process that took it; a slot whose process is gone is free
        again, so a killed job never keeps one. Slots are per machine (each
        Celery worker host has its own GPU).
        """
        folder = self.root / "slots" / host_name()
        folder.mkdir(parents=True, exist_ok=True)
        free = [path for path in (folder / f"slot-{n}" for n in range(max(1, slots))) if _slot_free(path)]
        if self.queue_ahead(job_id) >= len(free):
            return False
        for path in free:
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                continue  # another process was faster
            with os.fdopen(fd, "w") as f:
                json.dump({"pid": os.getpid(), "job_id": job_id}, f)
            return True
        return False

    def queue_ahead(self, job_id: str, records: list[dict] | None = None) -> int:
        """Jobs queued on this machine before ``job_id`` (by creation time) that still wait."""
        records = self.jobs_list() if records is None else records
        mine = next((r for r in records if r["job_id"] == job_id), {"created": time.time()})
        turn = (mine.get("created", 0), job_id)
        here = host_name()
        return sum(1 for r in records if r.get("state") == "queued" and r.get("host") == here
                   and (r.get("created", 0), r["job_id"]) < turn)

    def release_slot(self) -> None:
        """Give back the slot this process holds."""
        for path in (self.root / "slots" / host_name()).glob("slot-*"):
            try:
                if json.loads(path.read_text()).get("pid") == os.getpid():
                    path.unlink(missing_ok=True)
            except (FileNotFoundError, ValueError):
                continue

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
        if "items" in public:
            public["items"] = [{"frame": i.get("frame"), "label": i.get("label")} for i in public["items"]]
        return public

    def job_mask(self, job_id: str) -> np.ndarray:
        return np.load(self.jobs / check_id(job_id) / "mask.npy")

    def job_file(self, job_id: str, name: str) -> Path:
        """Path of a downloadable file of a job; KeyError if absent or not allowed."""
        if name not in JOB_FILES:
            raise KeyError(name)
        path = self.jobs / check_id(job_id) / name
        if not path.is_file():
            raise KeyError(name)
        return path

    def bundle_zip(self, job_id: str) -> bytes:
        """The job's downloadable files in one zip archive."""
        import io
        import zipfile

        buf = io.BytesIO()
        folder = self.jobs / check_id(job_id)
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(f"{job_id}/job.json", json.dumps(self.public_record(job_id), indent=1, default=str))
            for name in JOB_FILES:
                if name != "job.json" and (folder / name).is_file():
                    archive.write(folder / name, f"{job_id}/{name}")
            for path in sorted(folder.glob("frames/*/*")):  # a batch job's per-frame results
                archive.write(path, f"{job_id}/{path.relative_to(folder)}")
        return buf.getvalue()

    def save_frame_result(self, job_id: str, frame: int, result, scores: dict | None = None) -> None:
        """Item ``frame`` of a batch job: ``frames/<frame>/healed.tif``, its uncertainty and scores."""
        folder = self.jobs / check_id(job_id) / "frames" / str(int(frame))
        folder.mkdir(parents=True, exist_ok=True)
        _write_fit(folder, result, {"frame": int(frame)})
        _write_json(folder / "scores.json", {"dip": result.score, **(scores or {})})

    def save_result(self, job_id: str, result, scores: dict | None = None,
                    profiles: dict | None = None, preview: bytes | None = None,
                    note: str | None = None, frames: list[dict] | None = None,
                    grid: list[dict] | None = None) -> dict:
        """Write a :class:`dip_engine.fit.HealResult` into the job's bundle.

        ``scores``: classical fills' scores on the same held-out pixels;
        ``profiles``: :func:`dip_engine.evaluate.profiles` of the result;
        ``preview``: PNG bytes of a thumbnail; ``note``: what the job had to
        change to finish (e.g. an out-of-memory retry).
        """
        from dip_engine.io import write_mask

        folder = self.jobs / check_id(job_id)
        if profiles is not None:
            _write_json(folder / "profiles.json", profiles)
        if preview is not None:
            (folder / "preview.png").write_bytes(preview)
        for suffix in (".tif", ".edf"):  # the job's mask.npy in the other mask formats
            write_mask(folder / f"mask{suffix}", self.job_mask(job_id))
        config = result.config.to_json()
        _write_fit(folder, result, {"config": json.loads(config)})
        record = self.job(job_id)
        source = next((self.uploads / record["upload_id"]).glob("original.*"), None)
        if source is not None and source.suffix in (".edf", ".cbf", ".npy"):
            header_path = self.uploads / record["upload_id"] / "header.json"
            header = json.loads(header_path.read_text()) if header_path.is_file() else None
            write_frame(folder / f"healed{source.suffix}", result.healed, description=config, header=header)
        return self.update_job(
            job_id,
            state="done",
            finished=time.time(),
            result={
                "iterations_run": result.iterations_run,
                "elapsed_s": round(result.elapsed_s, 2),
                "device": result.device,
                "working_shape": list(result.working_shape),
                "final_loss": result.loss_history[-1] if result.loss_history else None,
                "pixels_healed": int(result.missing.sum()),
                "stopped": result.stopped,
                "early_stopped": result.early_stopped,
                "best_iteration": result.best_iteration,
                "center": list(result.center) if result.center else None,
                "dtype": str(result.healed.dtype),
                "scores": {"dip": result.score, **(scores or {})},
                **({"blend": result.blend} if result.blend else {}),
                **({"note": note} if note else {}),
                **({"frames": frames} if frames else {}),
                **({"grid": grid} if grid else {}),
            },
            versions=software_versions(),
        )


def _write_fit(folder: Path, result, about: dict) -> None:
    """A fit's healed.tif (``about`` in its description) and uncertainty.tif in ``folder``."""
    write_frame(folder / "healed.tif", result.healed, description=json.dumps({"healed_by": "xray-heal", **about}))
    write_frame(folder / "uncertainty.tif", result.uncertainty,
                description="std of log10(1 + I) over the last iterations; 0 = valid pixel")


def _slot_free(path: Path) -> bool:
    """Whether a slot file is free: absent, unreadable, or held by a process that is gone
    (its file is then removed)."""
    try:
        holder = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return not path.exists()
    if _alive(holder.get("pid")):
        return False
    path.unlink(missing_ok=True)
    return True


def _job_alive(record: dict) -> bool:
    """Whether a queued or running job's process still works on it."""
    if record.get("host", host_name()) == host_name():
        return _alive(record.get("pid"))
    return time.time() - float(record.get("heartbeat") or 0) < STALE_S


def _alive(pid) -> bool:
    """Whether a process with this pid runs (and is not a zombie)."""
    if not pid:
        return False
    try:
        import psutil

        return psutil.Process(int(pid)).status() != psutil.STATUS_ZOMBIE
    except Exception:  # no such process, or no access to it
        return False


def software_versions() -> dict:
    """Versions of the software that made a result (for its bundle)."""
    import dip_engine

    versions = {"xray-heal": dip_engine.__version__, "python": platform.python_version(),
                "numpy": np.__version__}
    try:
        import torch

        versions["torch"] = torch.__version__
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    return versions
