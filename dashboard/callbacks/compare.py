"""Before/after: a finished job's original (with its mask) and healed frame in one figure,
one colour scale and one zoom, toggled; full-resolution tiles when zoomed in. The heal
page and the review page share it (their ``compare-job`` store names the job)."""

from __future__ import annotations

from dash import Input, Output, Patch, State, ctx, no_update

from .. import ids
from ..components.result import HIDDEN, SHOWN, job_pictures
from ..figures import compare_figure, compare_tiles, compare_visibility, view_window


def register(app, store) -> None:
    @app.callback(
        Output(ids.COMPARE_GRAPH, "figure"),
        Output(ids.COMPARE_GRAPH, "style"),
        Output(ids.COMPARE_WINDOW, "data"),
        Input(ids.COMPARE_JOB, "data"),
        State(ids.COMPARE_TOGGLE, "value"),
    )
    def on_job(job_id, showing):
        """The figure of a newly shown job."""
        if not job_id:
            return {}, HIDDEN, None
        try:
            original, mask, healed = job_pictures(store, job_id)
        except (KeyError, OSError):
            return {}, HIDDEN, None
        return compare_figure(original, mask, healed, revision=job_id, showing=showing), SHOWN, None

    @app.callback(
        Output(ids.COMPARE_GRAPH, "figure", allow_duplicate=True),
        Output(ids.COMPARE_WINDOW, "data", allow_duplicate=True),
        Input(ids.COMPARE_TOGGLE, "value"),
        Input(ids.COMPARE_GRAPH, "relayoutData"),
        State(ids.COMPARE_JOB, "data"),
        State(ids.COMPARE_WINDOW, "data"),
        State(ids.COMPARE_GRAPH, "figure"),
        prevent_initial_call=True,
    )
    def on_view(showing, relayout, job_id, window, figure):
        """Toggle before/after at the same zoom; full-resolution tiles of the zoomed window."""
        if not job_id or not figure or showing not in ("before", "after"):
            return no_update, no_update
        if ctx.triggered_id == ids.COMPARE_TOGGLE:
            return compare_visibility(Patch(), showing, window), no_update
        if not relayout or not any(k.startswith(("xaxis.", "yaxis.")) for k in relayout):
            return no_update, no_update
        try:
            original, mask, healed = job_pictures(store, job_id)
        except (KeyError, OSError):
            return no_update, no_update
        window = None if "xaxis.autorange" in relayout else view_window(relayout, original.shape)
        levels = (figure.get("layout") or {}).get("meta", {}).get("levels")
        if levels is None:
            return no_update, no_update
        return compare_tiles(Patch(), original, mask, healed, window, levels, showing), window
