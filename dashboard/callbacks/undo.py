"""Undo and redo of mask edits: drawn shapes and mask controls, per frame.

The history lives in the page (a dcc.Store): a list of states, each the
drawn shapes and the mask controls' values, and the index of the one shown.
Every edit pushes a state (dropping what could be redone); undo and redo
move the index and put that state back on the page, mask overlay included.
"""

from __future__ import annotations

from dash import Input, Output, Patch, State, ctx, no_update

from .. import ids

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
        Input(ids.MASK_STATE, "data"),
        State(ids.MASK_HISTORY, "data"),
        prevent_initial_call=True,
    )
    def record(state, history):
        """Every new mask state is an edit to undo (a new frame starts a fresh history)."""
        if not state:
            return None
        entry = {"shapes": state["shapes"], "values": state["values"]}
        new_frame = not history or history.get("upload_id") != state["upload_id"]
        updated = push(history, state["upload_id"], entry, new_frame)
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
        Output(ids.MASK_STATE, "data", allow_duplicate=True),
        Output(ids.GRAPH, "figure", allow_duplicate=True),
        *[Output(i, "value", allow_duplicate=True) for i in ids.MASK_CONTROLS],
        Input(ids.UNDO, "n_clicks"),
        Input(ids.REDO, "n_clicks"),
        State(ids.MASK_HISTORY, "data"),
        State(ids.MASK_STATE, "data"),
        prevent_initial_call=True,
    )
    def restore(_undo, _redo, history, state):
        """Put an earlier (or undone) edit back: the mask state (the overlay follows from it),
        the drawn shapes on the figure and the controls."""
        nothing = (no_update,) * (3 + len(ids.MASK_CONTROLS))
        if not history or not state or history.get("upload_id") != state.get("upload_id"):
            return nothing
        index = history["index"] + (-1 if ctx.triggered_id == ids.UNDO else 1)
        if not 0 <= index < len(history["stack"]):
            return nothing
        entry = history["stack"][index]
        patch = Patch()
        patch["layout"]["shapes"] = entry["shapes"]
        return ({**history, "index": index}, {**state, **entry}, patch, *entry["values"])
