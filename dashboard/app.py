"""App factory: ``create_app(settings)`` assembles store, layout and callbacks."""

from __future__ import annotations

from pathlib import Path

import diskcache
from dash import Dash, DiskcacheManager
from flask import abort, send_file

from . import layout
from .callbacks import register_all
from .settings import Settings
from .store import JOB_FILES, Store

ASSETS = Path(__file__).resolve().parent.parent / "assets"


def create_app(settings: Settings | None = None) -> Dash:
    """A ready Dash app; its Flask server is ``app.server``.

    The web process never imports torch: fits run in background-callback
    processes forked by Dash's DiskcacheManager, which import it themselves.
    """
    settings = settings or Settings.from_env()
    store = Store(settings.data_dir)
    manager = DiskcacheManager(diskcache.Cache(str(store.cache)))
    app = Dash(
        __name__,
        title="xray-heal",
        assets_folder=str(ASSETS),
        background_callback_manager=manager,
    )
    example = store.ensure_example()
    app.layout = layout.serve_layout(example)
    register_all(app, store, manager, settings)
    _add_routes(app.server, store)
    return app


def _add_routes(server, store: Store) -> None:
    @server.route("/download/<job_id>/<name>")
    def download(job_id: str, name: str):
        try:
            path = store.job_file(job_id, name)
        except KeyError:
            abort(404)
        return send_file(path, mimetype=JOB_FILES[name], as_attachment=True, download_name=name)

    @server.route("/healthz")
    def healthz():
        return {"status": "ok"}


def run_server(debug: bool = False) -> None:
    """Serve on XRAY_HEAL_HOST:XRAY_HEAL_PORT (default 127.0.0.1:8050)."""
    settings = Settings.from_env()
    app = create_app(settings)
    print(f"xray-heal dashboard on http://{settings.host}:{settings.port} "
          f"(data in {settings.data_dir})", flush=True)
    app.run(host=settings.host, port=settings.port, debug=debug)
