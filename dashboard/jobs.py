"""Jobs: one job = an upload's frame + mask + config -> a result bundle on disk.

:func:`run_heal_job` creates a job from what the page chose and runs it;
:func:`execute_job` runs a stored job (a re-run too) to its end: it waits
for a fit slot in submission order, heals each frame with
:func:`dip_engine.pipeline.run_heal` (one retry on less memory), writes the
bundle, and records the job's state. Nothing here imports Dash: the heal
callbacks and Celery workers call it, and tests call it directly. A failed
job's traceback goes to the log (``XRAY_HEAL_DATA/logs/jobs.log``, see
:func:`log_to`); the page shows its one-line reason.
"""

from __future__ import annotations

import logging
import os

import numpy as np
import time
from pathlib import Path

from dip_engine import HealConfig
from dip_engine.config import DEFAULT_PRESET
from dip_engine.geometry import check_center

from .storage.bundle import HISTORY_POINTS
from .figures import fit_figure, log_levels, png_bytes, preview_pixels, preview_uri

logger = logging.getLogger(__name__)

#: Seconds between preview images sent to the page.
PREVIEW_EVERY_S = 2.0

def progress(bar: str, total: str, text: str, preview=None, job_id=None, history: dict | None = None) -> tuple:
    """One progress value for the page: bar value and max, text, preview data URI, job id,
    and the loss and score plot so far (:func:`dashboard.figures.fit_figure`, or an empty one)."""
    return bar, total, text, preview, job_id, history or EMPTY_FIGURE


#: An empty figure (the fit plot before any step).
EMPTY_FIGURE = {"data": [], "layout": {"height": 60, "margin": {"l": 0, "r": 0, "t": 0, "b": 0},
                                       "xaxis": {"visible": False}, "yaxis": {"visible": False}}}
def progress_text(p) -> str:
    score = f" · score {p.score:.3f}" if p.score is not None else ""
    return f"Iteration {p.iteration} / {p.iterations} · loss {p.loss:.3e}{score} · {p.elapsed_s:.0f} s"


def wait_for_slot(store, job_id: str, slots: int, set_progress, poll_s: float = 1.0) -> None:
    """Block until this process holds a fit slot, telling the page its place in the queue
    and when it may start (the mean fit time of the jobs done so far, per job ahead)."""
    while not store.try_slot(job_id, slots):
        store.beat(job_id)
        ahead, eta = store.queue_status(job_id)
        when = f"; estimated start in about {max(1, round(eta * (ahead + 1) / 60))} min" if eta else ""
        set_progress(progress("0", "100", f"Queued: position {ahead + 1}, {ahead} job(s) ahead, "
                                          f"waiting for a free GPU slot{when}", None, job_id))
        time.sleep(poll_s)


def run_heal_job(store, set_progress, meta, spec, preset, iterations, seed, slots: int = 1, owner: str = "",
                 all_frames: bool = False, grid: bool = False, frame_set: list[dict] | None = None,
                 center=None, threads: int | None = None, symmetry: dict | None = None,
                 geometry: dict | None = None, unit: str | None = None, chi_range=None, fill: str | None = None):
    """Create a job from the page's frame and mask, run it; return (job_id or None, message).

    With ``all_frames``, one batch job heals every frame of a multi-frame
    file, or the shown frame and every upload of ``frame_set`` (the page's
    set of extra files, metadata of uploads of the same shape). ``center``:
    the user's beam centre (row, col), else found by symmetry; ``symmetry``: the user's
    symmetry (:meth:`dip_engine.symmetry.Symmetry.to_dict` form), else measured;
    ``geometry``, ``unit``, ``chi_range``: the frame's pyFAI geometry and the curves to
    report (:class:`~dip_engine.config.HealConfig`), checked against the frame here;
    ``fill``: 'poisson' for a noise-true fill (None: the expectation).
    With ``grid``, the seed's 40-point grid (:data:`dip_engine.grid.SEED_GRID`)
    runs on the preset, ranked by score, and the best run is the result.

    ``set_progress`` receives (bar value, bar max, text, preview data URI, job id).
    Never raises for a bad frame or config: the message says what went wrong
    and the job (if it was created) is marked failed with that reason.
    At most ``slots`` fits run at once per machine on this data folder; ``threads``: torch
    threads of a fit on the CPU (default: every usable core but one).
    """
    try:
        meta = store.upload_meta(meta["upload_id"])  # the server's record, not what the page sent
        config = HealConfig.from_preset(preset or DEFAULT_PRESET, iterations=iterations, seed=seed,
                                        center=check_center(center, meta["shape"]),
                                        symmetry=checked_symmetry(symmetry, meta["shape"]),
                                        geometry=checked_geometry(geometry, meta["shape"]), unit=unit,
                                        chi_range=chi_range, fill=fill)
        _, mask, _ = store.upload_mask(meta["upload_id"], spec)
        excluded = store.upload_exclusion(meta["upload_id"], spec, mask)
        items = batch_items(store, meta, frame_set) if all_frames else None
    except KeyError:  # the store's own KeyError holds only the id
        return None, "Cannot heal: the frame is no longer on the server; load it again"
    except TypeError:
        return None, "Cannot heal: the page sent a malformed request; reload the page"
    except ValueError as exc:
        return None, f"Cannot heal: {exc}"
    try:
        job_id = store.create_job(meta["upload_id"], mask, config.to_dict(), spec.to_dict(), owner=owner,
                                  items=items, grid=grid, excluded=excluded)
    except OSError:
        return None, "Cannot heal: the server cannot store jobs right now (its data folder is full or read-only)"
    return job_id, execute_job(store, job_id, set_progress, slots, threads)


