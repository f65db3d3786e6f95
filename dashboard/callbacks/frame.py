"""Upload a frame: store it on disk, read it with the engine, or explain why not."""

from __future__ import annotations

import base64
import binascii

from dash import Input, Output, State, html, no_update

from dip_engine import FrameError

from .. import ids


def describe(meta: dict) -> str:
    """One line about a loaded frame."""
    h, w = meta["shape"]
    return f"{meta['name']}: {h} x {w} pixels, {meta['dtype']}"


def decode_upload(contents: str) -> bytes:
    """The bytes of a dcc.Upload data URI; ValueError/binascii.Error if damaged."""
    _, encoded = contents.split(",", 1)
    return base64.b64decode(encoded, validate=True)


def handle_upload(store, contents: str, filename: str, max_mb: float) -> tuple[dict | None, str]:
    """Decode a dcc.Upload payload and store it.

    Returns
    -------
    (meta, message) : meta is None when the file was refused, and message
    says why (the caller keeps the frame it had); for an accepted file the
    message holds warnings, if any.
    """
    filename = filename or "upload"
    if len(contents) * 3 / 4 > max_mb * 2**20:  # base64 holds 3 bytes in 4 characters
        return None, f"{filename}: the file is larger than the upload limit of {max_mb:g} MB (XRAY_HEAL_MAX_UPLOAD_MB)"
    try:
        payload = decode_upload(contents)
    except (ValueError, binascii.Error):
        return None, f"{filename}: the upload arrived damaged; please try again"
    try:
        meta = store.save_upload(filename, payload)
    except FrameError as exc:
        return None, str(exc)
    return meta, " ".join(f"Note: {w}." for w in meta.get("warnings", []))


def register(app, store, max_upload_mb: float) -> None:
    @app.callback(
        Output(ids.FRAME_STORE, "data"),
        Output(ids.MESSAGE, "children"),
        Input(ids.UPLOAD, "contents"),
        State(ids.UPLOAD, "filename"),
        prevent_initial_call=True,
    )
    def on_upload(contents, filename):
        if not contents:
            return no_update, no_update
        meta, message = handle_upload(store, contents, filename, max_upload_mb)
        if meta is None:
            return no_update, html.Span(message, className="error")
        return meta, html.Span(message, className="warning") if message else ""

    @app.callback(Output(ids.FRAME_INFO, "children"), Input(ids.FRAME_STORE, "data"))
    def on_frame(meta):
        return describe(meta) if meta else "No frame loaded."
