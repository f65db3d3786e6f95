"""App factory: ``create_app(settings)`` assembles store, layout and callbacks."""

from __future__ import annotations

from pathlib import Path

import diskcache
from dash import Dash, DiskcacheManager, Input, Output, html
from flask import abort, send_file

from . import ids, layout, review
from .callbacks import register_all
from .settings import Settings
from .store import JOB_FILES, Store, check_id

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
        suppress_callback_exceptions=True,  # pages are rendered from the URL
    )
    example = store.ensure_example()
    app.layout = layout.shell()
    app.validation_layout = html.Div([layout.shell(), layout.heal_page(example)])
    register_all(app, store, manager, settings)

    @app.callback(Output(ids.PAGE, "children"), Input(ids.URL, "pathname"))
    def route(pathname):
        return page_for(store, pathname or "/", example)
    _add_routes(app.server, store)
    return app


def page_for(store: Store, pathname: str, example: dict):
    """The page body for a URL path: /, /jobs, /job/<id>, or not found."""
    if pathname == "/":
        return layout.heal_page(example)
    if pathname.rstrip("/") == "/jobs":
        return review.history_layout(store)
    parts = pathname.strip("/").split("/")
    if len(parts) == 2 and parts[0] == "job":
        try:
            return review.job_layout(store, check_id(parts[1]))
        except KeyError:
            pass
    return review.not_found(f"Nothing lives at {pathname}.")


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
