"""Page layout: controls on the left, the frame and the result on the right."""

from __future__ import annotations

from dash import dcc, html

from dip_engine.azimuthal import UNITS
from dip_engine.config import DEFAULT_PRESET, MAX_ITERATIONS, MAX_SEED, PRESETS
from dip_engine.io import MASK_SUFFIXES
from dip_engine.masks import CONTROL_RANGES as RANGES, DEFAULT_CONTRAST, DEFAULT_EXCLUDE, DEFAULT_SIGMA, EXCLUDABLE

from .. import ids
from ..storage import new_id
from ..figures import DRAW_BUTTONS
from ..jobs import EMPTY_FIGURE
from .result import compare_view


#: Initial values of the mask controls (ids.MASK_CONTROLS order).
DEFAULTS = {ids.AUTO: ["auto"], ids.SIGMA: DEFAULT_SIGMA, ids.CONTRAST: DEFAULT_CONTRAST, ids.LINE_WIDTH: 8.0,
            ids.BOX_THRESHOLD: None,
            ids.ROW_THRESHOLD: 0.0, ids.COL_THRESHOLD: 0.0, ids.GROW: 0, ids.INVERT: [],
            ids.RINGS: "", ids.UNIT: "q_nm^-1", ids.EXCLUDE: list(DEFAULT_EXCLUDE)}


def refusal(exc: Exception | str) -> html.Span:
    """An error sentence for the page (a KeyError's message without its quotes)."""
    return html.Span(str(exc).strip("'"), className="error")


def _section(title: str, *children) -> html.Div:
    return html.Div([html.H3(title), *children], className="section")


def _slider(id_: str, label: str, lo: float, hi: float, step: float, value: float, marks=None):
    return html.Div([
        html.Label(label, htmlFor=id_),
        dcc.Slider(id=id_, min=lo, max=hi, step=step, value=value, marks=marks,
                   tooltip={"placement": "bottom", "always_visible": False}, updatemode="mouseup"),
    ], className="control")


def controls() -> html.Div:
    """Left column: upload, mask settings, heal controls and progress."""
    return html.Div([frame_controls(), geometry_controls(), mask_controls(), heal_controls()], className="sidebar")


def frame_controls() -> html.Div:
    """1. Frame: upload (small and streamed), a set of frames for a batch, frame and dataset."""
    return _section(
        "1. Frame",
        dcc.Upload(id=ids.UPLOAD, children=html.Div(["Drop a frame here or ", html.A("choose a file")]),
                   className="upload", multiple=False),
        html.Div([
            html.Button("Send a large file…", id=ids.BIG_UPLOAD, n_clicks=0,
                        title="Streams the file to the server: for frames of tens or hundreds of MB"),
            html.Span(id=ids.BIG_UPLOAD_STATUS, className="info"),
        ], className="buttons"),
        dcc.Upload(id=ids.SET_UPLOAD, multiple=True, className="upload small",
                   children=html.Div(["A set of frames for one batch job: drop several files "
                                      "of the shown frame's shape"])),
        html.Div(id=ids.SET_INFO, className="info"),
        html.Div(id=ids.MESSAGE, className="message", role="alert"),
        html.Div(id=ids.FRAME_INFO, className="info"),
        html.Div([
            html.Label("Frame", htmlFor=ids.FRAME_INDEX),
            dcc.Input(id=ids.FRAME_INDEX, type="number", min=0, step=1, value=0, className="frame-index"),
            dcc.Dropdown(id=ids.DATASET, options=[], placeholder="HDF5 dataset", className="dataset"),
            html.Button("Read", id=ids.READ_BUTTON, n_clicks=0),
        ], className="buttons"),
        html.Details([
            html.Summary("Colour bar of an exported picture (to read intensities)"),
            html.Div([dcc.Input(id=ids.COLORBAR_LOW, type="number", placeholder="low", debounce=True),
                      dcc.Input(id=ids.COLORBAR_HIGH, type="number", placeholder="high", debounce=True)],
                     className="pair"),
            dcc.Dropdown(id=ids.COLORBAR_SCALE, options=["log", "linear"], value="log", clearable=False),
            html.Button("Map the colours to intensities", id=ids.COLORBAR_APPLY, n_clicks=0),
        ], className="control"),
    )


def _number_input(id_: str, label: str, placeholder: str = "") -> html.Div:
    return html.Div([html.Label(label, htmlFor=id_),
                     dcc.Input(id=id_, type="number", placeholder=placeholder, debounce=True)], className="control")


