"""Upload a frame: store it on disk, read it with the engine, or explain why not."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from dash import Input, Output, State, html, no_update

from dip_engine import FrameError

from .. import ids
from ..components.layout import refusal
from ..uploads import STORE_FAILED, Upload, handle_upload, stored

#: Largest frame index the page asks for.
MAX_FRAME = 10**6


def describe(meta: dict) -> str:
    """One line about a loaded frame."""
    h, w = meta["shape"]
    return f"{meta['name']}: {h} x {w} pixels, {meta['dtype']}"


def shown(outcome: Upload) -> tuple:
    """(frame store, message, source store, dataset options) for the page after an upload."""
    source = outcome.upload_id or no_update
    options = outcome.choices or []
    if outcome.meta is None:
        return no_update, html.Span(outcome.message, className="error"), source, options
    message = html.Span(outcome.message, className="warning") if outcome.message else ""
    return outcome.meta, message, source, options


def frame_index(value) -> int:
    """The frame index a page sends (empty = 0); ValueError with a sentence otherwise."""
    if value in (None, ""):
        return 0
    whole = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if isinstance(value, bool) or not whole or not 0 <= value <= MAX_FRAME:
        raise ValueError(f"the frame index must be a whole number from 0 to {MAX_FRAME}")
    return int(value)


def describe_frames(meta: dict) -> str:
    frames = meta.get("frames", 1)
    where = f" of dataset {meta['dataset']}" if meta.get("dataset") else ""
    return f"frame {meta.get('frame', 0)} of {frames}{where}" if frames > 1 or where else ""


def intensity_upload(store, meta: dict, low, high, scale) -> Upload:
    """A new upload holding a colour-map picture's intensities, from its colour bar's range
    and scale (the picture's upload stays as it was); its :class:`Upload`."""
    import io

    from dip_engine.colormaps import to_intensity

    meta = store.upload_meta(meta["upload_id"])  # the server's record
    if "colormap" not in meta:
        return Upload(None, "The colour bar applies to a picture drawn with a known colour map; this frame is not one.")
    if isinstance(low, bool) or isinstance(high, bool) or not all(isinstance(v, (int, float)) for v in (low, high)):
        return Upload(None, "Give the colour bar's low and high ends as numbers.")
    try:
        data = to_intensity(store.upload_frame(meta["upload_id"]) / 1000, float(low), float(high), str(scale))
    except ValueError as exc:
        return Upload(None, f"Cannot map the colours: {exc}.")
    buffer = io.BytesIO()
    np.save(buffer, data.astype(np.float32))
    name = f"{Path(meta['name']).stem} ({meta['colormap']['name']}, {low:g} to {high:g} {scale}).npy"
    return stored(lambda: store.save_upload(name, buffer.getvalue()))


def register(app, store, max_upload_mb: float) -> None:
    _register_uploads(app, store, max_upload_mb)
    _register_sets(app, store, max_upload_mb)
    _register_colorbar(app, store)


def _register_colorbar(app, store) -> None:
    @app.callback(
        Output(ids.FRAME_STORE, "data", allow_duplicate=True),
        Output(ids.MESSAGE, "children", allow_duplicate=True),
        Output(ids.SOURCE_STORE, "data", allow_duplicate=True),
        Output(ids.DATASET, "options", allow_duplicate=True),
        Input(ids.COLORBAR_APPLY, "n_clicks"),
        State(ids.FRAME_STORE, "data"),
        State(ids.COLORBAR_LOW, "value"),
        State(ids.COLORBAR_HIGH, "value"),
        State(ids.COLORBAR_SCALE, "value"),
        prevent_initial_call=True,
    )
    def on_colorbar(_n, meta, low, high, scale):
        """A colour-map export's values to intensities, as a new frame."""
        if not isinstance(meta, dict) or "upload_id" not in meta:
            return no_update, html.Span("Load a frame first.", className="error"), no_update, no_update
        try:
            return shown(intensity_upload(store, meta, low, high, scale))
        except KeyError:
            return no_update, html.Span("The frame is no longer on the server; load it again.",
                                        className="error"), no_update, no_update


def _register_uploads(app, store, max_upload_mb: float) -> None:
    """A frame from dcc.Upload or the streaming route, or another frame or dataset of it."""
    @app.callback(
        Output(ids.FRAME_STORE, "data"),
        Output(ids.MESSAGE, "children"),
        Output(ids.SOURCE_STORE, "data"),
        Output(ids.DATASET, "options"),
        Input(ids.UPLOAD, "contents"),
        State(ids.UPLOAD, "filename"),
        prevent_initial_call=True,
    )
    def on_upload(contents, filename):
        if not contents:
            return no_update, no_update, no_update, no_update
        return shown(handle_upload(store, contents, filename, max_upload_mb))

    @app.callback(
        Output(ids.FRAME_STORE, "data", allow_duplicate=True),
        Output(ids.MESSAGE, "children", allow_duplicate=True),
        Output(ids.SOURCE_STORE, "data", allow_duplicate=True),
        Output(ids.DATASET, "options", allow_duplicate=True),
        Input(ids.STREAMED, "data"),
        prevent_initial_call=True,
    )
    def on_streamed(outcome):
        """A file sent to the /upload route by assets/upload.js (large frames)."""
        if not outcome:
            return no_update, no_update, no_update, no_update
        return shown(Upload(**{k: outcome.get(k) for k in Upload._fields}))

    @app.callback(
        Output(ids.FRAME_STORE, "data", allow_duplicate=True),
        Output(ids.MESSAGE, "children", allow_duplicate=True),
        Input(ids.READ_BUTTON, "n_clicks"),
        State(ids.SOURCE_STORE, "data"),
        State(ids.FRAME_STORE, "data"),
        State(ids.FRAME_INDEX, "value"),
        State(ids.DATASET, "value"),
        prevent_initial_call=True,
    )
    def on_read(_n, source, meta, frame, dataset):
        upload_id = source or (meta or {}).get("upload_id")
        if not upload_id:
            return no_update, html.Span("Upload a file first.", className="error")
        try:
            return store.read_upload(upload_id, frame_index(frame), dataset if isinstance(dataset, str) else None), ""
        except (FrameError, KeyError, ValueError) as exc:
            return no_update, refusal(exc)
        except OSError:
            return no_update, html.Span(STORE_FAILED, className="error")


def _register_sets(app, store, max_upload_mb: float) -> None:
    """A set of frames for a batch job, and the line about the shown frame."""
    @app.callback(
        Output(ids.SET_STORE, "data"),
        Output(ids.SET_INFO, "children"),
        Input(ids.SET_UPLOAD, "contents"),
        State(ids.SET_UPLOAD, "filename"),
        State(ids.FRAME_STORE, "data"),
        prevent_initial_call=True,
    )
    def on_set_upload(contents, filenames, meta):
        """Frames for a batch job with the shown frame's mask; files of another shape are refused."""
        if not contents or not meta:
            return no_update, no_update
        if not isinstance(contents, list) or not isinstance(filenames or [], list):
            return no_update, html.Div("The set arrived in a form the page does not send; please try again.",
                                       className="error")
        kept, refused = [], []
        names = (filenames or []) + [f"file {k}" for k in range(len(filenames or []), len(contents))]
        for payload, name in zip(contents, names):
            outcome = handle_upload(store, payload, name, max_upload_mb)
            if outcome.meta is None:
                refused.append(outcome.message)
            elif outcome.meta["shape"] != meta["shape"]:
                h, w = outcome.meta["shape"]
                refused.append(f"{name}: {h} x {w} pixels, not the shown frame's {meta['shape'][0]} x {meta['shape'][1]}")
            else:
                kept.append({k: outcome.meta[k] for k in ("upload_id", "name", "shape")})
        info = [html.Div(f"Set: {len(kept)} frame(s) besides the shown one: "
                         + ", ".join(m["name"] for m in kept))] if kept else []
        info += [html.Div(text, className="error") for text in refused]
        return kept, info

    @app.callback(Output(ids.FRAME_INFO, "children"), Input(ids.FRAME_STORE, "data"))
    def on_frame(meta):
        if not meta:
            return "No frame loaded."
        extra = describe_frames(meta)
        return describe(meta) + (f" ({extra})" if extra else "")
