"""Turn frames and masks into pictures for the browser.

Frames are shown on a log colour scale as PNG images (``go.Image`` with a
``source``), downsampled to at most ``DISPLAY_SIDE`` pixels a side; the full
resolution stays on the server. Plot coordinates are full-resolution pixels:
x = column, y = row, row 0 at the top.
"""

from __future__ import annotations

import base64
import io
import math
import warnings

import numpy as np
import plotly.graph_objects as go
from PIL import Image
from plotly.colors import sample_colorscale
from plotly.subplots import make_subplots
from skimage.measure import block_reduce

DISPLAY_SIDE = 1024
_LUT = np.array(
    [[int(float(v)) for v in c[4:-1].split(",")] for c in sample_colorscale("Viridis", 256, colortype="rgb")],
    dtype=np.uint8,
)
MASK_RGBA = (255, 64, 64, 150)
DRAW_BUTTONS = ["drawrect", "drawcircle", "drawclosedpath", "drawline", "eraseshape"]


def display_stride(shape, side: int = DISPLAY_SIDE) -> int:
    """Integer block size that brings the longest side to at most ``side``."""
    return max(1, math.ceil(max(shape) / side))


def log_levels(image: np.ndarray, valid: np.ndarray) -> tuple[float, float]:
    """Display range of log10(1 + I) over valid pixels (0.5 to 99.9 percentile)."""
    vals = np.log10(1 + np.clip(np.asarray(image, np.float64)[valid], 0, None))
    if vals.size == 0:
        return 0.0, 1.0
    lo, hi = np.percentile(vals, [0.5, 99.9])
    return float(lo), float(hi if hi > lo else lo + 1)


def colorize(image: np.ndarray, valid: np.ndarray, levels, stride: int) -> np.ndarray:
    """(h, w, 3) uint8 log-scaled Viridis picture; invalid pixels grey."""
    img = np.where(valid, np.clip(np.nan_to_num(np.asarray(image, np.float64)), 0, None), np.nan)
    if stride > 1:
        with warnings.catch_warnings():  # blocks without a valid pixel stay NaN (grey)
            warnings.simplefilter("ignore", RuntimeWarning)
            img = block_reduce(img, (stride, stride), np.nanmean, cval=np.nan)
    lo, hi = levels
    with np.errstate(invalid="ignore"):
        t = (np.log10(1 + img) - lo) / (hi - lo)
    idx = np.clip(np.nan_to_num(t, nan=0) * 255, 0, 255).astype(np.uint8)
    rgb = _LUT[idx]
    rgb[np.isnan(img)] = (90, 90, 90)
    return rgb


def mask_rgba(mask: np.ndarray, stride: int) -> np.ndarray:
    """(h, w, 4) uint8 red overlay of a mask; a block shows if any pixel is masked."""
    m = np.asarray(mask, bool)
    if stride > 1:
        m = block_reduce(m, (stride, stride), np.any, cval=False)
    out = np.zeros(m.shape + (4,), np.uint8)
    out[m] = MASK_RGBA
    return out


def png_bytes(pixels: np.ndarray) -> bytes:
    """PNG file bytes of an (h, w), (h, w, 3) or (h, w, 4) uint8 array."""
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def png_uri(pixels: np.ndarray) -> str:
    """A PNG data URI of an (h, w), (h, w, 3) or (h, w, 4) uint8 array."""
    return "data:image/png;base64," + base64.b64encode(png_bytes(pixels)).decode("ascii")


def _image_trace(source: str, stride: int, name: str, **kw) -> go.Image:
    # pixel (i, j) of the picture covers full-resolution pixels from
    # (i*stride, j*stride); centre it on the block.
    c = (stride - 1) / 2
    return go.Image(source=source, x0=c, y0=c, dx=stride, dy=stride, name=name,
                    hovertemplate="row %{y:.0f}, col %{x:.0f}<extra></extra>", **kw)


#: Trace indices of :func:`frame_figure`.
FRAME_TRACE, MASK_TRACE, FRAME_TILE, MASK_TILE, RINGS_TRACE = 0, 1, 2, 3, 4


def _valid_counts(image: np.ndarray) -> np.ndarray:
    return np.isfinite(image) & (image >= 0)


