"""Read-only pages: one job's result (/job/<id>) and the job history (/jobs)."""

from __future__ import annotations

import json
import time
from datetime import date

from dash import dcc, html

from . import ids
from .components.result import compare_view, result_view
from .storage import ACTIVE_STATES, STATES

#: States of a job that did not finish, which the review page offers to re-run.
RERUNNABLE = ("interrupted", "failed", "cancelled")


def job_layout(store, job_id: str) -> html.Div:
    """The review page of a job: panels, scores, profiles and downloads, or its state."""
    try:
        record = store.job(job_id)
    except KeyError:
        return not_found(f"There is no job {job_id!r}.")
    title = html.H2(f"Job {job_id}")
    owner = html.P(f"Owner: {record.get('owner') or 'not named'} · created {_created(record)}")
    if record.get("state") != "done":
        reason = record.get("reason")
        rerun = [html.Button("Re-run", id=ids.RERUN, n_clicks=0, className="primary"),
                 dcc.Store(id=ids.REVIEW_JOB, data=job_id),
                 html.Div(id=ids.RERUN_INFO, className="info")] if record.get("state") in RERUNNABLE else []
        return html.Div([title, owner, html.P(f"State: {record.get('state')}", id="job-state"),
                         html.P(reason, className="error") if reason else None, *rerun,
                         dcc.Link("All jobs", href="/jobs")], className="review")
    view = result_view(store, job_id, record)
    return html.Div([
        title,
        owner,
        html.Div(view.info, className="info"),
        html.Div(view.links, className="downloads"),
        compare_view(job_id),
        dcc.Graph(figure=view.figure, config={"displaylogo": False}),
        dcc.Graph(figure=view.fit, style=view.fit_style, config={"displaylogo": False}, id="review-fit"),
        dcc.Graph(figure=view.profiles, style=view.profiles_style, config={"displaylogo": False}),
        dcc.Graph(figure=view.scattering, style=view.scattering_style, config={"displaylogo": False},
                  id="review-scattering"),
        dcc.Graph(figure=view.cake, style=view.cake_style, config={"displaylogo": False}, id="review-cake"),
        html.Details([html.Summary("Configuration and versions"),
                      html.Pre(_describe(record))]),
        dcc.Link("All jobs", href="/jobs"),
    ], className="review")


def _created(record: dict) -> str:
    """When a job was created, local time to the minute."""
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(record.get("created", 0)))


def _describe(record: dict) -> str:
    keep = {k: record.get(k) for k in ("config", "mask_spec", "versions", "result")}
    return json.dumps(keep, indent=1, default=str)


def filter_jobs(records: list[dict], owner: str | None = None, state: str | None = None,
                since: str | None = None) -> list[dict]:
    """Jobs of an owner, in a state, created on or after a date (ISO 'YYYY-MM-DD'); None = any."""
    start = time.mktime(date.fromisoformat(since).timetuple()) if since else 0.0
    return [r for r in records
            if (not owner or r.get("owner") == owner)
            and (not state or r.get("state") == state)
            and r.get("created", 0) >= start]


def history_table(store, records: list[dict], me: str | None) -> html.Div:
    """Rows of jobs with thumbnail, state, owner, frame, score; a Delete button on ``me``'s own."""
    rows = []
    for r in records:
        try:
            frame = store.load_upload(r["upload_id"])[2]["name"]
        except KeyError:
            frame = "(upload removed)"
        result = r.get("result") or {}
        score = (result.get("scores") or {}).get("dip")
        job_id = r["job_id"]
        thumb = (html.Img(src=f"/download/{job_id}/preview.png", className="thumb", alt="healed frame")
                 if r.get("state") == "done" else None)
        mine = bool(me) and r.get("owner") == me and r.get("state") not in ACTIVE_STATES
        rows.append(html.Tr([
            html.Td(thumb),
            html.Td(_created(r)),
            html.Td(r.get("state"), className=f"state-{r.get('state')}"),
            html.Td(r.get("owner") or ""),
            html.Td(frame),
            html.Td(f"{score:.3f}" if score is not None else ""),
            html.Td(f"{result['elapsed_s']:.0f} s" if "elapsed_s" in result else ""),
            html.Td(dcc.Link(job_id, href=f"/job/{job_id}")),
            html.Td(html.Button("Delete", id={"type": ids.DELETE_JOB, "index": job_id}, n_clicks=0,
                                className="danger") if mine else None),
        ]))
    if not rows:
        return html.P("No jobs match.")
    head = html.Tr([html.Th(t) for t in ("", "created", "state", "owner", "frame", "score", "fit time",
                                         "job", "")])
    return html.Table([html.Thead(head), html.Tbody(rows)], className="jobs")


def history_layout(store) -> html.Div:
    """Every job, newest first, with filters by owner, state and date."""
    records = store.jobs_list()
    owners = sorted({r.get("owner") for r in records if r.get("owner")})
    return html.Div([
        html.H2("Jobs"),
        html.Div([
            dcc.Dropdown(id=ids.HISTORY_OWNER, options=owners, placeholder="any owner", className="filter"),
            dcc.Dropdown(id=ids.HISTORY_STATE, options=list(STATES), placeholder="any state", className="filter"),
            dcc.DatePickerSingle(id=ids.HISTORY_SINCE, placeholder="since", clearable=True,
                                 display_format="YYYY-MM-DD"),
        ], className="filters"),
        html.Div(id=ids.HISTORY_TABLE, children=history_table(store, records, None)),
    ], className="review")


def not_found(text: str) -> html.Div:
    return html.Div([html.H2("Not found"), html.P(text), dcc.Link("Back to the dashboard", href="/")],
                    className="review")
