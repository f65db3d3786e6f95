"""Geometry: a PONI file or typed values -> the page's geometry, checked on the server.

The geometry store holds ``{"geometry": <pyFAI config dict>, "source": <where it came
from>}``. A bad file gets one sentence and the previous geometry stays. The
rings that the geometry predicts at the peaks of the frame's I(q) are drawn
on the frame, and its beam centre is compared with the one measured by
symmetry; when they agree only after a flip (a PONI file older than pyFAI's
detector orientation) the page says so and offers the flip.
"""

from __future__ import annotations

import binascii

import numpy as np
from dash import Input, Output, Patch, State, ctx, html, no_update

from dip_engine import azimuthal

from .. import ids
from ..figures import RINGS_TRACE, display_stride
from ..uploads import decode_upload

SHOWN = {"display": "inline-block"}
HIDDEN = {"display": "none"}


def geometry_from_upload(contents, filename, shape) -> dict:
    """The geometry store entry of an uploaded PONI file; ValueError with a sentence."""
    name = filename if isinstance(filename, str) and filename else "the file"
    if not isinstance(contents, str):
        raise ValueError(f"{name}: the upload arrived in a form the page does not send")
    try:
        data = decode_upload(contents)
    except (ValueError, binascii.Error):
        raise ValueError(f"{name}: the upload arrived damaged") from None
    try:
        return {"geometry": azimuthal.load_geometry(data, tuple(shape)), "source": name}
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}; the previous geometry is kept") from None


def geometry_from_typed(values: list, shape) -> dict:
    """The geometry store entry of the typed values (ids.GEOMETRY_CONTROLS order)."""
    distance, energy, wavelength, pixel, row, col, detector = values
    if detector is not None and not isinstance(detector, str):
        raise ValueError("the detector choice is malformed; reload the page")
    if detector and pixel is None:
        pixel = 1.0  # the detector's own pixel size is used
    geometry = azimuthal.geometry_from_values(tuple(shape), distance, pixel, (row, col), wavelength_a=wavelength,
                                              energy_kev=energy, detector=detector or None)
    return {"geometry": geometry, "source": "typed values"}


def describe_geometry(entry: dict | None, measured: dict | None) -> tuple[list, dict, str]:
    """(lines for the page, the flip button's style, its label) of a geometry store entry."""
    if not entry:
        return [html.Div("No geometry: curves and rings are in pixels.")], HIDDEN, ""
    g = entry["geometry"]
    row, col = azimuthal.beam_center(g)
    settings = g["detector_config"]
    detector = g["detector"] if g["detector"] != "Detector" else f"generic, {settings['pixel1'] * 1e6:g} µm pixels"
    lines = [html.Div(f"Geometry ({entry['source']}): distance {g['dist'] * 1e3:.2f} mm, wavelength "
                      f"{g['wavelength'] * 1e10:.5f} Å ({azimuthal.HC_KEV_A / (g['wavelength'] * 1e10):.3f} keV), "
                      f"beam centre row {row:.1f}, column {col:.1f}; detector {detector}, orientation "
                      f"{settings.get('orientation', 3)}", id="geometry-line")]
    if not measured:
        lines.append(html.Div("Turn on the auto mask to compare the beam centre with the frame's."))
        return lines, HIDDEN, ""
    check = azimuthal.centre_check(g, tuple(measured["center"]))
    if check["sentence"] is None:
        lines.append(html.Div(f"Its beam centre agrees with the one measured on the frame "
                              f"({check['distance_px']:.1f} px).", id="geometry-check"))
        return lines, HIDDEN, ""
    lines.append(html.Div(check["sentence"] + (" Apply the flip?" if check["flip"] else ""),
                          className="warning", id="geometry-check"))
    return lines, (SHOWN if check["flip"] else HIDDEN), f"Flip the geometry {check['flip'] or ''}".strip()


