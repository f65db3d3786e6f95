"""Upload a frame: store it on disk, read it with the engine, or explain why not."""

from __future__ import annotations

import base64
import binascii
import logging

from dash import Input, Output, State, html, no_update

from typing import NamedTuple

from dip_engine import FrameError
from dip_engine.io import DatasetChoice

from .. import ids

logger = logging.getLogger(__name__)
STORE_FAILED = ("The server cannot store uploads right now (its data folder is full or read-only); "
                "please tell its administrator.")
#: Largest frame index the page asks for.
MAX_FRAME = 10**6


def describe(meta: dict) -> str:
    """One line about a loaded frame."""
    h, w = meta["shape"]
    return f"{meta['name']}: {h} x {w} pixels, {meta['dtype']}"


def decode_upload(contents: str) -> bytes:
    """The bytes of a dcc.Upload data URI; ValueError/binascii.Error if damaged."""
    _, encoded = contents.split(",", 1)
    return base64.b64decode(encoded, validate=True)


class Upload(NamedTuple):
    """What became of an upload: its metadata (None if refused), a message
    for the page, and the stored upload a dataset or frame can be read from."""

    meta: dict | None
    message: str
    upload_id: str | None = None
    choices: list | None = None


def handle_upload(store, contents: str, filename: str, max_mb: float) -> Upload:
    """Decode a dcc.Upload payload and store it.

    A refused file leaves the page's frame as it was; the message says why
    (for an accepted file it holds warnings, if any). An HDF5 file with
    several image datasets is kept, with the datasets to choose from.
    """
    filename = filename if isinstance(filename, str) and filename else "upload"
    if not isinstance(contents, str):
        return Upload(None, f"{filename}: the upload arrived in a form the page does not send; please try again")
    if len(contents) * 3 / 4 > max_mb * 2**20:  # base64 holds 3 bytes in 4 characters
        return Upload(None, f"{filename}: the file is larger than the upload limit of {max_mb:g} MB "
                            "(XRAY_HEAL_MAX_UPLOAD_MB)")
    try:
        payload = decode_upload(contents)
    except (ValueError, binascii.Error):
        return Upload(None, f"{filename}: the upload arrived damaged; please try again")
    return stored(lambda: store.save_upload(filename, payload))


def stored(save) -> Upload:
    """The :class:`Upload` of calling ``save()``, a store method that keeps and reads a file."""
    try:
        meta = save()
    except DatasetChoice as exc:
        return Upload(None, f"{exc}. Pick one under 'Dataset' and press Read.", exc.upload_id, exc.choices)
    except FrameError as exc:
        return Upload(None, str(exc))
    except OSError as exc:  # the data folder is full or read-only: the server's fault, not the file's
        logger.error("cannot store an upload: %s", exc)
        return Upload(None, STORE_FAILED)
    message = " ".join(f"Note: {w}." for w in meta.get("warnings", []))
    return Upload(meta, message, meta["upload_id"], meta.get("datasets"))


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


def register(app, store, max_upload_mb: float) -> None:
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
            return no_update, html.Span(str(exc).strip("'"), className="error")
        except OSError:
            return no_update, html.Span(STORE_FAILED, className="error")

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