def geometry_controls() -> html.Div:
    """Geometry (optional): a PONI file or typed values; the unit of the curves, ring masks
    in that unit, the ring of I(chi)."""
    return _section(
        "Geometry (optional, pyFAI)",
        dcc.Upload(id=ids.GEOMETRY_UPLOAD, multiple=False, className="upload small",
                   children=html.Div(["Drop a PONI file (pyFAI, Dioptas) or ", html.A("choose one")])),
        html.Details([
            html.Summary("…or type it"),
            _number_input(ids.GEO_DISTANCE, "Sample-detector distance (mm)"),
            html.Div([_number_input(ids.GEO_ENERGY, "Energy (keV)"),
                      _number_input(ids.GEO_WAVELENGTH, "or wavelength (Å)")], className="pair"),
            dcc.Dropdown(id=ids.GEO_DETECTOR, options=[], placeholder="detector (pyFAI's list; empty = by pixel size)",
                         className="control"),
            _number_input(ids.GEO_PIXEL, "Pixel size (µm, without a detector)"),
            html.Div([_number_input(ids.GEO_ROW, "Beam centre row"), _number_input(ids.GEO_COL, "column")],
                     className="pair"),
            html.Button("Use these values", id=ids.GEOMETRY_APPLY, n_clicks=0),
        ], className="control"),
        html.Div(id=ids.GEOMETRY_MESSAGE, className="message", role="alert"),
        html.Div(id=ids.GEOMETRY_INFO, className="info"),
        html.Div([
            html.Button("Flip the geometry", id=ids.GEOMETRY_FLIP, n_clicks=0, style={"display": "none"}),
            html.Button("Clear the geometry", id=ids.GEOMETRY_CLEAR, n_clicks=0),
        ], className="buttons"),
        html.Div([
            html.Label("Unit of the curves and ring ranges", htmlFor=ids.UNIT),
            dcc.Dropdown(id=ids.UNIT, options=[{"label": label, "value": unit} for unit, label in UNITS.items()],
                         value=DEFAULTS[ids.UNIT], clearable=False),
        ], className="control"),
        html.Div([
            html.Label("Mask rings in that unit: low-high, several separated by ';' (e.g. 19.9-20.3)",
                       htmlFor=ids.RINGS),
            dcc.Input(id=ids.RINGS, type="text", value="", placeholder="none", debounce=False),
        ], className="control"),
        html.Div([
            html.Label("I(χ) over the ring (empty = the strongest peak)", htmlFor=ids.CHI_LOW),
            html.Div([dcc.Input(id=ids.CHI_LOW, type="number", placeholder="low", debounce=True),
                      dcc.Input(id=ids.CHI_HIGH, type="number", placeholder="high", debounce=True)],
                     className="pair"),
        ], className="control"),
    )


def mask_controls() -> html.Div:
    """2. Mask: auto mask, sliders, drawing hints, undo and redo, mask files."""
    return _section(
        "2. Mask",
        dcc.Checklist(id=ids.AUTO, options=[{"label": " Auto mask: module gaps, beamstop and arm, "
                                             "hot and dead pixels", "value": "auto"}],
                      value=DEFAULTS[ids.AUTO], className="control"),
        _slider(ids.SIGMA, "Hot/dead pixels: deviation from neighbours (Poisson sigmas)", *RANGES["sigma"], 1,
                DEFAULTS[ids.SIGMA], {5: "5", 30: "30", 100: "100"}),
        _slider(ids.CONTRAST, "Beamstop and arm: times darker than their ring", *RANGES["contrast"], 0.1,
                DEFAULTS[ids.CONTRAST], {1.1: "1.1", 2: "2", 3: "3", 5: "5"}),
        html.P("Draw boxes, circles, closed paths or lines on the frame to add the beamstop, "
               "its holder or anything else; drag a shape to move it, erase it with the eraser. "
               "The detector's own flags (negative, NaN) are always masked.", className="hint"),
        _slider(ids.LINE_WIDTH, "Drawn lines (holder arm): width in pixels", *RANGES["line_width"], 1,
                DEFAULTS[ids.LINE_WIDTH], {1: "1", 8: "8", 60: "60"}),
        html.Div([
            html.Label("Beamstop box: mask pixels below (counts; empty = whole box)",
                       htmlFor=ids.BOX_THRESHOLD),
            dcc.Input(id=ids.BOX_THRESHOLD, type="number", min=0, debounce=True, placeholder="whole box"),
        ], className="control"),
        _slider(ids.ROW_THRESHOLD, "Line rows: mask rows with fewer valid pixels than", *RANGES["row_threshold"], 0.01, 0,
                {0: "off", 0.5: "50%", 1: "100%"}),
        _slider(ids.COL_THRESHOLD, "Line columns: mask columns with fewer valid pixels than", *RANGES["col_threshold"], 0.01,
                0,
                {0: "off", 0.5: "50%", 1: "100%"}),
        _slider(ids.GROW, "Grow (or shrink) mask by (pixels)", *RANGES["grow"], 1, 0),
        dcc.Checklist(id=ids.INVERT, options=[{"label": " Invert", "value": "invert"}], value=[],
                      className="control"),
        html.Label("Exclude, do not heal (no physical data: NaN in float outputs, -1 in integer ones, "
                   "2 in the mask file):", htmlFor=ids.EXCLUDE),
        dcc.Checklist(id=ids.EXCLUDE, value=DEFAULTS[ids.EXCLUDE], className="control two-columns",
                      options=[{"label": f" {text}", "value": name} for name, text in EXCLUDABLE.items()]),
        html.Div([
            html.Button("Undo", id=ids.UNDO, n_clicks=0, disabled=True, title="Undo the last mask edit"),
            html.Button("Redo", id=ids.REDO, n_clicks=0, disabled=True, title="Redo the edit undone"),
        ], className="buttons"),
        html.Div(id=ids.MASK_SUMMARY, className="info"),
        symmetry_controls(),
        dcc.Upload(id=ids.MASK_UPLOAD, children=html.Div(["Add a mask file (NPY, TIFF, EDF, .msk; "
                                                          "nonzero = missing)"]),
                   className="upload small", multiple=False),
        html.Div([
            dcc.Dropdown(id=ids.MASK_FORMAT, options=[{"label": s, "value": s} for s in MASK_SUFFIXES
                                                      if s != ".tiff"],
                         value=".npy", clearable=False, className="format"),
            html.Button("Download mask", id=ids.MASK_DOWNLOAD_BUTTON, n_clicks=0),
            dcc.Download(id=ids.MASK_DOWNLOAD),
        ], className="buttons"),
    )


