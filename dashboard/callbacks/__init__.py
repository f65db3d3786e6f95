"""Callbacks by feature; :func:`register_all` wires them to an app."""

from . import frame, heal, mask


def register_all(app, store, manager) -> None:
    frame.register(app, store)
    mask.register(app, store)
    heal.register(app, store, manager)
