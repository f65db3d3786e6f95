"""The result of a finished job as the heal page and the review page show it:
figures, score line, batch and grid tables, download links."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from dash import dcc, html

from .. import ids
from ..figures import cake_figure, fit_figure, profile_figure, result_figure, scattering_figure
from ..storage import JOB_FILES

HIDDEN = {"display": "none"}
SHOWN = {"display": "block"}


def score_text(scores: dict) -> str:
    """One line comparing the fit with the classical fills (lower is better)."""
    if not scores or scores.get("dip") is None:
        return ""
    labels = {"dip": "xray-heal"}  # the stored key of the result's own score
    parts = [f"{labels.get(name, name)} {value:.3f}" for name, value in scores.items() if name != "poisson_floor"]
    floor = scores.get("poisson_floor")
    return ("Score, RMSE of log10(1 + I) on held-out pixels: " + " · ".join(parts)
            + (f" (Poisson floor {floor:.3f})" if floor is not None else ""))


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


def compare_view(job_id: str | None = None) -> html.Div:
    """The before/after view of a job at full resolution (filled by the compare callbacks)."""
    return html.Div([
        dcc.RadioItems(id=ids.COMPARE_TOGGLE, value="after", inline=True, className="control",
                       options=[{"label": " before: original and mask ", "value": "before"},
                                {"label": " after: healed", "value": "after"}]),
        dcc.Graph(id=ids.COMPARE_GRAPH, style=HIDDEN, config={"displaylogo": False, "scrollZoom": True}),
        dcc.Store(id=ids.COMPARE_JOB, data=job_id),
        dcc.Store(id=ids.COMPARE_WINDOW),
    ], className="compare")


class ResultView(NamedTuple):
    """What the heal page and the review page show of a finished job (figures with their styles)."""

    figure: object
    style: dict
    info: list
    links: list
    profiles: object
    profiles_style: dict
    scattering: object = None
    scattering_style: dict = HIDDEN
    cake: object = None
    cake_style: dict = HIDDEN
    fit: object = None
    fit_style: dict = HIDDEN
    job: str | None = None

    @classmethod
    def nothing(cls, info, links=()) -> "ResultView":
        """No figures: only ``info`` (e.g. an error sentence) and ``links``."""
        return cls({}, HIDDEN, info, list(links), {}, HIDDEN, {}, HIDDEN, {}, HIDDEN, {}, HIDDEN, None)


def scattering_views(store, job_id: str) -> tuple:
    """(I(q) and I(chi) figure, its style, cake figure, its style) of a job with a geometry."""
    import json

    try:
        integrated = json.loads(store.job_file(job_id, "integrated.json").read_text())
        with np.load(store.job_file(job_id, "cake.npz")) as cake:
            cake_fig = cake_figure({k: cake[k] for k in cake.files})
    except KeyError:
        return {}, HIDDEN, {}, HIDDEN
    return scattering_figure(integrated), SHOWN, cake_fig, SHOWN


def job_pictures(store, job_id: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(original, mask, healed) of a job, from its bundle (KeyError when gone)."""
    import tifffile

    record = store.job(job_id)
    original, _, _ = store.load_upload(record["upload_id"])
    healed = tifffile.imread(store.job_file(job_id, "healed.tif"))
    return np.asarray(original), store.job_mask(job_id), healed


def result_view(store, job_id: str, record: dict) -> ResultView:
    """Every view of a finished job (:class:`ResultView`)."""
    import json

    import tifffile

    image, mask, healed = job_pictures(store, job_id)
    uncertainty = tifffile.imread(store.job_file(job_id, "uncertainty.tif"))
    fig = result_figure(image, mask, healed, uncertainty)
    r = record["result"]
    excluded = f" ({r['pixels_excluded']} more excluded: no data, left NaN)" if r.get("pixels_excluded") else ""
    message = (f"Healed {r['pixels_healed']} pixels{excluded} in {r['elapsed_s']:.1f} s "
               f"({r['iterations_run']} iterations on {r['device']}); job {job_id}")
    if r.get("blend"):
        w = r["blend"]["weights"]
        message += ("; blend of " + ", ".join(f"{k} {v:.2f}" for k, v in w.items())
                    + (f" (the fit alone scored {r['blend']['dip_score']:.3f})" if r["blend"].get("dip_score") else ""))
    if r.get("symmetry"):
        from dip_engine.symmetry import Symmetry

        message += f"; symmetry used: {Symmetry.from_dict(r['symmetry']).describe()}"
    if r.get("frames"):
        message += f"; batch of {len(r['frames'])} frames (each in the zip under frames/<k>/), shown: the last"
    info = [html.Div(message), html.Div(score_text(r["scores"]), id="score-line"),
            html.Div(calibration_text(r.get("calibration"), r.get("fill")), id="calibration-line"),
            batch_table(r.get("frames")), grid_table(r.get("grid")),
            html.Div(["Review link to share: ", dcc.Link(f"/job/{job_id}", href=f"/job/{job_id}", id="review-link")])]
    try:
        curves = json.loads(store.job_file(job_id, "profiles.json").read_text())
        profile_fig, profile_style = profile_figure(curves), SHOWN
    except KeyError:
        curves, profile_fig, profile_style = {}, {}, HIDDEN
    check = curves.get("mirror_check")
    if check:
        spread = np.median(uncertainty[uncertainty > 0]) if uncertainty.any() else 0.0  # healed pixels
        info.append(html.Div(f"Friedel check: {check['pixels']} healed pixels have a measured point mirror; "
                             f"they differ from it by {check['rms']:.3f} rms in log10(1 + I) "
                             f"(median uncertainty of healed pixels {spread:.3f})", id="mirror-check"))
    history = r.get("history")
    return ResultView(fig, SHOWN, info, downloads(store, job_id), profile_fig, profile_style,
                      *scattering_views(store, job_id),
                      fit_figure(history) if history else {}, SHOWN if history else HIDDEN, job_id)


def calibration_text(calibration: dict | None, fill: str | None) -> str:
    """How well the uncertainty map is calibrated, and what the healed pixels hold."""
    held = "healed pixels hold a Poisson draw around the expected counts" if fill == "poisson" \
        else "healed pixels hold the expected counts"
    if not calibration or calibration.get("coverage_1") is None:
        return f"Uncertainty: not calibrated (no held-out pixels); {held}."
    return (f"Uncertainty: {100 * calibration['coverage_1']:.0f} % of held-out pixels within 1σ (ideal 68 %), "
            f"{100 * calibration['coverage_2']:.0f} % within 2σ (ideal 95 %); {held}.")
