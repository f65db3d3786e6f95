"""Uploads as the page sends them: decode, store, read, or say in one sentence why not.

Used by the upload callbacks and by the streaming /upload route alike; no
Dash import.
"""

from __future__ import annotations

import base64
import binascii
import logging
from typing import NamedTuple

from dip_engine import FrameError
from dip_engine.io import DatasetChoice

logger = logging.getLogger(__name__)
STORE_FAILED = ("The server cannot store uploads right now (its data folder is full or read-only); "
                "please tell its administrator.")


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
