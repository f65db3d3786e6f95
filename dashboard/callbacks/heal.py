"""Heal: a background callback runs the DIP fit in its own process.

The job records its own state in the store (Dash reports a killed job as a
silent cancel), reports progress (bar, text, preview) to the page, and
writes its result bundle to disk before the page shows it.
"""

from __future__ import annotations


from dash import Input, Output, State, dcc, html, no_update
from dash.exceptions import PreventUpdate

from .. import auth, ids
from ..jobs import execute_job, progress, run_heal_job
from ..components.result import ResultView, downloads, result_view
from .mask import spec_from_state
from .symmetry import symmetry_from_controls



def job_owner(login: bool, typed) -> str:
    """Who a new job belongs to: with login, the authenticated user, taken on the server
    (whatever the page sends); without, the name typed in the header."""
    if login:
        return auth.callback_user() or ""
    return typed.strip()[:40] if isinstance(typed, str) else ""


def heal_request(state, row, col, override, ticked, angle, measured):
    """(mask spec, beam centre or None, the user's symmetry or None) of the page's heal
    request; ValueError with a sentence when a setting is malformed."""
    center = (row, col) if row is not None and col is not None else None
    return spec_from_state(state), center, symmetry_from_controls(override, ticked, angle, measured, center)


def scattering_request(entry, unit, chi_low, chi_high) -> dict:
    """The geometry, unit and I(chi) ring of the page's heal request (checked again with
    the frame by the job); ValueError with a sentence when malformed."""
    if entry is not None and not (isinstance(entry, dict) and isinstance(entry.get("geometry"), dict)):
        raise ValueError("the geometry is malformed; load it again")
    if (chi_low is None) != (chi_high is None):
        raise ValueError("give both ends of the I(χ) ring, or neither")
    return {"geometry": entry["geometry"] if entry else None, "unit": unit,
            "chi_range": None if chi_low is None else [chi_low, chi_high]}


def _job_settings(settings) -> tuple[int, int | None, bool]:
    """(fit slots per machine, CPU threads of a fit, whether login is on) of the settings."""
    return settings.gpu_slots, settings.threads, settings.users_file is not None


def register(app, store, manager, settings) -> None:
    _register_heal(app, store, manager, settings)
    _register_endings(app, store)
    _register_rerun(app, store, manager, settings)


def _register_heal(app, store, manager, settings) -> None:
    """Heal: a background job from the page's frame, mask state and settings."""
    slots, threads, login = _job_settings(settings)

    @app.callback(
        Output(ids.RESULT_GRAPH, "figure"),
        Output(ids.RESULT_GRAPH, "style"),
        Output(ids.RESULT_INFO, "children"),
        Output(ids.DOWNLOADS, "children"),
        Output(ids.PROFILE_GRAPH, "figure"),
        Output(ids.PROFILE_GRAPH, "style"),
        Output(ids.SCATTERING_GRAPH, "figure"),
        Output(ids.SCATTERING_GRAPH, "style"),
        Output(ids.CAKE_GRAPH, "figure"),
        Output(ids.CAKE_GRAPH, "style"),
        Output(ids.FIT_GRAPH, "figure"),
        Output(ids.FIT_GRAPH, "style"),
        Output(ids.COMPARE_JOB, "data"),
        Input(ids.HEAL, "n_clicks"),
        State(ids.FRAME_STORE, "data"),
        State(ids.MASK_STATE, "data"),
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
        State(ids.SYMMETRY_OVERRIDE, "value"),
        State(ids.SYMMETRY_OPS, "value"),
        State(ids.SYMMETRY_ANGLE, "value"),
        State(ids.SYMMETRY_STORE, "data"),
        State(ids.GEOMETRY_STORE, "data"),
        State(ids.UNIT, "value"),
        State(ids.CHI_LOW, "value"),
        State(ids.CHI_HIGH, "value"),
        State(ids.FILL, "value"),
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
            Output(ids.FIT_LIVE, "figure"),
        ],
        progress_default=list(progress("0", "100", "")),
        interval=500,
        prevent_initial_call=True,
    )
    def on_heal(set_progress, n_clicks, meta, state, preset, iterations, seed, owner, _session, all_frames,
                grid, frame_set, row, col, override, ticked, angle, measured, geometry, unit, chi_low, chi_high,
                fill):
        if not meta or not state:
            return ResultView.nothing("Load a frame first.")
        try:
            spec, center, symmetry = heal_request(state, row, col, override, ticked, angle, measured)
            scattering = scattering_request(geometry, unit, chi_low, chi_high)
        except ValueError as exc:
            return ResultView.nothing(html.Span(f"Cannot heal: {exc}", className="error"))
        job_id, message = run_heal_job(store, set_progress, {"upload_id": state.get("upload_id")}, spec, preset,
                                       iterations, seed, slots,
                                       owner=job_owner(login, owner), all_frames=bool(all_frames),
                                       grid=bool(grid), frame_set=frame_set, center=center, symmetry=symmetry,
                                       threads=threads, fill="poisson" if fill else None, **scattering)
        record = store.job(job_id) if job_id else {}
        if record.get("state") != "done":
            return ResultView.nothing(html.Span(message, className="error"))
        try:
            return result_view(store, job_id, record)
        except Exception as exc:  # the result is on disk: never hide it behind a failed view
            text = f"Healed (job {job_id}), but its view could not be drawn ({type(exc).__name__}: {exc}). "
            return ResultView.nothing([html.Span(text, className="error"),
                                       dcc.Link("Review page", href=f"/job/{job_id}", id="review-link")],
                                      downloads(store, job_id))


def _register_endings(app, store) -> None:
    """Cancel, and a job whose process died: each gets its sentence on the page."""
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


def _register_rerun(app, store, manager, settings) -> None:
    """Re-run, from a review page, a job that did not finish."""
    slots, threads, login = _job_settings(settings)

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
        message = execute_job(store, new_id, lambda _: None, slots, threads)
        return [html.Span(message), " ", dcc.Link(f"/job/{new_id}", href=f"/job/{new_id}", id="rerun-link")]