def frame_figure(image: np.ndarray, mask: np.ndarray, revision: str) -> go.Figure:
    """Frame on a log scale with the mask overlaid, ready for drawing shapes.

    Traces (see the *_TRACE/_TILE constants): the downsampled frame, its mask
    overlay (update its ``source`` with :func:`mask_overlay_source`), two
    hidden full-resolution tiles that :func:`tile_patch` fills when the view
    is zoomed in far enough to show single pixels, and the rings a geometry
    predicts (empty until one is given).
    """
    stride = display_stride(image.shape)
    valid = ~np.asarray(mask, bool)
    levels = log_levels(image, valid)
    fig = go.Figure([
        _image_trace(png_uri(colorize(image, _valid_counts(image), levels, stride)), stride, "frame"),
        _image_trace(png_uri(mask_rgba(mask, stride)), stride, "mask"),
        go.Image(source=None, visible=False, name="frame tile", hoverinfo="skip"),
        go.Image(source=None, visible=False, name="mask tile", hoverinfo="skip"),
        go.Scatter(x=[], y=[], mode="lines", name="rings of the geometry", hoverinfo="text", showlegend=False,
                   line=dict(color="rgba(255, 60, 255, 0.95)", width=1.5, dash="dot")),
    ])
    fig.update_layout(
        dragmode="drawrect",
        uirevision=revision,
        margin=dict(l=40, r=10, t=10, b=30),
        newshape=dict(line=dict(color="#ffffff", width=2), fillcolor="rgba(255,255,255,0.15)"),
        yaxis=dict(autorange="reversed", scaleanchor="x", title="row"),
        xaxis=dict(title="column"),
        height=620,
        meta={"levels": list(levels)},  # the zoom tiles use the same colour scale
    )
    return fig


#: Trace indices of :func:`compare_figure`: the downsampled pictures, then their full-resolution tiles.
BEFORE_TRACE, COMPARE_MASK_TRACE, AFTER_TRACE, BEFORE_TILE, COMPARE_MASK_TILE, AFTER_TILE = range(6)
#: The traces shown for "before" (original and mask) and for "after" (healed).
SHOWS = {"before": (BEFORE_TRACE, COMPARE_MASK_TRACE), "after": (AFTER_TRACE,)}


def compare_figure(original: np.ndarray, mask: np.ndarray, healed: np.ndarray, revision: str,
                   showing: str = "after") -> go.Figure:
    """Before (original and its mask) and after (healed) in one figure, one log colour scale,
    one zoom: :func:`compare_visibility` toggles them; :func:`compare_tiles` adds
    full-resolution tiles when zoomed in, as the frame view does."""
    stride = display_stride(original.shape)
    levels = log_levels(original, _valid_counts(original) & ~mask)
    before = showing == "before"
    fig = go.Figure([
        _image_trace(png_uri(colorize(original, _valid_counts(original), levels, stride)), stride, "original",
                     visible=before),
        _image_trace(png_uri(mask_rgba(mask, stride)), stride, "mask", visible=before),
        _image_trace(png_uri(colorize(healed, np.isfinite(healed), levels, stride)), stride, "healed",
                     visible=not before),
        *[go.Image(source=None, visible=False, name=f"{name} tile", hoverinfo="skip")
          for name in ("original", "mask", "healed")],
    ])
    fig.update_layout(uirevision=revision, margin=dict(l=40, r=10, t=10, b=30), height=620,
                      yaxis=dict(autorange="reversed", scaleanchor="x", title="row"), xaxis=dict(title="column"),
                      meta={"levels": list(levels)}, dragmode="zoom")
    return fig


def compare_visibility(patch, showing: str, window) -> object:
    """A Patch of :func:`compare_figure` that shows ``showing`` ('before' or 'after'),
    with the tiles of the shown side when zoomed in to ``window``."""
    for side, traces in SHOWS.items():
        for t in traces:
            patch["data"][t]["visible"] = side == showing
    tiles = {"before": (BEFORE_TILE, COMPARE_MASK_TILE), "after": (AFTER_TILE,)}
    for side, traces in tiles.items():
        for t in traces:
            patch["data"][t]["visible"] = side == showing and window is not None
    return patch


def compare_tiles(patch, original, mask, healed, window, levels, showing: str):
    """Fill the full-resolution tiles of :func:`compare_figure` for ``window`` (row0, row1,
    col0, col1), or hide them when ``window`` is None."""
    if window is not None:
        r0, r1, c0, c1 = window
        crop = np.s_[r0:r1, c0:c1]
        sources = {BEFORE_TILE: png_uri(colorize(original[crop], _valid_counts(original[crop]), levels, 1)),
                   COMPARE_MASK_TILE: png_uri(mask_rgba(mask[crop], 1)),
                   AFTER_TILE: png_uri(colorize(healed[crop], np.isfinite(healed[crop]), levels, 1))}
        for t, source in sources.items():
            patch["data"][t].update(source=source, x0=c0, y0=r0, dx=1, dy=1)
    return compare_visibility(patch, showing, window)


