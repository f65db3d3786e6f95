"""The mask: auto mask, drawn shapes, sliders, mask files -> engine mask -> live overlay."""

from __future__ import annotations

import binascii
import re
import tempfile
from pathlib import Path

import numpy as np
from dash import Input, Output, Patch, State, ctx, dcc, html, no_update

from dip_engine import FrameError
from dip_engine.io import write_mask
from dip_engine.masks import MAX_SHAPES, MaskSpec, summary

from .. import ids
from ..layout import DEFAULTS
from ..figures import (MASK_TRACE, display_stride, frame_figure, mask_overlay_source, tile_patch,
                       view_window)
from ..uploads import decode_upload

_NUMBER = re.compile(r"-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?")

def _path_vertices(path: str) -> tuple[list[float], list[float]]:
    """Rows and columns of the vertices of an SVG path 'M x,y L x,y ... Z'."""
    nums = [float(v) for v in _NUMBER.findall(path)]
    return nums[1::2], nums[0::2]


def spec_from_inputs(shapes, values: dict) -> MaskSpec:
    """Translate Plotly shapes (x = column, y = row) and control values to a MaskSpec.

    ``values`` maps the ids of :data:`dashboard.ids.MASK_CONTROLS` to their
    values. Whatever the request carried, the result is a MaskSpec of plain
    numbers, or ValueError with a sentence; :meth:`MaskSpec.check` then
    checks the ranges against the frame.
    """
    v = {**DEFAULTS, **{k: val for k, val in values.items() if val is not None}}
    box_threshold = values.get(ids.BOX_THRESHOLD)
    try:
        spec = MaskSpec(
            auto="auto" in _choices(v[ids.AUTO]),
            sigma=_number(v[ids.SIGMA]),
            contrast=_number(v[ids.CONTRAST]),
            box_threshold=_number(box_threshold) if box_threshold not in (None, "") else None,
            row_threshold=_number(v[ids.ROW_THRESHOLD]),
            col_threshold=_number(v[ids.COL_THRESHOLD]),
            grow=int(_number(v[ids.GROW])),
            line_width=_number(v[ids.LINE_WIDTH]),
            invert="invert" in _choices(v[ids.INVERT]),
        )
    except (TypeError, ValueError, OverflowError):
        raise ValueError("a mask setting is not a number") from None
    if not isinstance(shapes or [], list) or len(shapes or []) > MAX_SHAPES:
        raise ValueError(f"the drawn shapes must be a list of at most {MAX_SHAPES}")
    try:
        for shape in shapes or []:
            _add_shape(spec, shape)
    except (AttributeError, KeyError, TypeError, ValueError):
        raise ValueError("a drawn shape is malformed; erase it and draw it again") from None
    return spec


def _number(value) -> float:
    """A control's value as a float; TypeError for anything but an int or float."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(value)
    return float(value)


def _choices(value) -> list:
    """A checklist's values (a list of strings)."""
    if not isinstance(value, list):
        raise TypeError(value)
    return value


def _add_shape(spec: MaskSpec, shape: dict) -> None:
    """Add one Plotly shape (x = column, y = row) to the spec's boxes, ellipses, polygons or lines."""
    kind = shape.get("type")
    if kind in ("rect", "circle"):
        box = [_number(shape[k]) for k in ("y0", "y1", "x0", "x1")]
        (spec.boxes if kind == "rect" else spec.ellipses).append(box)
    elif kind == "path" and shape.get("path"):
        rows, cols = _path_vertices(str(shape["path"]))
        if len(rows) >= 3:
            spec.polygons.append([rows, cols])
    elif kind == "line":
        spec.lines.append([_number(shape[k]) for k in ("y0", "x0", "y1", "x1")])


def page_shapes(figure: dict | None, relayout: dict | None = None) -> list:
    """The shapes drawn on the page: the full list a relayout event carries
    (drawn or erased) when the event is the trigger (an older one may be
    stale after an undo), else the figure's (moved shapes update it)."""
    if relayout and "shapes" in relayout:
        return relayout["shapes"]
    return (figure or {}).get("layout", {}).get("shapes") or []


def spec_from_page(figure: dict | None, values) -> MaskSpec:
    """The spec of what the page shows: the figure's shapes and the controls' values
    (in :data:`dashboard.ids.MASK_CONTROLS` order)."""
    return spec_from_inputs(page_shapes(figure), dict(zip(ids.MASK_CONTROLS, values)))