def symmetry_controls() -> html.Div:
    """The measured symmetry (under the mask), and the user's own: operations, axis angle, centre."""
    return html.Div([
        html.Div(id=ids.SYMMETRY_INFO, className="info"),
        dcc.Checklist(id=ids.SYMMETRY_OVERRIDE, value=[], className="control",
                      options=[{"label": " Use my symmetry instead of the measured one:", "value": "mine"}]),
        dcc.Checklist(id=ids.SYMMETRY_OPS, value=[], className="control", inline=True,
                      options=[{"label": " isotropic (rings) ", "value": "isotropic"},
                               {"label": " point mirror ", "value": "point"},
                               {"label": " mirror axis ", "value": "mirror"},
                               {"label": " perpendicular axis", "value": "perpendicular"}]),
        html.Div([
            html.Label("Mirror axis: degrees from the column axis, counter-clockwise (0 = horizontal "
                       "equator, 90 = vertical)", htmlFor=ids.SYMMETRY_ANGLE),
            dcc.Input(id=ids.SYMMETRY_ANGLE, type="number", min=-90, max=90, step=0.25, value=0.0, debounce=True),
        ], className="control"),
        html.Div([
            html.Label("Beam centre row, column (empty = the measured one)", htmlFor=ids.CENTER_ROW),
            html.Div([dcc.Input(id=ids.CENTER_ROW, type="number", placeholder="row", debounce=True),
                      dcc.Input(id=ids.CENTER_COL, type="number", placeholder="column", debounce=True)],
                     className="pair"),
        ], className="control"),
    ], className="symmetry", id="symmetry-controls")


def heal_controls() -> html.Div:
    """3. Heal: preset, iterations, seed, batch and grid, progress."""
    return _section(
        "3. Heal",
        html.Div([
            html.Label("Preset", htmlFor=ids.PRESET),
            dcc.Dropdown(id=ids.PRESET, options=list(PRESETS), value=DEFAULT_PRESET, clearable=False),
        ], className="control"),
        html.Div([
            html.Label("Iterations (empty = preset's)", htmlFor=ids.ITERATIONS),
            dcc.Input(id=ids.ITERATIONS, type="number", min=1, max=MAX_ITERATIONS, step=1, placeholder="preset"),
        ], className="control"),
        html.Div([
            html.Label("Seed", htmlFor=ids.SEED),
            dcc.Input(id=ids.SEED, type="number", min=0, max=MAX_SEED, step=1, value=0),
        ], className="control"),
        dcc.Checklist(id=ids.ALL_FRAMES, options=[{"label": " Batch: every frame of the file, or the shown "
                                                            "frame and the set (one job, same mask and "
                                                            "settings)", "value": "all"}],
                      value=[], className="control"),
        dcc.Checklist(id=ids.FILL, options=[{"label": " Noise-true fill: healed pixels are a Poisson draw around "
                                                      "the expected counts (integer frames; reproducible from "
                                                      "the seed)", "value": "poisson"}],
                      value=[], className="control"),
        dcc.Checklist(id=ids.GRID, options=[{"label": " Hyperparameter grid: the seed's 40 runs (lr x "
                                                      "param_noise x reg_noise), ranked by score, best kept",
                                             "value": "grid"}],
                      value=[], className="control"),
        html.Div([
            html.Button("Heal", id=ids.HEAL, n_clicks=0, className="primary"),
            html.Button("Cancel", id=ids.CANCEL, n_clicks=0, disabled=True),
        ], className="buttons"),
        html.Progress(id=ids.PROGRESS_BAR, value="0", max="100", className="progress"),
        html.Div(id=ids.PROGRESS_TEXT, className="info"),
        dcc.Graph(id=ids.FIT_LIVE, figure=EMPTY_FIGURE, config={"displayModeBar": False}, className="fit-live"),
        html.Img(id=ids.PREVIEW, className="preview", alt="current fit"),
    )


