"""Result bundles: what a finished job leaves in ``jobs/<job_id>/`` and what readers download."""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path

import numpy as np

from dip_engine import write_frame

from .common import _write_json, check_id

#: Files of a job bundle that may be downloaded: name -> (MIME type, link label on
#: the result and review pages, or None for a file that is not offered as a link).
JOB_FILES = {
    "healed.tif": ("image/tiff", "healed frame (TIFF, input units)"),
    "healed.edf": ("application/octet-stream", "healed frame (EDF, input header)"),
    "healed.cbf": ("application/octet-stream", "healed frame (CBF, input header)"),
    "healed.npy": ("application/octet-stream", "healed frame (NPY)"),
    "mask.npy": ("application/octet-stream", "mask (NPY, True = healed)"),
    "mask.tif": ("image/tiff", "mask (TIFF, 1 = healed, 2 = excluded)"),
    "mask.edf": ("application/octet-stream", "mask (EDF, 1 = healed, 2 = excluded)"),
    "uncertainty.tif": ("image/tiff", "uncertainty, σ of log10(1 + I) (TIFF)"),
    "uncertainty_counts.tif": ("image/tiff", "uncertainty, σ in counts (TIFF)"),
    "profiles.json": ("application/json", "profiles (JSON)"),
    "geometry.poni": ("text/plain", "geometry (PONI, pyFAI and Dioptas)"),
    "iq_original.dat": ("text/plain", "I(q) of the original (pyFAI .dat)"),
    "iq_healed.dat": ("text/plain", "I(q) of the healed frame (pyFAI .dat)"),
    "chi_original.dat": ("text/plain", "I(χ) of the original (.dat)"),
    "chi_healed.dat": ("text/plain", "I(χ) of the healed frame (.dat)"),
    "integrated.json": ("application/json", None),
    "cake.npz": ("application/octet-stream", "cakes, original and healed (NPZ)"),
    "job.json": ("application/json", "job record (JSON)"),
    "preview.png": ("image/png", None),
}

class Bundles:
    """The result bundles of a data folder (a part of :class:`dashboard.storage.Store`)."""

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
                    grid: list[dict] | None = None, integrated: dict | None = None) -> dict:
        """Write a :class:`dip_engine.fit.HealResult` into the job's bundle.

        ``scores``: classical fills' scores on the same held-out pixels;
        ``profiles``: :func:`dip_engine.evaluate.profiles` of the result;
        ``preview``: PNG bytes of a thumbnail; ``note``: what the job had to
        change to finish (e.g. an out-of-memory retry); ``integrated``:
        :func:`dip_engine.pipeline.integrate` of the result (with a geometry).
        """
        from dip_engine.io import write_mask

        folder = self.jobs / check_id(job_id)
        if profiles is not None:
            _write_json(folder / "profiles.json", profiles)
        if integrated is not None:
            _write_integrated(folder, integrated)
        if preview is not None:
            (folder / "preview.png").write_bytes(preview)
        labels = self.job_mask(job_id).astype(np.uint8)  # 1 = healed, 2 = excluded (no data)
        excluded = self.job_excluded(job_id)
        if excluded is not None:
            labels[excluded] = 2
        for suffix in (".tif", ".edf"):  # the job's mask.npy in the other mask formats
            write_mask(folder / f"mask{suffix}", labels)
        config = result.config.to_json()
        _write_fit(folder, result, {"config": json.loads(config)})
        excluded_count = int(result.excluded.sum()) if result.excluded is not None else 0
        record = self.job(job_id)
        source = next((self.uploads / record["upload_id"]).glob("original.*"), None)
        if source is not None and source.suffix in (".edf", ".cbf", ".npy"):
            header_path = self.uploads / record["upload_id"] / "header.json"
            header = json.loads(header_path.read_text()) if header_path.is_file() else None
            write_frame(folder / f"healed{source.suffix}", result.healed, description=config, header=header)
        return self.update_job(job_id, state="done", finished=time.time(),
                               result=_result_record(result, scores, note, frames, grid, excluded_count),
                               versions=software_versions())