#: Frames above this many pixels are shown before their auto mask is ready.
DEFER_AUTO_PIXELS = 4_000_000


def refusal(exc: Exception) -> html.Span:
    """An error sentence for the page."""
    return html.Span(str(exc).strip("'"), className="error")


def describe_mask(mask: np.ndarray, params: dict) -> list:
    s = summary(mask)
    lines = [html.Div(f"Masked: {100 * s['fraction']:.2f} % ({s['pixels']} pixels, {s['components']} regions)")]
    if params.get("pending"):
        lines.append(html.Div("Auto mask: finding gaps, beamstop and arm, hot pixels…"))
    elif params:
        c = params["center"]
        px = params["pixels"]
        lines.append(html.Div(
            f"Auto mask: beam centre (row {c[0]:.1f}, col {c[1]:.1f}); detector "
            f"{params['detector'] or 'not recognised'}; gaps {px['gaps']}, beamstop and arm "
            f"{px['beamstop_and_arm']}, hot/dead {px['outliers']} pixels"))
    return lines


def mask_patch(image: np.ndarray, mask: np.ndarray, figure: dict) -> Patch:
    """Redraw only the mask of the shown frame figure (and its tile when zoomed in)."""
    patch = Patch()
    patch["data"][MASK_TRACE]["source"] = mask_overlay_source(mask)
    window = view_window((figure or {}).get("layout", {}), mask.shape)
    if window is not None:
        tile_patch(patch, image, mask, window)
    return patch


def touches_shapes(relayout) -> bool:
    """Whether a relayoutData event drew, erased or moved a shape."""
    return bool(relayout) and any(k == "shapes" or k.startswith("shapes[") for k in relayout)


def mask_edit(relayout, figure, stale: bool = False) -> tuple[bool, list] | None:
    """What the trigger of a callback on the frame, the graph and the mask controls changed.

    None for a zoom, pan or autosize (the mask is unchanged); else
    (new frame, drawn shapes): a new frame (or, with ``stale``, a figure of
    another frame still on the page) has none yet, otherwise the page's
    (:func:`page_shapes`).
    """
    triggers = set(ctx.triggered_prop_ids.values())
    if triggers == {ids.GRAPH} and not touches_shapes(relayout):
        return None
    new_frame = not triggers or ids.FRAME_STORE in triggers or stale
    return new_frame, [] if new_frame else page_shapes(figure, relayout if ids.GRAPH in triggers else None)


def mask_file_bytes(mask: np.ndarray, suffix: str) -> bytes:
    """A mask file's bytes in one of the formats of :func:`dip_engine.io.write_mask`."""
    with tempfile.TemporaryDirectory() as tmp:
        path = write_mask(Path(tmp) / f"mask{suffix}", mask)
        return path.read_bytes()


