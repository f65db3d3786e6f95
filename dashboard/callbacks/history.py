"""The job history page: filters, and deleting one's own jobs."""

from __future__ import annotations

from dash import ALL, Input, Output, ctx, html, no_update

from .. import auth, ids
from ..review import filter_jobs, history_table


def register(app, store) -> None:
    @app.callback(
        Output(ids.HISTORY_TABLE, "children"),
        Input(ids.HISTORY_OWNER, "value"),
        Input(ids.HISTORY_STATE, "value"),
        Input(ids.HISTORY_SINCE, "date"),
        Input({"type": ids.DELETE_JOB, "index": ALL}, "n_clicks"),
        Input(ids.OWNER, "value"),
    )
    def on_history(owner, state, since, _deletes, typed):
        """Re-list the jobs under the filters, after deleting one when its button was pressed.

        A job may be deleted by its owner only: the logged-in user when login
        is on, else the name typed in the header.
        """
        me = auth.current_user() or (typed or "").strip() or None
        note = None
        trigger = ctx.triggered_id
        if isinstance(trigger, dict) and trigger.get("type") == ids.DELETE_JOB:
            if not any(t["value"] for t in ctx.triggered):
                return no_update  # a re-render, not a click
            try:
                store.delete_job(trigger["index"], me or "")
                note = html.P(f"Deleted job {trigger['index']}.", className="info")
            except (KeyError, PermissionError, ValueError) as exc:
                note = html.P(str(exc).strip("'"), className="error")
        records = filter_jobs(store.jobs_list(), owner, state, since)
        return [note, history_table(store, records, me)]