def mask_overlay_source(mask: np.ndarray) -> str:
    """New ``source`` for the mask trace of :func:`frame_figure`."""
    return png_uri(mask_rgba(mask, display_stride(mask.shape)))


def view_window(layout: dict, shape) -> tuple[int, int, int, int] | None:
    """(row0, row1, col0, col1) of full-resolution pixels a zoomed view shows,
    from a figure layout or a relayoutData event; None when not zoomed in
    enough for full-resolution tiles (or the frame needs none)."""
    if display_stride(shape) == 1 or not layout:
        return None
    try:
        if "xaxis.range[0]" in layout:  # a zoom by the user
            xs = layout["xaxis.range[0]"], layout["xaxis.range[1]"]
            ys = layout["yaxis.range[0]"], layout["yaxis.range[1]"]
        elif "xaxis.range" in layout:  # a zoom set in code
            xs, ys = layout["xaxis.range"], layout["yaxis.range"]
        else:
            xs, ys = layout["xaxis"]["range"], layout["yaxis"]["range"]
    except (KeyError, TypeError):
        return None
    c0, c1 = sorted(float(x) for x in xs)
    r0, r1 = sorted(float(y) for y in ys)
    r0, c0 = max(0, int(np.floor(r0))), max(0, int(np.floor(c0)))
    r1, c1 = min(shape[0], int(np.ceil(r1)) + 1), min(shape[1], int(np.ceil(c1)) + 1)
    if r1 <= r0 or c1 <= c0 or max(r1 - r0, c1 - c0) > DISPLAY_SIDE:
        return None
    return r0, r1, c0, c1


def tile_patch(patch, image: np.ndarray, mask: np.ndarray, window, levels=None):
    """Fill (or with ``window`` None hide) the full-resolution tiles of a frame figure Patch.

    With the figure's display ``levels`` (its ``layout.meta``) both tiles are
    drawn; without them only the mask tile.
    """
    frame = levels is not None
    traces = (FRAME_TILE, MASK_TILE) if frame else (MASK_TILE,)
    if window is None:
        for t in traces:
            patch["data"][t]["visible"] = False
        return patch
    r0, r1, c0, c1 = window
    crop = np.s_[r0:r1, c0:c1]
    sources = {MASK_TILE: png_uri(mask_rgba(mask[crop], 1))}
    if frame:
        sources[FRAME_TILE] = png_uri(colorize(image[crop], _valid_counts(image[crop]), levels, 1))
    for t, source in sources.items():
        patch["data"][t].update(source=source, x0=c0, y0=r0, dx=1, dy=1, visible=True)
    return patch


def preview_pixels(image: np.ndarray, levels, side: int = 384) -> np.ndarray:
    """Small log-scaled RGB picture (uint8) of a healed frame, longest side about ``side``;
    its NaN pixels (excluded: not healed) grey."""
    return colorize(image, np.isfinite(image), levels, display_stride(image.shape, side))


def preview_uri(image: np.ndarray, levels, side: int = 384) -> str:
    """PNG data URI of :func:`preview_pixels` (e.g. the current fit, for the progress bar)."""
    return png_uri(preview_pixels(image, levels, side))


def result_figure(original: np.ndarray, mask: np.ndarray, healed: np.ndarray,
                  uncertainty: np.ndarray | None = None) -> go.Figure:
    """Original, mask, healed frame (one log colour scale) and the uncertainty map, side by side."""
    stride = display_stride(original.shape, 768)
    valid_orig = _valid_counts(original) & ~mask
    levels = log_levels(original, valid_orig)
    mask_pic = np.where(block_reduce(mask, (stride, stride), np.any, cval=False)
                        if stride > 1 else mask, 255, 0).astype(np.uint8)
    pictures = [
        ("original", colorize(original, _valid_counts(original), levels, stride)),
        ("mask (white = healed)", np.repeat(mask_pic[..., None], 3, axis=2)),
        ("healed", colorize(healed, np.isfinite(healed), levels, stride)),
    ]
    if uncertainty is not None:
        top = float(np.percentile(uncertainty[mask], 99)) if mask.any() else 1.0
        u = np.clip(uncertainty / max(top, 1e-9), 0, 1)
        if stride > 1:
            u = block_reduce(u, (stride, stride), np.max, cval=0)
        pictures.append((f"uncertainty (0 to {top:.2f} in log10 I)", _LUT[(u * 255).astype(np.uint8)]))
    fig = make_subplots(rows=1, cols=len(pictures), subplot_titles=[t for t, _ in pictures],
                        horizontal_spacing=0.03, shared_yaxes=True)
    for col, (name, pic) in enumerate(pictures, start=1):
        fig.add_trace(_image_trace(png_uri(pic), stride, name), row=1, col=col)
    fig.update_yaxes(autorange="reversed", scaleanchor="x")
    fig.update_xaxes(matches="x")
    fig.update_layout(margin=dict(l=30, r=10, t=30, b=20), height=360)
    return fig


