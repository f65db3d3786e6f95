"""The mask: drawn shapes and sliders -> engine mask -> live overlay."""

from __future__ import annotations

import re

import numpy as np
from dash import Input, Output, Patch, State, ctx, no_update

from dip_engine.masks import MaskSpec, build_mask, summary

from .. import ids
from ..figures import frame_figure, mask_overlay_source

_NUMBER = re.compile(r"-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?")


def _path_vertices(path: str) -> tuple[list[float], list[float]]:
    """Rows and columns of the vertices of an SVG path 'M x,y L x,y ... Z'."""
    nums = [float(v) for v in _NUMBER.findall(path)]
    return nums[1::2], nums[0::2]


def spec_from_inputs(shapes, box_threshold, row_threshold, col_threshold, grow) -> MaskSpec:
    """Translate Plotly shapes (x = column, y = row) and control values to a MaskSpec."""
    spec = MaskSpec(
        box_threshold=float(box_threshold) if box_threshold not in (None, "") else None,
        row_threshold=float(row_threshold or 0),
        col_threshold=float(col_threshold or 0),
        grow=int(grow or 0),
    )
    for shape in shapes or []:
        kind = shape.get("type")
        if kind in ("rect", "circle"):
            box = [shape["y0"], shape["y1"], shape["x0"], shape["x1"]]
            (spec.boxes if kind == "rect" else spec.ellipses).append([float(v) for v in box])
        elif kind == "path" and shape.get("path"):
            rows, cols = _path_vertices(shape["path"])
            if len(rows) >= 3:
                spec.polygons.append([rows, cols])
    return spec


def mask_for(store, meta: dict, spec: MaskSpec) -> tuple[np.ndarray, np.ndarray]:
    """(frame, mask) of an upload under a spec."""
    image, base, _ = store.load_upload(meta["upload_id"])
    return image, build_mask(image, spec, base)


def describe_mask(mask: np.ndarray) -> str:
    s = summary(mask)
    return f"Masked: {100 * s['fraction']:.2f} % ({s['pixels']} pixels, {s['components']} regions)"


def _touches_shapes(relayout) -> bool:
    """Whether a relayoutData event drew, erased or moved a shape."""
    return bool(relayout) and any(k == "shapes" or k.startswith("shapes[") for k in relayout)


def register(app, store) -> None:
    @app.callback(
        Output(ids.GRAPH, "figure"),
        Output(ids.MASK_SUMMARY, "children"),
        Input(ids.FRAME_STORE, "data"),
        Input(ids.GRAPH, "relayoutData"),
        Input(ids.BOX_THRESHOLD, "value"),
        Input(ids.ROW_THRESHOLD, "value"),
        Input(ids.COL_THRESHOLD, "value"),
        Input(ids.GROW, "value"),
        State(ids.GRAPH, "figure"),
    )
    def on_mask_change(meta, relayout, box_thr, row_thr, col_thr, grow, figure):
        if not meta:
            return {}, ""
        triggers = set(ctx.triggered_prop_ids.values())
        if triggers == {ids.GRAPH} and not _touches_shapes(relayout):
            return no_update, no_update  # zoom, pan, autosize: the mask is unchanged
        # a full figure for a new frame, or when the page still shows another
        # frame's figure (a Patch would land on the wrong figure)
        shown = (figure or {}).get("layout", {}).get("uirevision")
        new_frame = not triggers or ids.FRAME_STORE in triggers or shown != meta["upload_id"]
        shapes = [] if new_frame else (figure.get("layout", {}).get("shapes") or [])
        if not new_frame and relayout and "shapes" in relayout:
            shapes = relayout["shapes"]
        spec = spec_from_inputs(shapes, box_thr, row_thr, col_thr, grow)
        image, mask = mask_for(store, meta, spec)
        if new_frame:
            return frame_figure(image, mask, revision=meta["upload_id"]), describe_mask(mask)
        patch = Patch()
        patch["data"][1]["source"] = mask_overlay_source(mask)
        return patch, describe_mask(mask)