def checked_symmetry(symmetry, shape) -> dict | None:
    """The page's symmetry checked on the server against the frame's shape (ValueError with a
    sentence), or None."""
    if symmetry is None:
        return None
    from dip_engine.symmetry import Symmetry

    if not isinstance(symmetry, dict):
        raise ValueError("the symmetry settings are malformed; reload the page")
    return Symmetry.from_dict(symmetry, tuple(shape)).to_dict()


def checked_geometry(geometry, shape) -> dict | None:
    """The page's geometry checked on the server against the frame's shape (ValueError with
    a sentence), or None."""
    if geometry is None:
        return None
    from dip_engine.azimuthal import load_geometry

    if not isinstance(geometry, dict):
        raise ValueError("the geometry settings are malformed; reload the page")
    return load_geometry(geometry, tuple(shape))


#: Most frames of one batch job.
MAX_BATCH = 1000


def batch_items(store, meta: dict, frame_set) -> list[dict] | None:
    """The frames of a batch job: (upload id, frame index or None, label) of each;
    None when there is only the one frame shown.

    ``frame_set`` comes from the page: only its upload ids are used, and each
    upload's shape is read from the store. KeyError for an unknown upload,
    ValueError for a set that is not a list of uploads or too long.
    """
    if frame_set:
        if not isinstance(frame_set, list) or len(frame_set) >= MAX_BATCH:
            raise ValueError(f"a batch holds at most {MAX_BATCH} frames")
        others = [store.upload_meta(m["upload_id"]) for m in frame_set if isinstance(m, dict)]
        same = [m for m in others if m["shape"] == meta["shape"] and m["upload_id"] != meta["upload_id"]]
        return [{"upload_id": m["upload_id"], "frame": None, "label": m["name"]} for m in [meta, *same]]
    if meta.get("frames", 1) > 1:
        frames = min(int(meta["frames"]), MAX_BATCH)
        return [{"upload_id": meta["upload_id"], "frame": k, "label": f"frame {k}"} for k in range(frames)]
    return None


