"""The mask: auto mask, drawn shapes, sliders, mask files -> engine mask -> live overlay."""

from __future__ import annotations

import binascii
import re
import tempfile
from pathlib import Path

import numpy as np
from dash import Input, Output, Patch, State, ctx, dcc, html, no_update

from dip_engine import FrameError
from dip_engine.io import MASK_SUFFIXES, write_mask
from dip_engine.masks import MAX_SHAPES, MaskSpec, summary

from .. import ids
from ..components.layout import DEFAULTS, refusal
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
            ring_unit=str(v[ids.UNIT]),
            exclude=[str(x) for x in _choices(v[ids.EXCLUDE])],
        )
    except (TypeError, ValueError, OverflowError):
        raise ValueError("a mask setting is not a number") from None
    spec.rings = ring_ranges(v[ids.RINGS])
    if not isinstance(shapes or [], list) or len(shapes or []) > MAX_SHAPES:
        raise ValueError(f"the drawn shapes must be a list of at most {MAX_SHAPES}")
    try:
        for shape in shapes or []:
            _add_shape(spec, shape)
    except (AttributeError, KeyError, TypeError, ValueError):
        raise ValueError("a drawn shape is malformed; erase it and draw it again") from None
    return spec


_UNSIGNED = r"(\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)"
_RANGE = re.compile(rf"^\s*{_UNSIGNED}\s*(?:-|–|to|,|\s)\s*{_UNSIGNED}\s*$")


def ring_ranges(text) -> list[list[float]]:
    """The ring ranges typed as 'low-high; low-high' (empty = none); ValueError with a sentence."""
    if text in (None, ""):
        return []
    if not isinstance(text, str) or len(text) > 1000:
        raise ValueError("the ring ranges must be text like 19.9-20.3; 32.5-33")
    ranges = []
    for piece in filter(str.strip, text.split(";")):
        match = _RANGE.match(piece)
        if not match:
            raise ValueError(f"ring range {piece.strip()!r} is not 'low-high' (e.g. 19.9-20.3)")
        ranges.append([float(match[1]), float(match[2])])
    return ranges


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


_SHAPE_KEY = re.compile(r"^shapes\[(\d+)\]\.(\w+)$")


def apply_relayout(shapes: list, relayout: dict | None) -> list | None:
    """The drawn shapes after a relayoutData event: the full list it carries after a
    draw or erase, or the shapes with a moved one's new coordinates; None when the
    event (a zoom, pan or autosize) did not touch them."""
    if not relayout:
        return None
    if "shapes" in relayout:
        return list(relayout["shapes"] or [])
    moved = [(int(m[1]), m[2], v) for k, v in relayout.items() if (m := _SHAPE_KEY.match(k))]
    if not moved:
        return None
    shapes = [dict(shape) for shape in shapes]
    for index, key, value in moved:
        if 0 <= index < len(shapes):
            shapes[index][key] = value
    return shapes


def edited_state(state: dict | None, meta: dict, triggers: set, relayout, values: list, mask_file,
                 geometry: dict | None = None) -> dict | None:
    """The mask state after an edit: a fresh one for a new frame (no shapes yet), else
    ``state`` with the new shapes, control values, mask file and geometry (the
    ``geometry`` of the page's geometry store); None when nothing changed (a zoom or pan)."""
    if not triggers or ids.FRAME_STORE in triggers or not state or state.get("upload_id") != meta["upload_id"]:
        return {"upload_id": meta["upload_id"], "shapes": [], "values": list(values), "file": mask_file,
                "geometry": geometry}
    shapes = apply_relayout(state["shapes"], relayout) if ids.GRAPH in triggers else None
    if shapes is None and triggers == {ids.GRAPH}:
        return None
    return {**state, "shapes": state["shapes"] if shapes is None else shapes, "values": list(values),
            "file": mask_file, "geometry": geometry}