def profile_figure(profiles: dict) -> go.Figure:
    """I(r) (log scale) and I(chi) of the original, healed frame and classical fills."""
    lo, hi = profiles["chi_range"]
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.1, specs=[[{"secondary_y": True}] * 2],
                        subplot_titles=("azimuthal average I(r)", f"I(chi), radii {lo:.0f} to {hi:.0f} px"))
    if "healed_share" in profiles:
        add_healed_share(fig, profiles["radius"], profiles["healed_share"]["I_r"], 1)
        add_healed_share(fig, profiles["chi"], profiles["healed_share"]["I_chi"], 2)
    styles = {"original": dict(color="black", width=2), "healed": dict(color="#2b59c3", width=2),
              "biharmonic": dict(color="#8e44ad", width=1, dash="dashdot"),
              "polar": dict(color="#e08a00", width=1, dash="dot"),
              "polar_smooth": dict(color="#c0392b", width=1, dash="dot"),
              "mirror": dict(color="#2a9d5b", width=1, dash="dash"),
              "symmetry": dict(color="#17a2b8", width=1, dash="longdash"),
              "pyfai": dict(color="#7f8c8d", width=1, dash="longdashdot")}
    for name, curves in profiles["methods"].items():
        kw = dict(mode="lines", name=name, line=styles.get(name, {}), legendgroup=name)
        fig.add_trace(go.Scatter(x=profiles["radius"], y=curves["I_r"], **kw), row=1, col=1)
        fig.add_trace(go.Scatter(x=profiles["chi"], y=curves["I_chi"], showlegend=False, **kw), row=1, col=2)
    fig.update_yaxes(type="log", title="counts", row=1, col=1, secondary_y=False)
    fig.update_xaxes(title="radius (pixels)", row=1, col=1)
    fig.update_xaxes(title="chi (degrees)", row=1, col=2)
    fig.update_layout(margin=dict(l=50, r=10, t=30, b=40), height=320)
    return fig


def add_healed_share(fig: go.Figure, x, share, col: int) -> None:
    """The share of each bin's pixels that were healed (0-100 %), a grey area on the right axis
    of subplot ``col``: where a curve is healing rather than data."""
    percent = [None if v is None else 100 * v for v in share]
    fig.add_trace(go.Scatter(x=list(x), y=percent, fill="tozeroy", mode="none", name="healed share",
                             fillcolor="rgba(120, 120, 120, 0.18)", legendgroup="healed share",
                             showlegend=col == 1, hovertemplate="%{y:.0f} % healed<extra></extra>"),
                  row=1, col=col, secondary_y=True)
    fig.update_yaxes(range=[0, 100], tickmode="linear", tick0=0, dtick=25, title="healed (%)" if col == 2 else None,
                     showgrid=False, row=1, col=col, secondary_y=True)


def _error_band(x, y, sigma, color: str, name: str) -> list:
    """A curve with its ±sigma band (two traces)."""
    y, sigma = np.asarray(y, np.float64), np.asarray(sigma, np.float64)
    band = go.Scatter(x=list(x) + list(x)[::-1], y=list(y + sigma) + list(y - sigma)[::-1], fill="toself",
                      fillcolor=color.replace("rgb", "rgba").replace(")", ", 0.2)"), line=dict(width=0),
                      hoverinfo="skip", showlegend=False, legendgroup=name)
    return [band, go.Scatter(x=list(x), y=list(y), mode="lines", name=name, legendgroup=name,
                             line=dict(color=color, width=1.5))]


