"""``python -m dashboard``: start the dashboard (see dashboard.settings)."""

from .app import run_server

run_server()
