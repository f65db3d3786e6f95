"""The data folder: files on disk that outlive the server, one module per concept.

Layout under the data folder (XRAY_HEAL_DATA)::

    uploads/<upload_id>/original.<ext>   the bytes the user sent
                        frame.npy        the frame as read (file's dtype)
                        mask.npy         a mask stored with the frame, if any
                        meta.json        name, shape, dtype, format, beam centre
    jobs/<job_id>/job.json               state, config, mask spec, progress, timings
                  mask.npy|tif|edf       the mask that was healed (nonzero = missing)
                  healed.tif             healed frame in the input's units (float32)
                  healed.<edf|cbf|npy>   the same in the input's own format
                  uncertainty.tif        per-pixel spread, log10(1 + I) units
                  profiles.json          I(r) and I(chi) of original, healed, fills
                  preview.png            thumbnail of the healed frame
                  frames/<k>/            a batch job's k-th frame: healed.tif, uncertainty.tif, scores.json
    cache/                               Dash background-callback cache

Ids are random URL-safe tokens; every path is built from a checked id and
a fixed file name, never from what a user typed.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from dip_engine.io import DEFAULT_MAX_PIXELS

from .bundle import JOB_FILES, Bundles, software_versions
from .common import check_id, host_name, new_id
from .jobs import ACTIVE_STATES, STALE_S, STATES, JobRecord, Jobs
from .slots import Slots
from .uploads import EXAMPLE_ID, Uploads

__all__ = ["ACTIVE_STATES", "EXAMPLE_ID", "JOB_FILES", "JobRecord", "STALE_S", "STATES", "Store", "check_id",
           "host_name", "new_id", "software_versions"]


class Store(Uploads, Jobs, Slots, Bundles):
    """One data folder: :class:`~.uploads.Uploads`, :class:`~.jobs.Jobs`,
    :class:`~.slots.Slots` and :class:`~.bundle.Bundles` over the same root.
    Uploads above ``max_pixels`` are refused."""

    def __init__(self, root: str | os.PathLike, max_pixels: int = DEFAULT_MAX_PIXELS):
        self.root = Path(root)
        self.max_pixels = max_pixels
        self.uploads = self.root / "uploads"
        self.jobs = self.root / "jobs"
        self.cache = self.root / "cache"
        for d in (self.uploads, self.jobs, self.cache):
            d.mkdir(parents=True, exist_ok=True)

    def check_writable(self) -> None:
        """OSError unless new files can be written in the data folder."""
        with tempfile.NamedTemporaryFile(dir=self.root, prefix=".write-test-"):
            pass
