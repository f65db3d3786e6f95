"""Read-only pages: one job's result (/job/<id>) and the job history (/jobs)."""

from __future__ import annotations

import time

from dash import dcc, html

from .callbacks.heal import result_view


def job_layout(store, job_id: str) -> html.Div:
    """The review page of a job: panels, scores, profiles and downloads, or its state."""
    try:
        record = store.job(job_id)
    except KeyError:
        return not_found(f"There is no job {job_id!r}.")
    title = html.H2(f"Job {job_id}")
    if record.get("state") != "done":
        reason = record.get("reason")
        return html.Div([title, html.P(f"State: {record.get('state')}"),
                         html.P(reason, className="error") if reason else None,
                         dcc.Link("All jobs", href="/jobs")], className="review")
    fig, _, info, links, profile_fig, profile_style = result_view(store, job_id, record)
    return html.Div([
        title,
        html.Div(info, className="info"),
        html.Div(links, className="downloads"),
        dcc.Graph(figure=fig, config={"displaylogo": False}),
        dcc.Graph(figure=profile_fig, style=profile_style, config={"displaylogo": False}),
        html.Details([html.Summary("Configuration and versions"),
                      html.Pre(_describe(record))]),
        dcc.Link("All jobs", href="/jobs"),
    ], className="review")


def _describe(record: dict) -> str:
    import json

    keep = {k: record.get(k) for k in ("config", "mask_spec", "versions", "result")}
    return json.dumps(keep, indent=1, default=str)


def history_layout(store) -> html.Div:
    """Every job, newest first, with its state, frame and score."""
    rows = []
    for r in store.jobs_list():
        try:
            frame = store.load_upload(r["upload_id"])[2]["name"]
        except KeyError:
            frame = "(upload removed)"
        result = r.get("result") or {}
        score = (result.get("scores") or {}).get("dip")
        rows.append(html.Tr([
            html.Td(time.strftime("%Y-%m-%d %H:%M", time.localtime(r.get("created", 0)))),
            html.Td(r.get("state"), className=f"state-{r.get('state')}"),
            html.Td(frame),
            html.Td(f"{score:.3f}" if score is not None else ""),
            html.Td(f"{result['elapsed_s']:.0f} s" if "elapsed_s" in result else ""),
            html.Td(dcc.Link(r["job_id"], href=f"/job/{r['job_id']}")),
        ]))
    head = html.Tr([html.Th(t) for t in ("created", "state", "frame", "score", "fit time", "job")])
    return html.Div([html.H2("Jobs"), html.Table([html.Thead(head), html.Tbody(rows)], className="jobs")
                     if rows else html.P("No jobs yet.")], className="review")


def not_found(text: str) -> html.Div:
    return html.Div([html.H2("Not found"), html.P(text), dcc.Link("Back to the dashboard", href="/")],
                    className="review")