def execute_job(store, job_id: str, set_progress, slots: int = 1, threads: int | None = None) -> str:
    """Run a queued job to its end (done or failed, with the reason); the message for the page.

    A batch job (its record lists ``items``, see :func:`batch_items`) heals
    each frame with the same mask and config, one after the other, in one
    fit slot; item k's results go to ``frames/<k>/`` of the bundle.
    """
    store.beat(job_id, pid=os.getpid())
    record = store.job(job_id)
    mask = store.job_mask(job_id)
    excluded = store.job_excluded(job_id)
    config = HealConfig.from_dict(record["config"])
    items = record.get("items") or [{"upload_id": record["upload_id"], "frame": None, "label": None}]
    set_progress(progress("0", "100", "Starting…", None, job_id))
    wait_for_slot(store, job_id, slots, set_progress)
    store.update_job(job_id, state="running", started=time.time())
    done, notes = [], []
    try:
        for n, item in enumerate(items):
            image = store.upload_frame(item["upload_id"], item["frame"])
            if image.shape != mask.shape:
                raise ValueError(f"{item['label']} is {image.shape[0]} x {image.shape[1]} pixels, "
                                 f"the mask {mask.shape[0]} x {mask.shape[1]}")
            label = f"{item['label']} ({n + 1} of {len(items)}): " if item["label"] else ""
            fitted = _fit(store, job_id, image, mask, config, set_progress, label, record.get("grid", False), threads,
                          excluded)
            if item["label"]:
                store.save_frame_result(job_id, n, fitted.result, fitted.scores)
                done.append({"frame": item["label"], "score": fitted.result.score,
                             "elapsed_s": round(fitted.result.elapsed_s, 2)})
            notes += [fitted.retried] if fitted.retried else []
    except ValueError as exc:
        store.update_job(job_id, state="failed", reason=str(exc), finished=time.time())
        return f"Cannot heal: {exc}"
    except Exception as exc:  # a crash of the fit must still reach the user
        from dip_engine.pipeline import is_out_of_memory

        logger.exception("job %s failed", job_id)
        reason = ("out of memory, also after one retry with less" if is_out_of_memory(exc)
                  else f"{type(exc).__name__}: {exc}")
        store.update_job(job_id, state="failed", reason=reason, finished=time.time())
        return f"The fit failed ({reason}); the job was recorded as failed."
    finally:
        store.update_job(job_id, fit_ended=time.time())
        store.release_slot()
    result = fitted.result  # the last frame's views stand for a batch
    preview = png_bytes(preview_pixels(result.healed, log_levels(image, ~result.missing), side=192))
    note = "; ".join(dict.fromkeys(notes)) or None
    store.save_result(job_id, result, fitted.scores, fitted.profiles, preview=preview, note=note,
                      frames=done or None, grid=fitted.grid, integrated=fitted.integrated)
    return (f"Healed; job {job_id}" + (f", {len(done)} frames" if done else "")
            + (f" ({note})" if note else ""))


def _fit(store, job_id, image, mask, config, set_progress, label="", grid=False, threads=None, excluded=None):
    """:func:`dip_engine.pipeline.run_heal` of one frame, reporting to the page and
    beating the job's heartbeat; its :class:`~dip_engine.pipeline.HealOutcome`."""
    from dip_engine.pipeline import run_heal  # torch is imported in the job process only

    levels = log_levels(image, ~mask)
    last = {"preview": 0.0, "beat": 0.0, "label": label, "figure": None}
    points = {"iteration": [], "loss": [], "score_iteration": [], "score": []}

    def on_progress(p):
        preview = None
        now = time.monotonic()
        _add_point(points, p)
        if now - last["preview"] >= PREVIEW_EVERY_S or p.iteration == p.iterations:
            last["preview"] = now
            preview = preview_uri(p.preview(), levels)
            last["figure"] = fit_figure(points, height=200)
        if now - last["beat"] >= 5.0:
            last["beat"] = now
            store.beat(job_id)
        set_progress(progress(str(p.iteration), str(p.iterations), last["label"] + progress_text(p), preview,
                              job_id, last["figure"]))

    def on_run(i, total, cfg, result):
        last["label"] = (f"{label}Grid run {min(i + 1, total)} of {total} (last: lr {cfg.lr:g}, param_noise "
                         f"{cfg.param_noise}, reg_noise {cfg.reg_noise_std:g}: score {result.score:.3f}) · ")

    def on_retry(what):
        set_progress(progress("0", "100", f"{label}{what.capitalize()}…", None, job_id))

    return run_heal(image, mask, config, progress=on_progress, grid=grid, on_retry=on_retry, on_run=on_run,
                    threads=threads, excluded=excluded)


def _add_point(points: dict, p) -> None:
    """Add a fit's progress to the points of its live plot, thinned to every other point
    when they pass :data:`HISTORY_POINTS`."""
    points["iteration"].append(p.iteration)
    points["loss"].append(float(p.loss))
    if p.score is not None:
        points["score_iteration"].append(p.iteration)
        points["score"].append(float(p.score))
    for key in points:
        if len(points[key]) > HISTORY_POINTS:
            points[key] = points[key][::2]


def log_to(data_dir: Path) -> Path:
    """Send the dashboard's log records (failed jobs' tracebacks among them) to
    ``data_dir/logs/jobs.log`` as well; the log file's path."""
    folder = Path(data_dir) / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "jobs.log"
    root = logging.getLogger("dashboard")
    for old in [h for h in root.handlers if getattr(h, "xray_heal_log", False)]:  # one data folder at a time
        root.removeHandler(old)
        old.close()
    handler = logging.FileHandler(path)
    handler.xray_heal_log = True
    handler.setFormatter(logging.Formatter("%(asctime)s %(process)d %(name)s %(levelname)s %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    return path