def register(app, store) -> None:
    controls = [Input(i, "value") for i in ids.MASK_CONTROLS]

    @app.callback(
        Output(ids.GRAPH, "figure"),
        Output(ids.MASK_SUMMARY, "children"),
        Output(ids.AUTO_PENDING, "data"),
        Input(ids.FRAME_STORE, "data"),
        Input(ids.MASK_FILE_STORE, "data"),
        Input(ids.GRAPH, "relayoutData"),
        *controls,
        State(ids.GRAPH, "figure"),
    )
    def on_mask_change(meta, _mask_file, relayout, *rest):
        *values, figure = rest
        if not meta:
            return {}, "", no_update
        # a full figure for a new frame, or when the page still shows another
        # frame's figure (a Patch would land on the wrong figure)
        shown = (figure or {}).get("layout", {}).get("uirevision")
        edit = mask_edit(relayout, figure, stale=shown != meta["upload_id"])
        if edit is None:
            return no_update, no_update, no_update
        new_frame, shapes = edit
        # a big new frame is shown at once; its auto mask follows (on_auto_pending)
        big = new_frame and meta["shape"][0] * meta["shape"][1] > DEFER_AUTO_PIXELS
        try:
            spec = spec_from_inputs(shapes, dict(zip(ids.MASK_CONTROLS, values)))
            image, mask, params = store.upload_mask(meta["upload_id"], spec, wait_for_auto=not big)
        except ValueError as exc:
            return no_update, refusal(exc), no_update
        pending = meta["upload_id"] if params.get("pending") else no_update
        if new_frame:
            return frame_figure(image, mask, revision=meta["upload_id"]), describe_mask(mask, params), pending
        return mask_patch(image, mask, figure), describe_mask(mask, params), pending

    @app.callback(
        Output(ids.GRAPH, "figure", allow_duplicate=True),
        Output(ids.MASK_SUMMARY, "children", allow_duplicate=True),
        Input(ids.AUTO_PENDING, "data"),
        State(ids.FRAME_STORE, "data"),
        State(ids.GRAPH, "figure"),
        *[State(i, "value") for i in ids.MASK_CONTROLS],
        prevent_initial_call=True,
    )
    def on_auto_pending(upload_id, meta, figure, *values):
        """A big frame's auto mask, computed (and cached) once the frame is shown."""
        if not upload_id or not meta or meta["upload_id"] != upload_id:
            return no_update, no_update
        try:
            image, mask, params = store.upload_mask(meta["upload_id"], spec_from_page(figure, values))
        except ValueError as exc:
            return no_update, refusal(exc)
        return mask_patch(image, mask, figure), describe_mask(mask, params)

    @app.callback(
        Output(ids.GRAPH, "figure", allow_duplicate=True),
        Input(ids.GRAPH, "relayoutData"),
        State(ids.FRAME_STORE, "data"),
        State(ids.GRAPH, "figure"),
        *[State(i, "value") for i in ids.MASK_CONTROLS],
        prevent_initial_call=True,
    )
    def on_zoom(relayout, meta, figure, *values):
        """Full-resolution tiles when the view is zoomed in on a downsampled frame."""
        if not meta or not relayout or not any(k.startswith(("xaxis.", "yaxis.")) for k in relayout):
            return no_update
        if (figure or {}).get("layout", {}).get("uirevision") != meta["upload_id"]:
            return no_update
        shape = tuple(meta["shape"])
        window = None if "xaxis.autorange" in relayout else view_window(relayout, shape)
        if window is None and display_stride(shape) == 1:
            return no_update
        try:
            image, mask, _ = store.upload_mask(meta["upload_id"], spec_from_page(figure, values)) if window else (None,) * 3
        except ValueError:
            return no_update  # the mask callback says what is wrong
        return tile_patch(Patch(), image, mask, window, levels=figure["layout"]["meta"]["levels"])

    @app.callback(
        Output(ids.MASK_FILE_STORE, "data"),
        Output(ids.MESSAGE, "children", allow_duplicate=True),
        Input(ids.MASK_UPLOAD, "contents"),
        State(ids.MASK_UPLOAD, "filename"),
        State(ids.FRAME_STORE, "data"),
        prevent_initial_call=True,
    )
    def on_mask_upload(contents, filename, meta):
        if not contents or not meta:
            return no_update, no_update
        filename = filename if isinstance(filename, str) and filename else "mask"
        try:
            if not isinstance(contents, str):
                raise FrameError(f"{filename}: the upload arrived in a form the page does not send")
            mask = store.save_user_mask(meta["upload_id"], filename, decode_upload(contents))
        except (ValueError, binascii.Error) as exc:  # FrameError is a ValueError
            text = str(exc) if isinstance(exc, FrameError) else f"{filename}: the upload arrived damaged"
            return no_update, html.Span(text, className="error")
        except (KeyError, TypeError):
            return no_update, html.Span("The frame is no longer on the server; load it again.", className="error")
        return ({"upload_id": meta["upload_id"], "pixels": int(mask.sum()), "name": filename},
                f"Mask file {filename} added ({int(mask.sum())} pixels).")

    @app.callback(
        Output(ids.MASK_DOWNLOAD, "data"),
        Input(ids.MASK_DOWNLOAD_BUTTON, "n_clicks"),
        State(ids.MASK_FORMAT, "value"),
        State(ids.FRAME_STORE, "data"),
        State(ids.GRAPH, "figure"),
        *[State(i, "value") for i in ids.MASK_CONTROLS],
        prevent_initial_call=True,
    )
    def on_mask_download(_n, suffix, meta, figure, *values):
        if not meta:
            return no_update
        try:
            _, mask, _ = store.upload_mask(meta["upload_id"], spec_from_page(figure, values))
        except ValueError:
            return no_update  # the mask callback says what is wrong
        stem = Path(meta["name"]).stem or "frame"
        return dcc.send_bytes(mask_file_bytes(mask, suffix), f"{stem}-mask{suffix}")
