"""Undo and redo of mask edits: drawn shapes and mask controls, per frame.

The history lives in the page (a dcc.Store): a list of states, each the
drawn shapes and the mask controls' values, and the index of the one shown.
Every edit pushes a state (dropping what could be redone); undo and redo
move the index and put that state back on the page, mask overlay included.
"""

from __future__ import annotations

from dash import Input, Output, State, ctx, no_update

from .. import ids
from .mask import describe_mask, mask_edit, mask_patch, spec_from_inputs

#: Edits kept per frame (the issue asks for at least 20).
DEPTH = 50


def push(history: dict | None, upload_id: str, state: dict, new_frame: bool) -> dict | None:
    """The history after ``state`` is shown; None when nothing changed.

    A new frame starts a fresh history; a state equal to the current one
    (the echo of an undo or redo) is not pushed.
    """
    if new_frame or not history or history.get("upload_id") != upload_id:
        return {"upload_id": upload_id, "stack": [state], "index": 0}
    stack, index = history["stack"], history["index"]
    if stack[index] == state:
        return None
    stack = (stack[: index + 1] + [state])[-DEPTH:]
    return {"upload_id": upload_id, "stack": stack, "index": len(stack) - 1}


def register(app, store) -> None:
    @app.callback(
        Output(ids.MASK_HISTORY, "data"),
        Input(ids.FRAME_STORE, "data"),
        Input(ids.GRAPH, "relayoutData"),
        *[Input(i, "value") for i in ids.MASK_CONTROLS],
        State(ids.GRAPH, "figure"),
        State(ids.MASK_HISTORY, "data"),
    )
    def record(meta, relayout, *rest):
        *values, figure, history = rest
        if not meta:
            return None
        edit = mask_edit(relayout, figure)
        if edit is None:
            return no_update  # zoom or pan
        new_frame, shapes = edit
        state = {"shapes": shapes, "values": list(values)}
        updated = push(history, meta["upload_id"], state, new_frame)
        return no_update if updated is None else updated

    @app.callback(
        Output(ids.UNDO, "disabled"),
        Output(ids.REDO, "disabled"),
        Input(ids.MASK_HISTORY, "data"),
    )
    def buttons(history):
        if not history:
            return True, True
        return history["index"] == 0, history["index"] == len(history["stack"]) - 1

    @app.callback(
        Output(ids.MASK_HISTORY, "data", allow_duplicate=True),
        Output(ids.GRAPH, "figure", allow_duplicate=True),
        Output(ids.MASK_SUMMARY, "children", allow_duplicate=True),
        *[Output(i, "value", allow_duplicate=True) for i in ids.MASK_CONTROLS],
        Input(ids.UNDO, "n_clicks"),
        Input(ids.REDO, "n_clicks"),
        State(ids.MASK_HISTORY, "data"),
        State(ids.FRAME_STORE, "data"),
        State(ids.GRAPH, "figure"),
        prevent_initial_call=True,
    )
    def restore(_undo, _redo, history, meta, figure):
        nothing = (no_update,) * (3 + len(ids.MASK_CONTROLS))
        if not history or not meta or history["upload_id"] != meta["upload_id"]:
            return nothing
        step = -1 if ctx.triggered_id == ids.UNDO else 1
        index = history["index"] + step
        if not 0 <= index < len(history["stack"]):
            return nothing
        state = history["stack"][index]
        try:
            spec = spec_from_inputs(state["shapes"], dict(zip(ids.MASK_CONTROLS, state["values"])))
            image, mask, params = store.upload_mask(meta["upload_id"], spec)
        except (KeyError, TypeError, ValueError):  # a history the browser altered
            return nothing
        patch = mask_patch(image, mask, figure)
        patch["layout"]["shapes"] = state["shapes"]
        return ({**history, "index": index}, patch, describe_mask(mask, params), *state["values"])
