"""App factory: ``create_app(settings)`` assembles store, layout and callbacks."""

from __future__ import annotations

import json
from pathlib import Path

from dash import Dash, Input, Output, html
from flask import Response, abort, jsonify, request, send_file

from . import auth, ids, jobs, review
from .components import layout
from .background import ForkSafeCache, ForkSafeDiskcacheManager
from .callbacks import register_all
from .uploads import Upload, stored
from .settings import Settings
from .storage import JOB_FILES, Store, check_id

ASSETS = Path(__file__).resolve().parent.parent / "assets"


def create_app(settings: Settings | None = None) -> Dash:
    """A ready Dash app; its Flask server is ``app.server``.

    The web process never imports torch: fits run in background-callback
    processes (forked by Dash's DiskcacheManager, or Celery workers), which
    import it themselves.
    """
    return build(settings or Settings.from_env())[0]


def build(settings: Settings):
    """(app, background manager) for these settings."""
    store = open_store(settings.data_dir, settings.max_pixels)
    jobs.log_to(settings.data_dir)
    manager = background_manager(settings, store)
    app = Dash(
        __name__,
        title="xray-heal",
        assets_folder=str(ASSETS),
        background_callback_manager=manager,
        suppress_callback_exceptions=True,  # pages are rendered from the URL
    )
    example = store.ensure_example()
    login = settings.users_file is not None
    if login:
        auth.require_login(app.server, auth.load_users(settings.users_file))
    app.layout = lambda: layout.shell(auth.current_user(), login)
    app.validation_layout = html.Div([layout.shell(None, login), layout.heal_page(example),
                                      review.history_layout(store)])
    register_all(app, store, manager, settings)

    @app.callback(Output(ids.PAGE, "children"), Input(ids.URL, "pathname"))
    def route(pathname):
        return page_for(store, pathname or "/", example)
    _add_routes(app.server, store, settings.max_upload_mb)
    return app, manager


def open_store(data_dir: Path, max_pixels: int) -> Store:
    """The store on the data folder; SystemExit with one line when the folder cannot be written."""
    try:
        store = Store(data_dir, max_pixels)
        store.check_writable()
        return store
    except OSError as exc:
        raise SystemExit(f"xray-heal: the data folder {data_dir} is not writable ({exc.strerror or exc}); "
                         "set XRAY_HEAL_DATA to a folder the server can write") from None


def background_manager(settings: Settings, store: Store):
    """Dash's CeleryManager on XRAY_HEAL_BROKER when set, else a DiskcacheManager
    (one forked process per job, :mod:`dashboard.background`) on the data folder's cache."""
    if settings.broker:
        try:
            from celery import Celery
            from dash import CeleryManager
        except ImportError:
            raise SystemExit('xray-heal: XRAY_HEAL_BROKER needs Celery: pip install -e ".[celery]"') from None
        return CeleryManager(Celery("xray_heal", broker=settings.broker, backend=settings.broker))
    return ForkSafeDiskcacheManager(ForkSafeCache(str(store.cache)))


def run_worker(concurrency: int | None = None) -> None:
    """A Celery worker for the jobs of dashboards on the same XRAY_HEAL_BROKER.

    It builds the same app (so it knows the same background callbacks) and
    runs ``concurrency`` fits at once (default XRAY_HEAL_GPU_SLOTS), reading
    uploads from and writing results to the shared XRAY_HEAL_DATA.
    """
    settings = Settings.from_env()
    if not settings.broker:
        raise SystemExit("xray-heal worker: set XRAY_HEAL_BROKER (e.g. redis://gpu-host:6379/0)")
    _, manager = build(settings)
    print(f"xray-heal worker on {settings.broker} (data in {settings.data_dir})", flush=True)
    manager.handle.worker_main(["worker", "--loglevel=INFO", "--pool=prefork",
                                f"--concurrency={concurrency or settings.gpu_slots}"])


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


def _add_routes(server, store: Store, max_upload_mb: float) -> None:
    # every request body, Dash's callbacks (a dcc.Upload arrives base64-encoded in
    # JSON, 4/3 of the file) included, is refused before it is read beyond this
    server.config["MAX_CONTENT_LENGTH"] = int(max_upload_mb * 2**20 * 4 / 3) + 2**20

    @server.errorhandler(413)
    def too_large(_error):
        message = (f"The request is larger than the upload limit of {max_upload_mb:g} MB "
                   "(XRAY_HEAL_MAX_UPLOAD_MB).")
        return jsonify(Upload(None, message)._asdict()), 413  # the /upload answer's form, for assets/upload.js

    @server.route("/download/<job_id>/<name>")
    def download(job_id: str, name: str):
        try:
            if name == "bundle.zip" and store.job(job_id).get("state") == "done":
                return Response(store.bundle_zip(job_id), mimetype="application/zip",
                                headers={"Content-Disposition": f"attachment; filename={job_id}.zip"})
            if name == "job.json":  # what readers may see of the record, not the server's internals
                return Response(json.dumps(store.public_record(job_id), indent=1, default=str),
                                mimetype="application/json",
                                headers={"Content-Disposition": "attachment; filename=job.json"})
            path = store.job_file(job_id, name)
        except KeyError:
            abort(404)
        return send_file(path, mimetype=JOB_FILES[name][0], as_attachment=name != "preview.png", download_name=name)

    @server.before_request
    def unknown_jobs_are_404():
        """/job/<id> of a malformed or unknown id answers 404 (the page says so too)."""
        parts = request.path.strip("/").split("/")
        if parts[0] == "job" and len(parts) >= 2:
            try:
                store.job(parts[1])
                return None if len(parts) == 2 else abort(404)
            except KeyError:
                abort(404)
        return None

    @server.route("/upload", methods=["POST"])
    def upload():
        """Stream a frame file (raw request body, ?name=<file name>) to disk, for frames too
        big for a dcc.Upload; the JSON answer is what the page shows (assets/upload.js)."""
        name = request.args.get("name") or "upload"
        outcome = stored(lambda: store.save_upload_stream(name, request.stream, max_upload_mb))
        status = 200 if outcome.meta is not None or outcome.choices else 400
        return jsonify(outcome._asdict()), status

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
