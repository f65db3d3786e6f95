"""Callbacks by feature; :func:`register_all` wires them to an app."""

from . import compare, frame, geometry, heal, history, mask, symmetry, undo


def register_all(app, store, manager, settings) -> None:
    frame.register(app, store, settings.max_upload_mb)
    mask.register(app, store)
    symmetry.register(app, store)
    geometry.register(app, store)
    undo.register(app, store)
    heal.register(app, store, manager, settings)
    compare.register(app, store)
    history.register(app, store)