def spec_from_state(state: dict) -> MaskSpec:
    """The :class:`MaskSpec` of a mask state (ValueError with a sentence if malformed)."""
    if not isinstance(state, dict) or not isinstance(state.get("values"), list):
        raise ValueError("the page's mask settings are malformed; reload the page")
    spec = spec_from_inputs(state.get("shapes"), dict(zip(ids.MASK_CONTROLS, state["values"])))
    geometry = state.get("geometry")
    if geometry is not None and not isinstance(geometry, dict):
        raise ValueError("the page's geometry is malformed; reload the page")
    spec.geometry = geometry  # checked against the frame by MaskSpec.check
    return spec


#: Frames above this many pixels are shown before their auto mask is ready.
DEFER_AUTO_PIXELS = 4_000_000


def describe_mask(mask: np.ndarray, params: dict, excluded: int = 0) -> list:
    s = summary(mask)
    lines = [html.Div(f"Masked: {100 * s['fraction']:.2f} % ({s['pixels']} pixels, {s['components']} regions)")]
    if excluded:
        lines.append(html.Div(f"Excluded, not healed (no physical data): {excluded} of them", id="excluded-line"))
    if params.get("pending"):
        lines.append(html.Div("Auto mask: finding gaps, beamstop and arm, hot pixels…"))
    elif params:
        c = params["center"]
        px = params["pixels"]
        lines.append(html.Div(
            f"Auto mask: beam centre (row {c[0]:.1f}, col {c[1]:.1f}); detector "
            f"{params['detector'] or 'not recognised'}; gaps {px['gaps']}, beamstop and arm "
            f"{px['beamstop_and_arm']}, shadows {px.get('shadows', 0)}, "
            + (f"below the sample horizon {px['horizon']}, " if px.get("horizon") else "")
            + f"hot/dead {px['outliers']} pixels"))
    return lines


def mask_patch(image: np.ndarray, mask: np.ndarray, window) -> Patch:
    """Redraw only the mask of the shown frame figure (and its tile when zoomed in to ``window``)."""
    patch = Patch()
    patch["data"][MASK_TRACE]["source"] = mask_overlay_source(mask)
    if window is not None:
        tile_patch(patch, image, mask, window)
    return patch


def mask_file_bytes(mask: np.ndarray, suffix: str) -> bytes:
    """A mask file's bytes in one of the formats of :func:`dip_engine.io.write_mask`."""
    with tempfile.TemporaryDirectory() as tmp:
        path = write_mask(Path(tmp) / f"mask{suffix}", mask)
        return path.read_bytes()


def register(app, store) -> None:
    _register_edits(app, store)
    _register_views(app, store)
    _register_files(app, store)


def _register_edits(app, store) -> None:
    @app.callback(
        Output(ids.MASK_STATE, "data"),
        Input(ids.FRAME_STORE, "data"),
        Input(ids.MASK_FILE_STORE, "data"),
        Input(ids.GRAPH, "relayoutData"),
        Input(ids.GEOMETRY_STORE, "data"),
        *[Input(i, "value") for i in ids.MASK_CONTROLS],
        State(ids.MASK_STATE, "data"),
    )
    def on_edit(meta, mask_file, relayout, geometry, *rest):
        """Drawn shapes, controls, mask files and the geometry -> the mask state (small: no
        figure travels)."""
        *values, state = rest
        if not isinstance(meta, dict) or "upload_id" not in meta:
            return None
        triggers = set(ctx.triggered_prop_ids.values())
        geometry = geometry.get("geometry") if isinstance(geometry, dict) else None
        new = edited_state(state, meta, triggers, relayout, values, mask_file, geometry)
        return no_update if new is None else new

    @app.callback(
        Output(ids.GRAPH, "figure"),
        Output(ids.MASK_SUMMARY, "children"),
        Output(ids.AUTO_PENDING, "data"),
        Output(ids.VIEW, "data"),
        Input(ids.MASK_STATE, "data"),
        State(ids.VIEW, "data"),
        prevent_initial_call=True,
    )
    def on_mask(state, view):
        """The mask state -> the figure: a whole figure for a new frame, else only its overlay."""
        if not state:
            return {}, "", no_update, None
        upload_id = state.get("upload_id")
        new_frame = not view or view.get("upload_id") != upload_id
        try:
            meta = store.upload_meta(upload_id)
            # a big new frame is shown at once; its auto mask follows (on_auto_pending)
            big = new_frame and meta["shape"][0] * meta["shape"][1] > DEFER_AUTO_PIXELS
            spec = spec_from_state(state)
            image, mask, params = store.upload_mask(upload_id, spec, wait_for_auto=not big)
            summary = _summary(store, upload_id, spec, mask, params)
        except (KeyError, TypeError):
            return no_update, refusal("The frame is no longer on the server; load it again."), no_update, no_update
        except ValueError as exc:
            return no_update, refusal(exc), no_update, no_update
        pending = upload_id if params.get("pending") else no_update
        if new_frame:
            figure = frame_figure(image, mask, revision=upload_id)
            view = {"upload_id": upload_id, "levels": figure.layout.meta["levels"], "window": None}
            return figure, summary, pending, view
        return mask_patch(image, mask, view.get("window")), summary, pending, no_update