def scattering_figure(integrated: dict) -> go.Figure:
    """I(q) (or I(2θ)) with Poisson error bands, and I(chi) on a ring, of the original (its
    missing pixels masked) and the healed frame: ``integrated.json`` of a job bundle."""
    from dip_engine.azimuthal import UNITS

    iq, chi = integrated["iq"], integrated["chi"]
    position = "q" if "q" in iq else "2th"
    lo, hi = chi["range"]
    unit_label = UNITS[iq["unit"]]
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.1, specs=[[{"secondary_y": True}] * 2], subplot_titles=(
        f"I({position}) by pyFAI, ±σ (Poisson)", f"I(χ), {unit_label.split(' ')[0]} {lo:.3g} to {hi:.3g}"))
    if "healed_share" in iq:
        add_healed_share(fig, iq[position], iq["healed_share"], 1)
        add_healed_share(fig, chi["chi"], chi["healed_share"], 2)
    colors = {"original": "rgb(0, 0, 0)", "healed": "rgb(43, 89, 195)"}
    sigmas = {"original": iq["sigma_original"], "healed": iq["sigma"]}
    for which, color in colors.items():
        for trace in _error_band(iq[position], _nan(iq[which]), _nan(sigmas[which]), color, which):
            fig.add_trace(trace, row=1, col=1)
        fig.add_trace(go.Scatter(x=chi["chi"], y=_nan(chi[which]), mode="lines", name=which, legendgroup=which,
                                 showlegend=False, line=dict(color=color, width=1.5)), row=1, col=2)
    fig.update_yaxes(type="log", title="mean counts per pixel", row=1, col=1, secondary_y=False)
    fig.update_xaxes(title=unit_label, row=1, col=1)
    fig.update_xaxes(title="χ (degrees)", row=1, col=2)
    fig.update_layout(margin=dict(l=50, r=10, t=30, b=40), height=320)
    return fig


def _nan(values) -> np.ndarray:
    """A JSON list (None for NaN) as a float array."""
    return np.array([np.nan if v is None else v for v in values], np.float64)


def cake_figure(cake) -> go.Figure:
    """The cakes (χ against q or 2θ) of the original and the healed frame side by side, one
    log colour scale; empty bins (no pixel) blank. ``cake``: the bundle's ``cake.npz``."""
    from dip_engine.azimuthal import UNITS

    with np.errstate(invalid="ignore", divide="ignore"):
        original, healed = (np.log10(1 + np.clip(cake[k], 0, None)) for k in ("original", "healed"))
    have = np.isfinite(healed)
    low, high = (np.percentile(healed[have], [1, 99.5]) if have.any() else (0.0, 1.0))
    fig = make_subplots(rows=1, cols=2, shared_yaxes=True, horizontal_spacing=0.03,
                        subplot_titles=("original, missing pixels masked", "healed"))
    for col, z in enumerate((original, healed), start=1):
        fig.add_trace(go.Heatmap(x=cake["x"], y=cake["chi"], z=z, zmin=low, zmax=high, colorscale="Viridis",
                                 showscale=col == 2, colorbar=dict(title="log10(1+I)"),
                                 hovertemplate="%{x:.3f}, χ %{y:.1f}°: %{z:.2f}<extra></extra>"), row=1, col=col)
    fig.update_xaxes(title=UNITS[str(cake["unit"])], matches="x")
    fig.update_yaxes(title="χ (degrees)", row=1, col=1)
    fig.update_layout(margin=dict(l=50, r=10, t=30, b=40), height=360)
    return fig


def fit_figure(history: dict, height: int = 240) -> dict:
    """Loss (log scale) and hold-out score against iteration, the chosen iteration marked.

    ``history``: ``{"iteration": [...], "loss": [...], "score_iteration": [...], "score":
    [...], "best_iteration": int or None}`` (:func:`dashboard.jobs.fit_history`). A plain
    dict of lists, so that it travels as a progress value too.
    """
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(go.Scatter(x=list(history["iteration"]), y=list(history["loss"]), mode="lines", name="loss",
                             line=dict(color="#444", width=1)), secondary_y=False)
    if history.get("score"):
        fig.add_trace(go.Scatter(x=list(history["score_iteration"]), y=list(history["score"]), mode="lines+markers",
                                 name="hold-out score", marker=dict(size=4), line=dict(color="#2b59c3", width=1.5)),
                      secondary_y=True)
    best = history.get("best_iteration")
    if best:
        fig.add_vline(x=best, line=dict(color="#c0392b", dash="dash", width=1),
                      annotation_text=f"chosen: {best}", annotation_position="top left")
    fig.update_yaxes(type="log", title="loss", secondary_y=False)
    fig.update_yaxes(title="score (RMSE log10)", secondary_y=True, showgrid=False)
    fig.update_xaxes(title="iteration")
    fig.update_layout(margin=dict(l=50, r=50, t=20, b=40), height=height, legend=dict(orientation="h", y=1.15))
    return fig.to_dict()
