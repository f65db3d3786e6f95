"""Heal: a background callback runs the DIP fit in its own process.

The job records its own state in the store (Dash reports a killed job as a
silent cancel), reports progress (bar, text, preview) to the page, and
writes its result bundle to disk before the page shows it.
"""

from __future__ import annotations

import dataclasses
import os
import time
from typing import NamedTuple

from dash import Input, Output, State, dcc, html, no_update
from dash.exceptions import PreventUpdate

from dip_engine import HealConfig
from dip_engine.geometry import check_center

from .. import auth, ids
from ..figures import log_levels, png_bytes, preview_pixels, preview_uri, profile_figure, result_figure
from ..store import JOB_FILES
from .mask import mask_for, spec_from_page

#: Seconds between preview images sent to the page.
PREVIEW_EVERY_S = 2.0

_HIDDEN = {"display": "none"}
_SHOWN = {"display": "block"}


def progress_text(p) -> str:
    score = f" · score {p.score:.3f}" if p.score is not None else ""
    return f"Iteration {p.iteration} / {p.iterations} · loss {p.loss:.3e}{score} · {p.elapsed_s:.0f} s"


def score_text(scores: dict) -> str:
    """One line comparing the fit with the classical fills (lower is better)."""
    if not scores or scores.get("dip") is None:
        return ""
    labels = {"dip": "xray-heal"}  # the stored key of the result's own score
    parts = [f"{labels.get(name, name)} {value:.3f}" for name, value in scores.items() if name != "poisson_floor"]
    floor = scores.get("poisson_floor")
    return ("Score, RMSE of log10(1 + I) on held-out pixels: " + " · ".join(parts)
            + (f" (Poisson floor {floor:.3f})" if floor is not None else ""))