def _summary(store, upload_id: str, spec, mask: np.ndarray, params: dict):
    """The mask's summary line, with the pixels ``spec`` excludes counted; an auto mask
    still pending (``params``) is not computed here either."""
    excluded = 0
    if spec.exclude:
        excluded = int(store.upload_exclusion(upload_id, spec, mask, wait_for_auto=not params.get("pending")).sum())
    return describe_mask(mask, params, excluded)


def _register_views(app, store) -> None:
    @app.callback(
        Output(ids.GRAPH, "figure", allow_duplicate=True),
        Output(ids.MASK_SUMMARY, "children", allow_duplicate=True),
        Input(ids.AUTO_PENDING, "data"),
        State(ids.MASK_STATE, "data"),
        State(ids.VIEW, "data"),
        prevent_initial_call=True,
    )
    def on_auto_pending(upload_id, state, view):
        """A big frame's auto mask, computed (and cached) once the frame is shown."""
        if not upload_id or not state or state.get("upload_id") != upload_id:
            return no_update, no_update
        try:
            spec = spec_from_state(state)
            image, mask, params = store.upload_mask(upload_id, spec)
            summary = _summary(store, upload_id, spec, mask, params)
        except (KeyError, ValueError) as exc:
            return no_update, refusal(exc)
        return mask_patch(image, mask, (view or {}).get("window")), summary

    @app.callback(
        Output(ids.GRAPH, "figure", allow_duplicate=True),
        Output(ids.VIEW, "data", allow_duplicate=True),
        Input(ids.GRAPH, "relayoutData"),
        State(ids.VIEW, "data"),
        State(ids.MASK_STATE, "data"),
        prevent_initial_call=True,
    )
    def on_zoom(relayout, view, state):
        """Full-resolution tiles when the view is zoomed in on a downsampled frame."""
        if not view or not state or view.get("upload_id") != state.get("upload_id") or not relayout \
                or not any(k.startswith(("xaxis.", "yaxis.")) for k in relayout):
            return no_update, no_update
        try:
            shape = tuple(store.upload_meta(view["upload_id"])["shape"])
            window = None if "xaxis.autorange" in relayout else view_window(relayout, shape)
            if window is None and display_stride(shape) == 1:
                return no_update, no_update
            image, mask, _ = store.upload_mask(view["upload_id"], spec_from_state(state)) if window else (None,) * 3
        except (KeyError, ValueError):
            return no_update, no_update  # the mask callback says what is wrong
        return tile_patch(Patch(), image, mask, window, levels=view["levels"]), {**view, "window": window}


def _register_files(app, store) -> None:
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
        State(ids.MASK_STATE, "data"),
        prevent_initial_call=True,
    )
    def on_mask_download(_n, suffix, state):
        if not state or suffix not in MASK_SUFFIXES:
            return no_update
        try:
            _, mask, _ = store.upload_mask(state["upload_id"], spec_from_state(state))
            stem = Path(store.upload_meta(state["upload_id"])["name"]).stem or "frame"
        except (KeyError, ValueError):
            return no_update  # the mask callback says what is wrong
        return dcc.send_bytes(mask_file_bytes(mask, suffix), f"{stem}-mask{suffix}")
