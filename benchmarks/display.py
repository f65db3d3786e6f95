"""Time from uploaded bytes to the page's figure, and the mask overlay redraw.

    python benchmarks/display.py

For every frame in ../shared/data: seconds from the file's bytes to the
figure JSON the browser receives (store the upload, read it, build the
log-scaled downsampled picture with its mask overlay), that JSON's size,
the one-off auto mask, and the redraw of the mask overlay after a change of
the mask (what a drawn shape or a slider costs), full resolution mask,
downsampled display.
"""

from __future__ import annotations

import tempfile
import time

from common import DATA

from dashboard.callbacks.mask import spec_from_inputs
from dashboard.figures import frame_figure, mask_overlay_source
from dashboard.storage import Store
from dashboard import ids


def main() -> None:
    files = sorted(p for p in DATA.iterdir() if p.suffix in (".tif", ".tiff", ".h5", ".npz"))
    print(f"{'frame':28s} {'pixels':>10s} {'bytes->figure':>14s} {'JSON':>8s} {'auto mask':>10s} {'redraw':>8s}")
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(tmp)
        for path in files:
            payload = path.read_bytes()
            t0 = time.perf_counter()
            meta = store.save_upload(path.name, payload)
            spec = spec_from_inputs([], {ids.AUTO: []})
            image, mask, _ = store.upload_mask(meta["upload_id"], spec)
            figure_json = frame_figure(image, mask, meta["upload_id"]).to_json()
            t_figure = time.perf_counter() - t0
            t0 = time.perf_counter()
            store.upload_mask(meta["upload_id"], spec_from_inputs([], {ids.AUTO: ["auto"]}))
            t_auto = time.perf_counter() - t0
            box = [[image.shape[0] * 0.4, image.shape[0] * 0.5, image.shape[1] * 0.4, image.shape[1] * 0.5]]
            drawn = spec_from_inputs([{"type": "rect", "x0": box[0][2], "x1": box[0][3],
                                       "y0": box[0][0], "y1": box[0][1]}], {ids.AUTO: ["auto"]})
            t0 = time.perf_counter()
            _, mask, _ = store.upload_mask(meta["upload_id"], drawn)
            mask_overlay_source(mask)
            t_redraw = time.perf_counter() - t0
            print(f"{path.name:28s} {image.size / 1e6:8.2f} MP {t_figure:12.2f} s {len(figure_json) / 1e6:6.2f} MB "
                  f"{t_auto:8.2f} s {t_redraw * 1000:6.0f} ms", flush=True)


if __name__ == "__main__":
    main()