def ring_traces(image: np.ndarray, geometry: dict) -> tuple[list, list, list]:
    """(x, y, hover text) of the lines of constant q (or 2θ) at the peaks of the frame's I(q)
    (detector flags masked), with None between lines, at the frame view's resolution."""
    from dip_engine.masks import flag_mask

    unit = "q_nm^-1"
    values = azimuthal.unit_map(geometry, image.shape, unit)
    bins = (float(values.min()), float(values.max()))  # azimuthal.frame_range of this map
    peaks = azimuthal.peak_positions(azimuthal.curve(image, flag_mask(image), geometry, unit, x_range=bins))
    stride = max(1, display_stride(image.shape) // 2)
    xs, ys, text = [], [], []
    for level in peaks:
        for rows, cols in azimuthal.ring_lines(values, [level], stride):
            xs += [*np.round(cols, 1).tolist(), None]
            ys += [*np.round(rows, 1).tolist(), None]
            text += [f"q = {level:.3f} nm⁻¹"] * len(rows) + [None]
    return xs, ys, text


def register(app, store) -> None:
    _register_sources(app, store)
    _register_views(app, store)


def _register_sources(app, store) -> None:
    @app.callback(
        Output(ids.GEOMETRY_STORE, "data"),
        Output(ids.GEOMETRY_MESSAGE, "children"),
        Input(ids.GEOMETRY_UPLOAD, "contents"),
        Input(ids.GEOMETRY_APPLY, "n_clicks"),
        Input(ids.GEOMETRY_FLIP, "n_clicks"),
        Input(ids.GEOMETRY_CLEAR, "n_clicks"),
        Input(ids.FRAME_STORE, "data"),
        State(ids.GEOMETRY_UPLOAD, "filename"),
        *[State(i, "value") for i in ids.GEOMETRY_CONTROLS],
        State(ids.GEOMETRY_STORE, "data"),
        State(ids.SYMMETRY_STORE, "data"),
        prevent_initial_call=True,
    )
    def on_geometry(contents, _apply, _flip, _clear, meta, filename, *rest):
        """A PONI file, typed values, the flip or clear -> the geometry (checked here)."""
        *typed, entry, measured = rest
        if not isinstance(meta, dict) or "shape" not in meta:
            return no_update, html.Span("Load a frame first.", className="error")
        try:
            shape = tuple(store.upload_meta(meta["upload_id"])["shape"])  # the server's record
            return _new_geometry(ctx.triggered_id, contents, filename, typed, entry, measured, shape)
        except KeyError:
            return no_update, html.Span("The frame is no longer on the server; load it again.", className="error")
        except ValueError as exc:
            return no_update, html.Span(str(exc), className="error")

    @app.callback(Output(ids.GEO_DETECTOR, "options"), Input(ids.FRAME_STORE, "data"))
    def on_frame(meta):
        """pyFAI's detectors of the frame's size."""
        if not isinstance(meta, dict) or not isinstance(meta.get("shape"), list):
            return []
        return azimuthal.detector_names(tuple(meta["shape"]))


def _new_geometry(trigger, contents, filename, typed, entry, measured, shape):
    """(geometry store entry, message) after ``trigger``; ValueError with a sentence."""
    if trigger == ids.GEOMETRY_UPLOAD:
        new = geometry_from_upload(contents, filename, shape)
        return new, f"Geometry read from {new['source']}."
    if trigger == ids.GEOMETRY_APPLY:
        return geometry_from_typed(typed, shape), "Geometry set from the typed values."
    if trigger == ids.GEOMETRY_CLEAR:
        return None, "Geometry cleared: curves and rings are in pixels."
    if not entry:
        return no_update, ""
    if trigger == ids.FRAME_STORE:  # a new frame: keep the geometry if it fits it
        try:
            azimuthal.load_geometry(entry.get("geometry"), shape)
            return no_update, ""
        except ValueError as exc:
            return None, html.Span(f"The geometry was dropped: {exc}.", className="warning")
    geometry = azimuthal.load_geometry(entry.get("geometry"), shape)
    if not measured:
        return no_update, "Turn on the auto mask to measure the frame's centre first."
    check = azimuthal.centre_check(geometry, tuple(measured["center"]))
    if not check["flip"]:
        return no_update, "No flip is needed."
    return ({"geometry": azimuthal.flipped(geometry, check["flip"]),
             "source": f"{entry['source']}, flipped {check['flip']}"}, f"Geometry flipped {check['flip']}.")


def _register_views(app, store) -> None:
    @app.callback(
        Output(ids.GEOMETRY_INFO, "children"),
        Output(ids.GEOMETRY_FLIP, "style"),
        Output(ids.GEOMETRY_FLIP, "children"),
        Input(ids.GEOMETRY_STORE, "data"),
        Input(ids.SYMMETRY_STORE, "data"),
        prevent_initial_call=True,
    )
    def on_geometry_shown(entry, measured):
        """The geometry in words and its centre check (with the flip it offers)."""
        try:
            return describe_geometry(entry, measured)
        except (KeyError, TypeError, ValueError):
            return "The geometry is malformed; load it again.", HIDDEN, ""

    @app.callback(
        Output(ids.GRAPH, "figure", allow_duplicate=True),
        Output(ids.RINGS_DRAWN, "data"),
        Input(ids.GEOMETRY_STORE, "data"),
        Input(ids.VIEW, "data"),
        State(ids.RINGS_DRAWN, "data"),
        prevent_initial_call=True,
    )
    def on_rings(entry, view, drawn):
        """The rings of the geometry drawn on the frame: for a new geometry or a new frame's
        figure, not again for a zoom of the same one."""
        if not view or not view.get("upload_id"):
            return no_update, no_update
        geometry = entry.get("geometry") if isinstance(entry, dict) else None
        now = {"upload_id": view["upload_id"], "geometry": geometry}
        if now == drawn:
            return no_update, no_update
        xs, ys, text = [], [], []
        if geometry:
            try:
                image, _, _ = store.load_upload(view["upload_id"])
                xs, ys, text = ring_traces(image, geometry)
            except (KeyError, ValueError):
                pass  # the geometry line says what is wrong; no rings drawn
        patch = Patch()
        patch["data"][RINGS_TRACE].update(x=xs, y=ys, text=text)
        return patch, now