def wait_for_slot(store, job_id: str, slots: int, set_progress, poll_s: float = 1.0) -> None:
    """Block until this process holds a fit slot, telling the page its place in the queue
    and when it may start (the mean fit time of the jobs done so far, per job ahead)."""
    while not store.try_slot(job_id, slots):
        store.beat(job_id)
        ahead, eta = store.queue_status(job_id)
        when = f"; estimated start in about {max(1, round(eta * (ahead + 1) / 60))} min" if eta else ""
        set_progress(("0", "100", f"Queued: position {ahead + 1}, {ahead} job(s) ahead, "
                                  f"waiting for a free GPU slot{when}", None, job_id))
        time.sleep(poll_s)


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether an exception from a fit means the device (or host) ran out of memory."""
    return isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError" \
        or "out of memory" in str(exc).lower()


def smaller(config: HealConfig, device: str) -> tuple[HealConfig, str]:
    """The config of the one retry after running out of memory, and what it changes:
    the CPU after a GPU, else half the working resolution."""
    if device.startswith("cuda"):
        return dataclasses.replace(config, device="cpu"), "out of GPU memory: retried on the CPU"
    side = max(64, config.max_side // 2)
    return dataclasses.replace(config, max_side=side), f"out of memory: retried at {side} px"


def run_heal_job(store, set_progress, meta, spec, preset, iterations, seed, slots: int = 1, owner: str = "",
                 all_frames: bool = False, grid: bool = False, frame_set: list[dict] | None = None,
                 center=None):
    """Create a job from the page's frame and mask, run it; return (job_id or None, message).

    With ``all_frames``, one batch job heals every frame of a multi-frame
    file, or the shown frame and every upload of ``frame_set`` (the page's
    set of extra files, metadata of uploads of the same shape). ``center``:
    the user's beam centre (row, col), else found by symmetry.
    With ``grid``, the seed's 40-point grid (:data:`dip_engine.grid.SEED_GRID`)
    runs on the preset, ranked by score, and the best run is the result.

    ``set_progress`` receives (bar value, bar max, text, preview data URI, job id).
    Never raises for a bad frame or config: the message says what went wrong
    and the job (if it was created) is marked failed with that reason.
    At most ``slots`` fits run at once per machine on this data folder.
    """
    try:
        meta = store.upload_meta(meta["upload_id"])  # the server's record, not what the page sent
        config = HealConfig.from_preset(preset or "fast", iterations=iterations, seed=seed,
                                        center=check_center(center, meta["shape"]))
        _, mask, _ = mask_for(store, meta, spec)
        items = batch_items(store, meta, frame_set) if all_frames else None
    except (KeyError, TypeError, ValueError) as exc:
        return None, f"Cannot heal: {str(exc).strip(chr(39))}"
    try:
        job_id = store.create_job(meta["upload_id"], mask, config.to_dict(), spec.to_dict(), owner=owner,
                                  items=items, grid=grid)
    except OSError:
        return None, "Cannot heal: the server cannot store jobs right now (its data folder is full or read-only)"
    return job_id, execute_job(store, job_id, set_progress, slots)


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


def execute_job(store, job_id: str, set_progress, slots: int = 1) -> str:
    """Run a queued job to its end (done or failed, with the reason); the message for the page.

    A batch job (its record lists ``items``, see :func:`batch_items`) heals
    each frame with the same mask and config, one after the other, in one
    fit slot; item k's results go to ``frames/<k>/`` of the bundle.
    """
    store.beat(job_id, pid=os.getpid())
    record = store.job(job_id)
    mask = store.job_mask(job_id)
    config = HealConfig.from_dict(record["config"])
    items = record.get("items") or [{"upload_id": record["upload_id"], "frame": None, "label": None}]
    set_progress(("0", "100", "Starting…", None, job_id))
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
            fitted = _fit(store, job_id, image, mask, config, set_progress, label, grid=record.get("grid", False))
            if item["label"]:
                store.save_frame_result(job_id, n, fitted.result, fitted.scores)
                done.append({"frame": item["label"], "score": fitted.result.score,
                             "elapsed_s": round(fitted.result.elapsed_s, 2)})
            notes += [fitted.note] if fitted.note else []
    except ValueError as exc:
        store.update_job(job_id, state="failed", reason=str(exc), finished=time.time())
        return f"Cannot heal: {exc}"
    except Exception as exc:  # a crash of the fit must still reach the user
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
                      frames=done or None, grid=fitted.grid)
    return (f"Healed; job {job_id}" + (f", {len(done)} frames" if done else "")
            + (f" ({note})" if note else ""))


class Fitted(NamedTuple):
    """What :func:`_fit` made of one frame."""

    result: object  # dip_engine.fit.HealResult
    scores: dict
    profiles: dict | None
    note: str | None  # what an out-of-memory retry changed
    grid: list[dict] | None  # the ranked grid runs, for a grid job


def _fit(store, job_id, image, mask, config, set_progress, label="", grid=False) -> Fitted:
    """Heal one frame (or run the seed's grid on it and keep the best), with one retry
    on less memory."""
    from dip_engine.evaluate import classical_scores, mirror_check, profiles
    from dip_engine.fit import heal, resolve_device  # torch is imported in the job process only
    from dip_engine.grid import grid_search

    levels = log_levels(image, ~mask)
    last = {"preview": 0.0, "beat": 0.0, "label": label}

    def on_progress(p):
        preview = None
        now = time.monotonic()
        if now - last["preview"] >= PREVIEW_EVERY_S or p.iteration == p.iterations:
            last["preview"] = now
            preview = preview_uri(p.preview(), levels)
        if now - last["beat"] >= 5.0:
            last["beat"] = now
            store.beat(job_id)
        set_progress((str(p.iteration), str(p.iterations), last["label"] + progress_text(p), preview, job_id))

    def on_run(i, total, cfg, result):
        last["label"] = (f"{label}Grid run {min(i + 1, total)} of {total} (last: lr {cfg.lr:g}, param_noise "
                         f"{cfg.param_noise}, reg_noise {cfg.reg_noise_std:g}: score {result.score:.3f}) · ")

    def run(cfg):
        if not grid:
            return heal(image, mask, cfg, progress=on_progress), None
        ranked, best = grid_search(image, mask, cfg, on_run=on_run, progress=on_progress)
        return best, [{"lr": r.config.lr, "param_noise": r.config.param_noise,
                       "reg_noise_std": r.config.reg_noise_std, "score": r.score,
                       "elapsed_s": round(r.elapsed_s, 2)} for r in ranked]

    retried = None
    try:
        result, ranked = run(config)
    except Exception as exc:
        if not is_out_of_memory(exc):
            raise
        config, retried = smaller(config, str(resolve_device(config.device)))
        set_progress(("0", "100", f"{label}{retried.capitalize()}…", None, job_id))
        result, ranked = run(config)
    scores = classical_scores(image, result.missing, result.hidden, result.center,
                              known=(result.blend or {}).get("fill_scores"))
    curves = None
    if result.center:
        curves = profiles(image, result.healed, result.missing, result.center, result.fills)
        curves["mirror_check"] = mirror_check(image, result.healed, result.missing, result.center)
    return Fitted(result, scores, curves, retried, ranked)


def downloads(store, job_id: str) -> list:
    """Links to the files the job's bundle holds, and to all of them as a zip."""
    links = [html.A("everything (zip)", href=f"/download/{job_id}/bundle.zip", download=f"{job_id}.zip",
                    id="download-bundle-zip")]
    for name, (_, label) in JOB_FILES.items():
        if label is None:  # the preview is shown on the pages, not offered as a file
            continue
        try:
            store.job_file(job_id, name)
        except KeyError:
            continue
        links.append(html.A(label, href=f"/download/{job_id}/{name}", download=name,
                            id=f"download-{name.replace('.', '-')}"))
    return links


def job_owner(login: bool, typed) -> str:
    """Who a new job belongs to: with login, the authenticated user, taken on the server
    (whatever the page sends); without, the name typed in the header."""
    if login:
        return auth.callback_user() or ""
    return typed.strip()[:40] if isinstance(typed, str) else ""


def register(app, store, manager, slots: int = 1, login: bool = False) -> None:
    @app.callback(
        Output(ids.RESULT_GRAPH, "figure"),
        Output(ids.RESULT_GRAPH, "style"),
        Output(ids.RESULT_INFO, "children"),
        Output(ids.DOWNLOADS, "children"),
        Output(ids.PROFILE_GRAPH, "figure"),
        Output(ids.PROFILE_GRAPH, "style"),
        Input(ids.HEAL, "n_clicks"),
        State(ids.FRAME_STORE, "data"),
        State(ids.GRAPH, "figure"),
        State(ids.PRESET, "value"),
        State(ids.ITERATIONS, "value"),
        State(ids.SEED, "value"),
        State(ids.OWNER, "value"),
        State(ids.SESSION, "data"),
        State(ids.ALL_FRAMES, "value"),
        State(ids.GRID, "value"),
        State(ids.SET_STORE, "data"),
        State(ids.CENTER_ROW, "value"),
        State(ids.CENTER_COL, "value"),
        *[State(i, "value") for i in ids.MASK_CONTROLS],
        background=True,
        manager=manager,
        running=[
            (Output(ids.HEAL, "disabled"), True, False),
            (Output(ids.CANCEL, "disabled"), False, True),
        ],
        cancel=[Input(ids.CANCEL, "n_clicks")],
        progress=[
            Output(ids.PROGRESS_BAR, "value"),
            Output(ids.PROGRESS_BAR, "max"),
            Output(ids.PROGRESS_TEXT, "children"),
            Output(ids.PREVIEW, "src"),
            Output(ids.CURRENT_JOB, "data"),
        ],
        progress_default=["0", "100", "", None, None],
        interval=500,
        prevent_initial_call=True,
    )
    def on_heal(set_progress, n_clicks, meta, figure, preset, iterations, seed, owner, _session, all_frames,
                grid, frame_set, row, col, *mask_values):
        if not meta:
            return {}, _HIDDEN, "Load a frame first.", [], {}, _HIDDEN
        spec = spec_from_page(figure, mask_values)
        job_id, message = run_heal_job(store, set_progress, meta, spec, preset, iterations, seed, slots,
                                       owner=job_owner(login, owner), all_frames=bool(all_frames),
                                       grid=bool(grid), frame_set=frame_set,
                                       center=(row, col) if row is not None and col is not None else None)
        record = store.job(job_id) if job_id else {}
        if record.get("state") != "done":
            return {}, _HIDDEN, html.Span(message, className="error"), [], {}, _HIDDEN
        try:
            return result_view(store, job_id, record)
        except Exception as exc:  # the result is on disk: never hide it behind a failed view
            text = f"Healed (job {job_id}), but its view could not be drawn ({type(exc).__name__}: {exc}). "
            return {}, _HIDDEN, [html.Span(text, className="error"),
                                 dcc.Link("Review page", href=f"/job/{job_id}", id="review-link")], \
                downloads(store, job_id), {}, _HIDDEN

    @app.callback(
        Output(ids.RESULT_INFO, "children", allow_duplicate=True),
        Input(ids.CANCEL, "n_clicks"),
        State(ids.CURRENT_JOB, "data"),
        prevent_initial_call=True,
    )
    def on_cancel(n_clicks, job_id):
        """Mark the job cancelled. The message goes to the result line: Dash resets the
        progress outputs of a cancelled job to their defaults, which would erase it there."""
        if job_id:
            try:
                store.cancel_job(job_id)
            except KeyError:
                pass
        return html.Span("Cancelled: the fit was stopped" + (f"; job {job_id} is recorded as cancelled."
                                                             if job_id else "."), className="error")

    # Dash resets the progress outputs (the job id among them) when a job's process
    # ends without a result; keep the id where the reset does not reach
    app.clientside_callback("function(job) { return job || window.dash_clientside.no_update; }",
                            Output(ids.LAST_JOB, "data"), Input(ids.CURRENT_JOB, "data"),
                            prevent_initial_call=True)

    @app.callback(
        Output(ids.RESULT_INFO, "children", allow_duplicate=True),
        Output(ids.LAST_JOB, "data", allow_duplicate=True),
        Input(ids.HEAL, "disabled"),
        State(ids.LAST_JOB, "data"),
        prevent_initial_call=True,
    )
    def on_heal_ended(disabled, job_id):
        """Say so when the job's process died (killed, out of memory): to Dash that looks
        like a cancel, with no output and no error, so the page would just go quiet."""
        if disabled or not job_id:
            raise PreventUpdate
        try:
            record = store.job(job_id)
        except KeyError:
            return no_update, None
        if record["state"] != "interrupted":  # the heal or cancel callback has said how it ended
            return no_update, None
        return [html.Span(f"The job ended without a result: {record['reason']}. Job {job_id} is "
                          "recorded as interrupted; its review page can run it again. ", className="error"),
                dcc.Link("Review page", href=f"/job/{job_id}", id="interrupted-link")], None

    @app.callback(
        Output(ids.RERUN_INFO, "children"),
        Input(ids.RERUN, "n_clicks"),
        State(ids.REVIEW_JOB, "data"),
        State(ids.OWNER, "value"),
        State(ids.SESSION, "data"),
        background=True,
        manager=manager,
        running=[(Output(ids.RERUN, "disabled"), True, True)],
        prevent_initial_call=True,
    )
    def on_rerun(n_clicks, job_id, owner, _session):
        """Run a job that did not finish again, with its frame, mask and config; the job
        runs on even if the page is closed."""
        try:
            new_id = store.clone_job(job_id, owner=job_owner(login, owner))
        except KeyError:
            return "No such job to run again."
        message = execute_job(store, new_id, lambda _: None, slots)
        return [html.Span(message), " ", dcc.Link(f"/job/{new_id}", href=f"/job/{new_id}", id="rerun-link")]


def grid_table(runs: list[dict] | None, shown: int = 10):
    """The best ``shown`` runs of a grid job, ranked by score (None for a plain job)."""
    if not runs:
        return None
    head = html.Tr([html.Th(t) for t in ("rank", "lr", "param_noise", "reg_noise_std", "score", "fit time")])
    rows = [html.Tr([html.Td(k), html.Td(f"{r['lr']:g}"), html.Td(str(r["param_noise"])),
                     html.Td(f"{r['reg_noise_std']:g}"), html.Td(f"{r['score']:.4f}"),
                     html.Td(f"{r['elapsed_s']:.1f} s")]) for k, r in enumerate(runs[:shown], start=1)]
    return html.Details([html.Summary(f"Grid: {len(runs)} runs ranked by score; the best (rank 1) is shown"),
                         html.Table([html.Thead(head), html.Tbody(rows)], className="jobs")],
                        open=True, id="grid-table")


def batch_table(frames: list[dict] | None):
    """Per-frame score and fit time of a batch job (None for a single frame)."""
    if not frames:
        return None
    head = html.Tr([html.Th("frame"), html.Th("score"), html.Th("fit time")])
    rows = [html.Tr([html.Td(f"{k}: {f['frame']}"), html.Td(f"{f['score']:.3f}" if f.get("score") is not None else ""),
                     html.Td(f"{f['elapsed_s']:.1f} s")]) for k, f in enumerate(frames)]
    return html.Table([html.Thead(head), html.Tbody(rows)], className="jobs batch", id="batch-table")


def result_view(store, job_id: str, record: dict):
    """(result figure, its style, info, downloads, profile figure, its style) of a finished job."""
    import json

    import numpy as np
    import tifffile

    image, _, _ = store.load_upload(record["upload_id"])
    healed = tifffile.imread(store.job_file(job_id, "healed.tif"))
    uncertainty = tifffile.imread(store.job_file(job_id, "uncertainty.tif"))
    mask = store.job_mask(job_id)
    fig = result_figure(image, mask, healed, uncertainty)
    r = record["result"]
    message = (f"Healed {r['pixels_healed']} pixels in {r['elapsed_s']:.1f} s "
               f"({r['iterations_run']} iterations on {r['device']}); job {job_id}")
    if r.get("blend"):
        w = r["blend"]["weights"]
        message += ("; blend of " + ", ".join(f"{k} {v:.2f}" for k, v in w.items())
                    + (f" (the fit alone scored {r['blend']['dip_score']:.3f})" if r["blend"].get("dip_score") else ""))
    if r.get("frames"):
        message += f"; batch of {len(r['frames'])} frames (each in the zip under frames/<k>/), shown: the last"
    info = [html.Div(message), html.Div(score_text(r["scores"]), id="score-line"),
            batch_table(r.get("frames")), grid_table(r.get("grid")),
            html.Div(["Review link to share: ", dcc.Link(f"/job/{job_id}", href=f"/job/{job_id}", id="review-link")])]
    try:
        curves = json.loads(store.job_file(job_id, "profiles.json").read_text())
        profile_fig, profile_style = profile_figure(curves), _SHOWN
    except KeyError:
        curves, profile_fig, profile_style = {}, {}, _HIDDEN
    check = curves.get("mirror_check")
    if check:
        spread = np.median(uncertainty[mask]) if uncertainty.any() else 0.0
        info.append(html.Div(f"Friedel check: {check['pixels']} healed pixels have a measured point mirror; "
                             f"they differ from it by {check['rms']:.3f} rms in log10(1 + I) "
                             f"(median uncertainty of healed pixels {spread:.3f})", id="mirror-check"))
    return fig, _SHOWN, info, downloads(store, job_id), profile_fig, profile_style