def _result_record(result, scores, note, frames, grid, excluded_count: int) -> dict:
    """The ``result`` of a finished job's record: what the pages show without reading files."""
    return {
        "iterations_run": result.iterations_run,
        "elapsed_s": round(result.elapsed_s, 2),
        "device": result.device,
        "working_shape": list(result.working_shape),
        "final_loss": result.loss_history[-1] if result.loss_history else None,
        "pixels_healed": int(result.missing.sum()) - excluded_count,
        "pixels_excluded": excluded_count,
        "stopped": result.stopped,
        "early_stopped": result.early_stopped,
        "best_iteration": result.best_iteration,
        "center": list(result.center) if result.center else None,
        "symmetry": result.symmetry.to_dict() if result.symmetry else None,
        "dtype": str(result.healed.dtype),
        "history": fit_history(result),
        "calibration": result.calibration,
        "fill": result.config.fill,
        "scores": {"dip": result.score, **(scores or {})},
        **({"blend": result.blend} if result.blend else {}),
        **({"note": note} if note else {}),
        **({"frames": frames} if frames else {}),
        **({"grid": grid} if grid else {}),
    }


#: Most points of a loss curve kept for a plot.
HISTORY_POINTS = 400


def fit_history(result) -> dict:
    """The loss per step (at most :data:`HISTORY_POINTS`, evenly picked) and the hold-out
    scores of a :class:`~dip_engine.fit.HealResult`, with its chosen iteration."""
    loss = list(result.loss_history)
    step = max(1, len(loss) // HISTORY_POINTS)
    picked = list(range(0, len(loss), step))
    return {"iteration": [k + 1 for k in picked], "loss": [float(loss[k]) for k in picked],
            "score_iteration": [int(i) for i, _ in result.score_history],
            "score": [float(v) for _, v in result.score_history], "best_iteration": int(result.best_iteration)}


def _write_fit(folder: Path, result, about: dict) -> None:
    """A fit's healed.tif (``about`` in its description) and uncertainty.tif in ``folder``."""
    write_frame(folder / "healed.tif", result.healed, description=json.dumps({"healed_by": "xray-heal", **about}))
    write_frame(folder / "uncertainty.tif", result.uncertainty,
                description="predictive standard deviation of log10(1 + I) of each healed value, calibrated on "
                            "held-out pixels; 0 = valid or excluded pixel")
    counts = np.where(result.uncertainty > 0, np.log(10) * (1 + np.nan_to_num(np.clip(result.healed, 0, None)))
                      * result.uncertainty, 0).astype(np.float32)
    write_frame(folder / "uncertainty_counts.tif", counts,
                description="predictive standard deviation of each healed value in counts (from the log10 one); "
                            "0 = valid or excluded pixel")


def _write_integrated(folder: Path, integrated: dict) -> None:
    """The geometry as a PONI file, the I(q) and I(chi) curves as pyFAI-style ``.dat`` files
    (and all of them in ``integrated.json`` for the pages), and the cakes as NPZ."""
    from dip_engine import azimuthal
    from dip_engine.pipeline import iq_report

    geometry = integrated["geometry"]
    (folder / "geometry.poni").write_text(azimuthal.poni_text(geometry))
    for curve in ("iq", "chi"):
        for which in ("original", "healed"):
            about = (f"{curve} of the {which} frame" + (" (its missing pixels masked)" if which == "original"
                                                       else " (every pixel)") + " by xray-heal")
            share = {"healed_share": integrated[curve]["healed_share"]["I"]} if which == "healed" else None
            azimuthal.write_dat(folder / f"{curve}_{which}.dat", integrated[curve][which], geometry, about, share)
    _write_json(folder / "integrated.json", {"geometry": geometry, **iq_report(integrated)})
    cake = integrated["cake"]
    np.savez_compressed(folder / "cake.npz", unit=cake["unit"], x=cake["x"], chi=cake["chi"],
                        original=cake["original"], healed=cake["healed"])


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
