"""Symmetry: what was measured on the frame (shown under the mask), and the user's own.

The measured symmetry comes with the auto mask (it is measured without the
beamstop and its arm). Ticking "use my symmetry" sends the ticked operations,
axis angle and beam centre with the heal; they are checked on the server
(:meth:`dip_engine.symmetry.Symmetry.from_dict`).
"""

from __future__ import annotations

from dash import Input, Output, State, html, no_update

from dip_engine.masks import MaskSpec

from .. import ids
from .mask import spec_from_state

#: The operations a user can tick, in the order the page lists them.
CHOICES = ("isotropic", "point", "mirror", "perpendicular")


def describe_symmetry(measured: dict | None) -> list:
    """Lines for the page: the centre, whether the frame is isotropic, each operation's agreement."""
    if not measured:
        return [html.Div("Symmetry: turn on the auto mask to measure it, or set your own below.")]
    c = measured["center"]
    ops = []
    for op in measured["operations"]:
        name = "point mirror" if op["kind"] == "point" else f"mirror at {op['angle_deg']:.1f}°"
        agreement = "n/a" if op.get("agreement") is None else f"{op['agreement']:.3f}"
        ops.append(f"{name} {'holds' if op['holds'] else 'does not hold'} ({agreement})")
    kind = "isotropic: the ring model is the prior" if measured.get("isotropic") else "anisotropic"
    return [html.Div(f"Symmetry (measured): centre (row {c[0]:.1f}, col {c[1]:.1f}); {kind}; " + " · ".join(ops),
                     id="symmetry-line")]


def controls_of(measured: dict) -> tuple[list[str], float]:
    """(ticked choices, axis angle) that reproduce a measured symmetry."""
    mirrors = [op for op in measured["operations"] if op["kind"] == "mirror"]
    ticked = ["isotropic"] if measured.get("isotropic") else []
    ticked += [name for name, op in zip(("point", "mirror", "perpendicular"),
                                        [o for o in measured["operations"] if o["kind"] == "point"] + mirrors)
               if op["holds"]]
    return ticked, float(mirrors[0]["angle_deg"]) if mirrors else 0.0


def symmetry_from_controls(override, ticked, angle, measured: dict | None, center) -> dict | None:
    """The symmetry a heal uses: None (measure it) unless ``override`` is ticked, else the
    ticked operations about ``center`` (row, col) or the measured centre. ValueError
    with a sentence when it cannot be built."""
    if not override:
        return None
    if not isinstance(ticked, list) or not set(ticked) <= set(CHOICES):
        raise ValueError("the symmetry choices are malformed; reload the page")
    if isinstance(angle, bool) or not isinstance(angle, (int, float)) or not -90 <= angle <= 90:
        raise ValueError("the mirror axis angle must be a number of degrees from -90 to 90")
    if center is None:
        if not measured:
            raise ValueError("set the beam centre, or turn on the auto mask to measure it")
        center = measured["center"]
    ops = [{"kind": "point"}] if "point" in ticked else []
    ops += [{"kind": "mirror", "angle_deg": float(angle)}] if "mirror" in ticked else []
    ops += [{"kind": "mirror", "angle_deg": float(angle) + 90.0}] if "perpendicular" in ticked else []
    return {"center": [float(c) for c in center], "isotropic": "isotropic" in ticked, "operations": ops}


def measured_symmetry(store, state) -> dict | None:
    """The symmetry measured with the shown frame's cached auto mask, or None."""
    try:
        spec: MaskSpec = spec_from_state(state)
        if not spec.auto:
            return None
        cached = store.auto_mask(state["upload_id"], None, spec.sigma, spec.contrast, spec.detector)
    except (KeyError, TypeError, ValueError):
        return None
    return None if cached is None else cached[1].get("symmetry")


def register(app, store) -> None:
    @app.callback(
        Output(ids.SYMMETRY_STORE, "data"),
        Output(ids.SYMMETRY_INFO, "children"),
        Input(ids.MASK_SUMMARY, "children"),
        State(ids.MASK_STATE, "data"),
        prevent_initial_call=True,
    )
    def on_summary(_summary, state):
        """After the mask is drawn (its auto mask cached): the measured symmetry and its lines."""
        measured = measured_symmetry(store, state) if state else None
        return measured, describe_symmetry(measured)

    @app.callback(
        Output(ids.SYMMETRY_OPS, "value"),
        Output(ids.SYMMETRY_ANGLE, "value"),
        Input(ids.SYMMETRY_STORE, "data"),
        State(ids.SYMMETRY_OVERRIDE, "value"),
        prevent_initial_call=True,
    )
    def on_measured(measured, override):
        """Start the user's symmetry from the measured one, unless they are editing theirs."""
        if not measured or override:
            return no_update, no_update
        return controls_of(measured)