def header(user: str | None = None, login: bool = False) -> html.Header:
    """Title, navigation, and who is working: the login name, or a name typed once
    (kept in this browser) that marks the user's jobs."""
    if login:
        who = [html.Span(f"Signed in as {user}", className="who"),
               dcc.Input(id=ids.OWNER, type="hidden", value=user or "")]
    else:
        who = [html.Label("Your name", htmlFor=ids.OWNER),
               dcc.Input(id=ids.OWNER, type="text", placeholder="name, for your jobs", maxLength=40,
                         persistence=True, persistence_type="local", debounce=True),
               html.Span("Open to the network: no login (set XRAY_HEAL_USERS)", className="open-warning")]
    return html.Header([
        html.H1(dcc.Link("xray-heal", href="/")),
        html.Span("Heal beamstop, arm, gaps and dead pixels of X-ray scattering frames "
                  "with the Deep Image Prior", className="tagline"),
        html.Nav([dcc.Link("Heal", href="/"), dcc.Link("Jobs", href="/jobs")]),
        html.Div(who, className="owner"),
    ])


def shell(user: str | None = None, login: bool = False) -> html.Div:
    """The frame every page shares: the URL, the header and the page body."""
    # a fresh id per page load: background jobs are keyed by their callback's
    # arguments, so without it two users healing the same frame with the same
    # settings would share one job, its progress and its result
    return html.Div([dcc.Location(id=ids.URL), dcc.Store(id=ids.SESSION, data=new_id()),
                     header(user, login), html.Div(id=ids.PAGE)], className="page")


def heal_page(initial_frame: dict | None) -> html.Main:
    """The main page, opened on ``initial_frame`` (the bundled example)."""
    return html.Main([
        dcc.Store(id=ids.FRAME_STORE, data=initial_frame),
        dcc.Store(id=ids.MASK_FILE_STORE),
        dcc.Store(id=ids.AUTO_PENDING),
        dcc.Store(id=ids.MASK_HISTORY),
        dcc.Store(id=ids.MASK_STATE),
        dcc.Store(id=ids.SYMMETRY_STORE),
        dcc.Store(id=ids.GEOMETRY_STORE),
        dcc.Store(id=ids.RINGS_DRAWN),
        dcc.Store(id=ids.VIEW),
        dcc.Store(id=ids.CURRENT_JOB),
        dcc.Store(id=ids.LAST_JOB),
        dcc.Store(id=ids.STREAMED),
        dcc.Store(id=ids.SET_STORE),
        dcc.Store(id=ids.SOURCE_STORE),
        controls(),
        html.Div([
            dcc.Graph(id=ids.GRAPH, config={
                "modeBarButtonsToAdd": DRAW_BUTTONS, "displaylogo": False, "scrollZoom": True,
            }),
            html.Div([
                html.H3("Result"),
                html.Div(id=ids.RESULT_INFO, className="info"),
                html.Div(id=ids.DOWNLOADS, className="downloads"),
                compare_view(),
                dcc.Graph(id=ids.RESULT_GRAPH, style={"display": "none"},
                          config={"displaylogo": False}),
                dcc.Graph(id=ids.FIT_GRAPH, style={"display": "none"}, config={"displaylogo": False}),
                dcc.Graph(id=ids.PROFILE_GRAPH, style={"display": "none"},
                          config={"displaylogo": False}),
                dcc.Graph(id=ids.SCATTERING_GRAPH, style={"display": "none"},
                          config={"displaylogo": False}),
                dcc.Graph(id=ids.CAKE_GRAPH, style={"display": "none"},
                          config={"displaylogo": False}),
            ], className="result"),
        ], className="content"),
    ])
